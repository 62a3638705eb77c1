package awsfn

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/lambdahttp"
	"github.com/playplane/playplane/shared/playback"
)

// GatewayIdentity authenticates callers of routes behind the HTTP API's JWT
// authorizer by the claims API Gateway verified, and every other request by
// checking its bearer JWT itself. Trusting the authorizer spares the function
// a key-set fetch on a cold start; the claims travel in the invocation's
// request context, which a client cannot write.
type GatewayIdentity struct {
	// Issuer the authorizer must have accepted: the same identity provider
	// the function trusts.
	Issuer   string
	Verifier *auth.Verifier
}

// Authenticate returns the caller of r.
func (g *GatewayIdentity) Authenticate(r *http.Request) (auth.Identity, error) {
	ev, ok := lambdahttp.Event(r.Context())
	if !ok || ev.RequestContext.Authorizer == nil || ev.RequestContext.Authorizer.JWT == nil {
		return g.Verifier.Authenticate(r)
	}
	claims := ev.RequestContext.Authorizer.JWT.Claims
	if claims["iss"] != g.Issuer {
		return auth.Identity{}, playback.Errorf(playback.CodeUnauthenticated, auth.ReasonTokenIssuer,
			"the API Gateway authorizer accepted issuer %q, this function trusts %q", claims["iss"], g.Issuer)
	}
	sub := claims["sub"]
	if sub == "" {
		return auth.Identity{}, playback.Errorf(playback.CodeUnauthenticated, auth.ReasonTokenSubject, "token has no subject")
	}
	id := auth.Identity{AccountID: sub, Issuer: claims["iss"], Audience: audience(claims["aud"]), TokenID: claims["jti"],
		Claims: flatClaims(claims)}
	if exp, err := strconv.ParseInt(claims["exp"], 10, 64); err == nil {
		id.ExpiresAt = time.Unix(exp, 0).UTC()
	}
	return id, nil
}

// audience reads the "aud" claim as API Gateway flattens it: "a" or "[a b]".
func audience(v string) []string {
	v = strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")
	return strings.Fields(strings.ReplaceAll(v, ",", " "))
}

// flatClaims are the authorizer's claims as the token held them, as far
// as API Gateway's flattening to strings allows: a boolean true arrives as
// "true" and is given back as true, so that auth.HasAdminClaim reads a
// custom boolean claim alike behind the authorizer and without it.
func flatClaims(claims map[string]string) map[string]any {
	out := make(map[string]any, len(claims))
	for k, v := range claims {
		switch v {
		case "true":
			out[k] = true
		case "false":
			out[k] = false
		default:
			out[k] = v
		}
	}
	return out
}
