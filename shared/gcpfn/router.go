package gcpfn

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// Router serves the public paths (/v1/...) the way the load balancer's URL
// map does in the cloud: each request goes to the HTTP entry point of the
// function that registers a route for it. The local runner mounts it on the
// Functions Framework server beside the /<EntryPoint> paths, so one curl
// flow works against both.
func (s *Set) Router() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var unbuilt []error
		var built []*built
		// A preflight goes to the function whose route it asks about.
		routing := r
		if m := r.Header.Get("Access-Control-Request-Method"); r.Method == http.MethodOptions && m != "" && r.Header.Get("Origin") != "" {
			routing = r.WithContext(r.Context())
			routing.Method = m
		}
		for _, fn := range s.functions {
			if fn.spec.HTTP == "" {
				continue
			}
			b, err := fn.get(r.Context())
			if err != nil {
				unbuilt = append(unbuilt, err)
				continue
			}
			if httpx.Routed(b.routes, routing) {
				b.http.ServeHTTP(w, r)
				return
			}
			built = append(built, b)
		}
		s.res.routelessCORS(r, w.Header())
		httpx.Middleware(s.res.log, httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			if len(unbuilt) > 0 {
				// The route may belong to a function that could not be built.
				return &playback.Error{Code: playback.CodeInternal, Reason: "function_unavailable", Err: errors.Join(unbuilt...)}
			}
			var allowed []string
			for _, b := range built {
				allowed = append(allowed, httpx.AllowedMethods(b.routes, r)...)
			}
			slices.Sort(allowed)
			allowed = slices.Compact(allowed)
			if len(allowed) > 0 {
				w.Header().Set("Allow", strings.Join(allowed, ", "))
			}
			return httpx.NoRoute(r, allowed)
		})).ServeHTTP(w, r)
	})
}
