package pubsub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/playback"
)

// publishes is a client interceptor that records every Publish attempt
// (the messages' data, in request order) and lets fault decide, before the
// request is sent, whether it fails with an error instead (attempt counts
// from 1).
type publishes struct {
	mu       sync.Mutex
	attempts [][]string
	fault    func(attempt int, req *pubsubpb.PublishRequest) error
}

func (p *publishes) option() option.ClientOption {
	return option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		pr, ok := req.(*pubsubpb.PublishRequest)
		if !ok {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		data := make([]string, len(pr.Messages))
		for i, m := range pr.Messages {
			data[i] = string(m.Data)
		}
		p.mu.Lock()
		p.attempts = append(p.attempts, data)
		attempt, fault := len(p.attempts), p.fault
		p.mu.Unlock()
		if fault != nil {
			if err := fault(attempt, pr); err != nil {
				return err
			}
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}))
}

func (p *publishes) seen() [][]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.attempts
}

func numbered(n int, key string) []playback.Message {
	msgs := make([]playback.Message, n)
	for i := range msgs {
		msgs[i] = playback.Message{Data: fmt.Appendf(nil, "m%04d", i), OrderingKey: key}
	}
	return msgs
}

// TestPublishSendsRequestsInOrder: a call's messages leave in publish
// order, in as few requests as the 1,000-message limit allows, one after
// the other; concurrent calls are not gathered into one request (the
// high-level client's 1ms PublishDelay bundling is gone: each call is
// sent at once).
func TestPublishSendsRequestsInOrder(t *testing.T) {
	t.Parallel()
	var p publishes
	b := newBusAt(t, gcpemu.PubSub(t), Config{}, []option.ClientOption{p.option()}, "seq")
	if err := b.Publish(context.Background(), "seq", numbered(2500, "acct-1")...); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	var all []string
	for _, r := range p.seen() {
		sizes = append(sizes, len(r))
		all = append(all, r...)
	}
	if fmt.Sprint(sizes) != "[1000 1000 500]" {
		t.Fatalf("request sizes %v, want [1000 1000 500]", sizes)
	}
	for i, d := range all {
		if want := fmt.Sprintf("m%04d", i); d != want {
			t.Fatalf("message %d sent as %s, want %s", i, d, want)
		}
	}

	const callers = 8
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			if err := b.Publish(context.Background(), "seq", playback.Message{Data: fmt.Appendf(nil, "c%d", i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(p.seen()) - 3; n != callers {
		t.Fatalf("%d concurrent calls of one message sent %d requests, want one each", callers, n)
	}
}

// TestPublishStopsAtAFailedRequest: a request that fails ends the call,
// and no request after it is sent (no later message of its ordering key
// overtakes the failed ones); the next call with the key goes through.
func TestPublishStopsAtAFailedRequest(t *testing.T) {
	t.Parallel()
	srv := gcpemu.PubSubServer(t)
	p := publishes{fault: func(attempt int, _ *pubsubpb.PublishRequest) error {
		if attempt == 2 {
			return status.Error(codes.FailedPrecondition, "planted")
		}
		return nil
	}}
	b := newBusAt(t, srv.Addr, Config{}, []option.ClientOption{p.option()}, "stops")
	err := b.Publish(context.Background(), "stops", numbered(2500, "acct-1")...)
	if status.Code(err) != codes.FailedPrecondition || playback.IsCode(err, playback.CodeUnavailable) {
		t.Fatalf("Publish: %v, want the request's FailedPrecondition, not retryable", err)
	}
	if n := len(p.seen()); n != 2 {
		t.Fatalf("%d requests sent, want 2: none after the failed one", n)
	}
	if n := len(srv.Messages()); n != 1000 {
		t.Fatalf("%d messages stored, want the first request's 1000", n)
	}
	if err := b.Publish(context.Background(), "stops", playback.Message{Data: []byte("after"), OrderingKey: "acct-1"}); err != nil {
		t.Fatalf("publishing with the key after the failure: %v", err)
	}
}

// TestPublishRetriesAndErrors: the codes the client library retried
// publishing on are retried by the generated client, and a message a
// failed attempt did not store is stored once; the rest fail at once.
// What a retry can cure is CodeUnavailable (or the context's error).
func TestPublishRetriesAndErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		code         codes.Code
		failAttempts int // 0: every attempt
		wantAttempts int // 0: more than one
		wantErr      func(error) bool
	}{
		{name: "unavailable once", code: codes.Unavailable, failAttempts: 1, wantAttempts: 2, wantErr: isNil},
		{name: "internal once", code: codes.Internal, failAttempts: 1, wantAttempts: 2, wantErr: isNil},
		{name: "aborted once", code: codes.Aborted, failAttempts: 1, wantAttempts: 2, wantErr: isNil},
		{name: "unavailable always", code: codes.Unavailable, wantErr: retryable},
		{name: "resource exhausted always", code: codes.ResourceExhausted, wantErr: retryable},
		{name: "not found", code: codes.NotFound, wantAttempts: 1, wantErr: permanent},
		{name: "permission denied", code: codes.PermissionDenied, wantAttempts: 1, wantErr: permanent},
		{name: "invalid argument", code: codes.InvalidArgument, wantAttempts: 1, wantErr: permanent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := gcpemu.PubSubServer(t)
			p := publishes{fault: func(attempt int, _ *pubsubpb.PublishRequest) error {
				if tc.failAttempts == 0 || attempt <= tc.failAttempts {
					return status.Error(tc.code, "planted")
				}
				return nil
			}}
			b := newBusAt(t, srv.Addr, Config{}, []option.ClientOption{p.option()}, "faults")
			// A case that ends on its own gets a deadline a stalled
			// process cannot reach; one that retries for ever ends at
			// this one, after a few attempts.
			wait := 30 * time.Second
			if tc.wantAttempts == 0 {
				wait = 1500 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			err := b.Publish(ctx, "faults", playback.Message{Data: []byte("x"), OrderingKey: "k"})
			if !tc.wantErr(err) {
				t.Fatalf("Publish: %v (code %q)", err, playback.ErrorCode(err))
			}
			got := len(p.seen())
			if tc.wantAttempts != 0 && got != tc.wantAttempts || tc.wantAttempts == 0 && got < 2 {
				t.Fatalf("%d attempts, want %d (0: several)", got, tc.wantAttempts)
			}
			if stored := len(srv.Messages()); err == nil && stored != 1 || err != nil && stored != 0 {
				t.Fatalf("%d messages stored after %v", stored, err)
			}
		})
	}
}

func isNil(err error) bool { return err == nil }

func retryable(err error) bool {
	return playback.IsCode(err, playback.CodeUnavailable) || errors.Is(err, context.DeadlineExceeded)
}

func permanent(err error) bool { return err != nil && !retryable(err) }

// TestCloseWaitsForPublish: Close lets a Publish under way finish before
// it closes the client, and later calls fail as unavailable.
func TestCloseWaitsForPublish(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	p := publishes{fault: func(attempt int, _ *pubsubpb.PublishRequest) error {
		if attempt == 1 {
			close(entered)
			<-release
		}
		return nil
	}}
	cfg := Config{ProjectID: testProject}
	srv := gcpemu.PubSubServer(t)
	newBusAt(t, srv.Addr, Config{}, nil, "closing") // makes the topic
	b, err := New(context.Background(), cfg, append(gcpemu.PubSubClientOptions(srv.Addr), p.option())...)
	if err != nil {
		t.Fatal(err)
	}
	published := make(chan error, 1)
	go func() { published <- b.Publish(context.Background(), "closing", playback.Message{Data: []byte("x")}) }()
	<-entered
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	// Give a Close that does not wait the time to close the connection
	// under the request.
	time.Sleep(100 * time.Millisecond)
	close(release)
	if err := <-published; err != nil {
		t.Fatalf("Publish under way during Close: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(context.Background(), "closing", playback.Message{Data: []byte("x")}); !playback.IsCode(err, playback.CodeUnavailable) {
		t.Fatalf("Publish after Close: %v, want unavailable", err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
}

// TestEmulatorHostAndProjectFromEnvironment: with no client options and no
// project, the bus finds the emulator in PUBSUB_EMULATOR_HOST (plain gRPC,
// no credentials) and the project in GOOGLE_CLOUD_PROJECT, as the
// high-level client did. Not parallel: it sets the environment.
func TestEmulatorHostAndProjectFromEnvironment(t *testing.T) {
	srv := gcpemu.PubSubServer(t)
	t.Setenv("PUBSUB_EMULATOR_HOST", srv.Addr)
	t.Setenv("GOOGLE_CLOUD_PROJECT", "from-env")
	b, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.EnsureTopics(ctx, "envtopic"); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, "envtopic", playback.Message{Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	path, err := b.Subscription("envtopic")
	if err != nil || !strings.HasPrefix(path, "projects/from-env/") {
		t.Fatalf("subscription %q, %v: want it in project from-env", path, err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("the emulator holds %d messages, want 1", n)
	}
}

// TestPublishRequestsHaveOneOrderingKey: a call whose messages have
// several ordering keys (and none) sends each key's messages in requests
// of their own, in publish order per key, as the client library bundled
// them per key, since Pub/Sub refuses a request that mixes keys (and so
// does gcpemu's fake).
func TestPublishRequestsHaveOneOrderingKey(t *testing.T) {
	t.Parallel()
	srv := gcpemu.PubSubServer(t)
	var p publishes
	b := newBusAt(t, srv.Addr, Config{}, []option.ClientOption{p.option()}, "keys")
	keys := []string{"acct-a", "", "acct-b"}
	var msgs []playback.Message
	for i := range 2400 { // acct-a and acct-b: 800 each, interleaved with 800 unkeyed
		k := keys[i%len(keys)]
		msgs = append(msgs, playback.Message{Data: fmt.Appendf(nil, "%s/%04d", k, i), OrderingKey: k})
	}
	// acct-a also has more than a request holds.
	for i := range 1500 {
		msgs = append(msgs, playback.Message{Data: fmt.Appendf(nil, "acct-a/%04d", 2400+i), OrderingKey: "acct-a"})
	}
	if err := b.Publish(context.Background(), "keys", msgs...); err != nil {
		t.Fatalf("Publish of several keys in one call: %v", err)
	}
	if n := len(srv.Messages()); n != len(msgs) {
		t.Fatalf("%d messages stored, want %d", n, len(msgs))
	}
	sent := map[string][]string{}
	for _, r := range p.seen() {
		for _, d := range r {
			k, _, _ := strings.Cut(d, "/")
			sent[k] = append(sent[k], d)
		}
	}
	for _, k := range keys {
		var want []string
		for _, m := range msgs {
			if m.OrderingKey == k {
				want = append(want, string(m.Data))
			}
		}
		if fmt.Sprint(sent[k]) != fmt.Sprint(want) {
			t.Fatalf("key %q: %d messages sent out of publish order or missing (want %d)", k, len(sent[k]), len(want))
		}
	}
	// acct-a's 2,300 messages take 3 requests, acct-b's and the unkeyed
	// 800 one each: grouped per key, not a request per run of a key.
	if n := len(p.seen()); n != 5 {
		t.Fatalf("%d requests, want 5", n)
	}
}

// TestFailClassifies holds Fail's mapping on its own: Publish reaches it
// only once the generated client has given up retrying (usually at the
// context's deadline), but EnsureTopics and pull's Subscribe hand it every
// gRPC error they get.
func TestFailClassifies(t *testing.T) {
	t.Parallel()
	domain := playback.Errorf(playback.CodeInvalid, "bad_topic", "no such topic name")
	for _, tc := range []struct {
		name string
		err  error
		want playback.Code
		same bool // Fail returns err itself
	}{
		{name: "unavailable", err: status.Error(codes.Unavailable, "down"), want: playback.CodeUnavailable},
		{name: "deadline", err: status.Error(codes.DeadlineExceeded, "slow"), want: playback.CodeUnavailable},
		{name: "quota", err: status.Error(codes.ResourceExhausted, "quota"), want: playback.CodeUnavailable},
		{name: "aborted", err: status.Error(codes.Aborted, "aborted"), want: playback.CodeUnavailable},
		{name: "internal", err: status.Error(codes.Internal, "oops"), want: playback.CodeUnavailable},
		{name: "cancelled", err: status.Error(codes.Canceled, "gone"), want: playback.CodeUnavailable},
		{name: "missing topic", err: status.Error(codes.NotFound, "no topic"), want: playback.CodeInternal},
		{name: "no permission", err: status.Error(codes.PermissionDenied, "no"), want: playback.CodeInternal},
		{name: "domain error passes", err: domain, want: playback.CodeInvalid, same: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Fail("EnsureTopics", tc.err)
			if code := playback.ErrorCode(got); code != tc.want {
				t.Fatalf("Fail(%v) has code %q, want %q", tc.err, code, tc.want)
			}
			if tc.same && got != tc.err {
				t.Fatalf("Fail(%v) = %v, want the error itself", tc.err, got)
			}
			if !tc.same && (!errors.Is(got, tc.err) || !strings.Contains(got.Error(), "pubsub.EnsureTopics")) {
				t.Fatalf("Fail(%v) = %v, want it wrapped and named pubsub.EnsureTopics", tc.err, got)
			}
		})
	}
	if Fail("Publish", nil) != nil {
		t.Fatal("Fail(nil) is not nil")
	}
}

// TestOversizedTraceMetadataIsLeftOut: the publish's carrier holds what
// the caller's request brought (a W3C baggage header may be 8 KB), and
// Pub/Sub refuses an attribute value over 1,024 bytes; the message goes
// without it rather than fail on trace metadata.
func TestOversizedTraceMetadataIsLeftOut(t *testing.T) {
	t.Parallel()
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	long := strings.Repeat("k=v,", 300)[:1199]
	for _, tc := range []struct {
		name    string
		carrier map[string]string
		want    map[string]string
	}{
		{name: "small baggage kept", carrier: map[string]string{"traceparent": traceparent, "baggage": "tenant=a"},
			want: map[string]string{"traceparent": traceparent, "baggage": "tenant=a"}},
		{name: "long baggage left out", carrier: map[string]string{"traceparent": traceparent, "baggage": long},
			want: map[string]string{"traceparent": traceparent}},
		{name: "long tracestate left out", carrier: map[string]string{"traceparent": traceparent, "tracestate": long, "baggage": "tenant=a"},
			want: map[string]string{"traceparent": traceparent, "baggage": "tenant=a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, _, err := encode(playback.Message{Data: []byte("beat")}, tc.carrier, 40)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if len(m.Attributes) != len(tc.want) {
				t.Fatalf("attributes %v, want %v", m.Attributes, tc.want)
			}
			for k, v := range tc.want {
				if m.Attributes[k] != v {
					t.Fatalf("attribute %s = %q, want %q", k, m.Attributes[k], v)
				}
			}
		})
	}
}

// TestByKeyKeepsEachSizeWithItsMessage: requests cuts by the sizes encode
// measured, so byKey must move each size with its message.
func TestByKeyKeepsEachSizeWithItsMessage(t *testing.T) {
	t.Parallel()
	var msgs []*pubsubpb.PubsubMessage
	var sizes []int
	for i, key := range []string{"a", "b", "a", "", "b", "a"} {
		m := &pubsubpb.PubsubMessage{Data: []byte(strings.Repeat("x", i+1)), OrderingKey: key}
		msgs, sizes = append(msgs, m), append(sizes, proto.Size(m))
	}
	out, outSizes := byKey(msgs, sizes)
	var order []string
	for i, m := range out {
		if outSizes[i] != proto.Size(m) {
			t.Fatalf("message %d (key %q) has size %d, its own is %d", i, m.OrderingKey, outSizes[i], proto.Size(m))
		}
		order = append(order, fmt.Sprintf("%s%d", m.OrderingKey, len(m.Data)))
	}
	if got, want := strings.Join(order, " "), "a1 a3 a6 b2 b5 4"; got != want {
		t.Fatalf("byKey order %q, want %q", got, want)
	}
}

// TestTraceMetadataNeverFailsAMessage: the publish's carrier takes the
// attribute slots the message leaves free, never one it needs: a message
// Pub/Sub takes untraced (100 attributes with the adapter's id) is taken
// traced, without the trace metadata that does not fit.
func TestTraceMetadataNeverFailsAMessage(t *testing.T) {
	t.Parallel()
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	carrier := map[string]string{"traceparent": traceparent, "tracestate": "k=v", "baggage": "tenant=a"}
	withAttrs := func(n int) playback.Message {
		m := playback.Message{ID: "m1", Data: []byte("beat"), Attributes: map[string]string{}}
		for i := range n {
			m.Attributes[fmt.Sprint("a", i)] = "v"
		}
		return m
	}
	for _, tc := range []struct {
		name     string
		attrs    int      // the message's own, beside the adapter's id
		wantKept []string // carrier attributes delivered
	}{
		{name: "room for all", attrs: 10, wantKept: []string{"traceparent", "tracestate", "baggage"}},
		{name: "room for one: the traceparent", attrs: maxAttributes - 2, wantKept: []string{"traceparent"}},
		{name: "no room", attrs: maxAttributes - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := withAttrs(tc.attrs)
			if _, _, err := encode(m, nil, 40); err != nil {
				t.Fatalf("untraced: %v", err)
			}
			out, _, err := encode(m, carrier, 40)
			if err != nil {
				t.Fatalf("traced: %v", err)
			}
			if len(out.Attributes) > maxAttributes {
				t.Fatalf("%d attributes", len(out.Attributes))
			}
			for name := range m.Attributes {
				if out.Attributes[name] != "v" {
					t.Fatalf("attribute %s lost", name)
				}
			}
			var kept []string
			for _, name := range []string{"traceparent", "tracestate", "baggage"} {
				if v, ok := out.Attributes[name]; ok {
					if v != carrier[name] {
						t.Fatalf("%s = %q", name, v)
					}
					kept = append(kept, name)
				}
			}
			if fmt.Sprint(kept) != fmt.Sprint(tc.wantKept) {
				t.Fatalf("carrier attributes kept %v, want %v", kept, tc.wantKept)
			}
		})
	}
}

// TestTraceMetadataNeverMakesAMessageTooLarge: a message that fits a
// publish request untraced is taken traced too (with telemetry on, every
// publish has a span, so a carrier), without the trace metadata that does
// not fit.
func TestTraceMetadataNeverMakesAMessageTooLarge(t *testing.T) {
	t.Parallel()
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	const pathLen = 40
	m := playback.Message{ID: "m1"}
	_, size, err := encode(m, nil, pathLen)
	if err != nil {
		t.Fatal(err)
	}
	// Data that fills the limit exactly (its length prefix grows with it).
	limit := maxMessageBytes - pathLen - 16
	m.Data = make([]byte, limit-size)
	for proto.Size(&pubsubpb.PubsubMessage{Data: m.Data, Attributes: map[string]string{"playplane.id": "m1"}}) > limit {
		m.Data = m.Data[1:]
	}
	if _, _, err := encode(m, nil, pathLen); err != nil {
		t.Fatalf("untraced: %v", err)
	}
	out, _, err := encode(m, map[string]string{"traceparent": traceparent, "baggage": "tenant=a"}, pathLen)
	if err != nil {
		t.Fatalf("traced: %v", err)
	}
	if len(out.Attributes) != 1 || out.Attributes["playplane.id"] != "m1" {
		t.Fatalf("attributes %v: want only the id", out.Attributes)
	}
}
