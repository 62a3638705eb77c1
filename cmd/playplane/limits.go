package main

import (
	"fmt"
	"net"
	"net/http"

	"github.com/playplane/playplane/shared/httpx"
)

const (
	// defaultMaxConns is HTTP_MAX_CONNS when unset: far above what a local
	// run needs, and ~8 KiB of buffers each at most.
	defaultMaxConns = 4096
	// fdReserve is the descriptors kept for everything but client
	// connections: the bolt file, stdio, the runtime's poller, and room.
	fdReserve = 256
)

// limits are the runner's server limits from cfg. An unset HTTP_MAX_CONNS
// is defaultMaxConns, lowered to fit RLIMIT_NOFILE; a set one that does
// not fit is refused, since past the file limit the listener fails every
// accept and the server stops answering anyone.
func (cfg Config) limits() (httpx.Limits, error) {
	l := httpx.Limits{ReadHeaderTimeout: cfg.ReadHeaderTimeout, ReadTimeout: cfg.ReadTimeout, WriteTimeout: cfg.WriteTimeout,
		IdleTimeout: cfg.IdleTimeout, MaxConns: cfg.MaxConns, MaxInFlight: cfg.MaxInFlight, RetryAfter: cfg.RetryAfter,
		HealthPath: "/healthz"}
	nofile, known := openFileLimit()
	fit := int(min(nofile, 1<<30)) - fdReserve - httpx.ShedConns
	switch {
	case l.MaxConns == 0 && known:
		l.MaxConns = max(1, min(defaultMaxConns, fit))
	case l.MaxConns == 0:
		l.MaxConns = defaultMaxConns
	case known && l.MaxConns > fit:
		return l, fmt.Errorf("HTTP_MAX_CONNS %d does not fit RLIMIT_NOFILE %d (%d kept for the rest of the process and shedding); at most %d",
			l.MaxConns, nofile, fdReserve+httpx.ShedConns, fit)
	}
	return l, l.Validate()
}

// Server is the runner's HTTP server with cfg's limits, and ln capped at
// its connection limit. Requests refused for the in-flight cap go through
// the middleware like any other: request id, access log line.
func (a *App) Server(ln net.Listener) (*http.Server, net.Listener, error) {
	l, err := a.cfg.limits()
	if err != nil {
		return nil, nil, err
	}
	health := func(r *http.Request) bool { return r.URL.Path == l.HealthPath }
	l.CORS = func(r *http.Request, h http.Header) bool { return a.cors.Answer(a.mux.ServeMux, r, h) }
	// CORS outside the cap: preflights cost nothing, and a 503's
	// Retry-After reaches the page.
	h := httpx.Middleware(a.log, a.cors.Handler(a.mux.ServeMux, httpx.LimitInFlight(l.MaxInFlight, l.RetryAfter, health, a.mux)))
	return l.Server(h), l.Listener(ln), nil
}
