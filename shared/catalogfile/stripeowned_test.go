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

// TestOperatorPastDueTakesTheSubscriptionsDate: a Stripe-linked account
// whose stored status is not its subscription's (a record from before
// the status was Stripe's) may be written to the subscription's status;
// written past_due, its grace is the subscription's, not one restarted at
// the write.
func TestOperatorPastDueTakesTheSubscriptionsDate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	subSince := now.Add(-5 * 24 * time.Hour)
	given := now.Add(-2 * 24 * time.Hour)
	linked := playback.Account{ID: "acct_a", PlanID: "basic", Territory: "DE", Status: playback.StatusActive, CustomerID: "cus_a",
		Subscriptions: []playback.Subscription{{ID: "sub_a", Status: playback.StatusPastDue, PastDueSince: subSince, Customer: "cus_a"}}}
	unlinked := playback.Account{ID: "acct_b", PlanID: "basic", Territory: "DE", Status: playback.StatusActive}
	for _, tc := range []struct {
		name   string
		stored playback.Account
		given  time.Time
		want   time.Time
	}{
		{"linked, subscription past due", linked, time.Time{}, subSince},
		{"not linked", unlinked, time.Time{}, now},
		{"not linked, date given", unlinked, given, given},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := AccountOf(tc.stored)
			a.Status, a.PastDueSince = playback.StatusPastDue, tc.given
			if owned := a.PaymentOwned(tc.stored); owned != nil {
				t.Fatalf("PaymentOwned = %v, want the write allowed", owned)
			}
			if got := a.Apply(tc.stored, now).PastDueSince; !got.Equal(tc.want) {
				t.Fatalf("past_due_since after the operator's past_due: %v, want %v", got, tc.want)
			}
		})
	}
	// A date of the operator's own would last until Stripe's next event.
	a := AccountOf(linked)
	a.Status, a.PastDueSince = playback.StatusPastDue, given
	if owned := a.PaymentOwned(linked); len(owned) != 1 || owned[0] != "/past_due_since" {
		t.Fatalf("PaymentOwned of another date than the subscription's = %v, want [/past_due_since]", owned)
	}
}
