package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Admin tokens carry, besides the caller claims, an admin claim whose name
// deployments choose (ADMIN_CLAIM): a claim named "scope" holds the
// space-separated OAuth scopes and grants admin with AdminScope among them
// (what an identity provider issues); any other name grants admin when its
// value is true (what a provider's custom claim or a local token carries).
const (
	DefaultAdminClaim = "playplane_admin"
	AdminScope        = "playplane:admin"
)

// AdminClaimValue is the value MintAdminHS256 gives the admin claim name.
func AdminClaimValue(name string) any {
	if name == "scope" {
		return AdminScope
	}
	return true
}

// HasAdminClaim reports whether claims grant admin under the claim name.
func HasAdminClaim(claims map[string]any, name string) bool {
	v, ok := claims[name]
	if !ok {
		return false
	}
	if name == "scope" {
		s, _ := v.(string)
		return slices.Contains(strings.Fields(s), AdminScope)
	}
	b, _ := v.(bool)
	return b
}

// MintAdminHS256 signs an admin token for subject (the operator's name,
// which audit records name as the actor) with a local key, as MintHS256
// does for callers, adding the admin claim.
func MintAdminHS256(kid string, key []byte, issuer, audience, subject, claim string, ttl time.Duration, now time.Time) (string, error) {
	switch {
	case validKID(kid) != nil:
		return "", fmt.Errorf("auth.MintAdminHS256: %w", validKID(kid))
	case len(key) < MinKeyBytes:
		return "", fmt.Errorf("auth.MintAdminHS256: key has %d bytes, want at least %d", len(key), MinKeyBytes)
	case ttl <= 0:
		return "", errors.New("auth.MintAdminHS256: ttl must be positive")
	case subject == "":
		return "", errors.New("auth.MintAdminHS256: subject is required")
	case claim == "" || slices.Contains([]string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti"}, claim):
		return "", fmt.Errorf("auth.MintAdminHS256: admin claim name %q", claim)
	}
	claims := jwt.MapClaims{
		"iss": issuer,
		"sub": subject,
		"aud": []string{audience},
		"exp": jwt.NewNumericDate(now.Add(ttl)),
		"iat": jwt.NewNumericDate(now),
		"jti": randomTokenID(),
		claim: AdminClaimValue(claim),
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	t.Header["kid"] = kid
	signed, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("auth.MintAdminHS256: %w", err)
	}
	return signed, nil
}
