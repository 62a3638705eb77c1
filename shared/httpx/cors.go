package httpx

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/playplane/playplane/functions/catalog"
)

// EnvCORSAllowedOrigins names the variable holding the origins whose web
// pages may call the API: comma-separated exact origins
// ("https://app.example.com"), port patterns ("http://localhost:*") or "*".
const EnvCORSAllowedOrigins = catalog.EnvCORSAllowedOrigins

// The figures of the answers to the browser's cross-origin questions are
// the catalogue's, which the Pulumi stack also gives API Gateway (it
// answers preflights itself on AWS) and template.yaml's test holds its
// HttpApi to: one policy wherever the API runs.
var (
	// CORSAllowHeaders are the request headers a page may send.
	CORSAllowHeaders = catalog.CORSAllowHeaders
	// CORSExposeHeaders are the response headers a page may read.
	CORSExposeHeaders = catalog.CORSExposeHeaders
	// CORSAllowMethods are the methods of the browser-facing routes.
	CORSAllowMethods = catalog.CORSAllowMethods
)

// CORSMaxAge is how long, in seconds, a browser may reuse a preflight's
// answer.
const CORSMaxAge = catalog.CORSMaxAge

// corsPrefix is the browser-facing API. Other routes (the local edge's
// /titles/, /healthz) answer for themselves.
const corsPrefix = "/v1/"

// CORS is the cross-origin policy of the /v1 routes. It never sends
// Access-Control-Allow-Credentials: callers authenticate with an
// Authorization header, which a page sends in the default credentials mode
// without it, and no route reads cookies. That is also what makes a "*"
// entry safe.
type CORS struct {
	exact    map[string]bool
	any      bool
	patterns []string // "scheme://host:" prefixes of "scheme://host:*" entries
}

// ParseCORSOrigins reads a CORS_ALLOWED_ORIGINS value. The empty string
// allows no origin: no CORS headers are ever sent.
func ParseCORSOrigins(s string) (*CORS, error) {
	c := &CORS{exact: map[string]bool{}}
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimSpace(o)
		switch {
		case o == "":
		case o == "*":
			c.any = true
		case strings.HasSuffix(o, ":*"):
			base := strings.TrimSuffix(o, "*")
			if err := checkOrigin(strings.TrimSuffix(base, ":")); err != nil {
				return nil, fmt.Errorf("httpx.ParseCORSOrigins: %q: %w", o, err)
			}
			c.patterns = append(c.patterns, strings.ToLower(base))
		default:
			if err := checkOrigin(o); err != nil {
				return nil, fmt.Errorf("httpx.ParseCORSOrigins: %q: %w", o, err)
			}
			c.exact[strings.ToLower(o)] = true
		}
	}
	return c, nil
}

// checkOrigin accepts what a browser sends as Origin: scheme://host[:port],
// nothing more, so a typo ("https://app.example.com/") fails at start-up
// instead of never matching.
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.Contains(u.Host, "*") {
		return fmt.Errorf("not an origin (scheme://host[:port] or scheme://host:*)")
	}
	return nil
}

// Allowed reports whether a page of origin may read the API's answers.
func (c *CORS) Allowed(origin string) bool {
	if c == nil || origin == "" || origin == "null" {
		return false
	}
	if c.any {
		return true
	}
	origin = strings.ToLower(origin)
	if c.exact[origin] {
		return true
	}
	for _, p := range c.patterns {
		if port, ok := strings.CutPrefix(origin, p); ok {
			if n, err := strconv.Atoi(port); err == nil && n > 0 && n < 65536 && strconv.Itoa(n) == port {
				return true
			}
		}
	}
	return false
}

// AnyOrigin reports whether the policy lists "*": then no answer may
// carry credentials, since any page could read it.
func (c *CORS) AnyOrigin() bool { return c != nil && c.any }

// ServerToServer marks a route browsers never call (a provider's webhook,
// an edge's health report): CORS leaves it alone, so no page may call it.
func ServerToServer(h http.Handler) http.Handler { return serverToServer{h} }

type serverToServer struct{ http.Handler }

// Handler applies the policy to next, which serves mux's routes (Answer):
// a preflight to a browser-facing route of mux is answered here with 204,
// before the mux would say 405; other requests from an allowed origin get
// their Access-Control-* headers before next writes, so its error
// envelopes carry them too. Requests without Origin pass unchanged.
func (c *CORS) Handler(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.Answer(mux, r, w.Header()) {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// The values of the headers the policy sends.
var (
	corsAllowHeaders  = strings.Join(CORSAllowHeaders, ", ")
	corsExposeHeaders = strings.Join(CORSExposeHeaders, ", ")
	corsMaxAge        = strconv.Itoa(CORSMaxAge)
)

// Answer sets on h the CORS headers of the answer to r, a request for
// mux's routes, and reports whether r is a preflight to be answered 204
// with them alone. It is Handler's decision, for answers written without
// Handler too: the shedder's (Limits.CORS), which would otherwise leave a
// page of another origin a network error instead of a 503 it can read,
// Retry-After included.
func (c *CORS) Answer(mux *http.ServeMux, r *http.Request, h http.Header) (preflight bool) {
	origin := r.Header.Get("Origin")
	if origin == "" || !strings.HasPrefix(r.URL.Path, corsPrefix) {
		return false
	}
	if reqMethod := r.Header.Get("Access-Control-Request-Method"); r.Method == http.MethodOptions && reqMethod != "" {
		methods := browserMethods(mux, r)
		// HEAD is CORS-safelisted, so it needs no listing, but its
		// preflight (sent for its headers) must still succeed where a
		// GET route serves it.
		if !slices.Contains(methods, reqMethod) && (reqMethod != http.MethodHead || !slices.Contains(methods, http.MethodGet)) {
			// No such browser-facing route: the mux's 404/405, and
			// without CORS headers the browser stops there.
			return false
		}
		h.Add("Vary", "Origin")
		if c.Allowed(origin) {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", strings.Join(methods, ", "))
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
		}
		return true
	}
	if handler, pattern := mux.Handler(r); pattern != "" {
		if _, ok := handler.(serverToServer); ok {
			return false
		}
	}
	c.AnswerHeaders(origin, h)
	return false
}

// AnswerHeaders sets on h the CORS headers of an answer (not a
// preflight's) to a page of origin: Vary: Origin, and for an allowed
// origin Access-Control-Allow-Origin and the headers it may read
// (CORSExposeHeaders). Answer sets them for the /v1 routes; the runner's
// development routes, which take no preflight, set them here too.
func (c *CORS) AnswerHeaders(origin string, h http.Header) {
	h.Add("Vary", "Origin")
	if c.Allowed(origin) {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	}
}

// browserMethods lists the methods of mux's browser-facing routes at r's
// path.
func browserMethods(mux *http.ServeMux, r *http.Request) []string {
	var methods []string
	probe := r.WithContext(r.Context())
	for _, m := range probeMethods {
		if m == http.MethodOptions || m == http.MethodHead {
			continue
		}
		probe.Method = m
		handler, pattern := mux.Handler(probe)
		if pattern == "" || pattern == fallbackPattern {
			continue
		}
		if _, ok := handler.(serverToServer); !ok {
			methods = append(methods, m)
		}
	}
	return methods
}
