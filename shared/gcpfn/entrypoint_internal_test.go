package gcpfn

import (
	"regexp"
	"strings"
	"testing"
)

// TestValidEntryPoint holds the loop to the rule it replaced, written as
// the regexp.
func TestValidEntryPoint(t *testing.T) {
	t.Parallel()
	rule := regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,62}$`)
	for _, tc := range []struct{ name, in string }{
		{name: "empty", in: ""},
		{name: "one", in: "A"},
		{name: "typical", in: "AuthorizePlay_Heartbeats2"},
		{name: "63", in: "A" + strings.Repeat("b", 62)},
		{name: "64", in: "A" + strings.Repeat("b", 63)},
		{name: "digit first", in: "1Play"},
		{name: "underscore first", in: "_Play"},
		{name: "dash", in: "Authorize-Play"},
		{name: "non-ASCII", in: "Plày"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got, want := validEntryPoint(tc.in), rule.MatchString(tc.in); got != want {
				t.Errorf("validEntryPoint(%q) = %v, want %v", tc.in, got, want)
			}
		})
	}
}
