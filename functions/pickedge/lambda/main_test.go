package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/shared/awsfn/lambdatest"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// The function's Lambdas in template.yaml: its routes, and the consumer of
// edge-health.
const (
	logicalID         = "PickEdgeFunction"
	consumerLogicalID = "PickEdgeConsumerFunction"
)

func TestTemplate(t *testing.T) {
	t.Parallel()
	lambdatest.CheckFunction(t, build, lambdatest.SampleVars(t, logicalID))
}

// TestSamples invokes the Lambda with the samples of events/aws/pickedge over
// DynamoDB Local and fauxqs: a player gets edges and a steering manifest, and
// an edge's signed health report is queued and then applied by the consumer.
func TestSamples(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	backend := lambdatest.NewBackend(t, events.TopicEdgeHealth)
	now := time.Now()
	if err := demo.Seed(ctx, backend.Store, "https://edge.example", now); err != nil {
		t.Fatal(err)
	}
	_, err := backend.Store.AcquireLease(ctx, playback.LeaseRequest{SessionID: "ses_sample_pickedge", AccountID: demo.AccountFamily,
		DeviceID: "living-room-tv", TitleID: "big-buck-bunny", Limit: 2, TTL: 2 * time.Minute, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	vars := lambdatest.Merge(lambdatest.SampleVars(t, logicalID), backend.Vars)
	h := lambdatest.NewHandler(t, build, vars)
	consumer := lambdatest.NewHandler(t, build, lambdatest.Merge(lambdatest.SampleVars(t, consumerLogicalID), backend.Vars))

	resp := lambdatest.InvokeHTTP(t, h, lambdatest.Sample(t, "pickedge/edges.json"))
	var edges pickedge.EdgesResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(resp.Body), &edges) != nil || len(edges.Edges) == 0 {
		t.Fatalf("edges.json: %d %s", resp.StatusCode, resp.Body)
	}
	resp = lambdatest.InvokeHTTP(t, h, lambdatest.Sample(t, "pickedge/steering.json"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, "PATHWAY-PRIORITY") {
		t.Fatalf("steering.json: %d %s", resp.StatusCode, resp.Body)
	}

	// The sample report's signature is months old.
	sample := lambdatest.Sample(t, "pickedge/health.json")
	if resp := lambdatest.InvokeHTTP(t, h, sample); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("health.json as written: %d %s, want 401", resp.StatusCode, resp.Body)
	}
	// Stamped and signed now with the sample key of events/aws/env.json.
	_, encoded, _ := strings.Cut(vars["EDGE_HMAC_KEYS"], "=")
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		t.Fatal(err)
	}
	report := playback.EdgeReport{EdgeID: "fra-1", Load: 72.5, Capacity: 100, Healthy: true,
		HotTitles: []string{"big-buck-bunny"}, ReportedAt: now.UTC().Add(2 * time.Second).Truncate(time.Second)}
	body, _ := json.Marshal(report)
	signed := lambdatest.WithHeader(t, lambdatest.WithBody(t, sample, body), pickedge.HeaderEdgeSignature, pickedge.SignEdgeReport(key, now, body))
	if resp := lambdatest.InvokeHTTP(t, h, signed); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("signed health report: %d %s", resp.StatusCode, resp.Body)
	}
	queued, err := json.Marshal(backend.Receive(t, events.TopicEdgeHealth, 1))
	if err != nil {
		t.Fatal(err)
	}
	if got := lambdatest.Failures(lambdatest.InvokeSQS(t, consumer, queued)); len(got) != 0 {
		t.Fatalf("consuming the report: batch item failures %v", got)
	}
	if e, err := backend.Store.GetEdge(ctx, "fra-1"); err != nil || e.Load != 72.5 {
		t.Fatalf("edge after the report: %+v, %v", e, err)
	}

	// The sample batch: a report older than the edge's state, ignored.
	if got := lambdatest.Failures(lambdatest.InvokeSQS(t, consumer, lambdatest.Sample(t, "pickedge/edge-health.json"))); len(got) != 0 {
		t.Errorf("edge-health.json: batch item failures %v", got)
	}
	if e, err := backend.Store.GetEdge(ctx, "fra-2"); err != nil || e.Load != 10 {
		t.Errorf("fra-2 after a report older than its state: %+v, %v", e, err)
	}
}
