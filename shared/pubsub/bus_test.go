package pubsub

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/playback"
)

const testProject = "playplane-test"

// newBus returns a bus on a Pub/Sub fake of the test's own, with topics
// ensured.
func newBus(t testing.TB, cfg Config, topics ...string) *Bus {
	t.Helper()
	return newBusAt(t, gcpemu.PubSub(t), cfg, nil, topics...)
}

func newBusAt(t testing.TB, addr string, cfg Config, extra []option.ClientOption, topics ...string) *Bus {
	t.Helper()
	cfg.ProjectID = testProject
	b, err := New(context.Background(), cfg, append(gcpemu.PubSubClientOptions(addr), extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := b.EnsureTopics(context.Background(), topics...); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{name: "defaults", cfg: Config{}},
		{name: "too few delivery attempts", cfg: Config{MaxDeliveryAttempts: 4}, wantErr: true},
		{name: "too many delivery attempts", cfg: Config{MaxDeliveryAttempts: 101}, wantErr: true},
		{name: "ack deadline too short", cfg: Config{AckDeadline: time.Second}, wantErr: true},
		{name: "batch over the request limit", cfg: Config{MaxBatch: 1001}, wantErr: true},
		{name: "same suffixes", cfg: Config{SubscriptionSuffix: "-x", DeadLetterSuffix: "-x"}, wantErr: true},
		{name: "retry backoff too long", cfg: Config{RetryBackoff: time.Hour}, wantErr: true},
		{name: "max extension too short", cfg: Config{MaxExtension: time.Millisecond}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.cfg.ProjectID = testProject
			b, err := New(context.Background(), tc.cfg, gcpemu.PubSubClientOptions("127.0.0.1:1")...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("New: err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil {
				if b.cfg.MaxDeliveryAttempts != 5 || b.cfg.MaxBatch != 100 || b.cfg.SubscriptionSuffix != "-sub" || b.cfg.MaxExtension != time.Hour {
					t.Fatalf("defaults not applied: %+v", b.cfg)
				}
				_ = b.Close()
			}
		})
	}
}

// TestPublishRespectsRequestLimits: however many messages one call
// publishes, each request stays within 1,000 messages and 10 MB.
func TestPublishRespectsRequestLimits(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var requests, maxCount, maxBytes, total int
	count := grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if pr, ok := req.(*pubsubpb.PublishRequest); ok {
			mu.Lock()
			requests++
			maxCount = max(maxCount, len(pr.Messages))
			maxBytes = max(maxBytes, proto.Size(pr))
			total += len(pr.Messages)
			mu.Unlock()
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	})
	b := newBusAt(t, gcpemu.PubSub(t), Config{}, []option.ClientOption{option.WithGRPCDialOption(count)}, "bulk")
	var msgs []playback.Message
	for i := range 2500 {
		msgs = append(msgs, playback.Message{Data: fmt.Appendf(nil, "small-%d", i)})
	}
	big := bytes.Repeat([]byte("x"), 1<<20)
	for range 25 {
		msgs = append(msgs, playback.Message{Data: big})
	}
	if err := b.Publish(context.Background(), "bulk", msgs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d messages in %d requests, largest %d messages / %d bytes", total, requests, maxCount, maxBytes)
	if total != len(msgs) || maxCount > 1000 || maxBytes > 10_000_000 {
		t.Fatalf("%d of %d messages sent; largest request %d messages, %d bytes", total, len(msgs), maxCount, maxBytes)
	}
}

func TestPublishRejects(t *testing.T) {
	t.Parallel()
	srv := gcpemu.PubSubServer(t)
	b := newBusAt(t, srv.Addr, Config{}, nil, "checked")
	for _, tc := range []struct {
		name  string
		topic string
		msgs  []playback.Message
		want  playback.Code
	}{
		{"too large", "checked", []playback.Message{{Data: []byte("ok")}, {Data: make([]byte, 10_000_000)}}, playback.CodeTooLarge},
		{"empty", "checked", []playback.Message{{}}, playback.CodeInvalid},
		{"reserved attribute", "checked", []playback.Message{{Data: []byte("x"), Attributes: map[string]string{"playplane.id": "y"}}}, playback.CodeInvalid},
		{"google's prefix", "checked", []playback.Message{{Data: []byte("x"), Attributes: map[string]string{"googx": "y"}}}, playback.CodeInvalid},
		{"long attribute value", "checked", []playback.Message{{Data: []byte("x"), Attributes: map[string]string{"a": strings.Repeat("v", 1025)}}}, playback.CodeInvalid},
		{"too many attributes", "checked", []playback.Message{{ID: "id", Data: []byte("x"), Attributes: manyAttributes(100)}}, playback.CodeInvalid},
		{"long ordering key", "checked", []playback.Message{{Data: []byte("x"), OrderingKey: strings.Repeat("k", 1025)}}, playback.CodeInvalid},
		{"bad topic name", "a/b", []playback.Message{{Data: []byte("x")}}, playback.CodeInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := b.Publish(context.Background(), tc.topic, tc.msgs...)
			if got := playback.ErrorCode(err); got != tc.want {
				t.Fatalf("Publish: %v (code %q), want code %q", err, got, tc.want)
			}
		})
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("refused calls sent %d messages", n)
	}
}

func manyAttributes(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprint("a", i)] = "v"
	}
	return m
}

// TestPublishResumesKeyAfterFailure: a failed publish leaves its ordering
// key usable (the high-level client paused it until resumed): the next
// call with the key goes through.
func TestPublishResumesKeyAfterFailure(t *testing.T) {
	t.Parallel()
	b := newBus(t, Config{}, "other")
	ctx := context.Background()
	msg := playback.Message{Data: []byte("x"), OrderingKey: "acct-1"}
	err := b.Publish(ctx, "late", msg)
	if err == nil || playback.IsCode(err, playback.CodeUnavailable) {
		t.Fatalf("publishing to a missing topic: %v, want a non-retryable error", err)
	}
	if err := b.EnsureTopics(ctx, "late"); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, "late", msg); err != nil {
		t.Fatalf("publishing with the key after the failure: %v", err)
	}
}
