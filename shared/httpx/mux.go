package httpx

import (
	"net/http"
	"strings"

	"github.com/playplane/playplane/shared/playback"
)

// fallbackPattern is the route NewServeMux adds for requests no other
// route takes.
const fallbackPattern = "/"

// NewServeMux is an http.ServeMux whose own answers are the JSON error
// envelope like every other error, instead of net/http's plain text: 404
// route_not_found when no route has the path, 405 method_not_allowed with
// Allow when routes have it for other methods. Routes must not use "/".
func NewServeMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(fallbackPattern, HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		// No route took r: the fallback is not one, and the telemetry
		// reads r.Pattern, which the mux set on this very request, as
		// http.route, which the conventions leave out when nothing matched.
		r.Pattern = ""
		allowed := AllowedMethods(mux, r)
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
		}
		return NoRoute(r, allowed)
	}))
	return mux
}

// Routed reports whether a route of mux other than NewServeMux's fallback
// takes r.
func Routed(mux *http.ServeMux, r *http.Request) bool {
	_, pattern := mux.Handler(r)
	return pattern != "" && pattern != fallbackPattern
}

// probeMethods are the methods a 405's Allow may list, in net/http's order
// (sorted).
var probeMethods = []string{http.MethodDelete, http.MethodGet, http.MethodHead, http.MethodOptions,
	http.MethodPatch, http.MethodPost, http.MethodPut}

// AllowedMethods lists the methods mux has routes for at r's path. It
// runs only for requests no route took, so its cost is off the hot path.
func AllowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var allowed []string
	probe := r.WithContext(r.Context())
	for _, m := range probeMethods {
		if m == r.Method {
			continue
		}
		probe.Method = m
		if Routed(mux, probe) {
			allowed = append(allowed, m)
		}
	}
	return allowed
}

// NoRoute is the error for a request no route took: 405 when others
// methods are allowed at its path, else 404.
func NoRoute(r *http.Request, allowed []string) error {
	if len(allowed) > 0 {
		return playback.Errorf(playback.CodeMethodNotAllowed, "method_not_allowed", "%s is not allowed on %s; allowed: %s",
			r.Method, r.URL.Path, strings.Join(allowed, ", "))
	}
	return playback.Errorf(playback.CodeNotFound, "route_not_found", "no route for %s %s", r.Method, r.URL.Path)
}
