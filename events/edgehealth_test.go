package events_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
)

func TestEdgeHealthSamples(t *testing.T) {
	t.Parallel()
	t.Run("report", func(t *testing.T) {
		t.Parallel()
		var r playback.EdgeReport
		if err := stdDecode(readSample(t, "edge-health-report.json"), &r, true); err != nil {
			t.Fatal(err)
		}
		if err := r.Validate(r.ReportedAt); err != nil || r.EdgeID == "" || len(r.HotTitles) == 0 {
			t.Fatalf("report %+v: %v", r, err)
		}
	})
	message := func(t *testing.T, data []byte) events.EdgeHealth {
		t.Helper()
		var h events.EdgeHealth
		if err := stdDecode(data, &h, true); err != nil {
			t.Fatal(err)
		}
		if h.EdgeID == "" || h.ReportedAt.IsZero() || h.ReceivedAt.Before(h.ReportedAt) {
			t.Fatalf("message %+v", h)
		}
		if err := h.Report().Validate(h.ReceivedAt); err != nil {
			t.Fatal(err)
		}
		return h
	}
	want := message(t, readSample(t, "edge-health.json"))
	t.Run("round trip", func(t *testing.T) {
		t.Parallel()
		if got := events.NewEdgeHealth(want.Report(), want.ReceivedAt); !reflect.DeepEqual(got, want) {
			t.Fatalf("NewEdgeHealth(Report()) = %+v, want %+v", got, want)
		}
	})
	t.Run("sqs", func(t *testing.T) {
		t.Parallel()
		if got := message(t, []byte(sqsRecord(t, "edge-health-sqs.json").Body)); !reflect.DeepEqual(got, want) {
			t.Fatalf("sqs body %+v, want %+v", got, want)
		}
	})
	t.Run("pubsub push", func(t *testing.T) {
		t.Parallel()
		push := pushEnvelope(t, "edge-health-pubsub.json")
		if got := message(t, push.Message.Data); !reflect.DeepEqual(got, want) {
			t.Fatalf("pubsub data %+v, want %+v", got, want)
		}
	})
}

// TestEdgeHealthSchemas keeps the JSON schemas in step with the Go types
// and the samples.
func TestEdgeHealthSchemas(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, schema, sample string
		fields               []string
		closed               bool
	}{
		{"report", "edge-health-report.json", "edge-health-report.json", jsonFields(playback.EdgeReport{}), true},
		{"message", "edge-health.json", "edge-health.json", jsonFields(events.EdgeHealth{}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := checkSchema(t, tc.schema, tc.fields, tc.closed)
			var sample map[string]json.RawMessage
			if err := json.Unmarshal(readSample(t, tc.sample), &sample); err != nil {
				t.Fatal(err)
			}
			for _, r := range s.Required {
				if _, ok := sample[r]; !ok {
					t.Fatalf("sample lacks required %q", r)
				}
			}
			for k := range sample {
				if _, ok := s.Properties[k]; !ok {
					t.Fatalf("sample has %q, which the schema does not describe", k)
				}
			}
		})
	}
}
