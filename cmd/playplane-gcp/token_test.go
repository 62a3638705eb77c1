package main

import (
	"context"
	"strings"
	"testing"

	"github.com/playplane/playplane/shared/auth"
)

// TestAdminTokenCommand: `make token GCP=1 ADMIN=1 ACCOUNT=ops-alice` runs
// `playplane-gcp token --admin ops-alice`, and the README's catalogue flow
// needs that token for the admin function this runner serves. The token
// must verify as the runner's functions verify callers and carry the claim
// the admin function checks (ADMIN_CLAIM); an account's token must not.
// Not parallel: it sets the environment and swaps os.Stdout.
func TestAdminTokenCommand(t *testing.T) {
	for _, tc := range []struct {
		name      string
		claim     string // ADMIN_CLAIM; "" leaves it unset
		args      []string
		subject   string
		wantAdmin bool
	}{
		{name: "operator", args: []string{"token", "--admin", "ops-alice"}, subject: "ops-alice", wantAdmin: true},
		{name: "operator, OAuth scope claim", claim: "scope", args: []string{"token", "--admin", "ops-bob"}, subject: "ops-bob", wantAdmin: true},
		{name: "account", args: []string{"token", "acct_solo"}, subject: "acct_solo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("DATA_DIR", dir)
			claim := "playplane_admin"
			if tc.claim != "" {
				t.Setenv("ADMIN_CLAIM", tc.claim)
				claim = tc.claim
			}
			var runErr error
			out := captureStdout(t, func() { runErr = realMain(context.Background(), tc.args) })
			if runErr != nil {
				t.Fatalf("playplane-gcp %s: %v", strings.Join(tc.args, " "), runErr)
			}
			secrets, err := loadSecrets(dir)
			if err != nil {
				t.Fatal(err)
			}
			v, err := auth.NewVerifier(auth.VerifierConfig{Issuer: devJWTIssuer, Audience: devJWTAudience,
				HS256Keys: devKeyID + ":" + secrets.JWTKey})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			id, err := v.Verify(context.Background(), strings.TrimSpace(out))
			if err != nil {
				t.Fatalf("the runner's verifier refuses the printed token %q: %v", out, err)
			}
			if id.AccountID != tc.subject {
				t.Errorf("subject %q, want %q", id.AccountID, tc.subject)
			}
			if got := auth.HasAdminClaim(id.AllClaims(), claim); got != tc.wantAdmin {
				t.Errorf("token carries the admin claim %q: %v, want %v", claim, got, tc.wantAdmin)
			}
		})
	}
}
