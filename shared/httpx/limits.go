package httpx

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// Limits bound what a long-running server (the local runners) holds at
// once. The cloud front doors enforce their own (docs/limits.md); a
// server on a plain listener has only these.
type Limits struct {
	// ReadHeaderTimeout cuts a client that sends its headers too slowly.
	ReadHeaderTimeout time.Duration
	// ReadTimeout cuts a request whose headers and body take longer than
	// this, such as a trickled body: its handler sees a read error.
	ReadTimeout time.Duration
	// WriteTimeout bounds handling and writing the response.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection idle this long between
	// requests. Pipelined requests are already buffered and never wait.
	IdleTimeout time.Duration
	// MaxConns caps open connections. Further ones are answered 503 with
	// Retry-After by at most ShedConns responders at a time and closed;
	// beyond those they are closed at once. The process then needs at most
	// MaxConns+ShedConns descriptors for clients, whatever comes in.
	MaxConns int
	// MaxInFlight caps requests being handled at once (LimitInFlight).
	MaxInFlight int
	// RetryAfter is what the 503s above tell clients to wait.
	RetryAfter time.Duration
	// HealthPath, when set, is answered 200 "ok" even by the connection
	// shedder: the process is alive and shedding, which a liveness check
	// must not mistake for dead (restarting it would only lose the load it
	// does carry).
	HealthPath string
	// CORS, when set, is the CORS answer of the server's handler to a
	// request (CORS.Answer on its routes), which the shedder answers
	// without that handler: its 503 carries the headers, without which a
	// page of another origin sees a network error instead of the 503 and
	// cannot read its Retry-After, and a preflight, which a browser fails
	// unless it is answered 2xx, is answered 204 like the handler's, so
	// that the request it clears gets a 503 the page can read.
	CORS func(r *http.Request, h http.Header) (preflight bool)
}

// ShedConns is how many connections over MaxConns are answered 503 at once.
const ShedConns = 64

// shedTimeout bounds how long a shed connection may take to send its
// request, and shedDrain how long it is then read from before closing
// (what it already sent, so that closing does not reset the connection
// before the client has read the answer). A client that keeps its shed
// connection open must not hold a shedder.
const (
	shedTimeout = time.Second
	shedDrain   = 100 * time.Millisecond
)

// Validate checks that every limit is set.
func (l Limits) Validate() error {
	switch {
	case l.ReadHeaderTimeout <= 0 || l.ReadTimeout <= 0 || l.WriteTimeout <= 0 || l.IdleTimeout <= 0:
		return fmt.Errorf("httpx.Limits: timeouts must be positive: %+v", l)
	case l.ReadHeaderTimeout > l.ReadTimeout:
		return fmt.Errorf("httpx.Limits: ReadHeaderTimeout %s exceeds ReadTimeout %s", l.ReadHeaderTimeout, l.ReadTimeout)
	case l.MaxConns <= 0 || l.MaxInFlight <= 0:
		return fmt.Errorf("httpx.Limits: MaxConns %d and MaxInFlight %d must be positive", l.MaxConns, l.MaxInFlight)
	case l.RetryAfter < time.Second:
		return fmt.Errorf("httpx.Limits: RetryAfter %s must be at least 1s (Retry-After counts seconds)", l.RetryAfter)
	}
	return nil
}

// Server is an http.Server serving h with l's timeouts. Serve it on
// l.Listener(ln) for the connection cap, and put LimitInFlight inside h's
// Middleware for the in-flight cap.
func (l Limits) Server(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout,
		WriteTimeout: l.WriteTimeout, IdleTimeout: l.IdleTimeout, MaxHeaderBytes: 64 << 10}
}

// Overloaded is the error of a request refused because the server is at
// one of its limits.
func Overloaded(what string, retryAfter time.Duration) *playback.Error {
	return &playback.Error{Code: playback.CodeUnavailable, Reason: playback.ReasonOverloaded,
		Message: "the server is at its " + what + " limit; retry later", RetryAfter: retryAfter}
}

// LimitInFlight answers 503 overloaded (with Retry-After) to requests
// beyond max being handled at once, except those exempt says so of.
func LimitInFlight(max int, retryAfter time.Duration, exempt func(*http.Request) bool, next http.Handler) http.Handler {
	var n atomic.Int64
	limit := int64(max)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if exempt != nil && exempt(r) {
			next.ServeHTTP(w, r)
			return
		}
		defer n.Add(-1)
		if n.Add(1) > limit {
			WriteError(w, r, Overloaded("in-flight request", retryAfter))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Listener caps ln at l.MaxConns open connections (see Limits.MaxConns).
func (l Limits) Listener(ln net.Listener) net.Listener {
	return &limitListener{Listener: ln, limits: l, conns: make(chan struct{}, l.MaxConns), shed: make(chan struct{}, ShedConns)}
}

type limitListener struct {
	net.Listener
	limits Limits
	conns  chan struct{} // a token per open connection
	shed   chan struct{} // a token per connection being refused
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.conns <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-l.conns }}, nil
		default:
		}
		select {
		case l.shed <- struct{}{}:
			go func() {
				defer func() { <-l.shed }()
				l.refuse(c)
			}()
		default:
			_ = c.Close()
		}
	}
}

// refuse answers the connection's first request without handing it to the
// server: 503 overloaded, "ok" on the health path, or a CORS preflight's
// 204.
func (l *limitListener) refuse(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(shedTimeout))
	br := bufio.NewReaderSize(c, 4096)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	var resp []byte
	h := http.Header{}
	switch {
	case l.limits.HealthPath != "" && req.URL.Path == l.limits.HealthPath && (req.Method == http.MethodGet || req.Method == http.MethodHead):
		h.Set("Content-Type", "text/plain; charset=utf-8")
		resp = rawResponse(http.StatusOK, h, []byte("ok\n"))
	case l.limits.CORS != nil && l.limits.CORS(req, h):
		resp = rawResponse(http.StatusNoContent, h, nil)
	default:
		resp = shedResponse(l.limits.RetryAfter, h)
	}
	if _, err := c.Write(resp); err != nil {
		return
	}
	if tc, ok := c.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
	_ = c.SetReadDeadline(time.Now().Add(shedDrain))
	_, _ = io.Copy(io.Discard, io.LimitReader(br, 1<<20))
}

// shedResponse is the raw 503 of a refused connection, the same envelope
// WriteError writes, with the headers h holds.
func shedResponse(retryAfter time.Duration, h http.Header) []byte {
	id := playback.NewID("req")
	e := Overloaded("connection", retryAfter)
	body, _ := json.Marshal(ErrorBody{Error: ErrorDetail{Code: e.Code, Reason: e.Reason, Message: e.Message, RequestID: id}})
	h.Set("Content-Type", "application/json")
	h.Set("Retry-After", strconv.Itoa(max(1, int(retryAfter.Seconds()))))
	h.Set("X-Request-Id", id)
	return rawResponse(http.StatusServiceUnavailable, h, append(body, '\n'))
}

// rawResponse is a response closing its connection, as the shedder writes
// it.
func rawResponse(status int, h http.Header, body []byte) []byte {
	if status != http.StatusNoContent {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	h.Set("Connection", "close")
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %03d %s\r\n", status, http.StatusText(status))
	_ = h.Write(&b)
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite and ReadFrom keep what the server does with a *net.TCPConn:
// half-close before closing after an error, sendfile for file bodies.
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *limitConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}
