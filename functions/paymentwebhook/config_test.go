package paymentwebhook

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/playback"
)

// TestConfigFromEnvironment reads the documented variables the way the
// mains do.
func TestConfigFromEnvironment(t *testing.T) {
	t.Parallel()
	var cfg Config
	err := envconfig.ProcessWith(context.Background(), &envconfig.Config{Target: &cfg, Lookuper: envconfig.MapLookuper(map[string]string{
		"STRIPE_WEBHOOK_SECRETS": "whsec_new,whsec_old",
		"STRIPE_PRICE_PLANS":     "price_basic=basic,price_std=standard",
		"STRIPE_API_KEY":         "sk_test_x",
		"REFETCH":                "true",
	})})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.WebhookSecrets, []string{"whsec_new", "whsec_old"}) {
		t.Errorf("secrets %q", cfg.WebhookSecrets)
	}
	if want := map[string]string{"price_basic": "basic", "price_std": "standard"}; !maps.Equal(cfg.PricePlans, want) {
		t.Errorf("price plans %v", cfg.PricePlans)
	}
	if !cfg.Refetch || cfg.Tolerance != 300*time.Second || cfg.MaxBody != 256<<10 || cfg.PastDueGrace != 72*time.Hour ||
		cfg.SweepAge != time.Minute || cfg.LinkWait != time.Hour {
		t.Errorf("defaults %+v", redacted(cfg))
	}
	h := newHarness(t)
	if _, err := New(cfg, Deps{Store: h.store, Bus: h.bus}); err != nil {
		t.Fatalf("New rejects the documented configuration: %v", err)
	}
}

// deliveryCount is a bus that says its last delivery is n.
type deliveryCount struct {
	playback.Publisher
	n int
}

func (b deliveryCount) MaxDeliveryAttempts() int { return b.n }

// TestNewRefusesABusWithoutALastDelivery: a bus saying its last delivery
// is attempt 0 (or less) was taken at its word, and every delivery of an
// unlinked customer's event counted as past the last: parked at once,
// LinkWait ignored, or moved to the sweeper's retries when its link had
// landed. New refuses it, as it refuses a missing bus; a bus that says
// nothing keeps the catalogue's count.
func TestNewRefusesABusWithoutALastDelivery(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, tc := range []struct {
		name    string
		bus     playback.Publisher
		wantErr bool
	}{
		{name: "zero", bus: deliveryCount{Publisher: h.bus, n: 0}, wantErr: true},
		{name: "negative", bus: deliveryCount{Publisher: h.bus, n: -1}, wantErr: true},
		{name: "one", bus: deliveryCount{Publisher: h.bus, n: 1}},
		{name: "silent", bus: publishFunc(h.bus.Publish)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(testConfig(), Deps{Store: h.store, Bus: tc.bus})
			if (err != nil) != tc.wantErr {
				t.Fatalf("New with a bus whose last delivery is %s: %v, want an error: %v", tc.name, err, tc.wantErr)
			}
		})
	}
}
