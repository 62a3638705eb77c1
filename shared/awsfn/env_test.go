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
	_ "github.com/playplane/playplane/shared/awsfn/smsecrets" // secrets by ARN are tested here
	_ "github.com/playplane/playplane/shared/awsfn/sqsbus"    // Env.Bus is tested here
	"github.com/playplane/playplane/shared/depcheck"
	"github.com/playplane/playplane/shared/fnenv"
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
	store, err := env.Store(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bus, err := env.Bus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := env.Store(ctx); again != store {
		t.Error("the store is built again on every request")
	}
	if again, _ := env.Bus(ctx); again != bus {
		t.Error("the bus is built again on every request")
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
	store, err := localEnv(vars).Store(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.PutPlan(ctx, playback.Plan{ID: "p", Name: "P", MaxStreams: 1, MaxDevices: 1}); err != nil {
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
func buildAll(ctx context.Context, env fnenv.Env) (awsfn.Function, error) {
	if _, err := env.Store(ctx); err != nil {
		return nil, err
	}
	if _, err := env.Bus(ctx); err != nil {
		return nil, err
	}
	if _, err := env.Keyring(); err != nil {
		return nil, err
	}
	if _, err := env.Identity(ctx); err != nil {
		return nil, err
	}
	return &recorder{}, nil
}

// TestEnvGettersFailFast: a getter that cannot build its dependency returns
// an error naming the getter and the setting, and no value: never a typed
// nil a builder could put into an interface field of its Deps. With the
// setting, it returns a usable value and no error.
func TestEnvGettersFailFast(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	good := map[string]string{
		"DYNAMO_TABLE": "t", "QUEUE_URLS": "heartbeats=https://sqs.us-east-1.amazonaws.com/1/heartbeats",
		"PLAYBACK_TOKEN_KEYS": "k1:" + strings.Repeat("A", 43),
		"JWT_ISSUER":          "https://id.example/", "JWT_AUDIENCE": "playplane", "JWT_JWKS_URL": "https://id.example/jwks.json",
	}
	for _, tc := range []struct {
		name  string
		get   func(*awsfn.Env) (any, error)
		unset string // the setting removed
		bad   map[string]string
		want  []string
	}{
		{name: "store", get: func(e *awsfn.Env) (any, error) { return e.Store(ctx) }, unset: "DYNAMO_TABLE",
			want: []string{"awsfn.Env.Store", "DYNAMO_TABLE"}},
		{name: "bus", get: func(e *awsfn.Env) (any, error) { return e.Bus(ctx) }, bad: map[string]string{"QUEUE_URLS": "heartbeats=heartbeats"},
			want: []string{"awsfn.Env.Bus", "heartbeats"}},
		{name: "keyring", get: func(e *awsfn.Env) (any, error) { return e.Keyring() }, unset: "PLAYBACK_TOKEN_KEYS",
			want: []string{"awsfn.Env.Keyring", "PLAYBACK_TOKEN_KEYS is not set"}},
		{name: "short key", get: func(e *awsfn.Env) (any, error) { return e.Keyring() }, bad: map[string]string{"PLAYBACK_TOKEN_KEYS": "k1:c2hvcnQ="},
			want: []string{"awsfn.Env.Keyring", "PLAYBACK_TOKEN_KEYS"}},
		{name: "identity", get: func(e *awsfn.Env) (any, error) { return e.Identity(ctx) }, unset: "JWT_ISSUER",
			want: []string{"awsfn.Env.Identity", "JWT_ISSUER"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := tc.get(localEnv(good))
			if err != nil || depcheck.Nil(v) {
				t.Fatalf("with its settings: %#v, %v", v, err)
			}
			vars := lambdatest.Merge(good, tc.bad)
			delete(vars, tc.unset)
			v, err = tc.get(localEnv(vars))
			if err == nil {
				t.Fatalf("returned %#v and no error", v)
			}
			if !depcheck.Nil(v) {
				t.Errorf("returned %#v beside its error", v)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
			if strings.Contains(err.Error(), "c2hvcnQ") {
				t.Errorf("error %q repeats key material", err)
			}
		})
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
		awsfn.EnvTrigger: "http",
		"DYNAMO_TABLE":   "t", "DYNAMODB_ENDPOINT": trap, "SQS_ENDPOINT": trap,
		"QUEUE_URLS":          "heartbeats=" + trap + "/000000000000/heartbeats",
		"PLAYBACK_TOKEN_KEYS": "k1:" + strings.Repeat("A", 43),
		"JWT_ISSUER":          "https://id.example/", "JWT_AUDIENCE": "playplane", "JWT_JWKS_URL": trap + "/jwks.json",
	}
	h, err := awsfn.New(context.Background(), buildAll, awsfn.Options{Lookuper: envconfig.MapLookuper(vars)})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Build(context.Background()); err != nil {
		t.Fatal(err)
	}
	if conns.Load() != 0 {
		t.Fatalf("building opened %d connections", conns.Load())
	}
	// The endpoints do lead to the trap: the first store call dials it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	store, err := localEnv(vars).Store(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.GetPlan(ctx, "p"); err == nil {
		t.Fatal("GetPlan succeeded against the trap")
	}
	if conns.Load() == 0 {
		t.Fatal("the trap counted nothing")
	}
}
