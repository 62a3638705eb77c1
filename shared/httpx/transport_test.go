package httpx_test

import (
	"net/http"
	"testing"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

func TestStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		code playback.Code
		want int
	}{
		{name: "invalid", code: playback.CodeInvalid, want: http.StatusBadRequest},
		{name: "unauthenticated", code: playback.CodeUnauthenticated, want: http.StatusUnauthorized},
		{name: "forbidden", code: playback.CodeForbidden, want: http.StatusForbidden},
		{name: "not found", code: playback.CodeNotFound, want: http.StatusNotFound},
		{name: "conflict", code: playback.CodeConflict, want: http.StatusConflict},
		{name: "gone", code: playback.CodeGone, want: http.StatusGone},
		{name: "too large", code: playback.CodeTooLarge, want: http.StatusRequestEntityTooLarge},
		{name: "unprocessable", code: playback.CodeUnprocessable, want: http.StatusUnprocessableEntity},
		{name: "method not allowed", code: playback.CodeMethodNotAllowed, want: http.StatusMethodNotAllowed},
		{name: "unsupported media type", code: playback.CodeUnsupportedMediaType, want: http.StatusUnsupportedMediaType},
		{name: "unavailable", code: playback.CodeUnavailable, want: http.StatusServiceUnavailable},
		{name: "internal", code: playback.CodeInternal, want: http.StatusInternalServerError},
		{name: "unknown", code: "made_up", want: http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := httpx.Status(tc.code)
			if got != tc.want {
				t.Fatalf("Status(%q) = %d, want %d", tc.code, got, tc.want)
			}
			// Only retryable codes may become 5xx.
			if (got >= 500) != tc.code.Retryable() && tc.code != "made_up" {
				t.Fatalf("Status(%q) = %d but Retryable() = %v", tc.code, got, tc.code.Retryable())
			}
		})
	}
}

func TestCookie(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		base     string
		secure   bool
		sameSite http.SameSite
	}{
		{name: "https base", base: "https://cdn.example.com", secure: true, sameSite: http.SameSiteNoneMode},
		{name: "http base", base: "http://127.0.0.1:8080", sameSite: http.SameSiteLaxMode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := playback.SignRequest{BaseURL: tc.base, Prefix: "/titles/t-1/"}
			c := httpx.Cookie(playback.GrantCookie("Grant", "v=1", ".example.com", req))
			if c.Name != "Grant" || c.Value != "v=1" || c.Path != "/titles/t-1/" || c.Domain != ".example.com" ||
				!c.HttpOnly || c.Secure != tc.secure || c.SameSite != tc.sameSite {
				t.Fatalf("cookie = %+v", c)
			}
			if err := c.Valid(); err != nil {
				t.Fatalf("not valid for Set-Cookie: %v", err)
			}
		})
	}
}
