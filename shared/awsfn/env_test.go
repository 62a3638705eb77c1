package awsfn_test

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/awsfn"
	"github.com/playplane/playplane/shared/awsfn/lambdatest"
	"github.com/playplane/playplane/shared/playback"
)

func localEnv(vars map[string]string) *awsfn.Env {
	cfg := lambdatest.LocalAWS()
	return awsfn.NewEnv(awsfn.Options{Lookuper: envconfig.MapLookuper(vars), AWS: &cfg})
}

// TestEnvBuildsTheAdapters talks to DynamoDB Local and fauxqs through the
// store and bus an Env builds from variables only.
func TestEnvBuildsTheAdapters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	backend := lambdatest.NewBackend(t, "heartbeats")
	env := localEnv(backend.Vars)
	store, bus := env.Store(ctx), env.Bus(ctx)
	if err := env.Err(); err != nil {
		t.Fatal(err)
	}
	if env.Store(ctx) != store || env.Bus(ctx) != bus {
		t.Error("dependencies are built again on every request")
	}
	plan := playback.Plan{ID: "trial", Name: "Trial", MaxStreams: 1, MaxDevices: 1, MaxQuality: playback.QualitySD}
	if err := store.PutPlan(ctx, plan); err != nil {
		t.Fatal(err)
	}
	// The test's own store reads the table the Env's wrote.
	if got, err := backend.Store.GetPlan(ctx, "trial"); err != nil || got.Name != "Trial" {
		t.Fatalf("GetPlan: %+v, %v", got, err)
	}
	if err := bus.Publish(ctx, "heartbeats", playback.Message{ID: "m-1", Data: []byte(`{"n":1}`)}); err != nil {
		t.Fatal(err)
	}
	if got := backend.Receive(t, "heartbeats", 1).Records[0].Body; got != `{"n":1}` {
		t.Fatalf("received %q", got)
	}
}

// TestEnvTableNames checks that DYNAMODB_TABLE, the adapter's own name,
// wins over DYNAMO_TABLE.
func TestEnvTableNames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	backend := lambdatest.NewBackend(t)
	vars := lambdatest.Merge(backend.Vars, map[string]string{"DYNAMODB_TABLE": backend.Vars["DYNAMO_TABLE"], "DYNAMO_TABLE": "no-such-table"})
	env := localEnv(vars)
	if err := env.Store(ctx).PutPlan(ctx, playback.Plan{ID: "p", Name: "P", MaxStreams: 1, MaxDevices: 1}); err != nil {
		t.Fatalf("DYNAMODB_TABLE was not used: %v", err)
	}
}

func TestEnvQueueURLs(t *testing.T) {
	t.Parallel()
	const a, b, c = "https://sqs.eu-central-1.amazonaws.com/1/a", "https://sqs.eu-central-1.amazonaws.com/1/b", "https://sqs.eu-central-1.amazonaws.com/1/c"
	tests := []struct {
		name    string
		vars    map[string]string
		want    map[string]string
		wantErr bool
	}{
		{name: "none", vars: nil, want: map[string]string{}},
		{name: "QUEUE_URLS", vars: map[string]string{"QUEUE_URLS": "heartbeats=" + a + ", edge-health=" + b},
			want: map[string]string{"heartbeats": a, "edge-health": b}},
		{name: "TOPIC_ variables", vars: map[string]string{"TOPIC_EDGE_HEALTH": b, "TOPIC_STRIPE_EVENTS": c},
			want: map[string]string{"edge-health": b, "stripe-events": c}},
		{name: "QUEUE_URLS wins", vars: map[string]string{"QUEUE_URLS": "heartbeats=" + a, "TOPIC_HEARTBEATS": b, "SQS_QUEUE_URLS": "heartbeats:" + c},
			want: map[string]string{"heartbeats": a}},
		{name: "adapter's own", vars: map[string]string{"SQS_QUEUE_URLS": "heartbeats:" + c}, want: map[string]string{"heartbeats": c}},
		{name: "not a URL", vars: map[string]string{"QUEUE_URLS": "heartbeats=heartbeats"}, wantErr: true},
		{name: "not a pair", vars: map[string]string{"QUEUE_URLS": "heartbeats"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := localEnv(tt.vars).QueueURLs(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if err == nil && !equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// buildAll asks for every dependency an Env offers.
func buildAll(ctx context.Context, env *awsfn.Env) (awsfn.Function, error) {
	env.Store(ctx)
	env.Bus(ctx)
	env.Keyring()
	env.Identity(ctx)
	return &recorder{}, nil
}

func TestInitReportsEveryMissingSetting(t *testing.T) {
	t.Parallel()
	cfg := lambdatest.LocalAWS()
	_, err := awsfn.New(context.Background(), buildAll, awsfn.Options{Lookuper: envconfig.MapLookuper(map[string]string{
		"PLAYBACK_TOKEN_KEYS": "k1:c2hvcnQ=", // "short": too short a key
	}), AWS: &cfg})
	if err == nil {
		t.Fatal("init succeeded without a table, valid token keys or an identity provider")
	}
	for _, want := range []string{"DYNAMO_TABLE", "PLAYBACK_TOKEN_KEYS", "JWT_ISSUER"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "c2hvcnQ") {
		t.Errorf("error %q repeats key material", err)
	}
}

// TestInitMakesNoNetworkCalls builds every dependency, with the SDK's
// default configuration loader, against endpoints that count connections.
func TestInitMakesNoNetworkCalls(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	trap := "http://" + ln.Addr().String()
	vars := map[string]string{
		"DYNAMO_TABLE": "t", "DYNAMODB_ENDPOINT": trap, "SQS_ENDPOINT": trap,
		"QUEUE_URLS":          "heartbeats=" + trap + "/000000000000/heartbeats",
		"PLAYBACK_TOKEN_KEYS": "k1:" + strings.Repeat("A", 43),
		"JWT_ISSUER":          "https://id.example/", "JWT_AUDIENCE": "playplane", "JWT_JWKS_URL": trap + "/jwks.json",
	}
	h, err := awsfn.New(context.Background(), buildAll, awsfn.Options{Lookuper: envconfig.MapLookuper(vars)})
	if err != nil {
		t.Fatal(err)
	}
	if h == nil || conns.Load() != 0 {
		t.Fatalf("init opened %d connections", conns.Load())
	}
	// The endpoints do lead to the trap: the first store call dials it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := localEnv(vars).Store(ctx).GetPlan(ctx, "p"); err == nil {
		t.Fatal("GetPlan succeeded against the trap")
	}
	if conns.Load() == 0 {
		t.Fatal("the trap counted nothing")
	}
}
