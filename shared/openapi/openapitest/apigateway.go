package openapitest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

// CheckAPIGateway validates one exchange of a Lambda behind the HTTP API
// (payload format 2.0): payload is the event it was invoked with, resp
// its answer. Mismatches fail t, as with Transport. Events that are not
// HTTP (SQS, jobs) are not checked.
func CheckAPIGateway(t testing.TB, payload []byte, resp lambdaevents.APIGatewayV2HTTPResponse) {
	t.Helper()
	spec, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	var ev lambdaevents.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &ev); err != nil || ev.RequestContext.HTTP.Method == "" {
		return
	}
	req, body, err := apiGatewayRequest(ev)
	if err != nil {
		t.Errorf("openapi: event: %v", err)
		return
	}
	op, err := spec.ValidateRequest(req, body)
	if err != nil {
		t.Errorf("openapi: %v", err)
	}
	if op == nil {
		return
	}
	out, raw, err := apiGatewayResponse(resp)
	if err != nil {
		t.Errorf("openapi: %s: %v", op.Key(), err)
		return
	}
	if err := spec.ValidateResponse(op, out, raw); err != nil {
		t.Errorf("openapi: %v", err)
	}
}

func apiGatewayRequest(ev lambdaevents.APIGatewayV2HTTPRequest) (*http.Request, []byte, error) {
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, nil, fmt.Errorf("body: %w", err)
		}
	}
	target := "https://" + ev.RequestContext.DomainName + ev.RawPath
	if ev.RawQueryString != "" {
		target += "?" + ev.RawQueryString
	}
	req, err := http.NewRequest(ev.RequestContext.HTTP.Method, target, strings.NewReader(string(body)))
	if err != nil {
		return nil, nil, err
	}
	// The HTTP API joins repeated headers with commas and moves cookies to
	// their own list.
	for k, v := range ev.Headers {
		req.Header.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	return req, body, nil
}

func apiGatewayResponse(resp lambdaevents.APIGatewayV2HTTPResponse) (*http.Response, []byte, error) {
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return nil, nil, fmt.Errorf("response body: %w", err)
		}
	}
	h := http.Header{}
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	return &http.Response{StatusCode: resp.StatusCode, Header: h}, body, nil
}
