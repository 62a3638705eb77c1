package telemetry_test

import (
	"context"
	"errors"
	"maps"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

// TestFailedMessagingSpansCarryErrorType: the messaging semantic
// conventions make error.type conditionally required, "if and only if the
// messaging operation has failed" (attributes.messaging.common.minimal):
// a failed publish, a message handed back for redelivery and a batch whose
// handler panicked carry it ("_OTHER", the conventions' fallback: the bus
// reports no classification of its own); an operation that succeeded has
// none.
func TestFailedMessagingSpansCarryErrorType(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p := setup(t, telemetry.Options{Service: "test", SpanExporter: exp}, map[string]string{telemetry.EnvTracesSampler: "always_on"})
	ctx := context.Background()
	_, end := telemetry.StartPublish(ctx, telemetry.SystemSQS, "failed", 1)
	end(errors.New("send: throttled"))
	_, end = telemetry.StartPublish(ctx, telemetry.SystemSQS, "sent", 1)
	end(nil)
	telemetry.Consume(ctx, telemetry.SystemSQS, "retried", []playback.Message{{ID: "ok"}, {ID: "back"}},
		func(context.Context, []playback.Message) []string { return []string{"back"} })
	func() {
		defer func() { _ = recover() }()
		telemetry.Consume(ctx, telemetry.SystemSQS, "panicked", []playback.Message{{ID: "p"}},
			func(context.Context, []playback.Message) []string { panic("consumer bug") })
	}()
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{} // span (and message id) → error.type
	for _, s := range exp.GetSpans() {
		name, errType := s.Name, "(none)"
		for _, kv := range s.Attributes {
			switch kv.Key {
			case "messaging.message.id":
				name += " " + kv.Value.Emit()
			case "error.type":
				errType = kv.Value.Emit()
			}
		}
		got[name] = errType
	}
	for _, tc := range []struct{ name, span, want string }{
		{name: "failed publish", span: "send failed", want: "_OTHER"},
		{name: "publish", span: "send sent", want: "(none)"},
		{name: "batch with a message handed back", span: "process retried", want: "(none)"},
		{name: "message processed", span: "process retried ok", want: "(none)"},
		{name: "message handed back", span: "process retried back", want: "_OTHER"},
		{name: "batch whose handler panicked", span: "process panicked", want: "_OTHER"},
		{name: "message of a panicked batch", span: "process panicked p", want: "_OTHER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if v, ok := got[tc.span]; !ok || v != tc.want {
				t.Errorf("span %q: error.type %s (exported %v), want %s; spans %v", tc.span, v, ok, tc.want, got)
			}
		})
	}
}

// TestMessageSpanDeliveryAttempt: the messaging conventions name a
// message's delivery attempt only for Pub/Sub
// (messaging.gcp_pubsub.message.delivery_attempt, "if available"), and
// advise against inventing names in their namespace
// (docs/general/naming.md): elsewhere it is playplane's own attribute.
// An attempt of 0 (Pub/Sub without a dead-letter policy) is no attempt
// known.
func TestMessageSpanDeliveryAttempt(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p := setup(t, telemetry.Options{Service: "test", SpanExporter: exp}, map[string]string{telemetry.EnvTracesSampler: "always_on"})
	for _, tc := range []struct {
		name, system string
		attempt      int
		want         map[string]string // "" = absent
	}{
		{name: "pubsub", system: telemetry.SystemPubSub, attempt: 3, want: map[string]string{
			"messaging.gcp_pubsub.message.delivery_attempt": "3", "playplane.message.delivery_attempt": "", "messaging.message.delivery_attempt": ""}},
		{name: "sqs", system: telemetry.SystemSQS, attempt: 2, want: map[string]string{
			"messaging.gcp_pubsub.message.delivery_attempt": "", "playplane.message.delivery_attempt": "2", "messaging.message.delivery_attempt": ""}},
		{name: "unknown", system: telemetry.SystemPubSub, want: map[string]string{
			"messaging.gcp_pubsub.message.delivery_attempt": "", "playplane.message.delivery_attempt": "", "messaging.message.delivery_attempt": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp.Reset()
			telemetry.Consume(context.Background(), tc.system, "t", []playback.Message{{ID: "m", DeliveryAttempt: tc.attempt}},
				func(context.Context, []playback.Message) []string { return nil })
			if err := p.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, s := range exp.GetSpans() {
				for _, kv := range s.Attributes {
					if kv.Key == "messaging.message.id" {
						for _, kv := range s.Attributes {
							got[string(kv.Key)] = kv.Value.Emit()
						}
					}
				}
			}
			for k, want := range tc.want {
				if v, ok := got[k]; want == "" && ok || want != "" && v != want {
					t.Errorf("%s = %q (set %v), want %q; message span's attributes %v", k, v, ok, want, got)
				}
			}
		})
	}
}

// TestMessageSpansAreFaaSPubSubSpans: a function invoked with messages
// makes one span per message processed, following the messaging
// conventions, and faas.trigger is required on it: "pubsub" (the FaaS
// span conventions, "PubSub"), as the HTTP server span has "http". The
// batch's span is the invocation's ("SQS Event" in the AWS Lambda
// conventions), and carries it too.
func TestMessageSpansAreFaaSPubSubSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p := setup(t, telemetry.Options{Service: "test", SpanExporter: exp}, map[string]string{telemetry.EnvTracesSampler: "always_on"})
	telemetry.Consume(context.Background(), telemetry.SystemSQS, "t", []playback.Message{{ID: "a"}, {ID: "b"}},
		func(context.Context, []playback.Message) []string { return nil })
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{} // message id (the batch's: "batch") → faas.trigger
	for _, s := range exp.GetSpans() {
		id, trigger := "", "(none)"
		for _, kv := range s.Attributes {
			switch kv.Key {
			case "messaging.message.id":
				id = kv.Value.Emit()
			case "messaging.batch.message_count":
				id = "batch"
			case "faas.trigger":
				trigger = kv.Value.Emit()
			}
		}
		if id != "" {
			got[id] = trigger
		}
	}
	if want := map[string]string{"a": "pubsub", "b": "pubsub", "batch": "pubsub"}; !maps.Equal(got, want) {
		t.Errorf("faas.trigger by message %v, want %v", got, want)
	}
}
