package httpx_test

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// TestCheckQuery: the first parameter not among the known ones is refused
// 400 unknown_parameter naming it (decoded, as the route would read it);
// empty pairs are no parameter.
func TestCheckQuery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, query string
		known       []string
		unknown     string // "" : accepted
	}{
		{name: "no query", query: ""},
		{name: "none known", query: "limit=5", unknown: "limit"},
		{name: "known", query: "cursor=a&limit=5", known: []string{"cursor", "limit"}},
		{name: "known twice", query: "limit=5&limit=6", known: []string{"limit"}},
		{name: "known without a value", query: "cursor", known: []string{"cursor"}},
		{name: "escaped known", query: "%6Cimit=5", known: []string{"limit"}},
		{name: "misspelt", query: "limt=5", known: []string{"cursor", "limit"}, unknown: "limt"},
		{name: "first unknown named", query: "limit=1&a=1&b=2", known: []string{"limit"}, unknown: "a"},
		{name: "case matters", query: "Limit=5", known: []string{"limit"}, unknown: "Limit"},
		{name: "empty pairs", query: "&&limit=5&", known: []string{"limit"}},
		{name: "value only", query: "=5", known: []string{"limit"}},
		{name: "bad escape", query: "li%zzmit=5", known: []string{"limit"}, unknown: "li%zzmit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/v1/x?"+tc.query, nil)
			err := httpx.CheckQuery(r, tc.known...)
			if tc.unknown == "" {
				if err != nil {
					t.Fatalf("CheckQuery(%q, %q) = %v, want nil", tc.query, tc.known, err)
				}
				return
			}
			var e *playback.Error
			if !errors.As(err, &e) || e.Code != playback.CodeInvalid || e.Reason != playback.ReasonUnknownParameter {
				t.Fatalf("CheckQuery(%q, %q) = %v, want invalid/%s", tc.query, tc.known, err, playback.ReasonUnknownParameter)
			}
			if d, ok := e.Details.(map[string]string); !ok || d["field"] != tc.unknown {
				t.Fatalf("details %v, want field %q", e.Details, tc.unknown)
			}
		})
	}
}
