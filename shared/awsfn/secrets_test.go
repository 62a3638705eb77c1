package awsfn_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/awsfn"
	"github.com/playplane/playplane/shared/awssecrets/fakesm"
	"github.com/playplane/playplane/shared/fnenv"
	"github.com/playplane/playplane/shared/playback"
)

const keysArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:playplane-aws/playback-token-keys-AbC123"

// keyEcho shows which PLAYBACK_TOKEN_KEYS it was built with.
type keyEcho struct{ keys string }

func (k keyEcho) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/keys", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(k.keys)) })
}

func (keyEcho) Consumers() map[string]playback.BatchHandler { return nil }

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *testClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func getKeys(t *testing.T, h *awsfn.Handler) (string, error) {
	t.Helper()
	status, body, err := getKeysStatus(t, h)
	if err == nil && status != http.StatusOK {
		return "", fmt.Errorf("%d %s", status, body)
	}
	return body, err
}

func getKeysStatus(t *testing.T, h *awsfn.Handler) (int, string, error) {
	t.Helper()
	ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/v1/keys",
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "r",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/v1/keys"}}}
	payload, _ := json.Marshal(ev)
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		return 0, "", err
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Body, nil
}

// A function given a secret's ARN reads the value from Secrets Manager on
// its first invocation (none in init), keeps it for SECRETS_REFRESH, and
// is rebuilt with a rotated value after that, with no redeploy.
func TestSecretsNamedByARNAreReadAtRunTimeAndRefreshed(t *testing.T) {
	t.Parallel()
	sm := fakesm.New(t)
	sm.Put(keysArn, "k1:AAAA")
	clk := &testClock{now: time.Unix(1_700_000_000, 0)}
	awsCfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "s", ""),
		Retryer: func() aws.Retryer { return aws.NopRetryer{} }}
	vars := map[string]string{
		"PLAYBACK_TOKEN_KEYS_SECRET_ARN": keysArn,
		"SECRETSMANAGER_ENDPOINT":        sm.URL,
		"SECRETS_REFRESH":                "5m",
		awsfn.EnvTrigger:                 "http",
	}
	var builds atomic.Int64
	h, err := awsfn.New(context.Background(), func(_ context.Context, env fnenv.Env) (awsfn.Function, error) {
		builds.Add(1)
		keys, _ := env.Lookup(awsfn.EnvPlaybackTokenKeys)
		return keyEcho{keys: keys}, nil
	}, awsfn.Options{Lookuper: envconfig.MapLookuper(vars), AWS: &awsCfg, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if sm.Calls() != 0 || builds.Load() != 0 {
		t.Fatalf("init made %d Secrets Manager calls and %d builds; both belong to the first invocation", sm.Calls(), builds.Load())
	}
	for range 3 {
		if got, err := getKeys(t, h); err != nil || got != "k1:AAAA" {
			t.Fatalf("keys %q, %v", got, err)
		}
	}
	if sm.Calls() != 1 || builds.Load() != 1 {
		t.Errorf("%d calls, %d builds for three invocations, want 1 and 1 (cached)", sm.Calls(), builds.Load())
	}

	sm.Put(keysArn, "k2:BBBB,k1:AAAA")
	clk.Advance(5 * time.Minute)
	if got, _ := getKeys(t, h); got != "k2:BBBB,k1:AAAA" {
		t.Errorf("after the refresh interval keys %q, want the rotated value", got)
	}
	if builds.Load() != 2 {
		t.Errorf("%d builds, want 2 (one per value)", builds.Load())
	}
	// A refresh that finds the same value does not rebuild.
	clk.Advance(5 * time.Minute)
	if got, _ := getKeys(t, h); got != "k2:BBBB,k1:AAAA" || builds.Load() != 2 {
		t.Errorf("keys %q after %d builds, want no rebuild for an unchanged value", got, builds.Load())
	}
	// An outage keeps the function in hand.
	sm.Down(true)
	clk.Advance(5 * time.Minute)
	if got, err := getKeys(t, h); err != nil || got != "k2:BBBB,k1:AAAA" {
		t.Errorf("during an outage keys %q, %v", got, err)
	}
}

// Until its secrets can be read, a function is not built and requests get
// a 500 (the cause is logged); the next invocation tries again.
func TestUnreadableSecretsFailTheInvocationNotTheInit(t *testing.T) {
	t.Parallel()
	sm := fakesm.New(t)
	awsCfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "s", ""),
		Retryer: func() aws.Retryer { return aws.NopRetryer{} }}
	vars := map[string]string{"PLAYBACK_TOKEN_KEYS_SECRET_ARN": keysArn, "SECRETSMANAGER_ENDPOINT": sm.URL, awsfn.EnvTrigger: "http"}
	h, err := awsfn.New(context.Background(), func(_ context.Context, env fnenv.Env) (awsfn.Function, error) {
		keys, _ := env.Lookup(awsfn.EnvPlaybackTokenKeys)
		return keyEcho{keys: keys}, nil
	}, awsfn.Options{Lookuper: envconfig.MapLookuper(vars), AWS: &awsCfg})
	if err != nil {
		t.Fatalf("init failed: %v", err)
	}
	status, body, err := getKeysStatus(t, h)
	if err != nil || status != http.StatusInternalServerError || !strings.Contains(body, "function_unavailable") {
		t.Fatalf("answered %d %s, %v; want a typed 500 until the secret can be read", status, body, err)
	}
	sm.Put(keysArn, "k1:AAAA")
	if got, err := getKeys(t, h); err != nil || got != "k1:AAAA" {
		t.Errorf("keys %q, %v once the secret exists", got, err)
	}
}
