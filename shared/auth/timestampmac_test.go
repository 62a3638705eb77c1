package auth_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"testing"

	"github.com/playplane/playplane/shared/auth"
)

func TestTimestampedMACs(t *testing.T) {
	t.Parallel()
	old, current := []byte("old-secret"), []byte("current-secret")
	sign := func(key []byte, signed string) [sha256.Size]byte {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(signed))
		return [sha256.Size]byte(mac.Sum(nil))
	}
	macs := auth.NewTimestampedMACs(old, current)
	for _, tc := range []struct {
		name string
		ts   int64
		body string
		sigs [][sha256.Size]byte
		want bool
	}{
		{"signed with the first key", 1700000000, "body", [][sha256.Size]byte{sign(old, "1700000000.body")}, true},
		{"signed with the second key, beside a stale signature", 1700000000, "body",
			[][sha256.Size]byte{sign([]byte("gone"), "1700000000.body"), sign(current, "1700000000.body")}, true},
		{"another body", 1700000000, "bodz", [][sha256.Size]byte{sign(current, "1700000000.body")}, false},
		{"another timestamp", 1700000001, "body", [][sha256.Size]byte{sign(current, "1700000000.body")}, false},
		{"no signatures", 1700000000, "body", nil, false},
	} {
		// Twice: the second round runs on pooled, reset states.
		for range 2 {
			if got := macs.Match(tc.ts, []byte(tc.body), tc.sigs); got != tc.want {
				t.Fatalf("%s: Match = %v, want %v", tc.name, got, tc.want)
			}
		}
	}
	if (*auth.TimestampedMACs)(nil).Match(1, nil, [][sha256.Size]byte{{}}) {
		t.Fatal("a nil set matched")
	}
}
