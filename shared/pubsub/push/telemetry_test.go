package push

import (
	"context"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/playplane/playplane/shared/pubsub/push/pushtest"
	"github.com/playplane/playplane/shared/telemetry"
)

// TestSpansNameTheSubscription: the consumer spans of a pushed message
// (the invocation's and the message's) name the subscription it came
// from, as the messaging conventions for Pub/Sub recommend
// (messaging.destination.subscription.name, the subscription's id as
// messaging.destination.name is the topic's). Not parallel: telemetry is
// process-wide.
func TestSpansNameTheSubscription(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "push-test", SpanExporter: exp,
		Lookup: envconfig.MapLookuper(map[string]string{telemetry.EnvTracesSampler: "always_on"})})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	var rec pushtest.Recorder
	e := pushtest.MessageEvent(t, MessagePublishedType, map[string]any{
		"message":      map[string]any{"data": []byte("beat"), "messageId": "1234"},
		"subscription": "projects/p/subscriptions/heartbeats-sub",
	})
	if err := CloudEventHandler(rec.Handle)(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want the invocation's and the message's", len(spans))
	}
	for _, s := range spans {
		got := "(none)"
		for _, kv := range s.Attributes {
			if kv.Key == "messaging.destination.subscription.name" {
				got = kv.Value.Emit()
			}
		}
		if got != "heartbeats-sub" {
			t.Errorf("span %s: messaging.destination.subscription.name %s, want heartbeats-sub", s.Name, got)
		}
	}
}
