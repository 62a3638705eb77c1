package httpx

import (
	"fmt"
	"net/http"

	"github.com/playplane/playplane/shared/playback"
)

// Status is the one place domain codes become HTTP statuses.
func Status(c playback.Code) int {
	switch c {
	case playback.CodeInvalid:
		return http.StatusBadRequest
	case playback.CodeUnauthenticated:
		return http.StatusUnauthorized
	case playback.CodeForbidden:
		return http.StatusForbidden
	case playback.CodeNotFound:
		return http.StatusNotFound
	case playback.CodeConflict:
		return http.StatusConflict
	case playback.CodePrecondition:
		return http.StatusPreconditionFailed
	case playback.CodeGone:
		return http.StatusGone
	case playback.CodeUnprocessable:
		return http.StatusUnprocessableEntity
	case playback.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case playback.CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case playback.CodeUnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case playback.CodeUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// RequestURL is the URL a viewer asked for, with the path and query bytes
// exactly as sent: what a CDN signature verifier must check, since any
// re-encoding would let a signature cover a different path.
func RequestURL(r *http.Request) string {
	target := r.RequestURI
	if target == "" || target[0] != '/' {
		target = r.URL.RequestURI()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + target
}

// Cookie is the Set-Cookie form of a CDN grant cookie: HttpOnly, since no
// script needs it, and SameSite=None on a Secure grant, since players
// usually run on another site than the CDN (Lax otherwise, as browsers
// refuse SameSite=None without Secure).
func Cookie(c playback.Cookie) *http.Cookie {
	out := &http.Cookie{Name: c.Name, Value: c.Value, Path: c.Path, Domain: c.Domain, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if c.Secure {
		out.Secure, out.SameSite = true, http.SameSiteNoneMode
	}
	return out
}

// CheckCookieDomain refuses a grant cookie domain that Cookie's Set-Cookie
// could not carry: net/http drops an invalid Domain attribute (a port, a
// wildcard, an empty label) with a log line and sends a host-only cookie,
// which never reaches a CDN on another host. Signers call it at start.
func CheckCookieDomain(domain string) error {
	if domain == "" {
		return nil
	}
	if err := (&http.Cookie{Name: "c", Domain: domain}).Valid(); err != nil {
		return fmt.Errorf("cookie domain %q is not a domain a Set-Cookie can name: %w", domain, err)
	}
	return nil
}

// Cookies is Cookie of each.
func Cookies(cs []playback.Cookie) []*http.Cookie {
	out := make([]*http.Cookie, len(cs))
	for i, c := range cs {
		out[i] = Cookie(c)
	}
	return out
}
