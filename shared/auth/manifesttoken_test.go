package auth_test

import (
	"testing"
	"time"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
)

func TestManifestCredential(t *testing.T) {
	t.Parallel()
	ring := auth.NewDevKeyring()
	other := auth.NewDevKeyring()
	now := time.Unix(1_800_000_000, 0).UTC()
	claims := auth.PlaybackClaims{SessionID: "ses_1", AccountID: "acct_1", TitleID: "t1", IssuedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
	cred, err := ring.IssueManifest(claims)
	if err != nil {
		t.Fatal(err)
	}
	playbackTok, err := ring.Issue(claims)
	if err != nil {
		t.Fatal(err)
	}
	forged := []byte(cred)
	forged[len(forged)-2] ^= 1
	foreign, _ := other.IssueManifest(claims)
	for _, tc := range []struct {
		name   string
		verify func() (auth.PlaybackClaims, error)
		reason string
	}{
		{"manifest credential verifies", func() (auth.PlaybackClaims, error) { return ring.VerifyManifest(cred, now.Add(time.Minute)) }, ""},
		{"expired", func() (auth.PlaybackClaims, error) { return ring.VerifyManifest(cred, now.Add(5*time.Minute)) }, auth.ReasonTokenExpired},
		{"forged", func() (auth.PlaybackClaims, error) { return ring.VerifyManifest(string(forged), now) }, auth.ReasonTokenSignature},
		{"other keys", func() (auth.PlaybackClaims, error) { return ring.VerifyManifest(foreign, now) }, auth.ReasonTokenSignature},
		{"a playback token is no manifest credential", func() (auth.PlaybackClaims, error) { return ring.VerifyManifest(playbackTok, now) }, auth.ReasonTokenMalformed},
		{"a manifest credential is no playback token", func() (auth.PlaybackClaims, error) { return ring.Verify(cred, now) }, auth.ReasonTokenMalformed},
		{"relabelled as a playback token", func() (auth.PlaybackClaims, error) { return ring.Verify("v1."+cred[3:], now) }, auth.ReasonTokenSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.verify()
			if tc.reason == "" {
				if err != nil || got.SessionID != "ses_1" || got.AccountID != "acct_1" || !got.ExpiresAt.Equal(claims.ExpiresAt) {
					t.Fatalf("= %+v, %v", got, err)
				}
				return
			}
			pe := playback.AsError(err)
			if pe == nil || pe.Code != playback.CodeUnauthenticated || pe.Reason != tc.reason {
				t.Fatalf("error = %v, want unauthenticated/%s", err, tc.reason)
			}
		})
	}
	if !auth.IsManifestToken(cred) || auth.IsManifestToken(playbackTok) {
		t.Fatal("IsManifestToken cannot tell the formats apart")
	}
}
