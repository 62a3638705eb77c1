package importtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/catalogfile"
	"github.com/playplane/playplane/shared/playback"
)

// swapFile is a catalogue file of plan and the accounts ids[i] naming
// customers[i] ("" none).
func swapFile(t *testing.T, plan string, ids, customers []string) catalogfile.File {
	t.Helper()
	accts := make([]string, len(ids))
	for i, id := range ids {
		accts[i] = fmt.Sprintf(`{"id": %q, "plan_id": %q, "territory": "DE", "status": "active", "customer_id": %q}`, id, plan, customers[i])
	}
	f, err := catalogfile.Parse("c.json", fmt.Appendf(nil, `{
  "plans": [{"id": %q, "name": "Basic", "max_streams": 1, "max_devices": 2, "max_quality": "SD"}],
  "accounts": [%s]
}`, plan, strings.Join(accts, ",\n")))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// importSwap imports ids naming before, then plans (Diff) the file of
// ids naming after, which it returns.
func importSwap(t *testing.T, s catalogfile.Store, plan string, ids, before, after []string) catalogfile.Plan {
	t.Helper()
	ctx := context.Background()
	p, err := catalogfile.Diff(ctx, s, swapFile(t, plan, ids, before))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := catalogfile.Apply(ctx, s, p, "cli:test", time.Now); err != nil {
		t.Fatalf("importing the accounts before the swap: %v", err)
	}
	p, err = catalogfile.Diff(ctx, s, swapFile(t, plan, ids, after))
	if err != nil {
		t.Fatalf("Diff of the swap = %v; want a plan", err)
	}
	return p
}

// rotate is customers moved one account on: ids[i] takes ids[i+1]'s.
func rotate(customers []string) []string {
	return append(append([]string(nil), customers[1:]...), customers[0])
}

// newIDs is n new ids of prefix.
func newIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = playback.NewID(prefix)
	}
	return ids
}

// getAccount reads account id as stored, with its version.
func getAccount(ctx context.Context, s catalogfile.Store, id string) (playback.Account, string, error) {
	var a playback.Account
	r, err := s.GetRecord(ctx, playback.KindAccount, id)
	if err == nil {
		err = json.Unmarshal(r.Doc, &a)
	}
	return a, r.Version, err
}

// oneNames fails t unless each customers[i] is named by accounts[i]
// alone among accounts and others, and resolves to it.
func oneNames(t *testing.T, s catalogfile.Store, what string, accounts, customers, others []string) {
	t.Helper()
	ctx := context.Background()
	all := append(append([]string(nil), accounts...), others...)
	names := map[string][]string{}
	for _, id := range all {
		a, _, err := getAccount(ctx, s, id)
		if playback.IsCode(err, playback.CodeNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("%s: GetAccount(%s) = %v", what, id, err)
		}
		if a.CustomerID != "" {
			names[a.CustomerID] = append(names[a.CustomerID], id)
		}
	}
	for i, cus := range customers {
		owner, err := s.AccountIDByCustomer(ctx, cus)
		if got := names[cus]; len(got) != 1 || got[0] != accounts[i] || err != nil || owner != accounts[i] {
			t.Fatalf("%s: %s is named by %v and resolves to %q (%v); want named by %s alone, resolving to it",
				what, cus, got, owner, err, accounts[i])
		}
	}
}

// Swaps: a file moving customers around a cycle of its own accounts
// (two swapping, three rotating) is written as one change set, each
// customer claimed for its taker first, so that after it each account
// names the customer the file gives it, linked to it. A cycle longer than
// the store takes in one change set (playback.ChangeSetLimits; DynamoDB's
// keeps a transaction within its 100 items, and a 60-account cycle is
// beyond it) cannot be written in one, and no order of smaller writes
// keeps one account on each customer: it is
// refused, each account at its line, reason
// catalogfile.ReasonCustomerSwapTooLarge, writing nothing and leaving the
// customers as they were. Every store playplane import writes to passes it.
func Swaps(t *testing.T, ps playback.Store) {
	store, ok := ps.(catalogfile.Store)
	if !ok {
		t.Fatalf("%T is not a store playplane import writes to", ps)
	}
	maxChanges, _ := playback.ChangeSetLimits(store)
	for _, tc := range []struct {
		name string
		n    int // accounts on the cycle
		// fresh: one more account, beside the cycle, takes a new customer
		fresh bool
	}{
		{name: "two accounts swap", n: 2},
		{name: "three accounts rotate", n: 3},
		{name: "two accounts swap, a third takes a new one", n: 2, fresh: true},
		{name: "sixty accounts rotate", n: 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			plan := playback.NewID("plan")
			ids, before := newIDs("acct", tc.n), newIDs("cus", tc.n)
			after := rotate(before)
			if tc.fresh {
				ids, before, after = append(ids, playback.NewID("acct")), append(before, playback.NewID("cus")), append(after, playback.NewID("cus"))
			}
			p := importSwap(t, store, plan, ids, before, after)
			_, applyErr := catalogfile.Apply(ctx, store, p, "cli:test", time.Now)
			if tc.n <= maxChanges {
				if applyErr != nil {
					t.Fatalf("Apply = %v; want the swap written", applyErr)
				}
				oneNames(t, store, "after the swap", ids, after, nil)
				return
			}
			var inv *catalogfile.Invalid
			if !errors.As(applyErr, &inv) || len(inv.Problems) != tc.n {
				t.Fatalf("Apply of a %d-account cycle on a store taking %d changes a set = %v; want %[1]d problems, %[4]s",
					tc.n, maxChanges, applyErr, catalogfile.ReasonCustomerSwapTooLarge)
			}
			for i, pr := range inv.Problems {
				if want := fmt.Sprintf("/accounts/%d/customer_id", i); pr.Pointer != want || !strings.Contains(pr.Message, catalogfile.ReasonCustomerSwapTooLarge) {
					t.Fatalf("problem %d = %+v; want at %s, %s", i, pr, want, catalogfile.ReasonCustomerSwapTooLarge)
				}
			}
			oneNames(t, store, "after the refused swap", ids, before, nil)
			for i, cus := range before {
				if l, err := store.CustomerLink(ctx, cus); err != nil || l != (playback.CustomerLink{AccountID: ids[i]}) {
					t.Fatalf("%s's link after the refused swap = %+v, %v; want plain, to %s", cus, l, err, ids[i])
				}
			}
		})
	}
}

// aroundSwap runs before once as the import sends the change set writing
// the accounts of its cycle (more than one account), then fail instead of
// the write if set, or the write and then after.
type aroundSwap struct {
	catalogfile.Store

	mu                  sync.Mutex
	before, after, fail func() error
}

func (s *aroundSwap) ApplyChanges(ctx context.Context, cs playback.ChangeSet) (playback.AuditRecord, error) {
	accounts := 0
	for _, c := range cs.Changes {
		if c.Kind == playback.KindAccount {
			accounts++
		}
	}
	s.mu.Lock()
	var before, after, fail func() error
	if accounts > 1 && cs.Changes[0].IfMatch != "" {
		before, after, fail = s.before, s.after, s.fail
		s.before, s.after, s.fail = nil, nil, nil
	}
	s.mu.Unlock()
	if before != nil {
		if err := before(); err != nil {
			return playback.AuditRecord{}, err
		}
	}
	if fail != nil {
		return playback.AuditRecord{}, fail()
	}
	ar, err := s.Store.ApplyChanges(ctx, cs)
	if err == nil && after != nil {
		err = after()
	}
	return ar, err
}

// SwapRace: an operator links, the admin API's way, a customer that an
// import swapping two accounts' customers moves, to a third account:
// after the import's Diff, once the holder gave it up (the operator
// wins: the swap is refused, each account of it at its line,
// customer_linked_elsewhere, and nothing of it is written), as the
// import sends the swap's write, or once it is written before its links
// are plain (the import wins: the operator is refused). Whoever wins, one
// account names each customer, the one it resolves to, and the winner's
// write is whole. So when the account giving the customer up links it
// again as the swap's write is sent (an import of the file as it was, a
// checkout delivered again: no write of the account), though the import
// dies right after its write, and when the account taking it links it
// first: both are refused. Every store playplane import writes to passes it.
func SwapRace(t *testing.T, ps playback.Store) {
	store, ok := ps.(catalogfile.Store)
	if !ok {
		t.Fatalf("%T is not a store playplane import writes to", ps)
	}
	for _, tc := range []struct {
		name string
		when string // "diff", "write" or "written"
		// giver: the account giving the customer up links it again (an
		// import of a file naming it as before, a checkout delivered
		// again), which writes no account, rather than the operator.
		giver bool
		// taker: the account the swap gives the customer links it
		// first (a checkout of it delivered early), rather than the
		// operator: its own claim does not make the customer its own
		// while the giver names it.
		taker bool
		// killed: the import dies right after the swap's write, its
		// claims left pending (a link made plain meanwhile stays).
		killed bool
	}{
		{name: "operator takes it after the diff", when: "diff"},
		{name: "operator links as the import writes the swap", when: "write"},
		{name: "operator links once the swap is written", when: "written"},
		{name: "the giver links it again as the import writes the swap", when: "write", giver: true},
		{name: "the giver links it again as the import writes the swap, which dies then", when: "write", giver: true, killed: true},
		{name: "the taker links it as the import writes the swap", when: "write", taker: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			plan, ops := playback.NewID("plan"), playback.NewID("acct")
			ids, before := newIDs("acct", 2), newIDs("cus", 2)
			after := rotate(before)
			p := importSwap(t, store, plan, ids, before, after)
			s := &aroundSwap{Store: store}
			var opErr error
			// cus_a (before[0]) moves from ids[0] to ids[1].
			link := func() error { opErr = operatorLinks(ctx, store, ops, plan, before[0]); return nil }
			if tc.giver || tc.taker {
				by := ids[0]
				if tc.taker {
					by = ids[1]
				}
				link = func() error {
					_, opErr = playback.ClaimCustomer(ctx, store, before[0], playback.CustomerLink{AccountID: by}, time.Now())
					return nil
				}
			}
			switch tc.when {
			case "diff":
				// The holder gives the customer up, then the operator links it.
				a, version, err := getAccount(ctx, store, ids[0])
				if err != nil {
					t.Fatal(err)
				}
				a.CustomerID = ""
				c, err := playback.NewChange(playback.KindAccount, a)
				if err != nil {
					t.Fatal(err)
				}
				c.IfMatch = version
				if _, err := store.ApplyChanges(ctx, playback.ChangeSet{Actor: "ops-alice", At: time.Now(), Changes: []playback.Change{c}}); err != nil {
					t.Fatal(err)
				}
				if link(); opErr != nil {
					t.Fatalf("the operator's link of %s, freed, before the import: %v", before[0], opErr)
				}
			case "write":
				s.before = link
			case "written":
				s.after = link
			}
			if tc.killed {
				s.after = func() error { return playback.Unavailable(context.DeadlineExceeded, "the import was killed") }
			}
			_, applyErr := catalogfile.Apply(ctx, s, p, "cli:test", time.Now)
			if tc.when == "diff" {
				var inv *catalogfile.Invalid
				if !errors.As(applyErr, &inv) || len(inv.Problems) != 2 {
					t.Fatalf("Apply = %v; want both accounts of the swap refused", applyErr)
				}
				for i, pr := range inv.Problems {
					if want := fmt.Sprintf("/accounts/%d/customer_id", i); pr.Pointer != want || !strings.Contains(pr.Message, playback.ReasonCustomerLinkedElsewhere) {
						t.Fatalf("problem %d = %+v; want at %s, %s", i, pr, want, playback.ReasonCustomerLinkedElsewhere)
					}
				}
				// The operator's link stands; the swap wrote nothing.
				oneNames(t, store, "the operator first", []string{ops, ids[1]}, []string{before[0], before[1]}, ids[:1])
				return
			}
			if tc.giver {
				// What a link taken while the swap's write may land
				// leaves: the giver's, once the write frees it.
				oneNames(t, store, "the giver linked it again as the swap was written", ids, after, []string{ops})
			}
			if e, ok := errors.AsType[*playback.Error](opErr); !ok || e.Reason != playback.ReasonCustomerLinkedElsewhere || (applyErr != nil) != tc.killed {
				t.Fatalf("the operator's (giver %v, taker %v) link = %v, Apply = %v (killed after the write %v); want it refused %s and the swap written",
					tc.giver, tc.taker, opErr, applyErr, tc.killed, playback.ReasonCustomerLinkedElsewhere)
			}
			oneNames(t, store, "the import first", ids, after, []string{ops})
		})
	}
}

// namedOnce notes in twice the first write after which two of the
// accounts ids name one customer.
type namedOnce struct {
	catalogfile.Store
	ids []string

	mu    sync.Mutex
	twice string
}

func (s *namedOnce) ApplyChanges(ctx context.Context, cs playback.ChangeSet) (playback.AuditRecord, error) {
	ar, err := s.Store.ApplyChanges(ctx, cs)
	if err != nil {
		return ar, err
	}
	by := map[string]string{}
	for _, id := range s.ids {
		a, _, rerr := getAccount(ctx, s.Store, id)
		if rerr != nil || a.CustomerID == "" {
			continue
		}
		s.mu.Lock()
		if other, ok := by[a.CustomerID]; ok && s.twice == "" {
			s.twice = fmt.Sprintf("after the write of %d change(s) from %s, %s and %s both name %s", len(cs.Changes), cs.Changes[0].ID, other, id, a.CustomerID)
		}
		s.mu.Unlock()
		by[a.CustomerID] = id
	}
	return ar, nil
}

// SwapFails: an import swapping two accounts' customers claims each
// for its taker, then its write of the swap fails. Refused for good (an
// operator changed one of the accounts since Diff), the claims are given
// back: each customer's link is plain, to the account naming it, as
// before. Failing so that it may have landed (a timeout), or the import
// killed there, the claims are kept: they hold the customers, each named
// by the account giving it up, from an operator meanwhile, and still once
// they are PendingClaimAge old and judged as plain links (the accounts
// that name the customers hold them); importing the file again writes
// the swap, as one change set again. Every store playplane import writes to passes it.
func SwapFails(t *testing.T, ps playback.Store) {
	store, ok := ps.(catalogfile.Store)
	if !ok {
		t.Fatalf("%T is not a store playplane import writes to", ps)
	}
	for _, tc := range []struct {
		name    string
		forGood bool
	}{
		{name: "the swap's write is refused for good", forGood: true},
		{name: "the import dies between the claims and the write"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			plan, ops := playback.NewID("plan"), playback.NewID("acct")
			ids, before := newIDs("acct", 2), newIDs("cus", 2)
			after := rotate(before)
			p := importSwap(t, store, plan, ids, before, after)
			s := &aroundSwap{Store: store}
			if tc.forGood {
				// An operator changes ids[1] after the Diff.
				s.before = func() error {
					a, version, err := getAccount(ctx, store, ids[1])
					if err != nil {
						return err
					}
					a.Territory = "FR"
					c, err := playback.NewChange(playback.KindAccount, a)
					if err != nil {
						return err
					}
					c.IfMatch = version
					_, err = store.ApplyChanges(ctx, playback.ChangeSet{Actor: "ops-alice", At: time.Now(), Changes: []playback.Change{c}})
					return err
				}
			} else {
				s.fail = func() error { return playback.Unavailable(context.DeadlineExceeded, "the import was killed") }
			}
			_, applyErr := catalogfile.Apply(ctx, s, p, "cli:test", time.Now)
			if applyErr == nil {
				t.Fatal("Apply = nil; want the swap's write's failure")
			}
			if tc.forGood {
				oneNames(t, store, "after the refused swap", ids, before, nil)
				if !playback.IsCode(applyErr, playback.CodePrecondition) {
					t.Fatalf("Apply = %v; want %s", applyErr, playback.CodePrecondition)
				}
				for i, cus := range before {
					if l, err := store.CustomerLink(ctx, cus); err != nil || l != (playback.CustomerLink{AccountID: ids[i]}) {
						t.Fatalf("%s's link after the swap refused = %+v, %v; want given back, plain, to %s", cus, l, err, ids[i])
					}
				}
			} else {
				// Each account names what it did; each customer's link is
				// its taker's pending claim, as the write may have landed.
				for i, id := range ids {
					a, _, err := getAccount(ctx, store, id)
					taker := ids[(i+len(ids)-1)%len(ids)]
					l, lerr := store.CustomerLink(ctx, before[i])
					if err != nil || a.CustomerID != before[i] || lerr != nil || !l.Pending || l.AccountID != taker {
						t.Fatalf("after the failed swap %s names %q (%v), %s's link is %+v (%v); want it naming %[4]s, claimed pending for %[7]s",
							id, a.CustomerID, err, before[i], l, lerr, taker)
					}
				}
			}
			for _, at := range []time.Time{time.Now(), time.Now().Add(playback.PendingClaimAge + time.Minute)} {
				claim := playback.PendingClaim(ops, "", at)
				if prev, err := playback.ClaimCustomer(ctx, store, before[0], claim, at); !playback.IsCode(err, playback.CodeConflict) {
					t.Fatalf("an operator's claim of %s, named by %s, at %s after the failed swap = %v (it replaced %+v); want %s",
						before[0], ids[0], at.Format(time.RFC3339), err, prev, playback.ReasonCustomerLinkedElsewhere)
				}
			}
			p, err := catalogfile.Diff(ctx, store, swapFile(t, plan, ids, after))
			if err != nil {
				t.Fatal(err)
			}
			again := &namedOnce{Store: store, ids: ids}
			if _, err := catalogfile.Apply(ctx, again, p, "cli:test", time.Now); err != nil {
				t.Fatalf("importing the file again = %v; want the swap written", err)
			}
			if again.twice != "" {
				t.Fatalf("importing the file again: %s", again.twice)
			}
			oneNames(t, store, "after importing again", ids, after, nil)
		})
	}
}
