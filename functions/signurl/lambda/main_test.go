package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/awsfn/lambdatest"
	"github.com/playplane/playplane/shared/cloudfront"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

const logicalID = "SignURLFunction"

// sampleVars are events/aws/env.json's with a CloudFront key made for the
// test in place of the placeholder a developer fills in.
func sampleVars(t *testing.T) (map[string]string, crypto.PublicKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	vars := lambdatest.SampleVars(t, logicalID)
	vars["CLOUDFRONT_PRIVATE_KEY"] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	return vars, key.Public()
}

func TestTemplate(t *testing.T) {
	t.Parallel()
	vars, _ := sampleVars(t)
	lambdatest.CheckFunction(t, build, vars)
}

// TestSamples signs the sample's session over DynamoDB Local and checks the
// grant the way CloudFront would, with the key pair's public key.
func TestSamples(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	backend := lambdatest.NewBackend(t)
	now := time.Now()
	if err := demo.Seed(ctx, backend.Store, "https://edge.example", now); err != nil {
		t.Fatal(err)
	}
	vars, public := sampleVars(t)
	h := lambdatest.NewHandler(t, build, lambdatest.Merge(vars, backend.Vars))
	sample := lambdatest.Sample(t, "signurl/urls.json")

	// Before the session exists, its token (valid until 2099) gets 410.
	if resp := lambdatest.InvokeHTTP(t, h, sample); resp.StatusCode != http.StatusGone {
		t.Fatalf("urls.json without a session: %d %s, want 410", resp.StatusCode, resp.Body)
	}
	_, err := backend.Store.AcquireLease(ctx, playback.LeaseRequest{SessionID: "ses_sample_signurl", AccountID: demo.AccountFamily,
		DeviceID: "living-room-tv", TitleID: "big-buck-bunny", Limit: 2, TTL: 2 * time.Minute, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	resp := lambdatest.InvokeHTTP(t, h, sample)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("urls.json: %d %s", resp.StatusCode, resp.Body)
	}
	var grant struct {
		ManifestURL string    `json:"manifest_url"`
		ExpiresAt   time.Time `json:"expires_at"`
		KeyID       string    `json:"key_id"`
		CDN         string    `json:"cdn"`
		Manifests   struct {
			HLS, DASH string
		} `json:"manifests"`
		SteeringURI string `json:"steering_uri"`
		Cookies     []struct {
			Name, Value, Path string
		} `json:"cookies"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &grant); err != nil {
		t.Fatal(err)
	}
	// A browser gets the grants as Set-Cookie: an HTTP API sends each
	// entry of the response's "cookies" as its own Set-Cookie and would
	// send a comma-joined header as one broken cookie
	// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).
	if len(resp.Cookies) != len(grant.Cookies) || len(grant.Cookies) == 0 {
		t.Fatalf("response cookies %q for grants %+v", resp.Cookies, grant.Cookies)
	}
	for i, line := range resp.Cookies {
		c, err := http.ParseSetCookie(line)
		if err != nil || c.Name != grant.Cookies[i].Name || c.Value != grant.Cookies[i].Value || c.Path != grant.Cookies[i].Path {
			t.Fatalf("Set-Cookie %q (%v), want the grant %+v", line, err, grant.Cookies[i])
		}
	}
	for name := range resp.Headers {
		if strings.EqualFold(name, "Set-Cookie") {
			t.Fatalf("Set-Cookie in the headers map: %q", resp.Headers[name])
		}
	}
	// The demo title has a ladder: the manifests are personalized ones on
	// the API's own host (the sample's API Gateway domain), and the grants
	// cover the family plan's SD and HD folders only.
	const api = "https://a1b2c3d4e5.execute-api.eu-central-1.amazonaws.com/v1/"
	if grant.CDN != "cloudfront" || grant.KeyID != vars["CLOUDFRONT_ACTIVE_KEY_ID"] || grant.ManifestURL != grant.Manifests.HLS ||
		!strings.HasPrefix(grant.Manifests.HLS, api+"manifests/ses_sample_signurl/hls?") ||
		!strings.HasPrefix(grant.Manifests.DASH, api+"manifests/ses_sample_signurl/dash?") ||
		!strings.HasPrefix(grant.SteeringURI, api+"steering/ses_sample_signurl?") ||
		grant.ExpiresAt.After(now.Add(3*time.Minute)) {
		t.Fatalf("grant %s", resp.Body)
	}
	verifier, err := cloudfront.NewVerifier(map[string]crypto.PublicKey{grant.KeyID: public}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// As a browser sends them: the cookies whose path covers the URL.
	cookiesFor := func(rawURL string) []*http.Cookie {
		var out []*http.Cookie
		for _, c := range grant.Cookies {
			if strings.Contains(rawURL, c.Path) {
				out = append(out, &http.Cookie{Name: c.Name, Value: c.Value})
			}
		}
		return out
	}
	const cdn = "https://d111111abcdef8.cloudfront.net/titles/big-buck-bunny/"
	for _, r := range []string{"sd", "hd"} {
		if _, err := verifier.Verify(cdn+r+"/seg1.m4s", cookiesFor(cdn+r+"/"), netip.MustParseAddr("203.0.113.7")); err != nil {
			t.Fatalf("CloudFront would refuse the %s segment: %v", r, err)
		}
	}
	// The standard plan's grants, all of them, do not open UHD.
	var all []*http.Cookie
	for _, c := range grant.Cookies {
		all = append(all, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	if _, err := verifier.Verify(cdn+"uhd/seg1.m4s", all, netip.MustParseAddr("203.0.113.7")); err == nil {
		t.Fatal("CloudFront would serve a UHD segment to a standard plan")
	}
}
