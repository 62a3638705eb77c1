package events_test

import (
	"testing"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

// TestDecodeCMCDUnknownKeySyntax: a key the collector does not map is
// ignored once its syntax is checked (the package's contract): a report
// that is no RFC 8941 dictionary is cmcd_malformed whatever key holds the
// fault.
func TestDecodeCMCDUnknownKeySyntax(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, body string }{
		{"two items without a list", `x=1 2,ts=5`},
		{"nested inner list", `x=((1)),ts=5`},
		{"string then junk", `x="a"b,ts=5`},
		{"number then junk", `nor=12ab,ts=5`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := events.DecodeCMCDText(nil, []byte(tc.body))
			if !playback.IsCode(err, playback.CodeInvalid) {
				t.Fatalf("%q: err %v, want cmcd_malformed", tc.body, err)
			}
		})
	}
}
