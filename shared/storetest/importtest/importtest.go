// Package importtest is the part of the store contract (storetest) that
// goes through playplane import (shared/catalogfile), whose own tests use
// storetest: a package apart, so that neither imports the other.
package importtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/catalogfile"
	"github.com/playplane/playplane/shared/playback"
)

// beforeImportWrite runs meanwhile once, as an import sends its first
// write of account: between the import's reads (its Diff, and its claim
// where it claims) and that write, where an operator may come.
type beforeImportWrite struct {
	catalogfile.Store
	account string

	mu        sync.Mutex
	meanwhile func()
}

func (s *beforeImportWrite) ApplyChanges(ctx context.Context, cs playback.ChangeSet) (playback.AuditRecord, error) {
	s.mu.Lock()
	var run func()
	for _, c := range cs.Changes {
		if c.Kind == playback.KindAccount && c.ID == s.account {
			run, s.meanwhile = s.meanwhile, nil
			break
		}
	}
	s.mu.Unlock()
	if run != nil {
		run()
	}
	return s.Store.ApplyChanges(ctx, cs)
}

// operatorLinks creates account naming customer as the admin API does
// (functions/admin's claimFor): the customer claimed pending on the
// account's absence, the account created, the claim made plain.
func operatorLinks(ctx context.Context, s catalogfile.Store, account, plan, customer string) error {
	now := time.Now()
	c, err := playback.NewChange(playback.KindAccount, playback.Account{ID: account, PlanID: plan, Territory: "DE",
		Status: playback.StatusActive, CustomerID: customer})
	if err != nil {
		return err
	}
	c.IfAbsent = true
	claim := playback.PendingClaim(account, "", now)
	if _, err := playback.ClaimCustomer(ctx, s, customer, claim, now); err != nil {
		return err
	}
	if _, err := s.ApplyChanges(ctx, playback.ChangeSet{Actor: "ops-alice", At: now, Changes: []playback.Change{c}}); err != nil {
		return err
	}
	_, err = s.SwapCustomerLink(ctx, customer, claim, playback.CustomerLink{AccountID: account})
	return err
}

// ClaimRace: a catalogue file (playplane import) names a new
// customer on a new account, beside another account. An operator links
// that customer to a third account after the import's Diff read the
// accounts, or as the import writes the file's account. The import wrote
// the accounts and only then linked their customers: two accounts named
// the customer. It claims first now, as the admin API does: an operator
// who took the customer first makes the file's account a problem at its
// line, customer_linked_elsewhere, and nothing is written for it (the
// other account is); an operator coming after the import's claim is
// refused. Either way one account names the customer, the one it
// resolves to. Every store playplane import writes to passes it.
func ClaimRace(t *testing.T, ps playback.Store) {
	store, ok := ps.(catalogfile.Store)
	if !ok {
		t.Fatalf("%T is not a store playplane import writes to", ps)
	}
	for _, tc := range []struct {
		name string
		// afterDiff: the operator links before Apply starts; else as
		// Apply sends its write of the file's account.
		afterDiff bool
	}{
		{name: "operator links after the diff", afterDiff: true},
		{name: "operator links as the import writes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			plan, other, fileAcct, ops := playback.NewID("plan"), playback.NewID("acct"), playback.NewID("acct"), playback.NewID("acct")
			otherCus, cus := playback.NewID("cus"), playback.NewID("cus")
			f, err := catalogfile.Parse("c.json", fmt.Appendf(nil, `{
  "plans": [{"id": %[1]q, "name": "Basic", "max_streams": 1, "max_devices": 2, "max_quality": "SD"}],
  "accounts": [
    {"id": %[2]q, "plan_id": %[1]q, "territory": "DE", "status": "active", "customer_id": %[3]q},
    {"id": %[4]q, "plan_id": %[1]q, "territory": "DE", "status": "active", "customer_id": %[5]q}
  ]
}`, plan, other, otherCus, fileAcct, cus))
			if err != nil {
				t.Fatal(err)
			}
			p, err := catalogfile.Diff(ctx, store, f)
			if err != nil {
				t.Fatal(err)
			}
			s := &beforeImportWrite{Store: store, account: fileAcct}
			var opErr error
			take := func() { opErr = operatorLinks(ctx, store, ops, plan, cus) }
			if tc.afterDiff {
				take()
				if opErr != nil {
					t.Fatalf("the operator's link before the import: %v", opErr)
				}
			} else {
				s.meanwhile = take
			}
			_, applyErr := catalogfile.Apply(ctx, s, p, "cli:test", time.Now)

			var naming []string
			for _, id := range []string{other, fileAcct, ops} {
				if a, err := ps.GetAccount(ctx, id); err == nil && a.CustomerID == cus {
					naming = append(naming, id)
				}
			}
			owner, linkErr := store.AccountIDByCustomer(ctx, cus)
			if len(naming) != 1 || linkErr != nil || owner != naming[0] {
				t.Fatalf("after the import (%v) and the operator's link (%v): %v name %s, which resolves to %q (%v); want one, the one it resolves to",
					applyErr, opErr, naming, cus, owner, linkErr)
			}
			if a, err := ps.GetAccount(ctx, other); err != nil || a.CustomerID != otherCus {
				t.Fatalf("%s after the import: %+v, %v; want written, naming %s", other, a, err, otherCus)
			}
			if opErr == nil {
				// The operator's link stands: the file's account is its
				// problem, at its line, and written nothing.
				var inv *catalogfile.Invalid
				if !errors.As(applyErr, &inv) || len(inv.Problems) != 1 ||
					inv.Problems[0].Pointer != "/accounts/1/customer_id" ||
					!strings.Contains(inv.Problems[0].Message, playback.ReasonCustomerLinkedElsewhere) {
					t.Fatalf("Apply = %v; want one problem at /accounts/1/customer_id, %s", applyErr, playback.ReasonCustomerLinkedElsewhere)
				}
				if _, err := ps.GetAccount(ctx, fileAcct); !playback.IsCode(err, playback.CodeNotFound) {
					t.Fatalf("%s after its refusal: %v; want not created", fileAcct, err)
				}
				return
			}
			if e, ok := errors.AsType[*playback.Error](opErr); !ok || e.Reason != playback.ReasonCustomerLinkedElsewhere || applyErr != nil {
				t.Fatalf("the operator's link = %v, Apply = %v; want the operator refused %s and the import done",
					opErr, applyErr, playback.ReasonCustomerLinkedElsewhere)
			}
		})
	}
}
