package playback_test

import (
	"encoding/base32"
	"strings"
	"testing"

	"github.com/playplane/playplane/shared/playback"
)

func TestValidID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		id   string
		want bool
	}{
		{"plain", "big-buck-bunny", true},
		{"dots and underscores", "ses_abc.v2", true},
		{"max length", strings.Repeat("a", 128), true},
		{"empty", "", false},
		{"too long", strings.Repeat("a", 129), false},
		{"dot", ".", false},
		{"dot dot", "..", false},
		{"reserved", "__x__", false},
		{"reserved, nothing between", "____", false},
		{"three underscores", "___", false},
		{"two underscores", "__", false},
		{"one underscore", "_", true},
		{"leading underscores only", "__x", true},
		{"trailing underscores only", "x__", true},
		{"slash", "a/b", false},
		{"encoded slash", "a%2Fb", false},
		{"wildcard", "a*", false},
		{"space", "a b", false},
		{"control byte", "a\x00", false},
		{"non-ascii", "é", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := playback.ValidID(tc.id); got != tc.want {
				t.Fatalf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
	if id := playback.NewID("ses"); !playback.ValidID(id) {
		t.Fatalf("NewID made an invalid id %q", id)
	}
}

// TestValidRecordID: a record id must be keyable by every store, Firestore's
// document ids included, which refuse ".", "..", "/" and __x__ (reserved).
func TestValidRecordID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		id   string
		want bool
	}{
		{"plain", "premium", true},
		{"punctuation", "a.b:c@d", true},
		{"max length", strings.Repeat("a", 256), true},
		{"three underscores", "___", false},
		{"two underscores", "__", false},
		{"one underscore", "_", true},
		{"leading underscores only", "__x", true},
		{"empty", "", false},
		{"too long", strings.Repeat("a", 257), false},
		{"dot", ".", false},
		{"dot dot", "..", false},
		{"reserved", "__x__", false},
		{"reserved, nothing between", "____", false},
		{"reserved, datastore id", "__id123__", false},
		{"slash", "a/b", false},
		{"hash", "a#b", false},
		{"question mark", "a?b", false},
		{"pipe", "a|b", false},
		{"space", "a b", false},
		{"non-ascii", "é", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := playback.ValidRecordID(tc.id); got != tc.want {
				t.Fatalf("ValidRecordID(%q) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}

func TestNewIDShape(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id := playback.NewID("msg")
		rest, ok := strings.CutPrefix(id, "msg_")
		if !ok || len(rest) != 26 || strings.ToLower(rest) != rest {
			t.Fatalf("NewID = %q, want msg_ and 26 lower-case base32 characters", id)
		}
		raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(rest))
		if err != nil || len(raw) != 16 {
			t.Fatalf("%q does not hold 128 bits: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
}

// TestIsSessionID: what authorize play mints is a session id; a player
// library's random UUID (CMCD's default sid), an app's own play id, and
// near misses of the form are not.
func TestIsSessionID(t *testing.T) {
	t.Parallel()
	minted := playback.NewID(playback.SessionIDPrefix)
	for _, tc := range []struct {
		name string
		id   string
		want bool
	}{
		{name: "minted", id: minted, want: true},
		{name: "a library's UUID", id: "6e2fb550-c457-11e9-bb97-0800200c9a66"},
		{name: "an app's play id", id: "play-42"},
		{name: "another kind of id", id: playback.NewID("dev")},
		{name: "short", id: minted[:len(minted)-1]},
		{name: "long", id: minted + "a"},
		{name: "upper case", id: playback.SessionIDPrefix + "_" + strings.ToUpper(minted[len(playback.SessionIDPrefix)+1:])},
		{name: "outside base32", id: minted[:len(minted)-1] + "1"},
		{name: "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := playback.IsSessionID(tc.id); got != tc.want {
				t.Errorf("IsSessionID(%q) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}
