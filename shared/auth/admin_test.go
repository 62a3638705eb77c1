package auth

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestMintAdminHS256(t *testing.T) {
	t.Parallel()
	key := randomKey(t)
	v := newTestVerifier(t, VerifierConfig{HS256Keys: keySpec("dev1", key)})
	for _, tc := range []struct {
		name, claim string
		want        any
	}{
		{name: "default claim", claim: DefaultAdminClaim, want: true},
		{name: "scope", claim: "scope", want: AdminScope},
		{name: "custom", claim: "https://example.com/roles/admin", want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			token, err := MintAdminHS256("dev1", key, testIssuer, testAudience, "ops-alice", tc.claim, time.Hour, testNow)
			if err != nil {
				t.Fatal(err)
			}
			// The verifier of caller tokens accepts it: one key ring for both.
			id, err := v.Verify(context.Background(), token)
			if err != nil || id.AccountID != "ops-alice" {
				t.Fatalf("Verify = %+v, %v", id, err)
			}
			// The verified identity carries the claims the admin check reads.
			if all := id.AllClaims(); !HasAdminClaim(all, tc.claim) || all["sub"] != "ops-alice" {
				t.Fatalf("Identity.AllClaims() = %#v", all)
			}
			claims := jwt.MapClaims{}
			if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
				t.Fatal(err)
			}
			if claims[tc.claim] != tc.want || !HasAdminClaim(claims, tc.claim) {
				t.Fatalf("claim %q = %#v, want %#v", tc.claim, claims[tc.claim], tc.want)
			}
			if HasAdminClaim(claims, "other") {
				t.Fatal("admin under a claim the token lacks")
			}
		})
	}
	// A subscriber token has no admin claim, and refusals are typed.
	sub, _ := MintHS256("dev1", key, testIssuer, testAudience, "acc_1", time.Hour, testNow)
	claims := jwt.MapClaims{}
	_, _, _ = jwt.NewParser().ParseUnverified(sub, claims)
	if HasAdminClaim(claims, DefaultAdminClaim) || HasAdminClaim(map[string]any{"scope": "playplane:read other"}, "scope") ||
		!HasAdminClaim(map[string]any{"scope": "openid playplane:admin"}, "scope") ||
		HasAdminClaim(map[string]any{DefaultAdminClaim: "true"}, DefaultAdminClaim) {
		t.Fatal("HasAdminClaim misreads claims")
	}
	for _, claim := range []string{"", "sub", "exp"} {
		if _, err := MintAdminHS256("dev1", key, testIssuer, testAudience, "ops", claim, time.Hour, testNow); err == nil {
			t.Errorf("claim name %q accepted", claim)
		}
	}
	if _, err := MintAdminHS256("dev1", key, testIssuer, testAudience, "", DefaultAdminClaim, time.Hour, testNow); err == nil {
		t.Error("empty subject accepted")
	}
}
