package awsfn_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/awsfn"
	"github.com/playplane/playplane/shared/lambdahttp"
	"github.com/playplane/playplane/shared/playback"
)

func TestGatewayIdentity(t *testing.T) {
	t.Parallel()
	const issuer, audience = "https://id.example/", "playplane"
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Issuer: issuer, Audience: audience,
		HS256Keys: "k1:" + base64.StdEncoding.EncodeToString(key), Leeway: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	token, err := auth.MintHS256("k1", key, issuer, audience, "acct_bearer", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	g := &awsfn.GatewayIdentity{Issuer: issuer, Verifier: verifier}
	claims := func(c map[string]string) *events.APIGatewayV2HTTPRequestContextAuthorizerDescription {
		return &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: c}}
	}
	tests := []struct {
		name       string
		authorizer *events.APIGatewayV2HTTPRequestContextAuthorizerDescription
		header     string
		wantID     string
		wantAud    []string
		wantReason string
	}{
		{name: "authorizer claims", authorizer: claims(map[string]string{"iss": issuer, "sub": "acct_1", "aud": "[playplane other]", "exp": "4070908800"}),
			wantID: "acct_1", wantAud: []string{"playplane", "other"}},
		// The authorizer vouched for the caller: a header it did not check
		// plays no part.
		{name: "claims win over a header", authorizer: claims(map[string]string{"iss": issuer, "sub": "acct_1", "aud": "playplane"}),
			header: "Bearer " + token, wantID: "acct_1", wantAud: []string{"playplane"}},
		{name: "other issuer", authorizer: claims(map[string]string{"iss": "https://evil.example/", "sub": "acct_1"}), wantReason: auth.ReasonTokenIssuer},
		{name: "no subject", authorizer: claims(map[string]string{"iss": issuer}), wantReason: auth.ReasonTokenSubject},
		{name: "no authorizer: bearer verified", header: "Bearer " + token, wantID: "acct_bearer", wantAud: []string{audience}},
		{name: "no authorizer, no token", wantReason: auth.ReasonTokenMissing},
		{name: "no authorizer, forged token", header: "Bearer " + token[:len(token)-4] + "AAAA", wantReason: auth.ReasonTokenSignature},
		{name: "IAM authorizer is not a caller identity", authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserID: "AIDA"}}, wantReason: auth.ReasonTokenMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := events.APIGatewayV2HTTPRequest{RawPath: "/v1/sessions", Headers: map[string]string{},
				RequestContext: events.APIGatewayV2HTTPRequestContext{Authorizer: tt.authorizer,
					HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}}}
			if tt.header != "" {
				ev.Headers["authorization"] = tt.header
			}
			r, err := lambdahttp.NewRequest(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			id, err := g.Authenticate(r)
			if tt.wantReason != "" {
				if pe := playback.AsError(err); pe == nil || pe.Code != playback.CodeUnauthenticated || pe.Reason != tt.wantReason {
					t.Fatalf("got %+v, %v; want unauthenticated %s", id, err, tt.wantReason)
				}
				return
			}
			if err != nil || id.AccountID != tt.wantID || id.Issuer != issuer || !slices.Equal(id.Audience, tt.wantAud) {
				t.Fatalf("got %+v, %v; want %s", id, err, tt.wantID)
			}
		})
	}
}
