// Package auth answers "who is calling": caller identities from bearer JWTs
// issued by an identity provider (or minted locally for development), and
// short-lived playback tokens that later functions check on their hot path.
//
// Every failure is a *playback.Error. Bad credentials are CodeUnauthenticated
// with one of the Reason* values below; an identity provider that cannot be
// reached is CodeUnavailable, because a retry may cure it.
package auth

import (
	"net/http"
	"strings"

	"github.com/playplane/playplane/shared/playback"
)

// Reasons narrowing CodeUnauthenticated, so clients and logs can tell a
// stale token from a forged one without parsing messages.
const (
	ReasonTokenMissing     = "token_missing"
	ReasonTokenMalformed   = "token_malformed"
	ReasonTokenExpired     = "token_expired"
	ReasonTokenNotYetValid = "token_not_yet_valid"
	ReasonTokenSignature   = "token_signature"
	ReasonTokenKeyUnknown  = "token_key_unknown"
	ReasonTokenIssuer      = "token_issuer"
	ReasonTokenAudience    = "token_audience"
	ReasonTokenSubject     = "token_subject"
	ReasonTokenAlgorithm   = "token_algorithm"
)

// ReasonKeysUnavailable narrows CodeUnavailable when the identity provider's
// key set cannot be fetched.
const ReasonKeysUnavailable = "jwks_unavailable"

func unauthenticated(reason, format string, args ...any) *playback.Error {
	return playback.Errorf(playback.CodeUnauthenticated, reason, format, args...)
}

// BearerToken returns the token of an "Authorization: Bearer <token>" header.
// The scheme is case-insensitive (RFC 9110 section 11.1).
func BearerToken(r *http.Request) (string, error) {
	return bearerFromHeader(r.Header.Get("Authorization"))
}

func bearerFromHeader(h string) (string, error) {
	if h == "" {
		return "", unauthenticated(ReasonTokenMissing, "missing Authorization header")
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", unauthenticated(ReasonTokenMalformed, "Authorization header must use the Bearer scheme")
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", unauthenticated(ReasonTokenMissing, "empty bearer token")
	}
	return token, nil
}
