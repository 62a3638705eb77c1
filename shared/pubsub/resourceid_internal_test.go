package pubsub

import (
	"regexp"
	"strings"
	"testing"
)

// TestResourceIDSyntax holds the loop to Pub/Sub's documented rule,
// written as the regexp it replaced.
func TestResourceIDSyntax(t *testing.T) {
	t.Parallel()
	rule := regexp.MustCompile(`^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$`)
	for _, tc := range []struct{ name, in string }{
		{name: "empty", in: ""},
		{name: "two", in: "ab"},
		{name: "three", in: "abc"},
		{name: "typical", in: "playplane-heartbeats.dlq~1+2%"},
		{name: "255", in: "a" + strings.Repeat("b", 254)},
		{name: "256", in: "a" + strings.Repeat("b", 255)},
		{name: "digit first", in: "1abc"},
		{name: "dash first", in: "-abc"},
		{name: "slash", in: "ab/c"},
		{name: "space", in: "ab c"},
		{name: "non-ASCII", in: "abé"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got, want := resourceIDSyntax(tc.in), rule.MatchString(tc.in); got != want {
				t.Errorf("resourceIDSyntax(%q) = %v, want %v", tc.in, got, want)
			}
		})
	}
}
