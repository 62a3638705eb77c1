package awssecrets_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/playplane/playplane/shared/awssecrets"
	"github.com/playplane/playplane/shared/awssecrets/fakesm"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// newCache returns a cache on the fake with a fake clock and a count of
// clients made.
func newCache(t *testing.T, f *fakesm.Server) (*awssecrets.Cache, *clock, *atomic.Int64) {
	t.Helper()
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	var made atomic.Int64
	cfg := awssecrets.Config{Refresh: 5 * time.Minute, RetryAfter: 30 * time.Second, Endpoint: f.URL}
	c, err := awssecrets.New(cfg, func(context.Context) (awssecrets.Client, error) {
		made.Add(1)
		return awssecrets.ClientFromConfig(cfg, aws.Config{
			Region:      "eu-west-1",
			Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
			Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
		}), nil
	}, awssecrets.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return c, clk, &made
}

const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:playplane-aws/playback-token-keys-AbC123"

func TestGetCachesUntilRefreshThenPicksUpARotation(t *testing.T) {
	t.Parallel()
	f := fakesm.New(t)
	f.Put(arn, "k1:AAAA")
	c, clk, made := newCache(t, f)
	if made.Load() != 0 || f.Calls() != 0 {
		t.Fatal("New made a client or a request: init must stay off the network")
	}
	ctx := context.Background()
	for range 3 {
		if v, err := c.Get(ctx, arn); err != nil || v != "k1:AAAA" {
			t.Fatalf("Get = %q, %v", v, err)
		}
	}
	if f.Calls() != 1 || made.Load() != 1 {
		t.Errorf("%d requests, %d clients for three reads within Refresh, want 1 and 1", f.Calls(), made.Load())
	}
	f.Put(arn, "k2:BBBB,k1:AAAA")
	clk.Advance(4 * time.Minute)
	if v, _ := c.Get(ctx, arn); v != "k1:AAAA" {
		t.Errorf("Get before Refresh = %q, want the cached value", v)
	}
	clk.Advance(time.Minute)
	if v, err := c.Get(ctx, arn); err != nil || v != "k2:BBBB,k1:AAAA" {
		t.Errorf("Get after Refresh = %q, %v; want the rotated value", v, err)
	}
	if f.Calls() != 2 {
		t.Errorf("%d requests, want 2", f.Calls())
	}
}

func TestGetKeepsTheValueInHandThroughAnOutage(t *testing.T) {
	t.Parallel()
	f := fakesm.New(t)
	f.Put(arn, "k1:AAAA")
	c, clk, _ := newCache(t, f)
	ctx := context.Background()
	if _, err := c.Get(ctx, arn); err != nil {
		t.Fatal(err)
	}
	f.Down(true)
	clk.Advance(5 * time.Minute)
	if v, err := c.Get(ctx, arn); err != nil || v != "k1:AAAA" {
		t.Fatalf("Get during an outage = %q, %v; want the value in hand", v, err)
	}
	// The failed refresh is retried after RetryAfter, not on every call.
	calls := f.Calls()
	if _, err := c.Get(ctx, arn); err != nil || f.Calls() != calls {
		t.Errorf("Get right after a failed refresh called Secrets Manager again (%v)", err)
	}
	f.Down(false)
	f.Put(arn, "k2:BBBB")
	clk.Advance(30 * time.Second)
	if v, _ := c.Get(ctx, arn); v != "k2:BBBB" {
		t.Errorf("Get after the outage = %q, want the new value", v)
	}
}

func TestGetFailsForASecretItNeverRead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		down bool
		want string
	}{
		{name: "missing", want: "ResourceNotFoundException"},
		{name: "service down", down: true, want: "InternalServiceError"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := fakesm.New(t)
			f.Down(tc.down)
			c, _, _ := newCache(t, f)
			_, err := c.Get(context.Background(), arn)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Get = %v, want %s", err, tc.want)
			}
		})
	}
}

func TestNewRefusesNonsense(t *testing.T) {
	t.Parallel()
	mk := func(context.Context) (awssecrets.Client, error) { return nil, errors.New("unused") }
	for _, tc := range []struct {
		name string
		cfg  awssecrets.Config
		mk   func(context.Context) (awssecrets.Client, error)
	}{
		{name: "no client", cfg: awssecrets.Config{Refresh: time.Minute, RetryAfter: time.Second}},
		{name: "no refresh", cfg: awssecrets.Config{RetryAfter: time.Second}, mk: mk},
		{name: "no retry", cfg: awssecrets.Config{Refresh: time.Minute}, mk: mk},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := awssecrets.New(tc.cfg, tc.mk, awssecrets.Options{}); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}
