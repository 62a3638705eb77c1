package steering

import (
	"regexp"
	"testing"
)

// TestValidPathwayIDIsTheRegexp holds ValidPathwayID to the syntax it
// replaced, ^[A-Za-z0-9._-]+$, on every string of up to two bytes and on
// longer ones.
func TestValidPathwayIDIsTheRegexp(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	cases := []string{"", "cdn-a", "CDN_1.eu", "cdn a", "cdn\n", "cdn/a", "é", "a\x00", "..", "-", "fastly.example.com"}
	for a := range 256 {
		cases = append(cases, string([]byte{byte(a)}))
		for _, b := range []byte{'a', '-', ' ', 0x80, 0xff} {
			cases = append(cases, string([]byte{byte(a), b}), string([]byte{b, byte(a)}))
		}
	}
	for _, s := range cases {
		if got, want := ValidPathwayID(s), re.MatchString(s); got != want {
			t.Errorf("ValidPathwayID(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}
