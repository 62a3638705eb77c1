package auth

import (
	"strings"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// A manifest credential lets a player load its session's personalized
// manifests (and the session's steering manifest) by URL alone, as native
// players that cannot add headers do. It carries the claims of the
// playback token it was derived from, lives only as long as the CDN grants
// written into the manifests, and has a format of its own
//
//	m1.<kid>.<base64url(payload)>.<base64url(HMAC-SHA256(key, manifestLabel || "m1.<kid>.<payload>"))>
//
// signed with the playback token keys under another MAC label: a URL that
// leaks (player logs, Referer) grants the manifests for minutes, never the
// heartbeat, URL signing or stop routes, where Verify refuses it; and no
// playback token verifies as a manifest credential.
const (
	manifestTokenPrefix = "m1."
	manifestLabel       = "playplane/manifest-credential\x00"
)

// IssueManifest signs a manifest credential for c. c.ExpiresAt should be
// no later than the grants the manifests carry.
func (k *Keyring) IssueManifest(c PlaybackClaims) (string, error) {
	return k.issue(manifestTokenPrefix, manifestLabel, c)
}

// ManifestClaims are the claims of a manifest credential derived from c, a
// verified playback token's, issued at now and expiring at exp (no later
// than c.ExpiresAt). Only the ids ride along: the viewer and the lease are
// the heartbeats', and the URLs stay short of them. The licence block
// rides when the credential ends with the licence window (c.LicenceEnds
// and exp is c's end), so that a manifest or steering fetch after the end
// is refused 403 licence_window_ended, as the token is, and a player can
// tell the viewer why; one that expires before the licence's end answers
// 401 token_expired, and the player renews it. It rides only where the
// token carries it, which is only with PLAYBACK_TOKEN_LEASE on, so the
// credentials stay as older verifiers read them wherever the tokens do.
func (c PlaybackClaims) ManifestClaims(now, exp time.Time) PlaybackClaims {
	return PlaybackClaims{SessionID: c.SessionID, AccountID: c.AccountID, TitleID: c.TitleID, DeviceID: c.DeviceID,
		IssuedAt: now, ExpiresAt: exp, LicenceEnds: c.LicenceEnds && exp.Equal(c.ExpiresAt)}
}

// VerifyManifest checks a manifest credential's MAC and expiry at now and
// returns its claims. Callers still compare them with the request and the
// session. A playback token is refused (token_malformed).
func (k *Keyring) VerifyManifest(token string, now time.Time) (PlaybackClaims, error) {
	c, err := k.verify(manifestTokenPrefix, manifestLabel, token, now)
	if pe, ok := err.(*playback.Error); ok {
		pe.Message = strings.Replace(pe.Message, "playback token", "manifest credential", 1)
	}
	return c, err
}

// IsManifestToken reports whether token has the manifest credential's
// format (it may still be forged or expired).
func IsManifestToken(token string) bool { return strings.HasPrefix(token, manifestTokenPrefix) }
