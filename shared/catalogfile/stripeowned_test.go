package catalogfile

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// TestImportLeavesAStripeCustomersStatusAndPlanToStripe: once Stripe's
// events fold a linked account's status and plan from its subscriptions,
// a file that would set others is refused, naming each field, and nothing
// is planned: before, the import wrote the file's status back over
// Stripe's, and Stripe's next event undid it. A file that leaves them as
// Stripe has them (or leaves the status out) imports.
func TestImportLeavesAStripeCustomersStatusAndPlanToStripe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openBolt(t)
	f, err := Parse("c.json", []byte(goodJSON))
	if err != nil {
		t.Fatal(err)
	}
	importFile(t, s, f) // acct_a: cus_a, active on basic
	// The payment consumer's write of a Stripe event: the customer's
	// subscription moved to premium and its renewal failed.
	if _, err := s.UpdateAccount(ctx, "acct_a", func(a *playback.Account) error {
		a.PutSubscription(playback.Subscription{ID: "sub_a", Status: playback.StatusPastDue, PlanID: "premium", Clock: 100, Customer: "cus_a"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	plan, err := Diff(ctx, s, f)
	var inv *Invalid
	if !errors.As(err, &inv) || len(inv.Problems) != 2 ||
		inv.Problems[0].Pointer != "/accounts/0/status" || inv.Problems[1].Pointer != "/accounts/0/plan_id" {
		var docs []string
		for _, c := range plan.Changes {
			docs = append(docs, string(c.Doc))
		}
		t.Fatalf("Diff of a file with other status and plan than Stripe's = %v, planned %s; want both refused", err, docs)
	}
	for _, a := range []string{
		`{"id": "acct_a", "plan_id": "premium", "territory": "FR", "status": "past_due", "customer_id": "cus_a"}`,
		`{"id": "acct_a", "plan_id": "premium", "territory": "FR", "customer_id": "cus_a"}`,
	} {
		g, err := Parse("c.json", []byte(strings.Replace(goodJSON,
			`{"id": "acct_a", "plan_id": "basic", "territory": "DE", "status": "active", "customer_id": "cus_a"}`, a, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if plan, err := Diff(ctx, s, g); err != nil || len(plan.Changes) != 1 {
			t.Fatalf("Diff of %s = %v, %d change(s), want the territory's change", a, err, len(plan.Changes))
		}
	}
}

// TestImportTakesWhatStripeDoesNotDecide: the plan under a subscription
// whose price maps none is the file's, however often it changes (before,
// only a first plan was taken).
func TestImportTakesWhatStripeDoesNotDecide(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const stored = `{"id": "acct_a", "plan_id": "basic", "territory": "DE", "status": "active", "customer_id": "cus_a"}`
	for _, tc := range []struct {
		name     string
		plan     string // the Stripe subscription's, "" for a price that maps none
		file     string
		wantSubs int
	}{
		{name: "a price that maps no plan", file: `{"id": "acct_a", "plan_id": "premium", "territory": "DE", "customer_id": "cus_a"}`, wantSubs: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := openBolt(t)
			f, err := Parse("c.json", []byte(goodJSON))
			if err != nil {
				t.Fatal(err)
			}
			importFile(t, s, f)
			if _, err := s.UpdateAccount(ctx, "acct_a", func(a *playback.Account) error {
				a.PutSubscription(playback.Subscription{ID: "sub_a", Status: playback.StatusActive, PlanID: tc.plan, Clock: 100, Customer: "cus_a"})
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			g, err := Parse("c.json", []byte(strings.Replace(goodJSON, stored, tc.file, 1)))
			if err != nil {
				t.Fatal(err)
			}
			plan, err := Diff(ctx, s, g)
			if err != nil {
				t.Fatalf("Diff of %s = %v, want the account's change", tc.file, err)
			}
			if _, err := Apply(ctx, s, plan, "cli:test", time.Now); err != nil {
				t.Fatal(err)
			}
			a, err := s.GetAccount(ctx, "acct_a")
			if err != nil {
				t.Fatal(err)
			}
			if a.PlanID != "premium" || len(a.Subscriptions) != tc.wantSubs {
				t.Fatalf("imported account on %q with %d subscription(s); want premium, %d",
					a.PlanID, len(a.Subscriptions), tc.wantSubs)
			}
		})
	}
}
