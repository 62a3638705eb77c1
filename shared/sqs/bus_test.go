package sqs

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/playplane/playplane/shared/bustest"
	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/sqs/internal/delivery"
)

func client(endpoint string) *awssqs.Client {
	return awssqs.New(awssqs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}

// testConfig redelivers retries at once and polls briefly, so tests wait
// on the emulator, not on production timings.
func testConfig() Config {
	return Config{QueuePrefix: "t-", WaitTime: time.Second, VisibilityTimeout: 5 * time.Second, RetryDelay: 0}
}

// newBus returns a bus on fauxqs with topics' queues created, closed when
// the test ends.
func newBus(t testing.TB, cfg Config, endpoint string, topics ...string) *Bus {
	t.Helper()
	b := openBus(t, cfg, endpoint, topics...)
	t.Cleanup(func() { bustest.CloseWithin(t, b, 30*time.Second) })
	return b
}

// openBus is newBus for callers that close the bus themselves.
func openBus(t testing.TB, cfg Config, endpoint string, topics ...string) *Bus {
	t.Helper()
	b, err := New(context.Background(), cfg, client(endpoint))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.EnsureQueues(context.Background(), topics...); err != nil {
		_ = b.Close()
		t.Fatal(err)
	}
	return b
}

// shortVisibility is the contract's short deadline: SQS allows 1s, 2s
// leaves a loaded machine time to delete a handled batch before it shows
// again.
const shortVisibility = 2 * time.Second

func TestContract(t *testing.T) {
	endpoint := emulators.SQS(t)
	start := time.Now()
	bustest.Run(t, bustest.Options{MaxBatch: 10, Timeout: 20 * time.Second, Redelivery: shortVisibility}, func(t *testing.T, s bustest.Setup) playback.Bus {
		cfg := testConfig()
		if s.ShortDeadline {
			cfg.VisibilityTimeout = shortVisibility
		}
		return openBus(t, cfg, endpoint, s.Topics...)
	})
	t.Cleanup(func() { t.Logf("contract suite against fauxqs: %v", time.Since(start)) })
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"receive count", Config{MaxReceiveCount: -1}},
		{"batch", Config{MaxBatch: 11}},
		{"wait", Config{WaitTime: 21 * time.Second}},
		{"message size", Config{MaxMessageBytes: 2 << 20}},
		{"batch smaller than a message", Config{MaxMessageBytes: 4096, MaxBatchBytes: 2048}},
		{"empty queue url", Config{QueueURLs: map[string]string{"heartbeats": ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(context.Background(), tc.cfg, client("http://127.0.0.1:1")); err == nil {
				t.Fatalf("New(%+v) succeeded", tc.cfg)
			}
		})
	}
}

// TestDeferredClientIsMadeOnFirstUse: NewDeferred makes no client until
// a call needs one, then one for every call after, however many race.
func TestDeferredClientIsMadeOnFirstUse(t *testing.T) {
	t.Parallel()
	var made atomic.Int64
	b, err := NewDeferred(context.Background(), testConfig(), func() *awssqs.Client {
		made.Add(1)
		return awssqs.New(awssqs.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if n := made.Load(); n != 0 {
		t.Fatalf("NewDeferred made %d clients, want none before the first call", n)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { _, _ = b.queueURL(context.Background(), "heartbeats") })
	}
	wg.Wait()
	if n := made.Load(); n != 1 {
		t.Fatalf("8 calls made %d clients, want 1", n)
	}
	if _, err := NewDeferred(context.Background(), testConfig(), nil); err == nil {
		t.Fatal("NewDeferred without a constructor succeeded")
	}
	if _, err := NewDeferred(context.Background(), Config{MaxBatch: 11}, func() *awssqs.Client { panic("made") }); err == nil {
		t.Fatal("NewDeferred with a bad configuration succeeded")
	}
}

// receiveAll drains url until want messages arrived or the deadline passed.
// A receive whose answer the client lost (and retried) leaves its messages
// in flight, as on SQS: they come back once their visibility timeout ends,
// well inside the deadline, and are counted once (by message id). Seen on
// the 200 KiB messages of TestPublishSplitsBatchesBySize under load: 10
// received, the queue counting 12 in flight.
func receiveAll(t *testing.T, c *awssqs.Client, url string, want int) []types.Message {
	t.Helper()
	var got []types.Message
	seen := map[string]bool{}
	deadline := time.Now().Add(40 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		out, err := c.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 10,
			MessageAttributeNames: []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{
				types.MessageSystemAttributeNameApproximateReceiveCount, types.MessageSystemAttributeNameSentTimestamp,
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			if id := aws.ToString(m.MessageId); !seen[id] {
				seen[id] = true
				got = append(got, m)
			}
		}
	}
	if len(got) != want {
		// What the queue says it holds tells a lost message from one
		// received but never handed over (in flight).
		attrs, err := c.GetQueueAttributes(context.Background(), &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages,
				types.QueueAttributeNameApproximateNumberOfMessagesNotVisible, types.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
		t.Fatalf("received %d messages from %s, want %d (the queue's counts: %v %v)", len(got), url, want, attrs.Attributes, err)
	}
	return got
}

func queueURL(t *testing.T, c *awssqs.Client, name string) string {
	t.Helper()
	out, err := c.GetQueueUrl(context.Background(), &awssqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl)
}

func TestPoisonMessageLandsInDeadLetterQueue(t *testing.T) {
	t.Parallel()
	endpoint := emulators.SQS(t)
	topic := playback.NewID("poison")[:20]
	cfg := testConfig()
	cfg.MaxReceiveCount = 2
	b := newBus(t, cfg, endpoint, topic)
	var (
		mu       sync.Mutex
		attempts []int
		good     int
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := b.Subscribe(ctx, topic, func(_ context.Context, batch []playback.Message) []string {
		mu.Lock()
		defer mu.Unlock()
		var retry []string
		for _, m := range batch {
			if string(m.Data) == "poison" {
				attempts = append(attempts, m.DeliveryAttempt)
				retry = append(retry, m.ID)
			} else {
				good++
			}
		}
		return retry
	})
	if err != nil {
		t.Fatal(err)
	}
	err = b.Publish(ctx, topic,
		playback.Message{ID: "evt-poison", Data: []byte("poison"), Attributes: map[string]string{"type": "bad"}},
		playback.Message{Data: []byte("fine")})
	if err != nil {
		t.Fatal(err)
	}
	c := client(endpoint)
	dead := receiveAll(t, c, queueURL(t, c, cfg.QueuePrefix+topic+dlqSuffix), 1)
	m, err := delivery.Decode(fromReceived(dead[0]))
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "evt-poison" || string(m.Data) != "poison" || m.Attributes["type"] != "bad" {
		t.Fatalf("dead letter = %+v, want the poison message with its id and attributes", m)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != 2 || attempts[0] != 1 || attempts[1] != 2 || good != 1 {
		t.Fatalf("handler saw poison attempts %v and %d good messages; want [1 2] and 1", attempts, good)
	}
}

// countingProxy sits between the client and fauxqs, counts
// SendMessageBatch calls and their entries, and can fail chosen entries the
// way SQS does (not forwarded, reported in Failed, not the sender's fault).
type countingProxy struct {
	target    *url.URL
	calls     atomic.Int64
	mu        sync.Mutex
	entries   []int
	failFirst string // entry id to fail on the first call
}

func (p *countingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "AmazonSQS.SendMessageBatch" {
		httputil.NewSingleHostReverseProxy(p.target).ServeHTTP(w, r)
		return
	}
	call := p.calls.Add(1)
	var req map[string]any
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	entries, _ := req["Entries"].([]any)
	var failed []map[string]any
	if call == 1 && p.failFirst != "" {
		kept := entries[:0]
		for _, e := range entries {
			if e.(map[string]any)["Id"] == p.failFirst {
				failed = append(failed, map[string]any{"Id": p.failFirst, "SenderFault": false, "Code": "InternalError", "Message": "injected"})
				continue
			}
			kept = append(kept, e)
		}
		entries = kept
		req["Entries"] = entries
	}
	p.mu.Lock()
	p.entries = append(p.entries, len(entries)+len(failed))
	p.mu.Unlock()
	body, _ = json.Marshal(req)
	fwd, _ := http.NewRequest(http.MethodPost, p.target.String()+r.URL.Path, bytes.NewReader(body))
	fwd.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(fwd)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if len(failed) > 0 {
		out["Failed"] = failed
	}
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	_ = json.NewEncoder(w).Encode(out)
}

func newProxy(t *testing.T, endpoint string) (*countingProxy, string) {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{target: target}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv.URL
}

func TestPublishSplitsBatchesBySize(t *testing.T) {
	t.Parallel()
	endpoint := emulators.SQS(t)
	proxy, proxyURL := newProxy(t, endpoint)
	topic := playback.NewID("big")[:20]
	cfg := testConfig()
	cfg.MaxMessageBytes = 300 << 10
	b := newBus(t, cfg, proxyURL, topic)
	// 12 messages of 200 KiB: five fit in 1 MiB, so 5+5+2; fauxqs refuses
	// any batch over 1 MiB.
	msgs := make([]playback.Message, 12)
	for i := range msgs {
		msgs[i] = playback.Message{Data: bytes.Repeat([]byte{'a' + byte(i)}, 200<<10)}
	}
	if err := b.Publish(context.Background(), topic, msgs...); err != nil {
		t.Fatal(err)
	}
	proxy.mu.Lock()
	entries := proxy.entries
	proxy.mu.Unlock()
	if len(entries) != 3 || entries[0] != 5 || entries[1] != 5 || entries[2] != 2 {
		t.Fatalf("batches had %v entries, want [5 5 2]", entries)
	}
	c := client(endpoint)
	got := receiveAll(t, c, queueURL(t, c, cfg.QueuePrefix+topic), 12)
	seen := map[byte]bool{}
	for _, m := range got {
		if len(aws.ToString(m.Body)) != 200<<10 {
			t.Fatalf("message of %d bytes", len(aws.ToString(m.Body)))
		}
		seen[aws.ToString(m.Body)[0]] = true
	}
	if len(seen) != 12 {
		t.Fatalf("%d distinct messages arrived, want 12", len(seen))
	}
}

func TestPublishResendsOnlyFailedEntries(t *testing.T) {
	t.Parallel()
	endpoint := emulators.SQS(t)
	proxy, proxyURL := newProxy(t, endpoint)
	proxy.failFirst = "1"
	topic := playback.NewID("resend")[:20]
	cfg := testConfig()
	b := newBus(t, cfg, proxyURL, topic)
	err := b.Publish(context.Background(), topic,
		playback.Message{Data: []byte("m0")}, playback.Message{Data: []byte("m1")}, playback.Message{Data: []byte("m2")})
	if err != nil {
		t.Fatal(err)
	}
	proxy.mu.Lock()
	entries := proxy.entries
	proxy.mu.Unlock()
	if len(entries) != 2 || entries[0] != 3 || entries[1] != 1 {
		t.Fatalf("calls carried %v entries, want [3 1]: only the failed entry resent", entries)
	}
	c := client(endpoint)
	got := receiveAll(t, c, queueURL(t, c, cfg.QueuePrefix+topic), 3)
	var bodies []string
	for _, m := range got {
		bodies = append(bodies, aws.ToString(m.Body))
	}
	slices.Sort(bodies)
	if joined := strings.Join(bodies, ","); joined != "m0,m1,m2" {
		t.Fatalf("queue holds %s, want each message once", joined)
	}
}

func TestPublishRefusesBadMessagesWholesale(t *testing.T) {
	t.Parallel()
	endpoint := emulators.SQS(t)
	topic := playback.NewID("refuse")[:20]
	cfg := testConfig()
	b := newBus(t, cfg, endpoint, topic)
	tooMany := map[string]string{}
	for i := range 9 {
		tooMany[string(rune('a'+i))] = "v"
	}
	good := playback.Message{Data: []byte("good")}
	for _, tc := range []struct {
		name string
		bad  playback.Message
		code playback.Code
	}{
		{"too large", playback.Message{Data: bytes.Repeat([]byte("x"), b.cfg.MaxMessageBytes+1)}, playback.CodeTooLarge},
		{"empty data", playback.Message{}, playback.CodeInvalid},
		{"empty attribute value", playback.Message{Data: []byte("x"), Attributes: map[string]string{"k": ""}}, playback.CodeInvalid},
		{"reserved attribute", playback.Message{Data: []byte("x"), Attributes: map[string]string{"playplane.id": "x"}}, playback.CodeInvalid},
		{"aws attribute", playback.Message{Data: []byte("x"), Attributes: map[string]string{"AWS.trace": "x"}}, playback.CodeInvalid},
		{"attribute name", playback.Message{Data: []byte("x"), Attributes: map[string]string{"a b": "x"}}, playback.CodeInvalid},
		{"too many attributes with the id", playback.Message{ID: "id", OrderingKey: "k", Data: []byte("x"), Attributes: tooMany}, playback.CodeInvalid},
		// A String attribute's value has the body's restrictions on its
		// characters (SQS's MessageAttributeValue); the id and the
		// ordering key travel as such values.
		{"attribute value control character", playback.Message{Data: []byte("x"), Attributes: map[string]string{"k": "a\x01b"}}, playback.CodeInvalid},
		{"attribute value not UTF-8", playback.Message{Data: []byte("x"), Attributes: map[string]string{"k": "\xff"}}, playback.CodeInvalid},
		{"ordering key control character", playback.Message{Data: []byte("x"), OrderingKey: "acct\x00"}, playback.CodeInvalid},
		{"id not UTF-8", playback.Message{ID: "m\xfe", Data: []byte("x")}, playback.CodeInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := b.Publish(context.Background(), topic, good, tc.bad)
			if !playback.IsCode(err, tc.code) {
				t.Fatalf("Publish = %v (code %q), want %q", err, playback.ErrorCode(err), tc.code)
			}
		})
	}
	c := client(endpoint)
	out, err := c.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{
		QueueUrl: aws.String(queueURL(t, c, cfg.QueuePrefix+topic)), WaitTimeSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 0 {
		t.Fatalf("refused publishes sent %d messages", len(out.Messages))
	}
}

func TestMessagesRoundTrip(t *testing.T) {
	t.Parallel()
	endpoint := emulators.SQS(t)
	topic := playback.NewID("trip")[:20]
	b := newBus(t, testConfig(), endpoint, topic)
	sent := []playback.Message{
		{ID: "json", OrderingKey: "acct-1", Data: []byte(`{"a":"ü"}`), Attributes: map[string]string{"type": "t", "source": "s"}},
		{ID: "binary", Data: []byte{0, 1, 0xff, 0xfe, '\n'}},
		{ID: "control", Data: []byte("bell\a")},
		{ID: "astral", Data: []byte("play ▶ 🎬")},
	}
	if err := b.Publish(context.Background(), topic, sent...); err != nil {
		t.Fatal(err)
	}
	got := make(chan playback.Message, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := b.Subscribe(ctx, topic, func(_ context.Context, batch []playback.Message) []string {
		for _, m := range batch {
			got <- m
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	byID := map[string]playback.Message{}
	for len(byID) < len(sent) {
		select {
		case m := <-got:
			byID[m.ID] = m
		case <-time.After(20 * time.Second):
			t.Fatalf("got %d of %d messages", len(byID), len(sent))
		}
	}
	for _, want := range sent {
		m := byID[want.ID]
		if !bytes.Equal(m.Data, want.Data) || m.OrderingKey != want.OrderingKey || len(m.Attributes) != len(want.Attributes) ||
			m.DeliveryAttempt != 1 || time.Since(m.PublishTime) > time.Minute {
			t.Fatalf("%s arrived as %+v, want %+v", want.ID, m, want)
		}
		for k, v := range want.Attributes {
			if m.Attributes[k] != v {
				t.Fatalf("%s attribute %s = %q, want %q", want.ID, k, m.Attributes[k], v)
			}
		}
	}
}

func TestMissingQueueIsInternal(t *testing.T) {
	t.Parallel()
	b := newBus(t, testConfig(), emulators.SQS(t))
	err := b.Publish(context.Background(), "no-such-topic", playback.Message{Data: []byte("x")})
	if err == nil || playback.ErrorCode(err) != playback.CodeInternal {
		t.Fatalf("Publish to a missing queue = %v (code %q), want internal", err, playback.ErrorCode(err))
	}
}

// TestDeferredNilClientNamesTheConstructor: a constructor that returns no
// client (which New would have refused) is reported, on the first call,
// as NewDeferred's misuse rather than as a nil dereference inside the SDK.
func TestDeferredNilClientNamesTheConstructor(t *testing.T) {
	t.Parallel()
	b, err := NewDeferred(context.Background(), testConfig(), func() *awssqs.Client { return nil })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	defer func() {
		if msg, _ := recover().(string); !strings.Contains(msg, "sqs.NewDeferred") {
			t.Errorf("panic %q, want one naming sqs.NewDeferred", msg)
		}
	}()
	_, _ = b.queueURL(context.Background(), "heartbeats")
	t.Error("a call on a nil client did not panic")
}
