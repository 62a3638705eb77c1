package catalogfile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/steering"
)

// listPage is the page size of the reads of a whole kind.
const listPage = 1000

// Store is what import and export need of a store, with the sessions of
// the accounts an import leaves unable to play, which it ends.
type Store interface {
	playback.AdminStore
	playback.SessionEnder
	events.LinkingStore
	AccountIDByCustomer(ctx context.Context, customerID string) (string, error)
	CustomerLink(ctx context.Context, customerID string) (playback.CustomerLink, error)
	SwapCustomerLink(ctx context.Context, customerID string, from, to playback.CustomerLink) (bool, error)
}

// Plan is what importing a file would change: the record changes, each
// conditioned on the version read (or on absence), and the coverage zone
// file if it differs from the latest stored.
type Plan struct {
	Changes []PlannedChange
	// CoverageZones is the file to upload, nil when unchanged; it must
	// find CoverageZonesBase the latest version.
	CoverageZones     []byte
	CoverageZonesBase int64
	// Links are the customer → account links of the file's accounts.
	Links     map[string]string
	Unchanged map[playback.Kind]int
	// EndSessions are the file's accounts that, as written, may not play
	// (playback.MayNeverPlay), changed or not: Apply ends their running
	// sessions once the accounts are written, as the admin API does after
	// every write of an account, so importing again ends what a failed
	// import left running.
	EndSessions []string
}

// PlannedChange is one record change with what it changes.
type PlannedChange struct {
	playback.Change
	Op     string
	Before json.RawMessage
	// Pointer is where the file sets the record ("/accounts/3"), for
	// the problems Apply finds in it; "" for a change of another kind.
	Pointer string
}

// Empty reports whether importing changes nothing.
func (p Plan) Empty() bool { return len(p.Changes) == 0 && p.CoverageZones == nil }

// Counts are the changes by kind and op.
func (p Plan) Counts() map[playback.Kind]map[string]int {
	out := map[playback.Kind]map[string]int{}
	for _, c := range p.Changes {
		if out[c.Kind] == nil {
			out[c.Kind] = map[string]int{}
		}
		out[c.Kind][c.Op]++
	}
	return out
}

// current reads every record of kind.
func current(ctx context.Context, s playback.AdminStore, kind playback.Kind) (map[string]playback.Record, error) {
	out := map[string]playback.Record{}
	after := ""
	for {
		p, err := s.ListRecords(ctx, kind, after, listPage)
		if err != nil {
			return nil, fmt.Errorf("list %ss: %w", kind, err)
		}
		for _, r := range p.Records {
			out[r.ID] = r
		}
		if p.Next == "" {
			return out, nil
		}
		after = p.Next
	}
}

// Diff plans the import of f (parsed by Parse) into s, now: DiffAt.
func Diff(ctx context.Context, s playback.AdminStore, f File) (Plan, error) {
	return DiffAt(ctx, s, f, time.Now())
}

// DiffAt plans the import of f (parsed by Parse) into s as written at now
// (the start of a grace an account moves into). Nothing is written.
// Records the file does not name are left as they are.
func DiffAt(ctx context.Context, s playback.AdminStore, f File, now time.Time) (Plan, error) {
	plan := Plan{Unchanged: map[playback.Kind]int{}, Links: map[string]string{}}
	stored := map[playback.Kind]map[string]playback.Record{}
	for _, kind := range playback.Kinds {
		if kind == playback.KindAccount && len(f.Accounts) == 0 {
			continue
		}
		recs, err := current(ctx, s, kind)
		if err != nil {
			return plan, err
		}
		stored[kind] = recs
	}
	add := func(kind playback.Kind, id string, want any, pointer string) error {
		// The domain value encoded once, in the canonical form the store
		// writes as it is.
		ch, err := playback.NewChange(kind, want)
		if err != nil {
			return err
		}
		doc := ch.Doc
		c := PlannedChange{Change: ch, Op: playback.OpCreate, Pointer: pointer}
		if r, ok := stored[kind][id]; ok {
			have, err := playback.CanonicalDoc(kind, id, r.Doc)
			if err == nil && bytes.Equal(have, doc) {
				plan.Unchanged[kind]++
				return nil
			}
			c.Op, c.IfMatch, c.Before = playback.OpUpdate, r.Version, r.Doc
		} else {
			c.IfAbsent = true
		}
		plan.Changes = append(plan.Changes, c)
		return nil
	}
	for _, p := range f.Plans {
		if err := add(playback.KindPlan, p.ID, p, ""); err != nil {
			return plan, err
		}
	}
	for _, t := range f.Titles {
		if err := add(playback.KindTitle, t.ID, t, ""); err != nil {
			return plan, err
		}
	}
	for _, e := range f.Edges {
		var have playback.Edge
		if r, ok := stored[playback.KindEdge][e.ID]; ok {
			if err := json.Unmarshal(r.Doc, &have); err != nil {
				return plan, fmt.Errorf("stored edge %q: %w", e.ID, err)
			}
		} else {
			// A new edge, never heard from, is stale: steering skips it
			// until its first health report (Traffic Monitor holds a cache
			// unavailable until its first poll), whatever Healthy starts as.
			have.Healthy = true
		}
		if err := add(playback.KindEdge, e.ID, e.Apply(have), ""); err != nil {
			return plan, err
		}
	}
	plans := map[string]bool{}
	for _, p := range f.Plans {
		plans[p.ID] = true
	}
	for id := range stored[playback.KindPlan] {
		plans[id] = true
	}
	named, err := namedElsewhere(stored[playback.KindAccount], f.Accounts)
	if err != nil {
		return plan, err
	}
	for i, a := range f.Accounts {
		// "" (check: a linked account) waits for its customer's events.
		if a.PlanID != "" && !plans[a.PlanID] {
			return plan, &Invalid{Name: "accounts", Problems: []Problem{{Pointer: fmt.Sprintf("/accounts/%d/plan_id", i),
				Message: fmt.Sprintf("plan %q is neither in the file nor in the store", a.PlanID)}}}
		}
		if ps := a.DateProblems(fmt.Sprintf("/accounts/%d", i), now); len(ps) > 0 {
			return plan, &Invalid{Name: "accounts", Problems: ps}
		}
		var have playback.Account
		if r, ok := stored[playback.KindAccount][a.ID]; ok {
			if err := json.Unmarshal(r.Doc, &have); err != nil {
				return plan, fmt.Errorf("stored account %q: %w", a.ID, err)
			}
		}
		if owned := a.PaymentOwned(have); len(owned) > 0 {
			ps := make([]Problem, len(owned))
			for j, field := range owned {
				ps[j] = Problem{Pointer: fmt.Sprintf("/accounts/%d%s", i, field), Message: fmt.Sprintf(
					"account %q is billed by Stripe customer %q, whose events set this: change it in Stripe (%s), or leave it as stored",
					a.ID, have.CustomerID, playback.ReasonManagedInStripe)}
			}
			return plan, &Invalid{Name: "accounts", Problems: ps}
		}
		if other, ok := named[a.CustomerID]; ok && a.CustomerID != have.CustomerID {
			e := playback.LinkedElsewhere(a.CustomerID, a.ID, other)
			return plan, &Invalid{Name: "accounts", Problems: []Problem{{Pointer: fmt.Sprintf("/accounts/%d/customer_id", i),
				Message: fmt.Sprintf("%s (%s)", e.Message, e.Reason)}}}
		}
		written := a.Apply(have, now)
		if err := add(playback.KindAccount, a.ID, written, fmt.Sprintf("/accounts/%d", i)); err != nil {
			return plan, err
		}
		if playback.MayNeverPlay(written) {
			plan.EndSessions = append(plan.EndSessions, a.ID)
		}
		if a.CustomerID != "" {
			plan.Links[a.CustomerID] = a.ID
		}
	}
	if len(f.CoverageZones) > 0 {
		latest, err := s.GetCoverageZones(ctx, 0)
		switch {
		case playback.IsCode(err, playback.CodeNotFound):
			plan.CoverageZones = f.CoverageZones
		case err != nil:
			return plan, fmt.Errorf("coverage zones: %w", err)
		default:
			var have bytes.Buffer
			if json.Compact(&have, latest.Data) != nil || !bytes.Equal(have.Bytes(), f.CoverageZones) {
				plan.CoverageZones, plan.CoverageZonesBase = f.CoverageZones, latest.Version
			}
		}
	}
	return plan, nil
}

// namedElsewhere maps each customer a stored account the file leaves out
// names to that account: the file may not link it to another
// (playback.ReasonCustomerLinkedElsewhere), as the admin API may not.
// An account in the file names what the file says (check refuses a
// customer on two of them), so the file may move a customer between its
// own accounts.
func namedElsewhere(stored map[string]playback.Record, accounts []Account) (map[string]string, error) {
	inFile := make(map[string]bool, len(accounts))
	for _, a := range accounts {
		inFile[a.ID] = true
	}
	named := map[string]string{}
	for id, r := range stored {
		if inFile[id] {
			continue
		}
		var a struct {
			CustomerID string `json:"customer_id"`
		}
		if err := json.Unmarshal(r.Doc, &a); err != nil {
			return nil, fmt.Errorf("stored account %q: %w", id, err)
		}
		if a.CustomerID != "" {
			named[a.CustomerID] = id
		}
	}
	return named, nil
}

// Report is what Apply wrote.
type Report struct {
	Sets          int                              `json:"change_sets"`
	Counts        map[playback.Kind]map[string]int `json:"changes"`
	Unchanged     map[playback.Kind]int            `json:"unchanged"`
	CoverageZones int64                            `json:"coverage_zones_version,omitempty"`
}

// Apply writes plan in change sets as large as the store takes, a few at
// a time, kind after kind in the order of playback.Kinds (plans before the
// accounts on them). Every change is conditioned on the version Diff
// read: if a record changed since, Apply stops with CodePrecondition, and
// the sets it wrote stay (diffing again and applying resumes, since an
// import is idempotent).
//
// On a store that is a playback.BulkCreator (DynamoDB), new plans, titles
// and edges are written with CreateRecords instead: resumable rather than
// atomic, and without the condition that they are still absent (see
// BulkCreator). A failed or killed import leaves some of them; importing
// the file again creates the rest.
//
// An account change naming a customer the account as read does not is
// written on its own, after the others of its kind, holding the customer
// as the admin API's write does (claimAndWrite): one that another account
// holds by then is refused customer_linked_elsewhere, writing nothing for
// that account; Apply goes on with the rest and returns those refusals
// last, as an *Invalid naming each account's line.
//
// The accounts written, Apply ends the running sessions of plan.EndSessions.
func Apply(ctx context.Context, s Store, plan Plan, actor string, now func() time.Time) (Report, error) {
	return ApplyParallel(ctx, s, plan, actor, now, 1)
}

// ApplyParallel is Apply with up to parallel change sets in flight. Each
// set is a round trip, so a cloud store's latency-bound import goes
// faster with a few; DynamoDB Local, which serialises transactions, and
// bolt, which commits one at a time, measured slower with more than one.
func ApplyParallel(ctx context.Context, s Store, plan Plan, actor string, now func() time.Time, parallel int) (Report, error) {
	parallel = max(parallel, 1)
	rep := Report{Counts: plan.Counts(), Unchanged: plan.Unchanged}
	// The payment events parked waiting for an account this import
	// creates are handed to the payment webhook's sweeper before the
	// writes, so that an import killed after them loses none, and again
	// after them, for those parked between (see events.CreateStripeAccount).
	created := createdAccounts(plan)
	if err := wakeCreatedAccounts(ctx, s, created, now); err != nil {
		return rep, err
	}
	// So are those parked while an account of the file held a customer
	// it stops naming (events.FreeStripeCustomer: a checkout linking it
	// to another account waits under the customer's held key).
	freed, err := freedCustomers(plan)
	if err != nil {
		return rep, err
	}
	if _, err := events.WakeFreedStripeCustomers(ctx, s, freed, events.WakePage, now()); err != nil {
		return rep, fmt.Errorf("waking the payment events parked for the customers the file frees: %w", err)
	}
	bulk, _ := s.(playback.BulkCreator)
	// The accounts refused for naming a customer another account holds,
	// by id: written nothing, they are left out of what follows the
	// writes and reported, each at its line, once the rest is done.
	refused := map[string]*playback.Error{}
	for _, kind := range playback.Kinds {
		var changes, creates []playback.Change
		var claims []claimed
		for _, c := range plan.Changes {
			customer := ""
			if c.Kind == kind && kind == playback.KindAccount {
				var err error
				if customer, err = customerNamed(c); err != nil {
					return rep, err
				}
			}
			switch {
			case c.Kind != kind:
			case customer != "":
				claims = append(claims, claimed{PlannedChange: c, customer: customer})
			case bulk != nil && playback.CheckBulkCreates(playback.ChangeSet{Changes: []playback.Change{c.Change}}) == nil:
				creates = append(creates, c.Change)
			default:
				changes = append(changes, c.Change)
			}
		}
		if bulk != nil {
			n, err := applySets(ctx, split(creates, bulk.BulkLimits), actor, now, parallel, bulk.CreateRecords)
			rep.Sets += n
			if err != nil {
				return rep, err
			}
		}
		sets := split(changes, func() (int, int) { return playback.ChangeSetLimits(s) })
		n, err := applySets(ctx, sets, actor, now, parallel, s.ApplyChanges)
		rep.Sets += n
		if err != nil {
			return rep, err
		}
		// After the others of their kind, which may free the customers
		// they name (an account of the file that names another now).
		n, err = claimAndWrite(ctx, s, claims, actor, now, refused)
		rep.Sets += n
		if err != nil {
			return rep, err
		}
	}
	if err := wakeCreatedAccounts(ctx, s, created, now); err != nil {
		return rep, fmt.Errorf("the accounts are written: %w", err)
	}
	if _, err := events.WakeFreedStripeCustomers(ctx, s, freed, events.WakePage, now()); err != nil {
		return rep, fmt.Errorf("the accounts are written, waking the payment events parked for the customers the file frees: %w", err)
	}
	for _, id := range plan.EndSessions {
		if refused[id] != nil {
			continue // not written: as it was, and so were its sessions
		}
		if err := playback.EndLostEntitlement(ctx, s, id, now()); err != nil {
			return rep, fmt.Errorf("account %q is written and may not play, ending its sessions failed: %w", id, err)
		}
	}
	for _, cus := range slices.Sorted(maps.Keys(plan.Links)) {
		if refused[plan.Links[cus]] != nil {
			continue
		}
		// Importing an unchanged file links again what a stopped import
		// left unlinked; a link in place is not written again, but the
		// payment events parked for it are still woken. Without a bus,
		// the payment webhook's sweeper announces them (after its first
		// backoff, a minute by default), as it would after any wake.
		if id, err := s.AccountIDByCustomer(ctx, cus); err == nil && id == plan.Links[cus] {
			if _, err := events.WakeStripeCustomer(ctx, s, nil, cus, events.WakePage, now()); err != nil {
				return rep, fmt.Errorf("customer %q is linked, waking its parked payment events failed: %w", cus, err)
			}
			continue
		}
		// The file's accounts are written: the link is claimed as they
		// are, so one that an account of the file no longer names moves
		// (Diff refused one a stored account names, unless it took the
		// customer since).
		if _, err := events.ClaimStripeCustomer(ctx, s, nil, cus, events.WakePage, now, func() error {
			_, err := playback.ClaimCustomer(ctx, s, cus, playback.CustomerLink{AccountID: plan.Links[cus]}, now())
			return err
		}); err != nil {
			return rep, fmt.Errorf("link customer %q: %w", cus, err)
		}
	}
	if plan.CoverageZones != nil {
		cz, err := s.PutCoverageZones(ctx, playback.CoverageZonesUpload{Data: plan.CoverageZones, Actor: actor, At: now(),
			IfVersion: plan.CoverageZonesBase})
		if err != nil {
			return rep, fmt.Errorf("coverage zones: %w", err)
		}
		rep.CoverageZones = cz.Version
	}
	if len(refused) > 0 {
		return rep, refusedLines(plan, refused, rep.Counts)
	}
	return rep, nil
}

// claimed is an account change naming a customer that the account as
// read does not.
type claimed struct {
	PlannedChange
	customer string
}

// freedCustomers are the customers the accounts plan changes name as
// read and no longer as written.
func freedCustomers(plan Plan) ([]string, error) {
	var out []string
	for _, c := range plan.Changes {
		if c.Kind != playback.KindAccount {
			continue
		}
		before, after, err := customers(c)
		if err != nil {
			return nil, err
		}
		if before != "" && before != after {
			out = append(out, before)
		}
	}
	return out, nil
}

// customerNamed is the customer account change c names that the record
// as read does not ("" when none).
func customerNamed(c PlannedChange) (string, error) {
	before, after, err := customers(c)
	if err != nil || after == before {
		return "", err
	}
	return after, nil
}

// customers are the customers account change c's record names as read
// and as written.
func customers(c PlannedChange) (before, after string, err error) {
	var a, b struct {
		CustomerID string `json:"customer_id"`
	}
	if err := json.Unmarshal(c.Doc, &a); err != nil {
		return "", "", fmt.Errorf("account %q to write: %w", c.ID, err)
	}
	if c.Before != nil {
		if err := json.Unmarshal(c.Before, &b); err != nil {
			return "", "", fmt.Errorf("stored account %q: %w", c.ID, err)
		}
	}
	return b.CustomerID, a.CustomerID, nil
}

// claimAndWrite writes the account changes claims one at a time, each
// holding its customer as an operator's write through the admin API does
// (functions/admin's claimFor): claimed first, pending on the version the
// change is conditioned on (playback.ClaimCustomer), so that an operator
// who took the customer since Diff read the accounts, or takes it while
// the import runs, either holds it and the change is refused, writing
// nothing, or finds it held by the import's claim and is refused. Linking
// after the write, as before, let both accounts name the customer. A
// change refused customer_linked_elsewhere by another change's account
// waits until the others are written, as that one may free the customer
// (the file moves it between its accounts); one still refused then is
// recorded in refused, by account. It stops at any other failure, as
// Apply does, and returns how many it wrote.
func claimAndWrite(ctx context.Context, s Store, claims []claimed, actor string, now func() time.Time, refused map[string]*playback.Error) (int, error) {
	written := 0
	for len(claims) > 0 {
		inPlan := make(map[string]bool, len(claims))
		for _, c := range claims {
			inPlan[c.ID] = true
		}
		var wait []claimed
		last := map[string]*playback.Error{}
		for _, c := range claims {
			err := claimFor(ctx, s, c, actor, now)
			e, elsewhere := errors.AsType[*playback.Error](err)
			elsewhere = elsewhere && e.Reason == playback.ReasonCustomerLinkedElsewhere
			switch {
			case err == nil:
				written++
			case elsewhere && inPlan[heldBy(e)] && heldBy(e) != c.ID:
				wait, last[c.ID] = append(wait, c), e
			case elsewhere:
				refused[c.ID] = e
			default:
				return written, fmt.Errorf("account %q naming customer %q: %w", c.ID, c.customer, err)
			}
		}
		if len(wait) == len(claims) {
			// None written: each waits for another of them, so some
			// move their customers around a cycle (acct_a takes
			// acct_b's, acct_b acct_a's), which no order of single
			// writes frees; each cycle is written as one.
			cycled, sets, err := writeCycles(ctx, s, wait, last, refused, actor, now)
			written += sets
			if err != nil {
				return written, err
			}
			wait = slices.DeleteFunc(wait, func(c claimed) bool { return cycled[c.ID] || refused[c.ID] != nil })
			if len(cycled) == 0 {
				for _, c := range wait {
					refused[c.ID] = last[c.ID]
				}
				break
			}
		}
		claims = wait
	}
	return written, nil
}

// writeCycles writes the cycles among wait, each claims of which was
// refused (last) for a customer another of them holds: the accounts of a
// cycle in one change set, conditioned on the versions each is as read,
// so that each frees the customer the next takes in the same write. Each
// customer is claimed pending for its taker before the write, from the
// link its holder in the cycle has (SwapCustomerLink: a link moved since
// is another writer's, and the cycle is left to be refused), as claimFor
// claims one. A cycle it cannot claim is left out (refused by the caller,
// as before). One larger than a change set of s is refused, each of its
// accounts in refused, ReasonCustomerSwapTooLarge: written in several
// sets, one set would leave an account naming the customer another
// still names until the next. It returns the accounts it wrote and in how
// many change sets.
func writeCycles(ctx context.Context, s Store, wait []claimed, last, refused map[string]*playback.Error, actor string, now func() time.Time) (written map[string]bool, sets int, err error) {
	byID := make(map[string]claimed, len(wait))
	for _, c := range wait {
		byID[c.ID] = c
	}
	maxChanges, maxBytes := playback.ChangeSetLimits(s)
	done := map[string]bool{}
	written = map[string]bool{}
	for _, start := range wait {
		// Follow the holders from start until one repeats: the repeated
		// one is on a cycle, which is walked once more to collect it.
		seen := map[string]bool{}
		id, ended := start.ID, false
		for !seen[id] && !done[id] && !ended {
			seen[id] = true
			next, ok := byID[heldBy(last[id])]
			id, ended = next.ID, !ok
		}
		if ended || done[id] {
			continue // not on a cycle, or one already written
		}
		var cycle []claimed
		size := 0
		for c := byID[id]; ; c = byID[heldBy(last[c.ID])] {
			cycle, size = append(cycle, c), size+len(c.Doc)
			done[c.ID] = true
			if heldBy(last[c.ID]) == id {
				break
			}
		}
		if len(cycle) > maxChanges || size > maxBytes {
			for _, c := range cycle {
				refused[c.ID] = swapTooLarge(c, len(cycle), size, maxChanges, maxBytes)
			}
			continue
		}
		err := claimCycle(ctx, s, cycle, actor, now)
		if e, ok := errors.AsType[*playback.Error](err); ok && e.Reason == playback.ReasonCustomerLinkedElsewhere {
			continue // an operator's link since: refused with the rest
		}
		if err != nil {
			return written, sets, fmt.Errorf("accounts moving customers between them %v: %w", cycleIDs(cycle), err)
		}
		for _, c := range cycle {
			written[c.ID] = true
		}
		sets++
	}
	return written, sets, nil
}

// ReasonCustomerSwapTooLarge is the reason an account of a file moving
// customers around a cycle of its accounts is refused when the cycle is
// larger than the store writes in one change set
// (playback.ChangeSetLimits), as which it must be written.
const ReasonCustomerSwapTooLarge = "customer_swap_too_large"

func swapTooLarge(c claimed, n, size, maxChanges, maxBytes int) *playback.Error {
	return playback.Errorf(playback.CodeInvalid, ReasonCustomerSwapTooLarge,
		"account %q takes customer %q in a cycle of %d accounts of the file moving customers between them (%d bytes), "+
			"which is written in one change set, and this store takes at most %d changes (%d bytes) in one: "+
			"move the customers in smaller cycles, one import each (say, first give one of the accounts no customer_id)",
		c.ID, c.customer, n, size, maxChanges, maxBytes)
}

func cycleIDs(cycle []claimed) []string {
	ids := make([]string, len(cycle))
	for i, c := range cycle {
		ids[i] = c.ID
	}
	return ids
}

// claimCycle claims each customer of cycle for its taker, pending, from
// the holder in the cycle that frees it, writes the cycle's changes in
// one set, and makes the claims plain; a write refused for good gives
// the claims back. The parked payment events of each customer are
// handed to the sweeper around it, as claimFor's are.
func claimCycle(ctx context.Context, s Store, cycle []claimed, actor string, now func() time.Time) error {
	write := func() error {
		at := now()
		inCycle := make(map[string]bool, len(cycle))
		for _, c := range cycle {
			inCycle[c.ID] = true
		}
		claims := make([]playback.CustomerLink, len(cycle))
		prevs := make([]playback.CustomerLink, len(cycle))
		giveBack := func(n int) error {
			var errs []error
			for i := range n {
				if _, err := s.SwapCustomerLink(ctx, cycle[i].customer, claims[i], prevs[i]); err != nil {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		}
		for i, c := range cycle {
			prev, err := s.CustomerLink(ctx, c.customer)
			// The account of the cycle that names the customer: prev's,
			// or, where prev is c's own claim left by an import of this
			// cycle that died before its write, the one it takes it from.
			holder := prev.AccountID
			if prev.Pending && prev.AccountID == c.ID && prev.From != "" {
				holder = prev.From
			}
			if err == nil && (!inCycle[holder] || holder == c.ID) {
				err = playback.LinkedElsewhere(c.customer, c.ID, holder)
			}
			// From: should the write never land, the holder, which still
			// names the customer, keeps it once the claim is stale.
			claims[i], prevs[i] = playback.PendingClaim(c.ID, c.IfMatch, at), prev
			claims[i].From = holder
			if err == nil {
				var swapped bool
				if swapped, err = s.SwapCustomerLink(ctx, c.customer, prev, claims[i]); err == nil && !swapped {
					err = playback.LinkedElsewhere(c.customer, c.ID, prev.AccountID)
				}
			}
			if err != nil {
				if gerr := giveBack(i); gerr != nil {
					return fmt.Errorf("%w (giving the claims back failed too, they hold the customers %v at most: %v)", err, playback.PendingClaimAge, gerr)
				}
				return err
			}
		}
		wctx, cancel, err := playback.ClaimWriteContext(ctx, at, now())
		changes := make([]playback.Change, len(cycle))
		for i, c := range cycle {
			// Each adopts the subscriptions of its customer that the
			// account it takes it from holds, as stored (adoptFrom).
			changes[i] = c.Change
			if err == nil {
				changes[i].Doc, err = adoptFrom(ctx, s, prevs[i].AccountID, c.customer, c.Doc)
			}
		}
		if err == nil {
			_, err = s.ApplyChanges(wctx, playback.ChangeSet{Actor: actor, At: now(), Changes: changes})
		}
		cancel()
		switch {
		case err == nil:
			for i, c := range cycle {
				if _, err := s.SwapCustomerLink(ctx, c.customer, claims[i], playback.CustomerLink{AccountID: c.ID}); err != nil {
					return fmt.Errorf("the accounts are written, making customer %q's link plain failed: %w", c.customer, err)
				}
			}
		case !playback.ErrorCode(err).Retryable():
			if gerr := giveBack(len(cycle)); gerr != nil {
				return fmt.Errorf("%w (giving the claims back failed too, they hold the customers %v at most: %v)", err, playback.PendingClaimAge, gerr)
			}
		}
		return err
	}
	for _, c := range cycle {
		inner, customer := write, c.customer
		write = func() error {
			_, err := events.ClaimStripeCustomer(ctx, s, nil, customer, events.WakePage, now, inner)
			return err
		}
	}
	return write()
}

// heldBy is the account that holds the customer of a
// customer_linked_elsewhere refusal.
func heldBy(e *playback.Error) string {
	d, _ := e.Details.(playback.CustomerLinkedElsewhere)
	return d.AccountID
}

// claimFor claims c's customer for c's account, pending on the version c
// is conditioned on, writes c, and makes the claim plain; a write refused
// for good gives the claim back, one that may have landed keeps it (the
// import run again claims it again). The payment events parked for the
// customer are handed to the payment webhook's sweeper around it
// (events.ClaimStripeCustomer; an import has no bus).
func claimFor(ctx context.Context, s Store, c claimed, actor string, now func() time.Time) error {
	at := now()
	holder, err := playback.CustomerHolder(ctx, s, c.customer, c.ID)
	if err != nil {
		return err
	}
	_, err = events.ClaimStripeCustomer(ctx, s, nil, c.customer, events.WakePage, now, func() error {
		// The write is not sent once the claim may be taken as stale
		// (playback.PendingClaimWrite): an import stalled past it.
		out, err := playback.WriteClaimed(ctx, s, c.customer, c.ID, c.IfMatch, at, now, func(wctx context.Context) error {
			change := c.Change
			change.Doc, err = adoptFrom(wctx, s, holder, c.customer, c.Doc)
			if err != nil {
				return err
			}
			_, err := s.ApplyChanges(wctx, playback.ChangeSet{Actor: actor, At: now(), Changes: []playback.Change{change}})
			return err
		})
		switch {
		case out.LinkErr != nil && out.Written:
			// The version written frees the claim all the same (a lost
			// swap is another writer's move), but one pending on "" reads
			// as held again should the account be deleted: said. Importing
			// again does not make it plain (the account already names the
			// customer, so the link step only wakes its events); the claim
			// holds at most playback.PendingClaimAge.
			return fmt.Errorf("the account is written, making the customer's link plain failed: %w", out.LinkErr)
		case out.LinkErr != nil:
			return fmt.Errorf("%w (giving the claim back failed too, it holds the customer %v at most: %v)", err, playback.PendingClaimAge, out.LinkErr)
		}
		return err
	})
	return err
}

// adoptFrom is doc, an account's document naming customer, with the
// subscriptions of customer that holder, the account whose link to
// customer the write takes (playback.CustomerHolder, "" none), holds as
// stored now, once the claim routes the customer's events to doc's
// account: its events went there while holder linked it, and they go
// with the customer (playback.Account.AdoptSubscriptions).
func adoptFrom(ctx context.Context, s Store, holder, customer string, doc json.RawMessage) (json.RawMessage, error) {
	from, err := playback.StoredAccount(ctx, s, holder)
	if err != nil {
		return doc, fmt.Errorf("account %q, which held customer %q: %w", holder, customer, err)
	}
	doc, _, err = playback.AdoptInto(doc, from, customer)
	return doc, err
}

// refusedLines is the error of the accounts refused (claimAndWrite), at
// their lines of the file, with the reason, as Diff's refusal of a file
// naming a customer a stored account holds; the counts of what was
// written leave them out.
func refusedLines(plan Plan, refused map[string]*playback.Error, counts map[playback.Kind]map[string]int) error {
	inv := &Invalid{Name: "accounts"}
	for _, c := range plan.Changes {
		e := refused[c.ID]
		if c.Kind != playback.KindAccount || e == nil {
			continue
		}
		counts[c.Kind][c.Op]--
		inv.Problems = append(inv.Problems, Problem{Pointer: c.Pointer + "/customer_id",
			Message: fmt.Sprintf("%s (%s); nothing was written for account %q", e.Message, e.Reason, c.ID)})
	}
	return inv
}

// createdAccounts are the ids of the accounts plan creates.
func createdAccounts(plan Plan) []string {
	var ids []string
	for _, c := range plan.Changes {
		if c.Kind == playback.KindAccount && c.IfAbsent {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// wakeCreatedAccounts hands the payment events parked waiting for the
// accounts ids to the payment webhook's sweeper (an import has no bus),
// which announces them after its first backoff (SweepAge, a minute by
// default). Each account's own parked events are listed: a count of the
// events parked for any account (CountParkedEvents) would save those reads
// on an import of many accounts, but on DynamoDB it reads an index that
// may lag a park, and an event it missed would be parked for an account
// that exists, which nothing retries.
func wakeCreatedAccounts(ctx context.Context, s Store, ids []string, now func() time.Time) error {
	for _, id := range ids {
		if _, err := events.WakeStripeAccount(ctx, s, nil, id, events.WakePage, now()); err != nil {
			return fmt.Errorf("account %q: waking its parked payment events: %w", id, err)
		}
	}
	return nil
}

// split cuts changes into sets within limits.
func split(changes []playback.Change, limits func() (changes, bytes int)) [][]playback.Change {
	if len(changes) == 0 {
		return nil
	}
	maxChanges, maxBytes := limits()
	var sets [][]playback.Change
	var batch []playback.Change
	size := 0
	for _, c := range changes {
		if len(batch) == maxChanges || len(batch) > 0 && size+len(c.Doc) > maxBytes {
			sets, batch, size = append(sets, batch), nil, 0
		}
		batch = append(batch, c)
		size += len(c.Doc)
	}
	return append(sets, batch)
}

// applySets writes sets with write, parallel at a time; after the first
// failure it starts no more and returns that failure with how many were
// applied.
func applySets(ctx context.Context, sets [][]playback.Change, actor string, now func() time.Time, parallel int,
	write func(context.Context, playback.ChangeSet) (playback.AuditRecord, error)) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		applied int
		first   error
	)
	sem := make(chan struct{}, parallel)
	for _, set := range sets {
		sem <- struct{}{}
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop {
			<-sem
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			_, err := write(ctx, playback.ChangeSet{Actor: actor, At: now(), Changes: set})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				applied++
			case first == nil:
				first = fmt.Errorf("change set of %d %ss from %q: %w", len(set), set[0].Kind, set[0].ID, err)
				cancel()
			}
		})
	}
	wg.Wait()
	return applied, first
}

// PrintDiff writes plan for people: one line per change, and the fields
// an update changes.
func PrintDiff(w io.Writer, plan Plan) error {
	for _, c := range plan.Changes {
		sign := map[string]string{playback.OpCreate: "+", playback.OpUpdate: "~", playback.OpDelete: "-"}[c.Op]
		if _, err := fmt.Fprintf(w, "%s %s %s\n", sign, c.Kind, c.ID); err != nil {
			return err
		}
		if c.Op != playback.OpUpdate {
			continue
		}
		var before, after map[string]json.RawMessage
		_ = json.Unmarshal(c.Before, &before)
		_ = json.Unmarshal(c.Doc, &after)
		keys := map[string]bool{}
		for k := range before {
			keys[k] = true
		}
		for k := range after {
			keys[k] = true
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			if !bytes.Equal(before[k], after[k]) {
				if _, err := fmt.Fprintf(w, "    %s: %s -> %s\n", k, orNone(before[k]), orNone(after[k])); err != nil {
					return err
				}
			}
		}
	}
	if plan.CoverageZones != nil {
		if _, err := fmt.Fprintf(w, "~ coverage_zones: new version after %d (%d bytes)\n", plan.CoverageZonesBase, len(plan.CoverageZones)); err != nil {
			return err
		}
	}
	if n := len(plan.EndSessions); n > 0 {
		if _, err := fmt.Fprintf(w, "! %d account(s) may not play: their running sessions are ended\n", n); err != nil {
			return err
		}
	}
	total := 0
	for _, n := range plan.Unchanged {
		total += n
	}
	_, err := fmt.Fprintf(w, "%d change(s), %d record(s) unchanged\n", len(plan.Changes)+boolInt(plan.CoverageZones != nil), total)
	return err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func orNone(raw json.RawMessage) string {
	if raw == nil {
		return "(none)"
	}
	return string(raw)
}

// Export reads the catalogue of s into a file: every plan, title and
// edge's configuration, the latest coverage zone file and, with accounts,
// every account's settings.
func Export(ctx context.Context, s playback.AdminStore, accounts bool) (File, error) {
	f := File{Schema: SchemaID}
	for _, kind := range playback.Kinds {
		if kind == playback.KindAccount && !accounts {
			continue
		}
		recs, err := current(ctx, s, kind)
		if err != nil {
			return f, err
		}
		for _, id := range slices.Sorted(maps.Keys(recs)) {
			if err := exportRecord(&f, recs[id]); err != nil {
				return f, err
			}
		}
	}
	cz, err := s.GetCoverageZones(ctx, 0)
	switch {
	case err == nil:
		f.CoverageZones = cz.Data
	case !playback.IsCode(err, playback.CodeNotFound):
		return f, fmt.Errorf("coverage zones: %w", err)
	}
	return f, nil
}

func exportRecord(f *File, r playback.Record) error {
	var err error
	switch r.Kind {
	case playback.KindPlan:
		var p playback.Plan
		if err = json.Unmarshal(r.Doc, &p); err == nil {
			f.Plans = append(f.Plans, p)
		}
	case playback.KindTitle:
		var t playback.Title
		if err = json.Unmarshal(r.Doc, &t); err == nil {
			f.Titles = append(f.Titles, t)
		}
	case playback.KindEdge:
		var e playback.Edge
		if err = json.Unmarshal(r.Doc, &e); err == nil {
			f.Edges = append(f.Edges, edgeOf(e))
		}
	case playback.KindAccount:
		var a playback.Account
		if err = json.Unmarshal(r.Doc, &a); err == nil {
			f.Accounts = append(f.Accounts, AccountOf(a))
		}
	}
	if err != nil {
		return fmt.Errorf("stored %s %q: %w", r.Kind, r.ID, err)
	}
	return nil
}

// UploadCoverageZones validates data with the steering parser and stores
// it as the next version; a file the parser refuses is CodeInvalid
// (reason coverage_zones_invalid) and leaves the latest version in
// service.
func UploadCoverageZones(ctx context.Context, s playback.AdminStore, data []byte, actor string, at time.Time, ifVersion int64) (playback.CoverageZones, error) {
	if _, err := steering.ParseCoverageZones(data); err != nil {
		e := playback.Errorf(playback.CodeInvalid, "coverage_zones_invalid", "%v", err)
		return playback.CoverageZones{}, e
	}
	return s.PutCoverageZones(ctx, playback.CoverageZonesUpload{Data: data, Actor: actor, At: at, IfVersion: ifVersion})
}
