package paymentwebhook

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
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
