package main

import (
	"encoding/json"
	"net/http"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/playplane/playplane/shared/awsfn/lambdatest"
)

const logicalID = "AdminFunction"

func TestTemplate(t *testing.T) {
	t.Parallel()
	lambdatest.CheckFunction(t, build, lambdatest.SampleVars(t, logicalID))
}

// TestAuthorizerClaims invokes the Lambda over DynamoDB Local as the HTTP
// API does behind its JWT authorizer: the claims arrive flattened to
// strings in the request context, and the admin claim must still be read
// as the boolean the token carried.
func TestAuthorizerClaims(t *testing.T) {
	t.Parallel()
	backend := lambdatest.NewBackend(t)
	vars := lambdatest.Merge(lambdatest.SampleVars(t, logicalID), backend.Vars)
	h := lambdatest.NewHandler(t, build, vars)
	event := func(admin string) []byte {
		claims := map[string]string{"iss": vars["JWT_ISSUER"], "sub": "ops-alice", "aud": vars["JWT_AUDIENCE"], "exp": "4102444800"}
		if admin != "" {
			claims["playplane_admin"] = admin
		}
		ev := lambdaevents.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "POST /v1/admin/plans", RawPath: "/v1/admin/plans",
			Headers: map[string]string{"content-type": "application/json", "authorization": "Bearer x"},
			Body:    `{"id":"std","name":"Standard","max_streams":2,"max_devices":5,"max_quality":"HD"}`,
			RequestContext: lambdaevents.APIGatewayV2HTTPRequestContext{
				HTTP:       lambdaevents.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/v1/admin/plans", SourceIP: "192.0.2.1"},
				Authorizer: &lambdaevents.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &lambdaevents.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims}},
			},
		}
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name, admin string
		want        int
	}{
		{name: "subscriber", admin: "", want: http.StatusForbidden},
		{name: "admin false", admin: "false", want: http.StatusForbidden},
		{name: "admin", admin: "true", want: http.StatusCreated},
	} {
		resp := lambdatest.InvokeHTTP(t, h, event(tc.admin))
		if resp.StatusCode != tc.want {
			t.Fatalf("%s: status %d, want %d: %s", tc.name, resp.StatusCode, tc.want, resp.Body)
		}
	}
}
