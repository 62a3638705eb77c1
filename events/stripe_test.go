package events_test

import (
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stripe/stripe-go/v76"

	"github.com/playplane/playplane/events"
)

func TestStripeEventRecordedSamples(t *testing.T) {
	t.Parallel()
	var want events.StripeEventRecorded
	if err := stdDecode(readSample(t, "stripe-event-recorded.json"), &want, true); err != nil {
		t.Fatal(err)
	}
	if want.EventID == "" || want.Type == "" || want.Created.IsZero() || want.ReceivedAt.IsZero() {
		t.Fatalf("sample leaves required fields empty: %+v", want)
	}

	tests := []struct {
		name string
		raw  []byte
	}{
		{name: "sqs body", raw: []byte(sqsRecord(t, "stripe-event-recorded-sqs.json").Body)},
		{name: "pubsub data", raw: pushEnvelope(t, "stripe-event-recorded-pubsub.json").Message.Data},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got events.StripeEventRecorded
			if err := stdDecode(tt.raw, &got, true); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("wrapped sample = %+v, want the plain sample %+v", got, want)
			}
		})
	}
}

// TestStripeEventRecordedSchema keeps the schema's properties and required
// list equal to the Go type's JSON fields (all of which are required), and
// its type enum equal to the Stripe samples in testdata.
func TestStripeEventRecordedSchema(t *testing.T) {
	t.Parallel()
	var schema struct {
		Required   []string `json:"required"`
		Properties map[string]struct {
			Enum []string `json:"enum"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(readFile(t, "schemas/stripe-event-recorded.json"), &schema); err != nil {
		t.Fatal(err)
	}
	fields := jsonFields(events.StripeEventRecorded{})
	props := slices.Sorted(maps.Keys(schema.Properties))
	required := slices.Sorted(slices.Values(schema.Required))
	if !slices.Equal(fields, props) || !slices.Equal(fields, required) {
		t.Fatalf("Go fields %v, schema properties %v, required %v", fields, props, required)
	}

	samples, err := filepath.Glob("testdata/stripe/*.json")
	if err != nil || len(samples) == 0 {
		t.Fatalf("no Stripe samples: %v", err)
	}
	var types []string
	for _, s := range samples {
		types = append(types, strings.TrimSuffix(filepath.Base(s), ".json"))
	}
	enum := slices.Sorted(slices.Values(schema.Properties["type"].Enum))
	if !slices.Equal(enum, types) {
		t.Fatalf("schema type enum %v, Stripe samples %v", enum, types)
	}
}

// TestStripeWebhookSamples checks the Stripe event payloads in testdata
// decode with stripe-go, on the API version it pins, as the type their
// file is named after.
func TestStripeWebhookSamples(t *testing.T) {
	t.Parallel()
	samples, err := filepath.Glob("testdata/stripe/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range samples {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			var ev stripe.Event
			if err := json.Unmarshal(readFile(t, path), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.APIVersion != stripe.APIVersion {
				t.Errorf("api_version %q, stripe-go pins %q", ev.APIVersion, stripe.APIVersion)
			}
			if want := strings.TrimSuffix(filepath.Base(path), ".json"); string(ev.Type) != want {
				t.Errorf("type %q, file named %q", ev.Type, want)
			}
			if ev.ID == "" || ev.Created == 0 || ev.Data == nil || len(ev.Data.Object) == 0 {
				t.Errorf("event lacks id, created or data.object: %+v", ev)
			}
			obj := ev.Data.Object["object"]
			wantObj := map[string]string{"checkout": "checkout.session", "customer.subscription": "subscription",
				"invoice": "invoice", "customer.deleted": "customer"}
			for prefix, o := range wantObj {
				if strings.HasPrefix(string(ev.Type), prefix) && obj != o {
					t.Errorf("data.object is a %v, want %s", obj, o)
				}
			}
		})
	}
}
