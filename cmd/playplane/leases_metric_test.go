package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/promsink"
)

// TestActiveLeasesGauge scrapes /metrics, parsed with Prometheus's own
// parser, through the ways a lease starts and stops: admissions, a device
// switching titles (its old lease replaced, no end of its own), an end by
// the user, a stop heartbeat, and leases lapsing unrenewed, which no
// request announces. The gauge counts the store at each scrape, so it
// follows all of them; a counter of admissions minus ends would be off by
// the replaced and the lapsed ones. Not parallel: telemetry is
// process-wide.
func TestActiveLeasesGauge(t *testing.T) {
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "playplane", Metrics: telemetry.SinkPrometheus, Prometheus: promsink.New,
		Lookup: envconfig.MapLookuper(map[string]string{})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	run := startLocal(t, t.TempDir())
	run.app.UseTelemetry(tel)

	scrape := func() float64 {
		t.Helper()
		resp, err := http.Get(run.srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		text, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(strings.NewReader(string(text)))
		if err != nil {
			t.Fatalf("/metrics does not parse: %v\n%s", err, text)
		}
		f := families["playplane_leases_active"]
		if f == nil || len(f.GetMetric()) != 1 {
			t.Fatalf("playplane_leases_active: %v\n%s", f, text)
		}
		return f.GetMetric()[0].GetGauge().GetValue()
	}
	type session struct{ id, token string }
	play := func(account, title, device string) session {
		t.Helper()
		var out struct {
			SessionID     string `json:"session_id"`
			PlaybackToken string `json:"playback_token"`
		}
		body := fmt.Sprintf(`{"title_id":%q,"device_id":%q}`, title, device)
		if code := run.call("POST", "/v1/play", run.token(account), body, &out); code != http.StatusCreated {
			t.Fatalf("play %s on %s: %d", title, device, code)
		}
		return session{out.SessionID, out.PlaybackToken}
	}
	want := func(step string, n float64) {
		t.Helper()
		if got := scrape(); got != n {
			t.Fatalf("%s: playplane_leases_active = %v, want %v", step, got, n)
		}
	}

	want("no plays", 0)
	tv, phone := playback.NewID("dev"), playback.NewID("dev")
	play(demo.AccountFamily, "sintel", tv)
	b := play(demo.AccountFamily, "sintel", phone)
	c := play(demo.AccountSolo, "sintel", playback.NewID("dev"))
	want("three admitted", 3)
	play(demo.AccountFamily, "big-buck-bunny", tv)
	want("a device switched titles", 3)

	if code := run.call("DELETE", "/v1/sessions/"+b.id, run.token(demo.AccountFamily), "", nil); code != http.StatusOK {
		t.Fatalf("end session: %d", code)
	}
	want("one ended by the user", 2)
	stop := fmt.Sprintf(`{"event":"stop","position_ms":1000,"duration_ms":888000,"device_time":%q}`, time.Now().UTC().Format(time.RFC3339Nano))
	if code := run.call("POST", "/v1/playback/"+c.id+"/heartbeat", c.token, stop, nil); code != http.StatusOK {
		t.Fatalf("stop: %d", code)
	}
	want("one stopped", 1)

	// Nothing tells the store when a lease lapses: the gauge's clock
	// passing the lease's expiry is all it takes.
	later := time.Now().Add(10 * time.Minute)
	run.app.now = func() time.Time { return later }
	want("the last lease lapsed unrenewed", 0)
}
