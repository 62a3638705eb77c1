package auth

import (
	"strings"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// A CMCD collector credential lets a player's CMCD v2 event mode report to
// its session's collector URL (functions/heartbeat), which the player is
// given as a plain URL and to which it cannot add headers. It has the
// playback token's claims and lifetime and a format of its own,
//
//	c1.<kid>.<base64url(payload)>.<base64url(HMAC-SHA256(key, cmcdLabel || "c1.<kid>.<payload>"))>
//
// signed with the playback token keys under another MAC label, so that a
// collector URL that leaks (player logs, analytics configs) lets its holder
// report on that one session — keep its lease and write its position and
// QoE — and nothing else: Verify and VerifyManifest refuse it, and neither
// of their tokens verifies as a collector credential.
const (
	cmcdTokenPrefix = "c1."
	cmcdLabel       = "playplane/cmcd-collector\x00"
)

// IssueCMCD signs a collector credential for c.
func (k *Keyring) IssueCMCD(c PlaybackClaims) (string, error) {
	return k.issue(cmcdTokenPrefix, cmcdLabel, c)
}

// VerifyCMCD checks a collector credential's MAC and expiry at now and
// returns its claims; callers still compare them with the session.
func (k *Keyring) VerifyCMCD(token string, now time.Time) (PlaybackClaims, error) {
	c, err := k.verify(cmcdTokenPrefix, cmcdLabel, token, now)
	if pe, ok := err.(*playback.Error); ok {
		pe.Message = strings.Replace(pe.Message, "playback token", "CMCD collector credential", 1)
	}
	return c, err
}
