package paymentwebhook

import (
	"context"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/catalogfile"
	"github.com/playplane/playplane/shared/playback"
)

// killedAtSwap is a store on which an import dies at the write of a
// cycle of accounts moving customers between them (a change set of more
// than one change), after its claims: before the write when before is
// set, else right after it, before the claims are made plain.
type killedAtSwap struct {
	catalogfile.Store
	before bool
}

func (s killedAtSwap) ApplyChanges(ctx context.Context, cs playback.ChangeSet) (playback.AuditRecord, error) {
	if len(cs.Changes) > 1 && s.before {
		return playback.AuditRecord{}, playback.Unavailable(errKilled, "the import was killed")
	}
	return s.Store.ApplyChanges(ctx, cs)
}

func (s killedAtSwap) SwapCustomerLink(ctx context.Context, customer string, from, to playback.CustomerLink) (bool, error) {
	if from.Pending && from.From != "" && !to.Pending && !s.before {
		return false, errKilled
	}
	return s.Store.SwapCustomerLink(ctx, customer, from, to)
}

// TestEventsWhileAnImportSwapsCustomers: acct_sw_a names cus_SwA and
// acct_sw_b cus_SwB; an import swapping them claims each customer for
// its taker, pending, From its giver (playback.CustomerLink.From), and
// dies. While the giver still names the customer (the write never
// landed, the claim young or PendingClaimAge old) the customer's events
// are its giver's, which bills through it: before, they went to the
// claim's account, which names the other customer, leaving the giver's
// state (and entitlement) as it was. Once the write landed (the claims
// left pending) they are the taker's. On bolt, DynamoDB Local and the
// Firestore emulator.
func TestEventsWhileAnImportSwapsCustomers(t *testing.T) {
	t.Parallel()
	const (
		accountA, accountB = "acct_sw_a", "acct_sw_b"
		customerA          = "cus_SwA"
	)
	file := func(cusA, cusB string) string {
		return `{
  "plans": [{"id": "premium", "name": "Premium", "max_streams": 4, "max_devices": 8, "max_quality": "UHD"}],
  "accounts": [
    {"id": "` + accountA + `", "plan_id": "premium", "territory": "DE", "status": "none", "customer_id": "` + cusA + `"},
    {"id": "` + accountB + `", "plan_id": "premium", "territory": "DE", "status": "none", "customer_id": "` + cusB + `"}
  ]
}
`
	}
	for _, tc := range []struct {
		name        string
		writeLanded bool
		age         time.Duration // of the claims when the event comes
		want        string        // the account cus_SwA's event applies to
	}{
		{name: "the import dies before its write, the claims young", want: accountA},
		{name: "the import dies before its write, the claims stale", age: playback.PendingClaimAge + time.Minute, want: accountA},
		{name: "the import dies after its write", writeLanded: true, want: accountB},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parkStores(t, func(t *testing.T, opts ...harnessOption) {
				h := newHarness(t, opts...)
				s, ok := h.store.(catalogfile.Store)
				if !ok {
					t.Fatalf("%T is not an import's store", h.store)
				}
				importFile := func(s catalogfile.Store, body string) error {
					f, err := catalogfile.Parse("catalogue.json", []byte(body))
					if err != nil {
						t.Fatal(err)
					}
					_, err = catalogfile.Apply(t.Context(), s, diff(t, s, f), "cli:test", h.clock.Now)
					return err
				}
				if err := importFile(s, file(customerA, "cus_SwB")); err != nil {
					t.Fatal(err)
				}
				if err := importFile(killedAtSwap{Store: s, before: !tc.writeLanded}, file("cus_SwB", customerA)); err == nil {
					t.Fatal("the swapping import was not killed")
				}
				l, err := h.store.CustomerLink(t.Context(), customerA)
				if err != nil || !l.Pending || l.AccountID != accountB || l.From != accountA {
					t.Fatalf("setup: %s's link after the killed import = %+v, %v; want acct_sw_b's claim from acct_sw_a", customerA, l, err)
				}
				names := h.getAccount(tc.want).CustomerID
				if names != customerA {
					t.Fatalf("setup: %s names %q, want %s", tc.want, names, customerA)
				}
				h.clock.Set(h.clock.Now().Add(tc.age))
				sub := subState{id: "sub_sw", customer: customerA, status: "active", price: "price_premium",
					start: at(0), end: at(month), created: at(0)}
				h.run(eventPayload(t, "evt_sub_sw_a", typeSubscriptionCreated, at(time.Minute), sub.obj(t), nil))
				h.wantProcessed("evt_sub_sw_a", "its delivery")
				other := accountB
				if tc.want == accountB {
					other = accountA
				}
				got, notGot := h.getAccount(tc.want), h.getAccount(other)
				if len(got.Subscriptions) != 1 || got.Status != playback.StatusActive || len(notGot.Subscriptions) != 0 {
					t.Fatalf("%s's subscription.created, the claims %v old: %s (naming %q) is %s holding %+v, %s (naming %q) is %s holding %+v; "+
						"want it on %s, which names it, and nothing on %s",
						customerA, tc.age, got.ID, got.CustomerID, got.Status, got.Subscriptions,
						notGot.ID, notGot.CustomerID, notGot.Status, notGot.Subscriptions, tc.want, other)
				}
			})
		})
	}
}
