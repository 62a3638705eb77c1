package httpload_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/httpload"
)

func TestRunDeliversEveryRequest(t *testing.T) {
	t.Parallel()
	var got, bytesIn atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Authorization") != "Bearer tok" || r.URL.Path != "/beat" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got.Add(1)
		bytesIn.Add(int64(len(body)))
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		name            string
		conns, pipeline int
	}{
		{"one at a time", 3, 1},
		{"pipelined", 3, 7},
	} {
		got.Store(0)
		bytesIn.Store(0)
		conns := make([][][]byte, tc.conns)
		for i := range conns {
			for range 20 {
				conns[i] = append(conns[i], httpload.PostJSON(host, "/beat", "tok", []byte(`{"n":1}`)))
			}
		}
		if _, err := httpload.Run(host, conns, tc.pipeline, http.StatusOK, time.Now().Add(time.Minute)); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got.Load() != int64(tc.conns*20) || bytesIn.Load() != int64(tc.conns*20*7) {
			t.Fatalf("%s: server saw %d requests, %d body bytes", tc.name, got.Load(), bytesIn.Load())
		}
	}
}

func TestRunReportsUnexpectedAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"wrong status", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusGone) }},
		{"chunked body", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "b")
		}},
	} {
		srv := httptest.NewServer(tc.handler)
		host := strings.TrimPrefix(srv.URL, "http://")
		_, err := httpload.Run(host, [][][]byte{{httpload.PostJSON(host, "/", "t", []byte("{}"))}}, 1, http.StatusOK, time.Now().Add(time.Minute))
		srv.Close()
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}
