package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/awsfn/lambdatest"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// The function's Lambdas in template.yaml: its routes, and the consumer of
// heartbeats.
const (
	logicalID         = "HeartbeatFunction"
	consumerLogicalID = "HeartbeatConsumerFunction"
)

func TestTemplate(t *testing.T) {
	t.Parallel()
	lambdatest.CheckFunction(t, build, lambdatest.SampleVars(t, logicalID))
}

// TestSamples invokes the Lambda with the samples of events/aws/heartbeat
// over DynamoDB Local and fauxqs: a heartbeat is accepted and queued, its
// queued message is consumed as Lambda's SQS trigger would deliver it, and
// the progress route then reads the position back.
func TestSamples(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	backend := lambdatest.NewBackend(t, events.TopicHeartbeats)
	now := time.Now()
	if err := demo.Seed(ctx, backend.Store, "https://edge.example", now); err != nil {
		t.Fatal(err)
	}
	// The session the sample's playback token (valid until 2099) is for.
	_, err := backend.Store.AcquireLease(ctx, playback.LeaseRequest{SessionID: "ses_sample_heartbeat", AccountID: demo.AccountFamily,
		DeviceID: "living-room-tv", TitleID: "big-buck-bunny", Limit: 2, TTL: 2 * time.Minute, Now: now.Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	h := lambdatest.NewHandler(t, build, lambdatest.Merge(lambdatest.SampleVars(t, logicalID), backend.Vars))
	consumer := lambdatest.NewHandler(t, build, lambdatest.Merge(lambdatest.SampleVars(t, consumerLogicalID), backend.Vars))
	sample := lambdatest.Sample(t, "heartbeat/heartbeat.json")

	// As written, the sample's device_time is months old.
	resp := lambdatest.InvokeHTTP(t, h, sample)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("heartbeat.json as written: %d %s, want 400 device_time_too_old", resp.StatusCode, resp.Body)
	}

	// With the device's clock at now, it is accepted and queued.
	var body events.HeartbeatRequest
	if err := json.Unmarshal([]byte(httpBody(t, sample)), &body); err != nil {
		t.Fatal(err)
	}
	body.DeviceTime, body.PositionMS = now.UTC(), 2_000_000
	fresh, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp = lambdatest.InvokeHTTP(t, h, lambdatest.WithBody(t, sample, fresh))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("refreshed heartbeat: %d %s", resp.StatusCode, resp.Body)
	}
	queued := backend.Receive(t, events.TopicHeartbeats, 1)
	payload, err := json.Marshal(queued)
	if err != nil {
		t.Fatal(err)
	}
	if got := lambdatest.Failures(lambdatest.InvokeSQS(t, consumer, payload)); len(got) != 0 {
		t.Fatalf("consuming the queued heartbeat: batch item failures %v", got)
	}

	// The sample batch: a heartbeat older than the one consumed (the
	// device-time gate keeps the newer position) and a truncated message,
	// acknowledged because no redelivery can repair it.
	if got := lambdatest.Failures(lambdatest.InvokeSQS(t, consumer, lambdatest.Sample(t, "heartbeat/heartbeats.json"))); len(got) != 0 {
		t.Errorf("heartbeats.json: batch item failures %v", got)
	}

	resp = lambdatest.InvokeHTTP(t, h, lambdatest.Sample(t, "heartbeat/progress.json"))
	var progress struct {
		TitleID    string `json:"title_id"`
		PositionMS int64  `json:"position_ms"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(resp.Body), &progress) != nil ||
		progress.TitleID != "big-buck-bunny" || progress.PositionMS != 2_000_000 {
		t.Fatalf("progress.json: %d %s, want position 2000000", resp.StatusCode, resp.Body)
	}
}

func httpBody(t *testing.T, sample []byte) string {
	t.Helper()
	var ev struct {
		Body string `json:"body"`
	}
	if err := json.Unmarshal(sample, &ev); err != nil {
		t.Fatal(err)
	}
	return ev.Body
}
