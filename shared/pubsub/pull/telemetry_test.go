package pull

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/pubsub"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
)

// TestTraceCrossesTheTopic follows one trace from an HTTP request through
// Pub/Sub (the emulator) into the consumer: the trace context travels as
// message attributes, and the receiver (OTLP/HTTP wire protocol) finds the
// server, producer and consumer spans linked. Not parallel: telemetry is
// process-wide.
func TestTraceCrossesTheTopic(t *testing.T) {
	recv := otlptest.Start(t)
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "pubsub-test", Lookup: envconfig.MapLookuper(recv.Env())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	b := newBus(t, pubsub.Config{BatchWindow: 10 * time.Millisecond}, "traced")
	seen := collect(t, b, "traced", nil)
	traceID := otlptest.Serve(t, "POST /v1/things/{id}", "/v1/things/t1", func(w http.ResponseWriter, r *http.Request) {
		if err := b.Publish(r.Context(), "traced", playback.Message{Data: []byte(`{"n":1}`), Attributes: map[string]string{"k": "v"}}); err != nil {
			t.Error(err)
		}
		w.WriteHeader(http.StatusAccepted)
	})
	m := next(t, seen, "the traced message")
	if m.Attributes["k"] != "v" || !m.Trace.IsValid() || m.Attributes["traceparent"] != "" {
		t.Errorf("delivered attributes %v, traceparent %q: want the message's own, and the traceparent in its field", m.Attributes, m.Trace.TraceParent())
	}
	// The consumer's spans end once the handler returns: wait for them.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := tel.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		err := otlptest.Chain(recv.Trace(traceID), "/v1/things/{id}", "traced")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The consumer's spans name the subscription it pulls from, by its id.
	path, err := b.Subscription("traced")
	if err != nil {
		t.Fatal(err)
	}
	want := path[strings.LastIndexByte(path, '/')+1:]
	processed := 0
	for _, s := range recv.Trace(traceID) {
		if otlptest.Attr(s.GetAttributes(), "messaging.operation.type") != "process" {
			continue
		}
		processed++
		if got := otlptest.Attr(s.GetAttributes(), "messaging.destination.subscription.name"); got != want {
			t.Errorf("consumer span %s: messaging.destination.subscription.name %q, want %q", s.GetName(), got, want)
		}
	}
	if processed == 0 {
		t.Errorf("no consumer span in the trace: %s", otlptest.Describe(recv.Trace(traceID)))
	}
}

// TestPanicHandsBackOnlyThePoisonInItsSpans: as on membus, a batch whose
// handler panics on one message is run again a message at a time, and the
// delivery's spans must say only that message was handed back, not its
// batch-mates, which were then applied and acknowledged. Not parallel:
// telemetry is process-wide.
func TestPanicHandsBackOnlyThePoisonInItsSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "pubsub-test", SpanExporter: exp,
		Lookup: envconfig.MapLookuper(map[string]string{telemetry.EnvTracesSampler: "always_on"})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	// One window holds both: they come as one batch.
	b := newBus(t, pubsub.Config{BatchWindow: 500 * time.Millisecond}, "poisoned")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var mu sync.Mutex
	batches := map[int]int{}
	good := make(chan struct{}, 10)
	if err := b.Subscribe(ctx, "poisoned", func(_ context.Context, batch []playback.Message) []string {
		mu.Lock()
		batches[len(batch)]++
		mu.Unlock()
		for _, m := range batch {
			if string(m.Data) == "poison" {
				panic("consumer bug")
			}
		}
		good <- struct{}{}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, "poisoned", playback.Message{ID: "poison", Data: []byte("poison")}, playback.Message{ID: "good", Data: []byte("good")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-good:
	case <-time.After(30 * time.Second):
		t.Fatal("the good message was never applied")
	}
	mu.Lock()
	together := batches[2] > 0
	mu.Unlock()
	if !together {
		t.Skip("the two messages came in separate batches: nothing to re-run")
	}
	// The handler applied the good message inside the delivery; the
	// delivery's spans end only once the re-run hands back its list, a
	// moment later, and one by one: each message's in the batch's order
	// (pstest's, which is random), then the batch's. The good message's
	// span exported says nothing of the poison's beside it; the batch's
	// span of the two, which ends last, says both have ended.
	handedBack := map[string]int{}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if err := tel.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		clear(handedBack)
		delivered := false
		for _, s := range exp.GetSpans() {
			if s.SpanKind != trace.SpanKindConsumer {
				continue // the publish's span counts the two as well
			}
			for _, kv := range s.Attributes {
				switch {
				case kv.Key == "messaging.batch.message_count" && kv.Value.AsInt64() == 2:
					delivered = true
				case kv.Key == "messaging.message.id" && s.Status.Code == codes.Error:
					handedBack[kv.Value.AsString()]++
				}
			}
		}
		if delivered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the delivery of the two never ended; spans: %d", len(exp.GetSpans()))
		}
	}
	if handedBack["good"] != 0 || handedBack["poison"] == 0 {
		t.Fatalf("message spans marked failed: %v; want poison's only", handedBack)
	}
}
