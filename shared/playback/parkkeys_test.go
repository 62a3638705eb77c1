package playback

import "testing"

// TestParkKeysStart: ListParkedKeys starts at the prefix, or past every
// key|position string of after and the keys before it in CompareParkKeys
// order, and never past the keys after it.
func TestParkKeysStart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, prefix, after string
		// inside are key|position strings the listing must reach,
		// before those it must skip.
		inside, before []string
	}{
		{name: "no after", prefix: "account:", inside: []string{"account:a|1"}, before: []string{"abc|1"}},
		// account:b0 sorts before account:b ('0' < '|'), account:b~ after.
		{name: "after a key", prefix: "account:", after: "account:b",
			inside: []string{"account:b~|1", "account:c|1"}, before: []string{"account:b|1", "account:b|zzzz", "account:b0|1"}},
		{name: "after a key, no prefix", after: "customer:c", inside: []string{"customer:d|0"}, before: []string{"customer:c|9", "customer:c_|1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			from := ParkKeysStart(tc.prefix, tc.after)
			for _, s := range tc.inside {
				if s < from {
					t.Errorf("ParkKeysStart(%q, %q) = %q, past %q", tc.prefix, tc.after, from, s)
				}
			}
			for _, s := range tc.before {
				if s >= from {
					t.Errorf("ParkKeysStart(%q, %q) = %q, not past %q", tc.prefix, tc.after, from, s)
				}
			}
		})
	}
}
