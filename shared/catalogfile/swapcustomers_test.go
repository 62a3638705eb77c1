package catalogfile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// TestImportSwapsCustomersBetweenItsAccounts: a file moving customers
// around a cycle of its own accounts (acct_a takes acct_b's customer and
// acct_b acct_a's) is a move within the file, which Diff plans and the
// import wrote until each account's change claimed its customer before
// its write: each then waited for the other to free its customer, and
// all of them were refused customer_linked_elsewhere.
func TestImportSwapsCustomersBetweenItsAccounts(t *testing.T) {
	t.Parallel()
	const stored = `{"id": "acct_a", "plan_id": "basic", "territory": "DE", "status": "active", "customer_id": "cus_a"}`
	acct := func(id, cus string) string {
		return fmt.Sprintf(`{"id": %q, "plan_id": "basic", "territory": "DE", "customer_id": %q}`, id, cus)
	}
	for _, tc := range []struct {
		name   string
		before []string // account, customer pairs
		after  []string
	}{
		{name: "two accounts swap", before: []string{"acct_a", "cus_a", "acct_b", "cus_b"},
			after: []string{"acct_a", "cus_b", "acct_b", "cus_a"}},
		{name: "three accounts rotate", before: []string{"acct_a", "cus_a", "acct_b", "cus_b", "acct_c", "cus_c"},
			after: []string{"acct_a", "cus_b", "acct_b", "cus_c", "acct_c", "cus_a"}},
		{name: "two accounts swap, a third takes a new one", before: []string{"acct_a", "cus_a", "acct_b", "cus_b", "acct_c", "cus_c"},
			after: []string{"acct_a", "cus_b", "acct_b", "cus_a", "acct_c", "cus_new"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := openBolt(t)
			file := func(pairs []string) File {
				var accts []string
				for i := 0; i < len(pairs); i += 2 {
					accts = append(accts, acct(pairs[i], pairs[i+1]))
				}
				f, err := Parse("c.json", []byte(strings.Replace(goodJSON, stored, strings.Join(accts, ", "), 1)))
				if err != nil {
					t.Fatal(err)
				}
				return f
			}
			importFile(t, s, file(tc.before))
			plan, err := Diff(ctx, s, file(tc.after))
			if err != nil {
				t.Fatalf("Diff = %v, want a plan", err)
			}
			_, applyErr := Apply(ctx, s, plan, "cli:test", time.Now)
			for i := 0; i < len(tc.after); i += 2 {
				id, cus := tc.after[i], tc.after[i+1]
				a, err := s.GetAccount(ctx, id)
				owner, linkErr := s.AccountIDByCustomer(ctx, cus)
				if applyErr != nil || err != nil || a.CustomerID != cus || linkErr != nil || owner != id {
					t.Fatalf("Apply = %v; %s names %q (%v), %s resolves to %q (%v); want %s naming %s, linked",
						applyErr, id, a.CustomerID, err, cus, owner, linkErr, id, cus)
				}
			}
		})
	}
}

// asCycleWrites is a store whose write of account runs meanwhile once
// it is written, once: before the import's links name the accounts as
// written.
type asCycleWrites struct {
	Store
	account   string
	meanwhile func()
}

func (s *asCycleWrites) ApplyChanges(ctx context.Context, cs playback.ChangeSet) (playback.AuditRecord, error) {
	ar, err := s.Store.ApplyChanges(ctx, cs)
	for _, c := range cs.Changes {
		if c.ID == s.account && s.meanwhile != nil {
			run := s.meanwhile
			s.meanwhile = nil
			run()
			break
		}
	}
	return ar, err
}

// TestImportSwappingCustomersHoldsThem: an operator claiming, the admin
// API's way, a customer the file's accounts swap, once the swap is
// written and before the import makes its links plain, is refused
// customer_linked_elsewhere: the links still name the accounts that gave
// the customers up, so the customers are held for their takers by claims
// made before the write, and one account names each.
func TestImportSwappingCustomersHoldsThem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const stored = `{"id": "acct_a", "plan_id": "basic", "territory": "DE", "status": "active", "customer_id": "cus_a"}`
	file := func(accounts string) File {
		f, err := Parse("c.json", []byte(strings.Replace(goodJSON, stored, accounts, 1)))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	db := openBolt(t)
	importFile(t, db, file(`{"id": "acct_a", "plan_id": "basic", "territory": "DE", "customer_id": "cus_a"}, {"id": "acct_b", "plan_id": "basic", "territory": "DE", "customer_id": "cus_b"}`))
	plan, err := Diff(ctx, db, file(`{"id": "acct_a", "plan_id": "basic", "territory": "DE", "customer_id": "cus_b"}, {"id": "acct_b", "plan_id": "basic", "territory": "DE", "customer_id": "cus_a"}`))
	if err != nil {
		t.Fatal(err)
	}
	var opErr error
	s := &asCycleWrites{Store: db, account: "acct_b", meanwhile: func() {
		_, opErr = playback.ClaimCustomer(ctx, db, "cus_a", playback.PendingClaim("acct_ops", "", time.Now()), time.Now())
	}}
	_, applyErr := Apply(ctx, s, plan, "cli:test", time.Now)
	e, ok := errors.AsType[*playback.Error](opErr)
	if applyErr != nil || !ok || e.Reason != playback.ReasonCustomerLinkedElsewhere {
		t.Fatalf("Apply = %v, the operator's claim of cus_a as the swap is written = %v; want the swap written, the operator refused %s",
			applyErr, opErr, playback.ReasonCustomerLinkedElsewhere)
	}
	for id, cus := range map[string]string{"acct_a": "cus_b", "acct_b": "cus_a"} {
		if owner, err := db.AccountIDByCustomer(ctx, cus); err != nil || owner != id {
			t.Fatalf("%s resolves to %q (%v); want %s", cus, owner, err, id)
		}
	}
}
