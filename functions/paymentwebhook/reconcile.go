package paymentwebhook

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

// ReconcileReport counts what one reconciliation saw and did.
type ReconcileReport struct {
	Subscriptions int `json:"subscriptions"` // listed by Stripe, every status
	Repaired      int `json:"repaired"`      // stored state differed and was corrected
	InSync        int `json:"in_sync"`       // stored state matched, or was as new as the listing or newer
	Unlinked      int `json:"unlinked"`      // no account for the customer
	OtherProduct  int `json:"other_product"` // another product's (Config.Products): not applied
	GraceExpired  int `json:"grace_expired"` // past_due accounts announced as out of grace
	Failed        int `json:"failed"`
}

// Reconcile lists every subscription from the Stripe API and repairs
// stored state that drifted because events were missed. Each page is
// state as of the second before its Date (it may have been read then), so
// it is applied as a snapshot of that second (see merge): events of later
// seconds still win. It also announces accounts whose past_due grace ran out,
// a change no Stripe event marks. Failures on one subscription do not stop
// the others; the first is returned with the report.
func (s *Server) Reconcile(ctx context.Context) (ReconcileReport, error) {
	var rep ReconcileReport
	if s.deps.Stripe == nil {
		return rep, errors.New("paymentwebhook.Reconcile: needs STRIPE_API_KEY")
	}
	r := reconciler{s: s, now: s.deps.Now(), announced: map[string]bool{}}
	var firstErr error
	err := s.deps.Stripe.listSubscriptions(ctx, func(sub stripeSubscription, asOf time.Time) error {
		if err := r.subscription(ctx, sub, asOf); err != nil {
			httpx.Logger(ctx).ErrorContext(ctx, "reconciling subscription", "subscription", sub.ID,
				"customer", sub.Customer, "err", err)
			if firstErr == nil {
				firstErr = err
			}
		}
		return ctx.Err()
	})
	if err != nil {
		return r.rep, err
	}
	return r.rep, firstErr
}

// reconciler is one reconciliation run.
type reconciler struct {
	s         *Server
	now       time.Time
	rep       ReconcileReport
	announced map[string]bool // accounts already announced as out of grace
	woken     map[string]bool // customers whose parked events this run woke
}

// subscription reconciles one listed subscription of a page dated asOf.
func (r *reconciler) subscription(ctx context.Context, sub stripeSubscription, asOf time.Time) (err error) {
	r.rep.Subscriptions++
	defer func() {
		if err != nil {
			r.rep.Failed++
		}
	}()
	// asOf is the response's second (Date), written when Stripe answered:
	// the page may have been read in the second before. Stamped asOf, it
	// would be newer than a change Stripe made after the read in that
	// second, and would undo it, or refuse its event as stale, until the
	// next run. Stamped with the second before, such a change shares the
	// listing's second, which merge orders (or unordered leaves alone).
	clock := asOf.Unix() - 1
	if r.s.otherProduct(sub.productIDs()) {
		// Listed every hour: said only when an account held it.
		r.rep.OtherProduct++
		dropped, err := r.s.dropOtherProduct(ctx, sub.ID, string(sub.Customer), "reconcile", clock, false, r.now)
		if dropped {
			r.rep.Repaired++
			httpx.Logger(ctx).InfoContext(ctx, "subscription of another product dropped", "subscription", sub.ID,
				"customer", sub.Customer, "products", sub.productIDs())
		}
		return err
	}
	accountID, err := r.s.accountFor(ctx, string(sub.Customer), sub.Metadata, sub.Created, r.now)
	if errors.Is(err, errLinkPending) || playback.IsCode(err, playback.CodeNotFound) {
		r.rep.Unlinked++
		return nil
	}
	if err != nil {
		return err
	}
	if c := string(sub.Customer); c != "" && !r.woken[c] {
		// The customer is linked, however that happened (a checkout, an
		// operator's link through the admin API, the metadata just read):
		// events parked waiting for the link apply now.
		if r.woken == nil {
			r.woken = map[string]bool{}
		}
		r.woken[c] = true
		// A failed wake is logged; the next run wakes again.
		_ = r.s.wakeParked(ctx, c)
	}
	// The listing is state as of clock: a snapshot of that second, which
	// events of later seconds supersede and events of the same second are
	// ordered with (see merge).
	snap, err := r.s.fromSubscription(sub, "reconcile@"+strconv.FormatInt(clock, 10), clock, placeAny, nil)
	if err != nil {
		return err
	}
	var repaired bool
	after, changed, err := r.s.applyToAccount(ctx, accountID, "reconcile", r.now,
		func(a *playback.Account) bool {
			repaired = false
			for _, cur := range a.Subscriptions {
				if cur.ID == snap.subID && inSync(cur, snap) {
					return false
				}
			}
			if unordered(*a, snap) {
				// As new as the listing, and nothing tells which is
				// newer: a change after the stored state brings an
				// event of its own, which reads again (see refetch).
				return false
			}
			before := listedState(*a, snap.subID)
			if !merge(a, snap, false) {
				return false
			}
			// A listing older than the stored state still adds its
			// past_due facts (merge), which repairs nothing.
			repaired = listedState(*a, snap.subID) != before
			return true
		})
	if err != nil {
		return err
	}
	if changed && repaired {
		r.rep.Repaired++
		httpx.Logger(ctx).InfoContext(ctx, "subscription drift repaired", "account_id", accountID,
			"subscription", snap.subID, "status", snap.Status, "plan_id", snap.PlanID)
	} else {
		r.rep.InSync++
	}
	if r.announced[accountID] {
		return nil
	}
	announced, err := r.s.announceGraceEnd(ctx, after, r.now)
	if announced {
		r.announced[accountID] = true
		r.rep.GraceExpired++
	}
	return err
}

// inSync reports whether the stored state already says what the listing
// says, in the fields entitlement reads.
func inSync(cur playback.Subscription, listed snapshot) bool {
	return cur.Status == listed.Status &&
		(listed.PlanID == "" || cur.PlanID == listed.PlanID) &&
		(listed.CurrentPeriodEnd.IsZero() || cur.CurrentPeriodEnd.Equal(listed.CurrentPeriodEnd)) &&
		(listed.Status != playback.StatusPastDue || !cur.PastDueSince.IsZero())
}

// Sweep republishes events recorded at least Config.SweepAge ago and
// still pending: their announcement was lost, or they exhausted the bus's
// attempts while the consumer could not even read them, or the bus is
// still retrying them, which Sweep cannot tell apart. So that a copy is
// not added on every run while the bus still holds one, Sweep parks each
// event it announces, first, under parkAnnounced (an event under
// parkRetry stays there), and announces it again only after its backoff
// (sweepBackoff): the announcement's outcome moves it on (processed, or
// parked by the consumer for what it waits for), and an event still
// parked then had its announcement lost or retried in vain. Parked
// events are not pending (see playback.InboxStore), so events that wait,
// maybe for a link that never comes, cannot crowd these out. Then it
// retries the events under parkAnnounced and parkRetry whose backoff
// has passed, oldest park first, within what is left of SweepBatch but
// never fewer than a quarter of it, so that neither kind starves the
// other; an event that fails again is parked again behind the others,
// so the retries go round. Then it retries those waiting for a customer
// another account held (retryHeld), and last, it wakes the events parked
// for accounts that exist now (wakeCreatedAccounts). Run it
// periodically; it returns how many it republished and the first error
// of a run that went on past it.
func (s *Server) Sweep(ctx context.Context) (int, error) {
	now := s.deps.Now()
	// A step that fails is logged and the run goes on, so that no event
	// (or read) that keeps failing holds up the others, nor the account
	// backstop after them; the first error is returned.
	var firstErr error
	failed := func(msg string, err error, args ...any) {
		httpx.Logger(ctx).ErrorContext(ctx, msg, append(args, "err", err)...)
		firstErr = cmp.Or(firstErr, err)
	}
	// The least of a batch the parked retries and the account backstop
	// each get, however many events are stranded.
	quarter := (s.cfg.SweepBatch + 3) / 4
	pending, err := s.deps.Store.ListPendingEvents(ctx, Source, now.Add(-s.cfg.SweepAge), s.cfg.SweepBatch)
	listFailed := err != nil
	if err != nil {
		failed("listing stranded stripe events", err)
	}
	n := 0
	for _, ev := range pending {
		if err := s.reannounce(ctx, ev, parkAnnounced, now); err != nil {
			failed("republishing a stranded stripe event", err, "event_id", ev.ID)
			continue
		}
		n++
	}
	budget := max(s.cfg.SweepBatch-len(pending), quarter)
	announced, err := s.deps.Store.ListParkedEvents(ctx, Source, parkAnnounced, playback.ParkCursor{}, budget)
	if err != nil {
		listFailed = true
		failed("listing parked stripe events", err, "key", parkAnnounced)
	}
	retry, err := s.deps.Store.ListParkedEvents(ctx, Source, parkRetry, playback.ParkCursor{}, budget)
	if err != nil {
		listFailed = true
		failed("listing parked stripe events", err, "key", parkRetry)
	}
	// Events Sweep announced wait for nothing but that announcement: as
	// the pending ones, they are not handled yet. The pending ones were
	// parked under parkAnnounced above and may be listed there again:
	// each counts once. A failed list would record a backlog of none:
	// the gauges keep the last run's instead.
	if !listFailed {
		waiting := len(pending)
		swept := make(map[string]bool, len(pending))
		for _, ev := range pending {
			swept[ev.ID] = true
		}
		for _, ev := range announced {
			if !swept[ev.ID] {
				waiting++
			}
		}
		s.recordBacklog(ctx, waiting, len(retry), budget)
	}
	parked := append(announced, retry...)
	slices.SortFunc(parked, func(a, b playback.InboxEvent) int { return playback.CompareParked(a, playback.CursorOf(b)) })
	retried := 0
	for _, ev := range parked {
		if retried == budget {
			break
		}
		if now.Before(ev.ParkedAt.Add(s.sweepBackoff(ev))) {
			continue // announced or parked a moment ago: a later run
		}
		retried++ // a failed retry spends the budget too: failures cannot stretch a run
		if err := s.reannounce(ctx, ev, ev.ParkedKey, now); err != nil {
			failed("republishing a parked stripe event", err, "event_id", ev.ID, "key", ev.ParkedKey)
			continue
		}
		n++
	}
	held, heldRetried, err := s.retryHeld(ctx, now, quarter)
	firstErr = cmp.Or(firstErr, err)
	n += held
	woken, err := s.wakeCreatedAccounts(ctx, now, quarter)
	firstErr = cmp.Or(firstErr, err)
	n += woken
	if n > 0 {
		httpx.Logger(ctx).InfoContext(ctx, "stripe events republished", "count", n,
			"stranded", len(pending), "parked_retried", retried, "held_retried", heldRetried, "account_woken", woken)
	}
	return n, firstErr
}

// retryHeld is Sweep's retry of the events refused because another
// account held their customer, which wait under its held key
// (parkHeld), on the backoff of those under parkRetry (sweepBackoff):
// the write that frees the customer wakes them at once
// (events.FreeStripeCustomer), but a free may wake nothing (a process
// killed between its write and its wake, a pending claim gone stale, a
// store's PutAccount), and a paid checkout must not wait for good. Each
// run walks up to limit of their keys from where the run before stopped
// (walkParkedKeys), as wakeCreatedAccounts does for accounts' keys, and
// retries, oldest park first, those of each key whose backoff has
// passed, up to limit retries in all: where the retries run out, the
// next run starts again. A key whose list fails is logged and skipped,
// the first such error returned. It returns how many it republished and
// how many it retried.
func (s *Server) retryHeld(ctx context.Context, now time.Time, limit int) (n, retried int, _ error) {
	var firstErr error
	err := s.walkParkedKeys(ctx, parkHeld(""), limit, func(key string) bool {
		page, err := s.deps.Store.ListParkedEvents(ctx, Source, key, playback.ParkCursor{}, limit-retried)
		if err != nil {
			httpx.Logger(ctx).ErrorContext(ctx, "listing parked stripe events", "key", key, "err", err)
			firstErr = cmp.Or(firstErr, err)
			return true
		}
		for _, ev := range page {
			if now.Before(ev.ParkedAt.Add(s.sweepBackoff(ev))) {
				continue
			}
			retried++ // a failed retry spends the budget too, as in Sweep
			if err := s.reannounce(ctx, ev, key, now); err != nil {
				httpx.Logger(ctx).ErrorContext(ctx, "republishing a parked stripe event", "event_id", ev.ID, "key", key, "err", err)
				firstErr = cmp.Or(firstErr, err)
				continue
			}
			n++
		}
		return retried < limit
	})
	return n, retried, cmp.Or(firstErr, err)
}

// walkParkedKeys visits up to limit of the keys that begin with prefix
// under which events wait, from where the walk of them stands, on any
// instance (the store keeps it: InboxStore.ParkedKeysWalk), and moves
// the walk on past the keys visited: to the last of a full page, or back
// to the start after a short one. visit reports whether it is done with
// key; when it is not (its run's budget ran out), the walk stops before
// key, where the next run starts. It returns the first error of reading
// or moving the walk.
func (s *Server) walkParkedKeys(ctx context.Context, prefix string, limit int, visit func(key string) (done bool)) error {
	if limit <= 0 {
		return nil // a page of no keys cannot name where the next starts
	}
	after, err := s.deps.Store.ParkedKeysWalk(ctx, Source, prefix)
	if err != nil {
		return err
	}
	keys, err := s.deps.Store.ListParkedKeys(ctx, Source, prefix, after, limit)
	if err != nil {
		return err
	}
	next := ""
	if len(keys) == limit {
		next = keys[len(keys)-1]
	}
	for i, key := range keys {
		if !visit(key) {
			next = after
			if i > 0 {
				next = keys[i-1]
			}
			break
		}
	}
	// A walk that starts where it started is not written (from the
	// start to the start, a run a minute on most stores). Not moved:
	// another run read this page too and moved the walk on.
	if next != after {
		if _, err := s.deps.Store.MoveParkedKeysWalk(ctx, Source, prefix, after, next); err != nil {
			return err
		}
	}
	return nil
}

// wakeCreatedAccounts is the backstop of the wakes of an account's
// creation (events.CreateStripeAccount): an account written by a writer
// that wakes nothing (a store's PutAccount, a tool, a release's new path)
// left the events parked for it under its key for good, acknowledged to
// Stripe, which does not send them again. Each run reads up to limit of
// the keys that events wait under for an account, from where the run
// before stopped, on any instance (the store keeps the walk:
// InboxStore.ParkedKeysWalk), and from the first after the last, so that
// however many wait for accounts never created (they wait for good: an
// operator may still create the account, whose creation wakes them), one
// created since is reached within as many runs as there are pages of
// them, however often instances start or how many share the schedule. It
// reads each account: the events of one that exists are woken
// (events.WakeStripeAccount) as its creation would have, and said at
// WARN, naming the account, for its writer to be found. A key whose read
// or wake fails is logged and skipped, as Grace skips an account, so that
// it holds up no key after it; the next round of the walk tries it again,
// and the first such error is returned. It returns how many it woke.
func (s *Server) wakeCreatedAccounts(ctx context.Context, now time.Time, limit int) (int, error) {
	woken := 0
	var firstErr error
	err := s.walkParkedKeys(ctx, parkAccount(""), limit, func(key string) bool {
		account := strings.TrimPrefix(key, parkAccount(""))
		n, err := s.wakeCreatedAccount(ctx, account, now)
		woken += n
		if err != nil {
			httpx.Logger(ctx).ErrorContext(ctx, "waking stripe events parked for an account", "account_id", account, "err", err)
			firstErr = cmp.Or(firstErr, err)
		}
		return true
	})
	return woken, cmp.Or(firstErr, err)
}

// wakeCreatedAccount wakes the events parked for account if it exists
// (wakeCreatedAccounts) and the oldest of them has waited SweepAge: an
// event parked while the account is created, after its creation handed
// over those parked before (events.CreateStripeAccount), is the
// creation's to wake a moment later, as one parked just before its
// consumer reads the account again is the consumer's to retry; woken
// here, they were said at WARN as left by a writer that woke them. Left,
// a writer that woke nothing leaves them to the walk's next round.
func (s *Server) wakeCreatedAccount(ctx context.Context, account string, now time.Time) (int, error) {
	if _, err := s.deps.Store.GetAccount(ctx, account); playback.IsCode(err, playback.CodeNotFound) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	oldest, err := s.deps.Store.ListParkedEvents(ctx, Source, parkAccount(account), playback.ParkCursor{}, 1)
	if err != nil || len(oldest) == 0 || now.Sub(oldest[0].ParkedAt) < s.cfg.SweepAge {
		return 0, err
	}
	n, err := events.WakeStripeAccount(ctx, s.deps.Store, s.deps.Bus, account, s.cfg.SweepBatch, now)
	if n > 0 {
		httpx.Logger(ctx).WarnContext(ctx, "stripe events parked for an account that exists woken by the sweeper",
			"account_id", account, "count", n)
	}
	return n, err
}

// busHold is how long the bus may hold one announcement of a Stripe
// event its consumer keeps failing: its deliveries (the bus's
// configured count, lastDelivery) each followed by the longest wait for
// the next one as deployed (catalog.MaxRedeliveryGap). An event still
// unprocessed that long after Sweep announced it had that announcement
// lost or dead-lettered, so announcing it again then adds no copy to one
// the bus still retries.
func busHold(lastDelivery int) time.Duration {
	return time.Duration(lastDelivery) * catalog.MaxRedeliveryGap(events.TopicStripeEvents)
}

// sweepBackoff is how long after ev was parked (or announced by Sweep)
// Sweep leaves it alone: SweepAge more than it had been under its key
// until then (ParkedSince: since Sweep first announced it, a wake
// announced it, or the consumer parked it for retry), so that the wait
// doubles with each announcement, from SweepAge up to the bus's hold
// (busHold). Counted from its receipt, an event that had waited hours for
// its customer's link, woken and then failed by a store error outlasting
// the bus's deliveries, waited the whole hold once the store was back.
// An event parked before ParkedSince was kept counts from its receipt.
func (s *Server) sweepBackoff(ev playback.InboxEvent) time.Duration {
	since := ev.ParkedSince
	if since.IsZero() {
		since = ev.ReceivedAt
	}
	return min(max(ev.ParkedAt.Sub(since), 0)+s.cfg.SweepAge, s.sweepHold)
}

// reannounce parks ev under key at now and then announces it: parked
// first, an event whose publish fails is still Sweep's, after its backoff.
func (s *Server) reannounce(ctx context.Context, ev playback.InboxEvent, key string, now time.Time) error {
	if err := s.deps.Store.ParkEvent(ctx, Source, ev.ID, key, now, s.parkExpiry(ev, key)); err != nil {
		return err
	}
	return s.announce(ctx, ev)
}

// Values of the parked gauge's playplane.reason: what the events wait for.
const (
	parkedForRetry    = "retry"    // under parkRetry
	parkedForCustomer = "customer" // under a customer's key (parkCustomer)
	parkedForAccount  = "account"  // under an account's key (parkAccount)
	parkedForHeld     = "held"     // under a held customer's key (parkHeld)
)

// recordBacklog records the inbox gauges: pending and retry are what Sweep
// read; the events waiting for a customer's link, across customers, are
// counted up to budget too. A failed count leaves that series out of this
// run's record and the sweep goes on. So are those waiting for their
// account's creation, across accounts, and those waiting for a customer
// another account holds, across customers.
func (s *Server) recordBacklog(ctx context.Context, pending, retry, budget int) {
	parked := map[string]int{parkedForRetry: retry}
	for reason, prefix := range map[string]string{parkedForCustomer: parkCustomer(""), parkedForAccount: parkAccount(""),
		parkedForHeld: parkHeld("")} {
		if waiting, err := s.deps.Store.CountParkedEvents(ctx, Source, prefix, budget); err != nil {
			httpx.Logger(ctx).WarnContext(ctx, "counting parked stripe events", "reason", reason, "err", err)
		} else {
			parked[reason] = waiting
		}
	}
	telemetry.InboxBacklog(ctx, Source, pending, parked)
}

// subscriptionState is what a listing repairs of a subscription: its
// state, the date it went past due and the snapshot it came from, not the
// past_due facts behind that date.
type subscriptionState struct {
	status                         playback.SubscriptionStatus
	planID                         string
	currentPeriodEnd, pastDueSince int64
	clock                          int64
	snapshots                      int
}

// listedState is the state of subscription id on a (zero if a has none).
func listedState(a playback.Account, id string) subscriptionState {
	for _, sub := range a.Subscriptions {
		if sub.ID == id {
			return subscriptionState{status: sub.Status, planID: sub.PlanID, currentPeriodEnd: sub.CurrentPeriodEnd.Unix(),
				pastDueSince: sub.PastDueSince.Unix(), clock: sub.Clock, snapshots: len(sub.Snapshots)}
		}
	}
	return subscriptionState{}
}
