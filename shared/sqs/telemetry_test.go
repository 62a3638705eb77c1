package sqs

import (
	"bytes"
	"context"
	"maps"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
)

// TestTraceCrossesTheQueue follows one trace from an HTTP request through
// SQS (fauxqs) into the consumer: the trace context travels as SQS
// MessageAttributes, and the receiver (OTLP/HTTP wire protocol) finds the
// server, producer and consumer spans linked. The producer and the consumer
// name the same destination, the queue's name (the messaging conventions'
// messaging.destination.name of SQS, and what a Lambda's event names),
// not the topic it serves. Not parallel: telemetry is
// process-wide.
func TestTraceCrossesTheQueue(t *testing.T) {
	endpoint := emulators.SQS(t)
	recv := otlptest.Start(t)
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "sqs-test", Lookup: envconfig.MapLookuper(recv.Env())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	b := newBus(t, testConfig(), endpoint, "traced")
	got := make(chan playback.Message, 1)
	if err := b.Subscribe(context.Background(), "traced", func(_ context.Context, msgs []playback.Message) []string {
		for _, m := range msgs {
			got <- m
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	traceID := otlptest.Serve(t, "POST /v1/things/{id}", "/v1/things/t1", func(w http.ResponseWriter, r *http.Request) {
		if err := b.Publish(r.Context(), "traced", playback.Message{Data: []byte(`{"n":1}`), Attributes: map[string]string{"k": "v"}}); err != nil {
			t.Error(err)
		}
		w.WriteHeader(http.StatusAccepted)
	})
	select {
	case m := <-got:
		if m.Attributes["k"] != "v" || !m.Trace.IsValid() || m.Attributes["traceparent"] != "" {
			t.Errorf("delivered attributes %v, traceparent %q: want the message's own, and the traceparent in its field", m.Attributes, m.Trace.TraceParent())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery")
	}
	// The consumer's spans end once the handler returns: wait for them.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := tel.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		err := otlptest.Chain(recv.Trace(traceID), "/v1/things/{id}", "t-traced")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTraceContextNeverMakesAMessageTooLarge: a message that fits SQS's
// size limit with tracing off is published with it on too (where every
// publish has a span, so a traceparent to carry), without the trace
// context that does not fit: it rides along only where there is room. Not
// parallel: telemetry is process-wide.
func TestTraceContextNeverMakesAMessageTooLarge(t *testing.T) {
	endpoint := emulators.SQS(t)
	cfg := testConfig()
	topic := playback.NewID("full")[:20]
	b := newBus(t, cfg, endpoint, topic)
	full := playback.Message{Data: bytes.Repeat([]byte("x"), b.cfg.MaxMessageBytes)}
	if err := b.Publish(context.Background(), topic, full); err != nil {
		t.Fatalf("tracing off: %v", err)
	}
	recv := otlptest.Start(t)
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "sqs-test", Lookup: envconfig.MapLookuper(recv.Env())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	if err := b.Publish(context.Background(), topic, full); err != nil {
		t.Errorf("tracing on: %v", err)
	}
	otlptest.Serve(t, "POST /v1/things/{id}", "/v1/things/t1", func(w http.ResponseWriter, r *http.Request) {
		if err := b.Publish(r.Context(), topic, full); err != nil {
			t.Errorf("in a traced request: %v", err)
		}
		w.WriteHeader(http.StatusAccepted)
	})
	c := client(endpoint)
	for _, m := range receiveAll(t, c, queueURL(t, c, cfg.QueuePrefix+topic), 3) {
		if len(aws.ToString(m.Body)) != b.cfg.MaxMessageBytes {
			t.Fatalf("message of %d bytes", len(aws.ToString(m.Body)))
		}
	}
}

// TestTraceParentTakesTheLastAttributeSlot: with room for one attribute of
// the publish's trace context, it is the traceparent, the one a consumer's
// span joins the trace by, not the baggage that sorts before it.
func TestTraceParentTakesTheLastAttributeSlot(t *testing.T) {
	t.Parallel()
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	m := playback.Message{ID: "m1", Data: []byte("beat"), Attributes: map[string]string{}}
	for i := range maxAttributes - 2 { // with the adapter's id: one slot left
		m.Attributes[string(rune('a'+i))] = "v"
	}
	out, err := encode(m, map[string]string{"traceparent": traceparent, "tracestate": "k=v", "baggage": "tenant=a"}, 256<<10)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.attrs) != maxAttributes || aws.ToString(out.attrs["traceparent"].StringValue) != traceparent {
		t.Fatalf("attributes %v: want the message's, the id and the traceparent", slices.Sorted(maps.Keys(out.attrs)))
	}
}
