package pull

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

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
}
