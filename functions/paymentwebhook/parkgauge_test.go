package paymentwebhook

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/promsink"
)

// TestParkedGaugeCountsBothKinds: playplane.inbox.parked counted only the
// events parked for a retry; those parked waiting for a customer's link
// (a Stripe account shared with other products parks every event of their
// customers) were not counted at all, so an operator could not see them
// pile up; nor, later, those waiting for their account's creation (a
// subscription whose metadata.account_id names an account not created
// yet), or those waiting for a customer another account holds (counted
// as retry before they had a key of their own). After one of each is
// parked, a sweep reports each kind as its own
// series, by playplane.reason. Not parallel: a telemetry Provider is
// process-wide, and the package's parallel tests sweep too.
func TestParkedGaugeCountsBothKinds(t *testing.T) {
	p, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "test", Metrics: telemetry.SinkPrometheus,
		Prometheus: promsink.New, Lookup: envconfig.MapLookuper(nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })

	h := newHarness(t, noLinkWait, func(c *Config, _ *Deps) { c.GiveUpAfter = time.Nanosecond })
	h.linked("acct_g", "cus_g")
	h.account("acct_g_other")
	h.run(stripeEvent("evt_frozen_g", typeSubscriptionUpdated, at(2*time.Hour),
		subObj("sub_g", "cus_g", "frozen", "price_std", at(0), at(month))),
		stripeEvent("evt_unlinked_g", typeSubscriptionCreated, at(time.Hour),
			subObj("sub_u", "cus_unlinked", "active", "price_std", at(0), at(month))),
		stripeEvent("evt_missing_g", typeSubscriptionCreated, at(time.Hour),
			withMeta(subObj("sub_m", "cus_m", "active", "price_std", at(0), at(month)), obj{"account_id": "acct_missing"})),
		stripeEvent("evt_held_g", typeCheckoutCompleted, at(time.Hour), checkoutObj("cs_held_g", "acct_g_other", "cus_g", "")))
	if len(h.parked(parkRetry)) != 1 || len(h.parked(parkCustomer("cus_unlinked"))) != 1 {
		t.Fatalf("parked: retry %v, customer %v; want one each", h.parked(parkRetry), h.parked(parkCustomer("cus_unlinked")))
	}
	if _, err := h.srv.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}

	rec := httptest.NewRecorder()
	p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, rec.Body)
	}
	got := map[string]float64{}
	for _, m := range families["playplane_inbox_parked"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["playplane_source"] != Source {
			t.Errorf("parked series of source %q: %v", labels["playplane_source"], labels)
		}
		got[labels["playplane_reason"]] = m.GetGauge().GetValue()
	}
	if len(got) != 4 || got["retry"] != 1 || got["customer"] != 1 || got["account"] != 1 || got["held"] != 1 {
		t.Fatalf("playplane_inbox_parked by reason = %v, want retry 1, customer 1, account 1 and held 1\n%s", got, rec.Body)
	}
}

// TestPendingGaugeCountsASweptEventOnce: Sweep parks each stranded event
// it announces under parkAnnounced, then lists parkAnnounced for the
// backoffs that have passed, where it finds those very events again: the
// pending gauge added both lists, so one stranded event read 2. Each event
// the sweep announced, or waits on, counts once. Not parallel: a telemetry
// Provider is process-wide.
func TestPendingGaugeCountsASweptEventOnce(t *testing.T) {
	p, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "test", Metrics: telemetry.SinkPrometheus,
		Prometheus: promsink.New, Lookup: envconfig.MapLookuper(nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })

	var held heldAnnouncements
	h := newHarness(t, held.option)
	start := h.clock.Now()
	h.deliver(stripeEvent("evt_stranded_g", typeSubscriptionCreated, at(time.Hour),
		subObj("sub_s", "cus_s", "active", "price_std", at(0), at(month))))
	pendingGauge := func() float64 {
		t.Helper()
		rec := httptest.NewRecorder()
		p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
		if err != nil {
			t.Fatalf("the exposition does not parse: %v\n%s", err, rec.Body)
		}
		metrics := families["playplane_inbox_pending"].GetMetric()
		if len(metrics) != 1 {
			t.Fatalf("playplane_inbox_pending series = %v\n%s", metrics, rec.Body)
		}
		return metrics[0].GetGauge().GetValue()
	}
	for _, step := range []struct {
		name  string
		after time.Duration
	}{
		{name: "the sweep that announces it", after: 2 * time.Minute},
		{name: "a sweep within its backoff", after: 2*time.Minute + 30*time.Second},
	} {
		h.clock.Set(start.Add(step.after))
		if _, err := h.srv.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := pendingGauge(); got != 1 {
			t.Errorf("%s: playplane_inbox_pending = %v, want 1 (one stranded event)", step.name, got)
		}
	}
	if got := held.count("evt_stranded_g"); got != 2 {
		t.Fatalf("announced %d times, want the webhook's and one sweep's", got)
	}
}

// TestPendingGaugeRecordedPastAFailedReannounce: a sweep whose
// reannounce of a stranded event fails has still listed the inbox, and
// records what it listed; before, it returned first and the gauge was
// never recorded while that event kept failing. Not parallel: a
// telemetry Provider is process-wide.
func TestPendingGaugeRecordedPastAFailedReannounce(t *testing.T) {
	p, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "test", Metrics: telemetry.SinkPrometheus,
		Prometheus: promsink.New, Lookup: envconfig.MapLookuper(nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })

	var held heldAnnouncements
	h := newHarness(t, held.option)
	h.deliver(stripeEvent("evt_stranded_f", typeSubscriptionCreated, at(time.Hour),
		subObj("sub_f", "cus_f", "active", "price_std", at(0), at(month))))
	h.clock.Set(h.clock.Now().Add(2 * time.Minute))
	deps := h.srv.deps
	deps.Store = failingSweep{harnessStore: h.store, id: "evt_stranded_f"}
	if _, err := mustNew(t, h.srv.cfg, deps).Sweep(t.Context()); !playback.IsCode(err, playback.CodeUnavailable) {
		t.Errorf("sweep = %v, want the failure reported", err)
	}
	rec := httptest.NewRecorder()
	p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, rec.Body)
	}
	metrics := families["playplane_inbox_pending"].GetMetric()
	if len(metrics) != 1 || metrics[0].GetGauge().GetValue() != 1 {
		t.Fatalf("playplane_inbox_pending series = %v, want one of 1 (the stranded event)", metrics)
	}
}
