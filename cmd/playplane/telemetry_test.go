package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/sethvargo/go-envconfig"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
	"github.com/playplane/playplane/shared/telemetry/promsink"
)

// TestRunnerTracesAndMetrics sets the runner's telemetry up as main does,
// spans to an OTLP/HTTP receiver, and follows one trace from the HTTP
// request through the journaled local bus into the consumer: a heartbeat
// and a Stripe event, each sent with its own traceparent. Then it scrapes
// /metrics and parses it with Prometheus's own parser. Not parallel:
// telemetry is process-wide, and parallel tests start after this one ends.
func TestRunnerTracesAndMetrics(t *testing.T) {
	recv := otlptest.Start(t)
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "playplane", Metrics: telemetry.SinkPrometheus, Prometheus: promsink.New,
		Lookup: envconfig.MapLookuper(recv.Env())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	run := startLocal(t, t.TempDir())
	run.app.UseTelemetry(tel)

	tok := run.token(demo.AccountFamily)
	var play struct {
		SessionID     string `json:"session_id"`
		PlaybackToken string `json:"playback_token"`
	}
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"sintel","device_id":"tv"}`, &play); code != 201 {
		t.Fatalf("play: %d", code)
	}
	const beatTrace = "0af7651916cd43dd8448eb211c80319c"
	body := fmt.Sprintf(`{"event":"start","position_ms":0,"duration_ms":888000,"device_time":%q,"qoe":{"br":3000}}`,
		time.Now().UTC().Format(time.RFC3339Nano))
	req, _ := http.NewRequest("POST", run.srv.URL+"/v1/playback/"+play.SessionID+"/heartbeat", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+play.PlaybackToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+beatTrace+"-b7ad6b7169203331-01")
	send(t, run, req)

	const stripeTrace = "5b8efff798038103d269b633813fc60c"
	raw, err := os.ReadFile("../../events/testdata/stripe/customer.subscription.updated.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ev["id"] = "evt_telemetry_1"
	ev["created"] = time.Now().Unix()
	payload, _ := json.Marshal(ev)
	payload = []byte(strings.NewReplacer(`"cus_PlayplaneFamily"`, `"cus_demo_family"`, `"price_std"`, `"price_standard"`).Replace(string(payload)))
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: run.app.secrets.StripeWebhook, Timestamp: time.Now()})
	req, _ = http.NewRequest("POST", run.srv.URL+"/v1/webhooks/stripe", strings.NewReader(string(payload)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", signed.Header)
	req.Header.Set("traceparent", "00-"+stripeTrace+"-e457b5a2e4d86bd1-01")
	send(t, run, req)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run.app.bus.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tel.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := otlptest.Chain(recv.Trace(beatTrace), "/v1/playback/{session_id}/heartbeat", events.TopicHeartbeats); err != nil {
		t.Errorf("heartbeat: %v", err)
	}
	if err := otlptest.Chain(recv.Trace(stripeTrace), "/v1/webhooks/stripe", events.TopicStripeEvents); err != nil {
		t.Errorf("stripe event: %v", err)
	}

	resp, err := http.Get(run.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, text)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(text)))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, text)
	}
	routes := map[string]bool{}
	for _, m := range families["http_server_request_duration_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "http_route" {
				routes[l.GetValue()] = true
			}
		}
	}
	for _, r := range []string{"/v1/play", "/v1/playback/{session_id}/heartbeat", "/v1/webhooks/stripe"} {
		if !routes[r] {
			t.Errorf("no request duration series for %s (have %v)", r, routes)
		}
	}
	if f := families["playplane_play_admitted_total"]; f == nil || f.GetMetric()[0].GetCounter().GetValue() != 1 {
		t.Errorf("plays admitted: %v, want 1", f)
	}
	if f := families["playplane_webhook_lag_seconds"]; f == nil || f.GetMetric()[0].GetHistogram().GetSampleCount() != 1 {
		t.Errorf("webhook lag: %v, want one observation", f)
	}
	var batched uint64
	for _, m := range families["playplane_queue_batch_size"].GetMetric() {
		batched += m.GetHistogram().GetSampleCount()
	}
	if batched < 2 {
		t.Errorf("consumer batches recorded: %d, want one per topic at least", batched)
	}
}

func send(t *testing.T, run *localRun, req *http.Request) {
	t.Helper()
	resp, err := run.api.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, body)
	}
}

// TestRunnerJobsMakeSpans: every job the runner schedules, the
// catalogue's (the payment webhook's sweep) and its own (the prunes), runs
// in a span of its own as the clouds' job invocations do: named after the
// job, faas.trigger timer, a trace's root. The spans reach an OTLP/HTTP
// receiver as main's telemetry sends them. Not parallel, as
// TestRunnerTracesAndMetrics.
func TestRunnerJobsMakeSpans(t *testing.T) {
	recv := otlptest.Start(t)
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "playplane", Lookup: envconfig.MapLookuper(recv.Env())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	// The prunes run at the start; the sweep on its ticker.
	startLocalConfig(t, t.TempDir(), func(c *Config) { c.SweepEvery = 10 * time.Millisecond })
	jobs := []string{"paymentwebhook sweep", "qoe prune", "expired prune"}
	missing := jobs
	for deadline := time.Now().Add(30 * time.Second); len(missing) > 0; {
		if err := tel.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		missing = nil
		for _, job := range jobs {
			found := false
			for _, s := range recv.Spans() {
				found = found || s.GetName() == job && otlptest.Attr(s.GetAttributes(), "faas.trigger") == "timer" && len(s.GetParentSpanId()) == 0
			}
			if !found {
				missing = append(missing, job)
			}
		}
		switch {
		case len(missing) == 0:
		case time.Now().After(deadline):
			t.Fatalf("no span for the runner's %v invocations:%s", missing, otlptest.Describe(recv.Spans()))
		default:
			time.Sleep(20 * time.Millisecond)
		}
	}
}
