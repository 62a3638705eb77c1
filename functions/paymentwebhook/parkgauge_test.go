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

	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/promsink"
)

// TestParkedGaugeCountsBothKinds: playplane.inbox.parked counted only the
// events parked for a retry; those parked waiting for a customer's link
// (a Stripe account shared with other products parks every event of their
// customers) were not counted at all, so an operator could not see them
// pile up. After one of each is parked, a sweep reports each kind as its
// own series, by playplane.reason. Not parallel: a telemetry Provider is
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
	h.run(stripeEvent("evt_frozen_g", typeSubscriptionUpdated, at(2*time.Hour),
		subObj("sub_g", "cus_g", "frozen", "price_std", at(0), at(month))),
		stripeEvent("evt_unlinked_g", typeSubscriptionCreated, at(time.Hour),
			subObj("sub_u", "cus_unlinked", "active", "price_std", at(0), at(month))))
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
	if len(got) != 2 || got["retry"] != 1 || got["customer"] != 1 {
		t.Fatalf("playplane_inbox_parked by reason = %v, want retry 1 and customer 1\n%s", got, rec.Body)
	}
}
