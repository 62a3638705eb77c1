// Package httpload drives an HTTP/1.1 server for load tests: pre-built
// requests over raw keep-alive connections, optionally pipelined, so that
// on a machine the server shares the client costs little — net/http's
// client would take a good part of the cores being measured.
package httpload

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// PostJSON builds a raw POST request with a bearer token.
func PostJSON(host, path, token string, body []byte) []byte {
	return fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\n\r\n%s", path, host, token, len(body), body)
}

// Run sends conns[i] over connection i, all connections at once, with up
// to pipeline requests in flight on each, and checks that every answer has
// status want. It returns how long the slowest connection took.
func Run(addr string, conns [][][]byte, pipeline, want int, deadline time.Time) (time.Duration, error) {
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(conns))
	for i, reqs := range conns {
		wg.Go(func() {
			if err := fire(addr, reqs, max(1, pipeline), want, deadline); err != nil {
				errs[i] = fmt.Errorf("httpload: connection %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return elapsed, err
		}
	}
	return elapsed, nil
}

func fire(addr string, reqs [][]byte, pipeline, want int, deadline time.Time) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	r := bufio.NewReaderSize(conn, 64<<10)
	status := fmt.Appendf(nil, "HTTP/1.1 %d ", want)
	var out []byte
	for i := 0; i < len(reqs); i += pipeline {
		batch := reqs[i:min(i+pipeline, len(reqs))]
		out = out[:0]
		for _, req := range batch {
			out = append(out, req...)
		}
		if _, err := conn.Write(out); err != nil {
			return err
		}
		for range batch {
			if err := readResponse(r, status); err != nil {
				return err
			}
		}
	}
	return nil
}

// readResponse reads one response with a Content-Length body; the servers
// under test never chunk their small JSON answers.
func readResponse(r *bufio.Reader, wantStatus []byte) error {
	status, err := r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(status, wantStatus) {
		return fmt.Errorf("status %q, want %q", bytes.TrimSpace(status), bytes.TrimSpace(wantStatus))
	}
	length := -1
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(v))); err != nil {
				return err
			}
		}
	}
	if length < 0 {
		return fmt.Errorf("response without Content-Length")
	}
	_, err = r.Discard(length)
	return err
}
