package paymentwebhook

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// The entitlement model. Stripe does not deliver events in order, and its
// event timestamps are whole seconds, so the state of a subscription is
// rebuilt from what the events say about it, by these rules:
//
//  1. Only full subscription snapshots set status, plan and period: the
//     customer.subscription.* events, the subscription read back from the
//     API (refetch, reconciliation). Invoice events describe their own
//     invoice, not the subscription: Stripe sends customer.subscription.updated
//     whenever an invoice moves the subscription's status, and leaves it
//     unchanged when it does not (a declined pending update, an old
//     invoice's last retry after a newer one was paid). With an API key an
//     invoice event refetches the subscription instead.
//  2. A pending update is not a plan change: Stripe keeps the items (and so
//     the plan) until the update's invoice is paid, and the snapshot says so.
//  3. Snapshots of an older second than the stored one are stale. All
//     snapshots of the newest second are kept (Subscription.Snapshots), and
//     their order within it is decided from that set alone, so it does not
//     depend on the order they arrived in: customer.subscription.updated
//     carries data.previous_attributes, the earlier values of everything
//     it changed; snapshot B follows A when A's attributes (those attrsOf
//     reads) are B's with B's previous attributes put back, or, for events
//     without previous attributes, when A and B describe the same state
//     (customer.subscription.paused and its companion update). The chosen order is the one with the most
//     "follows" links, creations first and deletions last; ties fall to the
//     lifecycle order of the statuses, then to the event id. The state is
//     that of the last snapshot. Pause then resume within one second is
//     thus ordered by previous_attributes.status, whatever arrives first.
//  4. A cancellation read from Stripe is final: nothing that is not a read
//     cancellation replaces it. A cancellation inferred from customer.deleted
//     replaces live states of that customer's subscriptions not newer than
//     the deletion, and yields to a read one. The account keeps the
//     deletion (Account.CustomersDeleted), so a subscription heard of only
//     after it is canceled as well: the deletion may arrive first. The
//     inferred cancellation keeps the state it was inferred from
//     (Subscription.Live), which news of the time before the deletion
//     still moves, so that its plan is the one of an in-order replay.
//  5. A past_due subscription is past due since Stripe moved it there:
//     the second of the customer.subscription.updated whose
//     previous_attributes names its earlier status (with REFETCH too: the
//     event tells what happened then, the read what holds now). Stripe
//     stamps that moment nowhere else: not on the subscription, and an
//     invoice can fail in the middle of a period (an upgrade invoiced at
//     once), so the period's start is no bound. Every snapshot, stale or
//     not, adds what it says (moved into past_due at, seen past_due at,
//     seen otherwise at) to facts kept on the subscription, and the date
//     is a function of those: the newest move not older than the last
//     sighting in another status, else (the move not seen yet) the first
//     past_due sighting after that, which errs towards the subscriber.
//     Facts merge by max and set union, so the date does not depend on
//     the order they came in, and an episode that spans a renewal keeps
//     its start.
//  6. A subscription of another product (Config.Products) is no state
//     of the service's. News that it is, of a second after the account's
//     state of it (an event, a read, a listing), drops it and leaves a
//     mark "another product's as of t" (Account.OtherProducts), which
//     refuses the service's snapshots of it older than t: a subscription
//     moved to another product is not put back by stale events of the
//     service's product, whatever order they come in. A snapshot of t
//     or later is the service's (moved back) and replaces the mark; of
//     t itself because which came last within one second cannot be
//     told, and a drop keeps the service's state of that second too.
//     A read or a listing marks as of the second before its stamp, which
//     it may have been read in. Only a drop or a move sets a mark; a
//     later sighting of the other product leaves it. Marks are forgotten
//     once their second and their writing are both markLifetime old
//     (forgetMarks). The past_due facts (rule 5) of a dropped state and
//     of refused snapshots are kept on the mark and given back to the
//     subscription when it moves back, so that its past-due date does
//     not depend on the delivery order either.
//  7. A subscription entitles only the account that names its customer
//     (playback.Account.BillingSubscription). An account that stops
//     naming the customer keeps its states of the customer's
//     subscriptions, entitling it no more, and the customer's events keep
//     coming to it until the customer is linked to another account, which
//     adopts those states, clocks and snapshots included, in the write
//     that names the customer (claimAndName): rules 3 to 6 go on from
//     where they stood, so news older than what was adopted is as stale
//     there as it was before the move. An account that names a deleted
//     customer (rule 4) whose subscriptions bill no more names instead the
//     customer of its best subscription that still bills, of a customer
//     not deleted whose link still resolves to it (leaveDeleted, in every
//     write of the account, so whichever of the deletion and that
//     subscription's news comes last), dated by the deletion: a duplicate
//     customer's deletion does not lock out the subscriber who pays
//     through the other.
//
// Ordering fields are plain integers and strings (Clock, Snapshots), so
// every store keeps them exactly.

// statusStage is the lifecycle order that breaks ties within one second
// when Stripe's attributes say nothing.
var statusStage = map[playback.SubscriptionStatus]int{
	playback.StatusIncomplete: 0, playback.StatusTrialing: 1, playback.StatusActive: 2, playback.StatusPastDue: 3,
	playback.StatusUnpaid: 4, playback.StatusPaused: 5, playback.StatusCanceled: 6,
}

// Places of a snapshot within its second.
const (
	placeFirst = -1 // customer.subscription.created
	placeAny   = 0
	placeLast  = 1 // customer.subscription.deleted
)

func placeOf(eventType string) int {
	switch eventType {
	case typeSubscriptionCreated:
		return placeFirst
	case typeSubscriptionDeleted:
		return placeLast
	}
	return placeAny
}

// statusOf maps Stripe's subscription statuses; incomplete_expired is a
// first payment that never came, as final as canceled.
func statusOf(s string) (playback.SubscriptionStatus, bool) {
	switch s {
	case "incomplete_expired":
		return playback.StatusCanceled, true
	case "incomplete", "trialing", "active", "past_due", "canceled", "unpaid", "paused":
		return playback.SubscriptionStatus(s), true
	}
	return "", false
}

// reasonUnknownStatus marks a subscription status this code cannot map.
const reasonUnknownStatus = "subscription_status"

func unixOrZero(sec int64) time.Time {
	if sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// planFor returns the plan of the first price that maps to one.
func (s *Server) planFor(priceIDs ...string) string {
	for _, id := range priceIDs {
		if plan, ok := s.plans[id]; ok {
			return plan
		}
	}
	return ""
}

// snapshot is one event's (or one API read's) view of a subscription.
type snapshot struct {
	subID    string
	customer string // the subscription's customer, "" if unknown
	clock    int64  // Stripe's second
	// entered is the second this event saw the subscription move into
	// past_due, 0 if it did not.
	entered int64
	playback.SubscriptionSnapshot
}

// fromSubscription is the snapshot a subscription object gives, prev its
// update's previous attributes.
func (s *Server) fromSubscription(sub stripeSubscription, eventID string, clock int64, place int, prev map[string]string) (snapshot, error) {
	status, ok := statusOf(sub.Status)
	if !ok {
		return snapshot{}, playback.Errorf(playback.CodeInvalid, reasonUnknownStatus,
			"subscription %s has unknown status %q", sub.ID, sub.Status)
	}
	if sub.ID == "" {
		return snapshot{}, playback.Errorf(playback.CodeInvalid, "subscription_id", "subscription without id")
	}
	_, end := sub.period()
	snap := snapshot{subID: sub.ID, customer: string(sub.Customer), clock: clock, SubscriptionSnapshot: playback.SubscriptionSnapshot{
		Event: eventID, Status: status, PlanID: s.planFor(sub.priceIDs()...), CurrentPeriodEnd: unixOrZero(end),
		Place: place, Attrs: attrsOf(sub), Prev: prev}}
	if entersPastDue(sub.Status, prev) {
		snap.entered = clock
	}
	return snap, nil
}

// attrsOf are the attributes of a subscription that previous_attributes
// may name and that tell two states of it apart, as comparable strings.
func attrsOf(sub stripeSubscription) map[string]string {
	a := map[string]string{"status": sub.Status}
	if ids := sub.priceIDs(); len(ids) > 0 {
		slices.Sort(ids)
		a["items"] = strings.Join(ids, ",")
	}
	if sub.CurrentPeriodEnd != 0 {
		a["current_period_start"] = strconv.FormatInt(sub.CurrentPeriodStart, 10)
		a["current_period_end"] = strconv.FormatInt(sub.CurrentPeriodEnd, 10)
	}
	if sub.CancelAtPeriodEnd != nil {
		a["cancel_at_period_end"] = strconv.FormatBool(*sub.CancelAtPeriodEnd)
	}
	for k, v := range map[string]*int64{"cancel_at": sub.CancelAt, "canceled_at": sub.CanceledAt,
		"ended_at": sub.EndedAt, "trial_end": sub.TrialEnd} {
		if v != nil {
			a[k] = strconv.FormatInt(*v, 10)
		}
	}
	if sub.LatestInvoice != "" {
		a["latest_invoice"] = string(sub.LatestInvoice)
	}
	for k, raw := range map[string]json.RawMessage{"pause_collection": sub.PauseCollection, "pending_update": sub.PendingUpdate} {
		if raw != nil {
			a[k] = presence(raw)
		}
	}
	maps.DeleteFunc(a, func(_, v string) bool { return v == "" })
	return a
}

// presence reduces an optional object to "" (null) or "set".
func presence(raw json.RawMessage) string {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return ""
	}
	return "set"
}

// previousAttrs reads data.previous_attributes the way attrsOf reads the
// object, keeping only the attributes attrsOf knows.
func previousAttrs(raw json.RawMessage) map[string]string {
	if len(raw) == 0 {
		return nil
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil || len(fields) == 0 {
		return nil
	}
	var sub stripeSubscription
	if json.Unmarshal(raw, &sub) != nil {
		return nil
	}
	all := attrsOf(sub)
	prev := map[string]string{}
	for k := range fields {
		switch k {
		case "items", "status", "cancel_at_period_end", "cancel_at", "canceled_at", "ended_at", "trial_end",
			"latest_invoice", "pause_collection", "pending_update":
			prev[k] = all[k]
		case "current_period_start", "current_period_end":
			// attrsOf reads both only together; previous_attributes
			// always names both when a period moves.
			var n int64
			if json.Unmarshal(fields[k], &n) == nil {
				prev[k] = strconv.FormatInt(n, 10)
			}
		}
	}
	if len(prev) == 0 {
		return nil
	}
	return prev
}

// follows reports whether snapshot b can come right after a in Stripe's
// history: a is b's state with b's previous attributes put back (Stripe
// names every attribute an update changed), or, for events that carry no
// previous attributes (creation, paused, resumed, deletion), both describe
// the same state.
func follows(a, b playback.SubscriptionSnapshot) bool {
	if len(a.Attrs) == 0 {
		return false
	}
	if len(b.Prev) == 0 {
		return maps.Equal(a.Attrs, b.Attrs)
	}
	before := maps.Clone(b.Attrs)
	for k, v := range b.Prev {
		if v == "" {
			delete(before, k)
		} else {
			before[k] = v
		}
	}
	return maps.Equal(a.Attrs, before)
}

// fallbackLess is the order of snapshots that Stripe's attributes leave
// undecided: creations first, deletions last, then the lifecycle order of
// statuses, then the event id.
func fallbackLess(a, b playback.SubscriptionSnapshot) int {
	if a.Place != b.Place {
		return a.Place - b.Place
	}
	if sa, sb := statusStage[a.Status], statusStage[b.Status]; sa != sb {
		return sa - sb
	}
	return strings.Compare(a.Event, b.Event)
}

// maxOrdered bounds the exhaustive search for the best order of one
// second's snapshots; beyond it the fallback order is used.
const maxOrdered = 9

// lastOf returns the snapshot that ends the second: the last of the order
// with the most follows links, the first such order in fallback order. The
// result depends on the set only.
func lastOf(snaps []playback.SubscriptionSnapshot) playback.SubscriptionSnapshot {
	slices.SortFunc(snaps, fallbackLess)
	n := len(snaps)
	if n <= 1 || n > maxOrdered {
		return snaps[n-1]
	}
	link := make([][]bool, n)
	for i := range snaps {
		link[i] = make([]bool, n)
		for j := range snaps {
			link[i][j] = i != j && follows(snaps[i], snaps[j])
		}
	}
	var (
		best      = -1
		bestLast  = n - 1
		used      = make([]bool, n)
		search    func(depth, last, links int)
		remaining = func(depth int) int { return n - depth }
	)
	search = func(depth, last, links int) {
		if depth == n {
			if links > best {
				best, bestLast = links, last
			}
			return
		}
		if links+remaining(depth) <= best {
			return
		}
		for i := range snaps {
			if used[i] {
				continue
			}
			// Places are hard: a creation before anything else, a
			// deletion after everything else.
			if depth > 0 && snaps[i].Place < snaps[last].Place {
				continue
			}
			used[i] = true
			l := links
			if depth > 0 && link[last][i] {
				l++
			}
			search(depth+1, i, l)
			used[i] = false
		}
	}
	search(0, -1, 0)
	return snaps[bestLast]
}

// tier ranks states that replace each other whatever the clock says: a
// cancellation read from Stripe is final; an inferred one beats live states.
func tier(status playback.SubscriptionStatus, derived bool) int {
	return playback.SubscriptionTier(status, derived)
}

// merge folds snapshot in into the account's subscription and reports
// whether anything changed. It is idempotent, and its outcome over a set of
// snapshots does not depend on their order, the account's customer
// deletions included (rule 4).
func merge(a *playback.Account, in snapshot, derived bool) bool {
	j := slices.IndexFunc(a.OtherProducts, func(m playback.OtherProductMark) bool { return m.Subscription == in.subID })
	if j < 0 {
		return mergeUnmarked(a, in, derived)
	}
	mark := a.OtherProducts[j]
	if in.clock < mark.Clock {
		// Stale news of a subscription another product's since (rule
		// 6), but still a fact about past_due (rule 5), kept for a move
		// back.
		if derived {
			return false
		}
		facts := factsOf(mark)
		notePastDue(&facts, in, false)
		if next := withFacts(mark, facts); !reflect.DeepEqual(next, mark) {
			a.OtherProducts = slices.Clone(a.OtherProducts)
			a.OtherProducts[j] = next
			return true
		}
		return false
	}
	unmark(a, in.subID)
	mergeUnmarked(a, in, derived)
	givePastDue(a, in.subID, factsOf(mark))
	return true
}

// factsOf is a subscription holding nothing but m's past_due facts.
func factsOf(m playback.OtherProductMark) playback.Subscription {
	return playback.Subscription{PastDueEntered: m.PastDueEntered, NotPastDue: m.NotPastDue, PastDueSeen: slices.Clone(m.PastDueSeen)}
}

// withFacts is m holding the past_due facts of s.
func withFacts(m playback.OtherProductMark, s playback.Subscription) playback.OtherProductMark {
	m.PastDueEntered, m.NotPastDue, m.PastDueSeen = s.PastDueEntered, s.NotPastDue, slices.Clone(s.PastDueSeen)
	return m
}

// joinPastDue adds the past_due facts of from to s's (by max and set
// union, as notePastDue adds a snapshot's) and dates s's episode again.
// s must own its PastDueSeen.
func joinPastDue(s *playback.Subscription, from playback.Subscription) {
	s.PastDueEntered, s.NotPastDue = max(s.PastDueEntered, from.PastDueEntered), max(s.NotPastDue, from.NotPastDue)
	for _, t := range from.PastDueSeen {
		if !slices.Contains(s.PastDueSeen, t) {
			s.PastDueSeen = append(s.PastDueSeen, t)
		}
	}
	slices.Sort(s.PastDueSeen)
	notePastDue(s, snapshot{}, true) // adds nothing: dates the facts
}

// givePastDue gives subscription subID, moved back, the past_due facts
// its mark kept, and its Live state under a derived cancellation too.
func givePastDue(a *playback.Account, subID string, facts playback.Subscription) {
	i := slices.IndexFunc(a.Subscriptions, func(s playback.Subscription) bool { return s.ID == subID })
	if i < 0 {
		return
	}
	next := a.Subscriptions[i]
	next.PastDueSeen = slices.Clone(next.PastDueSeen)
	joinPastDue(&next, facts)
	if next.Live != nil {
		live := *next.Live
		live.PastDueSeen = slices.Clone(live.PastDueSeen)
		joinPastDue(&live, facts)
		next.Live = &live
	}
	a.PutSubscription(next)
}

// mergeUnmarked is merge of a subscription the account holds no mark of.
func mergeUnmarked(a *playback.Account, in snapshot, derived bool) bool {
	i := slices.IndexFunc(a.Subscriptions, func(s playback.Subscription) bool { return s.ID == in.subID })
	if i >= 0 && !derived && tier(in.Status, false) == 0 && a.Subscriptions[i].Derived && a.Subscriptions[i].Live != nil {
		// A live state under an inferred cancellation: it moves the state
		// the cancellation was inferred from, which is then inferred
		// again, so that the outcome is the one of the live state
		// arriving first.
		// Worked on aside: only the outcome is the account's.
		aside := playback.Account{Subscriptions: []playback.Subscription{*a.Subscriptions[i].Live},
			CustomersDeleted: a.CustomersDeleted}
		mergeSnapshot(&aside, in, false)
		cancelDeleted(&aside, in.subID)
		return a.PutSubscription(aside.Subscriptions[0])
	}
	changed := mergeSnapshot(a, in, derived)
	return cancelDeleted(a, in.subID) || changed
}

// markOtherProduct applies m, the provider's news that subscription
// m.Subscription is another product's as of m.Clock (rule 6), and reports
// whether it dropped the subscription and whether it changed a. A state
// of m's second or later stays, and needs no mark: it is as new as m, or
// newer. An older one is dropped and marked. A subscription the account
// does not hold is marked only when moved says m is its move from the
// service's products: every event of another product's subscription (a
// customer may hold one beside the service's) would otherwise write a
// mark, and the move itself, which Stripe always sends, marks the
// subscription, in whatever order it comes. Of two marks of one
// subscription set so the later is kept; a mere sighting of the other
// product (the hourly listing shows the subscription for as long as
// Stripe keeps it) moves no mark: it would never be forgotten, and every
// listing would write the account.
func markOtherProduct(a *playback.Account, m playback.OtherProductMark, moved bool) (dropped, changed bool) {
	i := slices.IndexFunc(a.Subscriptions, func(s playback.Subscription) bool { return s.ID == m.Subscription })
	var facts playback.Subscription // the past_due facts the mark keeps (rule 5)
	if i >= 0 {
		if a.Subscriptions[i].Clock >= m.Clock {
			return false, false
		}
		copyPastDue(&facts, a.Subscriptions[i])
		dropped = a.DropSubscription(m.Subscription)
	}
	j := slices.IndexFunc(a.OtherProducts, func(x playback.OtherProductMark) bool { return x.Subscription == m.Subscription })
	switch {
	case j < 0 && !dropped && !moved:
		return false, false
	case j < 0:
		a.OtherProducts = append(slices.Clone(a.OtherProducts), withFacts(m, facts))
		return dropped, true
	}
	cur := a.OtherProducts[j]
	joinPastDue(&facts, factsOf(cur))
	if !dropped && !moved || m.Clock < cur.Clock || m.Clock == cur.Clock && m.Event >= cur.Event {
		m = cur
	}
	next := withFacts(m, facts)
	if reflect.DeepEqual(next, cur) {
		return dropped, dropped
	}
	a.OtherProducts = slices.Clone(a.OtherProducts)
	a.OtherProducts[j] = next
	return dropped, true
}

// unmark removes the mark of subscription subID and reports whether the
// account held one.
func unmark(a *playback.Account, subID string) bool {
	return deleteMarks(a, func(m playback.OtherProductMark) bool { return m.Subscription == subID })
}

// forgetMarks removes the marks both of provider seconds and written
// before cutoff, and reports whether there were any. A mark refuses
// events older than it, which come no later than markLifetime after
// their creation or after the mark was written (an event that waited for
// its customer's link is woken with the stale ones that waited beside
// it): past both a mark has nothing left to refuse, and kept it would
// grow the account with every subscription ever moved away. A mark is
// never forgotten by the write that sets it: it is written at now.
func forgetMarks(a *playback.Account, cutoff int64) bool {
	return deleteMarks(a, func(m playback.OtherProductMark) bool { return m.Clock < cutoff && m.Written < cutoff })
}

func deleteMarks(a *playback.Account, del func(playback.OtherProductMark) bool) bool {
	if !slices.ContainsFunc(a.OtherProducts, del) {
		return false
	}
	a.OtherProducts = slices.DeleteFunc(slices.Clone(a.OtherProducts), del)
	if len(a.OtherProducts) == 0 {
		a.OtherProducts = nil // as every store gives it back
	}
	return true
}

// noteDeletion keeps d among the account's customer deletions and reports
// whether it was new. Of two deletions of one customer the later is kept.
func noteDeletion(a *playback.Account, d playback.CustomerDeletion) bool {
	i := slices.IndexFunc(a.CustomersDeleted, func(x playback.CustomerDeletion) bool { return x.Customer == d.Customer })
	if i < 0 {
		a.CustomersDeleted = append(slices.Clone(a.CustomersDeleted), d)
		return true
	}
	if cur := a.CustomersDeleted[i]; d.Clock < cur.Clock || d.Clock == cur.Clock && d.Event >= cur.Event {
		return false
	}
	a.CustomersDeleted = slices.Clone(a.CustomersDeleted)
	a.CustomersDeleted[i] = d
	return true
}

// cancelDeleted infers the cancellation of subscription subID from the
// deletion of its customer, if the account holds one not older than the
// subscription's state, and reports whether that changed the account. A
// subscription that names no customer (stored before they were kept) is
// any deleted customer's.
func cancelDeleted(a *playback.Account, subID string) bool {
	i := slices.IndexFunc(a.Subscriptions, func(s playback.Subscription) bool { return s.ID == subID })
	if i < 0 {
		return false
	}
	changed := false
	for _, d := range a.CustomersDeleted {
		cur := a.Subscriptions[i]
		// A subscription first seen after the deletion belongs to a later
		// customer of the same account; one that names another customer
		// (an account re-subscribed through a new checkout) is not this
		// deletion's.
		if cur.Status == playback.StatusCanceled || cur.Clock > d.Clock || cur.Customer != "" && cur.Customer != d.Customer {
			continue
		}
		in := snapshot{subID: cur.ID, customer: cur.Customer, clock: d.Clock, SubscriptionSnapshot: playback.SubscriptionSnapshot{
			Event: d.Event, Status: playback.StatusCanceled, PlanID: cur.PlanID, CurrentPeriodEnd: cur.CurrentPeriodEnd}}
		changed = mergeSnapshot(a, in, true) || changed
	}
	return changed
}

// mergeSnapshot is merge without the customer deletions.
func mergeSnapshot(a *playback.Account, in snapshot, derived bool) bool {
	var cur *playback.Subscription
	for i := range a.Subscriptions {
		if a.Subscriptions[i].ID == in.subID {
			cur = &a.Subscriptions[i]
		}
	}
	next := playback.Subscription{ID: in.subID, Customer: in.customer, Clock: in.clock, Derived: derived,
		Snapshots: []playback.SubscriptionSnapshot{in.SubscriptionSnapshot}}
	if cur != nil {
		inTier, curTier := tier(in.Status, derived), tier(cur.Status, cur.Derived)
		stale := false
		switch {
		case inTier < curTier:
			stale = true
		case inTier > curTier:
		case in.clock < cur.Clock:
			stale = true
		case in.clock == cur.Clock:
			if slices.ContainsFunc(cur.Snapshots, func(s playback.SubscriptionSnapshot) bool { return s.Event == in.Event }) {
				stale = true
				break
			}
			next.Snapshots = append(slices.Clone(cur.Snapshots), in.SubscriptionSnapshot)
		}
		if stale {
			// Not the state, but still a fact about past_due (rule 5).
			kept := *cur
			copyPastDue(&kept, *cur)
			notePastDue(&kept, in, derived)
			return a.PutSubscription(kept)
		}
		copyPastDue(&next, *cur)
		switch {
		case derived && !cur.Derived:
			live := *cur
			next.Live = &live
		case derived:
			next.Live = cur.Live
		}
	}
	last := lastOf(next.Snapshots)
	next.Status, next.PlanID, next.CurrentPeriodEnd = last.Status, last.PlanID, last.CurrentPeriodEnd
	notePastDue(&next, in, derived)
	if cur != nil {
		if next.Customer == "" {
			next.Customer = cur.Customer
		}
		if next.PlanID == "" {
			next.PlanID = cur.PlanID // a price no plan maps: keep the plan
		}
		if next.CurrentPeriodEnd.IsZero() {
			next.CurrentPeriodEnd = cur.CurrentPeriodEnd
		}
	}
	return a.PutSubscription(next)
}

// unordered reports whether read, a subscription read from the API, falls
// in the second of the account's state of that subscription beside a
// different snapshot, which merge would order by the fallback alone: a
// read carries no previous attributes, and Stripe dates neither the object
// (it has no version or update time) nor the response finer than the
// second, so which of the two is newer cannot be known.
func unordered(a playback.Account, read snapshot) bool {
	for _, cur := range a.Subscriptions {
		if cur.ID != read.subID || cur.Clock != read.clock || tier(cur.Status, cur.Derived) != tier(read.Status, false) {
			continue
		}
		for _, s := range cur.Snapshots {
			if !maps.Equal(s.Attrs, read.Attrs) {
				return true
			}
		}
	}
	return false
}

// entersPastDue reports whether an update that left the subscription in
// status, prev its previous attributes, moved it into past_due.
func entersPastDue(status string, prev map[string]string) bool {
	was, named := prev["status"]
	return status == "past_due" && named && was != "past_due"
}

// copyPastDue gives s, a new state of cur, cur's past_due facts. A
// subscription stored past_due before the facts were kept has only its
// date: it counts as a sighting, so that its episode keeps its start.
func copyPastDue(s *playback.Subscription, cur playback.Subscription) {
	s.PastDueEntered, s.NotPastDue, s.PastDueSeen = cur.PastDueEntered, cur.NotPastDue, slices.Clone(cur.PastDueSeen)
	if cur.PastDueEntered == 0 && cur.NotPastDue == 0 && len(cur.PastDueSeen) == 0 && !cur.PastDueSince.IsZero() {
		s.PastDueSeen = []int64{cur.PastDueSince.Unix()}
	}
}

// notePastDue adds what in says about past_due to s's facts (rule 5) and
// dates s's past_due episode from them. s must own its PastDueSeen. A
// derived snapshot adds nothing: Stripe did not say it, and whether it is
// made at all depends on the state it met (customer.deleted passes over a
// subscription already canceled), so its second would make the facts
// depend on the order events came in.
func notePastDue(s *playback.Subscription, in snapshot, derived bool) {
	if !derived {
		s.PastDueEntered = max(s.PastDueEntered, in.entered)
		switch {
		case in.Status != playback.StatusPastDue:
			s.NotPastDue = max(s.NotPastDue, in.clock)
		case in.clock > s.NotPastDue && !slices.Contains(s.PastDueSeen, in.clock):
			s.PastDueSeen = append(s.PastDueSeen, in.clock)
			slices.Sort(s.PastDueSeen)
		}
	}
	// Sightings before the last one in another status belong to an
	// episode that ended.
	s.PastDueSeen = slices.DeleteFunc(s.PastDueSeen, func(t int64) bool { return t <= s.NotPastDue })
	if len(s.PastDueSeen) == 0 {
		s.PastDueSeen = nil // as every store gives it back
	}
	s.PastDueSince = time.Time{}
	if s.Status != playback.StatusPastDue {
		return
	}
	switch {
	case s.PastDueEntered > 0 && s.PastDueEntered >= s.NotPastDue:
		s.PastDueSince = unixOrZero(s.PastDueEntered)
	case len(s.PastDueSeen) > 0:
		s.PastDueSince = unixOrZero(s.PastDueSeen[0])
	default: // past_due within the second last seen otherwise
		s.PastDueSince = unixOrZero(s.Clock)
	}
}
