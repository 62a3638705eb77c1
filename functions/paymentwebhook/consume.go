package paymentwebhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
)

// errLinkPending marks an event of a customer not yet linked to an account
// (or of an account not created yet): its checkout.session.completed may
// still be on its way, so the event is retried for Config.LinkWait (or
// until the bus's last delivery), then parked until the link appears,
// however late, or until parkExpiry.
var errLinkPending = errors.New("customer not linked to an account yet")

// errAccountMissing is the errLinkPending of an account not created yet.
// Such an event waits under its account's key (parkAccount), not its
// customer's: whoever creates the account wakes it
// (events.CreateStripeAccount).
var errAccountMissing = fmt.Errorf("account not created yet: %w", errLinkPending)

// accountMissing is errAccountMissing for the account it names.
type accountMissing struct {
	account string
	err     error
}

func (e *accountMissing) Error() string { return e.err.Error() }
func (e *accountMissing) Unwrap() error { return e.err }

// missingAccount is errAccountMissing for account, saying what in text.
func missingAccount(account, format string, args ...any) error {
	return &accountMissing{account: account, err: fmt.Errorf(format+": %w", append(args, errAccountMissing)...)}
}

// Park keys (see playback.InboxStore.ParkEvent). An event of an unlinked
// customer waits under customer:<id> and is woken when the link appears
// (events.LinkStripeCustomer), one of an account not created yet under
// account:<id>, woken when it is created (events.CreateStripeAccount, or
// Sweep once the account exists: wakeCreatedAccounts), one refused
// because another account holds its customer under held:<id>, woken when
// that account lets the customer go (events.FreeStripeCustomer) and
// retried by Sweep meanwhile (retryHeld); every other parked event (a
// dependency down past GiveUpAfter, a status this release cannot map)
// waits under parkRetry and Sweep retries a bounded number of them each
// run, after the stranded events.
const parkRetry = events.StripeRetryParkKey

// parkAnnounced is the key of an event Sweep found pending, or a wake
// found parked for its customer, and announced again: it waits for that
// announcement's outcome, and Sweep announces it again after its backoff
// (see Sweep). It is pending still for the consumer: parking it for what
// it waits for is news, said as for an event never parked.
const parkAnnounced = events.StripeAnnouncedParkKey

// parkCustomer is the key an event of the unlinked customer waits under,
// shared with the admin API, whose links wake them too.
func parkCustomer(customer string) string { return events.StripeCustomerParkKey(customer) }

// parkAccount is the key an event of an account not created yet waits
// under, shared with the writers of accounts, which wake them.
func parkAccount(account string) string { return events.StripeAccountParkKey(account) }

// parkHeld is the key an event refused customer_linked_elsewhere waits
// under, shared with the writers that free a customer, which wake them.
func parkHeld(customer string) string { return events.StripeCustomerHeldParkKey(customer) }

// parkKey is what ev, which failed with err, waits for.
func parkKey(ev playback.InboxEvent, err error) string {
	if missing, ok := errors.AsType[*accountMissing](err); ok {
		if playback.ValidParkKey(parkAccount(missing.account)) {
			return parkAccount(missing.account)
		}
		return parkRetry
	}
	if errors.Is(err, errLinkPending) && !errors.Is(err, errAccountMissing) {
		if c := customerOf(ev.Payload); c != "" && playback.ValidParkKey(parkCustomer(c)) {
			return parkCustomer(c)
		}
	}
	if held, ok := playback.AsError(err).Details.(playback.CustomerLinkedElsewhere); ok && playback.ValidParkKey(parkHeld(held.CustomerID)) {
		return parkHeld(held.CustomerID)
	}
	return parkRetry
}

// HandleStripeEvents is the consumer of TopicStripeEvents. It asks for
// redelivery only of events that failed for a reason a retry can cure, and
// marks every other event processed so that the sweeper leaves it alone.
func (s *Server) HandleStripeEvents(ctx context.Context, msgs []playback.Message) (retry []string) {
	for _, m := range msgs {
		if s.handleMessage(ctx, m) {
			retry = append(retry, m.ID)
		}
	}
	return retry
}

func (s *Server) handleMessage(ctx context.Context, m playback.Message) (retry bool) {
	log := httpx.Logger(ctx).With("message_id", m.ID)
	var rec events.StripeEventRecorded
	if err := json.Unmarshal(m.Data, &rec); err != nil || rec.EventID == "" {
		log.ErrorContext(ctx, "dropping malformed stripe-events message", "err", err)
		return false
	}
	log = log.With("event_id", rec.EventID, "type", rec.Type)
	ev, err := s.deps.Store.GetEvent(ctx, Source, rec.EventID)
	if err != nil {
		if playback.IsCode(err, playback.CodeNotFound) {
			// Processed events expire from the inbox; an announcement that
			// outlived its record has nothing left to do.
			log.WarnContext(ctx, "stripe event not in the inbox; dropping the announcement")
			return false
		}
		log.ErrorContext(ctx, "reading stripe event", "err", err)
		return true
	}
	if !ev.ProcessedAt.IsZero() {
		return false
	}
	now := s.deps.Now()
	err = s.process(ctx, ev, now)
	age := now.Sub(ev.ReceivedAt)
	linkPending := errors.Is(err, errLinkPending)
	switch {
	case err == nil:
	case linkPending && age < s.cfg.LinkWait && m.DeliveryAttempt < s.lastDelivery:
		// Not past the bus's last delivery, whose retry would dead-letter
		// the announcement (and raise the dead-letter alarm) rather than
		// park the event for its link.
		log.InfoContext(ctx, "stripe event waits for its customer link", "err", err, "attempt", m.DeliveryAttempt)
		return true
	case !linkPending && playback.ErrorCode(err).Retryable() && age < s.cfg.GiveUpAfter:
		// The bus retries it. Should it give up, Sweep takes over: it
		// republishes a pending event, but of the parked ones only those
		// under parkRetry or parkAnnounced (where a wake leaves them), so
		// one under a customer's key (redelivered by Stripe) moves there
		// first. A short outage is no page (msgParked
		// at ERROR).
		if ev.ParkedKey != "" && ev.ParkedKey != parkRetry && ev.ParkedKey != parkAnnounced {
			if err := s.deps.Store.ParkEvent(ctx, Source, ev.ID, parkRetry, now, s.parkExpiry(ev, parkRetry)); err != nil {
				log.ErrorContext(ctx, "parking stripe event", "err", err)
			}
		}
		log.WarnContext(ctx, "stripe event failed; will retry", "err", err, "attempt", m.DeliveryAttempt)
		return true
	case linkPending || playback.ErrorCode(err).Retryable() || isUnknownStatus(err) || linkedElsewhere(err):
		// It cannot be applied now but may later (the link appears, the
		// dependency comes back, a release learns the status, an operator
		// frees the customer another account holds): park it.
		// It stays unprocessed in the inbox but leaves the sweeper's
		// pending list: the link's arrival wakes it, or Sweep retries it
		// (parkRetry), and a redelivery from Stripe reprocesses it; the
		// bus stops retrying it. Stable message (msgParked): at ERROR,
		// alert on it; at WARN it waits for a customer's link.
		return s.park(ctx, log, ev, err, now, age, m.DeliveryAttempt >= s.lastDelivery)
	default:
		// It can never succeed: say so loudly and move on.
		log.ErrorContext(ctx, "stripe event rejected", "err", err, "age", age.String())
	}
	if err := s.deps.Store.MarkEventProcessed(ctx, Source, ev.ID, now, now.Add(s.cfg.InboxRetention)); err != nil {
		log.ErrorContext(ctx, "marking stripe event processed", "err", err)
		return true
	}
	if err == nil {
		// Stripe's creation time to ours: what an entitlement change
		// waited, webhook delivery, bus and retries included.
		telemetry.WebhookLag(ctx, s.deps.Now().Sub(ev.Created))
	}
	return false
}

// msgParked is the log message of an event left for later.
const msgParked = "stripe event parked"

// park parks ev under what it waits for and reports whether the bus
// should deliver it again; after lastDelivery the bus dead-letters it.
func (s *Server) park(ctx context.Context, log *slog.Logger, ev playback.InboxEvent, cause error, now time.Time, age time.Duration, lastDelivery bool) (retry bool) {
	key := parkKey(ev, cause)
	expiresAt := s.parkExpiry(ev, key)
	switch {
	case ev.ParkedKey == key:
		// Parked before and tried again in vain (woken, swept or
		// redelivered): behind the key's others, and said once.
		log.InfoContext(ctx, "parked stripe event still waits", "err", cause, "park_key", key)
	case strings.HasPrefix(key, parkCustomer("")):
		// Expected: Stripe sends every event of the account, those of
		// customers of other products too, which no account will ever
		// link. Not an ERROR, which pages; a WARN, because for a customer
		// of ours it means its checkout is late past the bus's retries.
		args := []any{"err", cause, "age", age.String(), "park_key", key}
		if !expiresAt.IsZero() { // without reconciliation it waits for good
			args = append(args, "expires_at", expiresAt)
		}
		log.WarnContext(ctx, msgParked, args...)
	default:
		log.ErrorContext(ctx, msgParked, "err", cause, "age", age.String(), "park_key", key)
	}
	if err := s.deps.Store.ParkEvent(ctx, Source, ev.ID, key, now, expiresAt); err != nil {
		log.ErrorContext(ctx, "parking stripe event", "err", err)
		return true
	}
	if s.arrived(ctx, key) {
		// Not under a key whose wake may have passed, where the bus
		// giving up (dead-lettered at its last delivery, or after
		// deliveries that could not read the inbox) would strand it:
		// before the last delivery it waits for the next as a woken
		// event does (parkAnnounced), at the last Sweep retries it;
		// either way Sweep has it should the bus not deliver.
		next := parkAnnounced
		if lastDelivery {
			next = parkRetry
		}
		if err := s.deps.Store.ParkEvent(ctx, Source, ev.ID, next, now, s.parkExpiry(ev, next)); err != nil {
			log.ErrorContext(ctx, "parking stripe event", "err", err)
			return true
		}
		return !lastDelivery
	}
	return false
}

// arrived reports, for an event just parked under key, whether what it
// waits for may be in place now: the link (or the account) may have been
// written between this attempt's read and the park, and its wake may
// have listed the key before the park, so it is read again, after the
// park, that one of the two sees the other. A failed read counts as
// arrived: the event is then retried rather than left to a wake that
// may have passed.
func (s *Server) arrived(ctx context.Context, key string) bool {
	var err error
	if customer, ok := strings.CutPrefix(key, parkCustomer("")); ok {
		_, err = s.deps.Store.AccountIDByCustomer(ctx, customer)
	} else if account, ok := strings.CutPrefix(key, parkAccount("")); ok {
		_, err = s.deps.Store.GetAccount(ctx, account)
	} else {
		return false
	}
	return err == nil || !playback.IsCode(err, playback.CodeNotFound)
}

// parkExpiry is when ev, parked under key, stops waiting (zero: never).
//
// An event parked for a customer waits for its link, which for a customer
// of another product on the same Stripe account never comes: unbounded,
// those pile up. It waits InboxRetention from its receipt (30 days by
// default, as long as Stripe keeps events; far past its three days of
// redeliveries, so no copy of it arrives after), then is gone, but only
// where Reconcile runs (an API key: hourly): the state such an event
// carries is its subscription's (a checkout links, so it never waits for
// a link; an invoice moves a subscription only through the API; a
// customer.deleted cancels its subscriptions), and Reconcile applies every
// subscription's current state, cancelled ones and deleted customers'
// included, to each linked customer. A link after the expiry so gets
// that state within a run. Without the API the event may be the only copy
// of its subscription's state: it waits for good. Events parked for retry
// wait for a release or a dependency, those Sweep announced for that
// announcement, not for a link, and those of an account not created yet
// for an operator's or a checkout's creation, which no reconciliation
// stands in for: they never expire.
func (s *Server) parkExpiry(ev playback.InboxEvent, key string) time.Time {
	if !strings.HasPrefix(key, parkCustomer("")) || !s.CanReconcile() {
		return time.Time{}
	}
	return ev.ReceivedAt.Add(s.cfg.InboxRetention)
}

// process applies one recorded event.
func (s *Server) process(ctx context.Context, ev playback.InboxEvent, now time.Time) error {
	head, err := decodeEnvelope(ev.Payload)
	if err != nil {
		return err
	}
	if err := checkHandled(head); err != nil {
		return err
	}
	var body struct {
		Data struct {
			Object             json.RawMessage `json:"object"`
			PreviousAttributes json.RawMessage `json:"previous_attributes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(ev.Payload, &body); err != nil {
		return playback.Errorf(playback.CodeInvalid, playback.ReasonMalformedJSON, "event %s: %v", head.ID, err)
	}
	env := event{envelope: head, object: body.Data.Object, previous: body.Data.PreviousAttributes}
	switch env.Type {
	case typeCheckoutCompleted:
		return s.onCheckoutCompleted(ctx, env, now)
	case typeSubscriptionCreated, typeSubscriptionUpdated, typeSubscriptionDeleted,
		typeSubscriptionPaused, typeSubscriptionResumed:
		return s.onSubscription(ctx, env, now)
	case typeInvoicePaid, typeInvoicePaymentFailed:
		return s.onInvoice(ctx, env, now)
	case typeCustomerDeleted:
		return s.onCustomerDeleted(ctx, env, now)
	}
	return nil
}

// event is a recorded event with its data.object.
type event struct {
	envelope
	object   json.RawMessage
	previous json.RawMessage // data.previous_attributes
}

func decodeObject(env event, dst any) error {
	if err := json.Unmarshal(env.object, dst); err != nil {
		return playback.Errorf(playback.CodeInvalid, "object_undecodable", "%s %s: data.object: %v", env.Type, env.ID, err)
	}
	return nil
}

func (s *Server) onCheckoutCompleted(ctx context.Context, env event, now time.Time) error {
	var cs stripeCheckoutSession
	if err := decodeObject(env, &cs); err != nil {
		return err
	}
	accountID, refused := checkoutAccount(cs)
	// Told apart before the refusal: the other product's session need not
	// name an account of the service, and is expected (ignored at INFO),
	// not an error. One that cannot be told apart is refused as before.
	other, products, err := s.checkoutOfOtherProduct(ctx, cs)
	if err != nil {
		return err
	}
	if other {
		// Its client_reference_id is the other product's, whatever
		// account it names: linking would move that account's customer.
		httpx.Logger(ctx).InfoContext(ctx, "stripe checkout of another product ignored", "event_id", env.ID,
			"checkout_session", cs.ID, "customer", cs.Customer, "subscription", cs.Subscription, "products", products)
		return nil
	}
	if refused != nil && startsNoSubscription(cs) {
		// A one-off purchase or a saved card, maybe a guest's (Checkout
		// creates a customer in payment mode only when asked), maybe
		// another product's: it entitles nothing, and without an account
		// and a customer it links nothing either. Expected, not an error.
		httpx.Logger(ctx).InfoContext(ctx, "stripe checkout that starts no subscription ignored", "event_id", env.ID,
			"checkout_session", cs.ID, "mode", cs.Mode, "customer", cs.Customer, "reason", playback.AsError(refused).Reason)
		return nil
	}
	if refused != nil {
		return refused
	}
	err = s.link(ctx, string(cs.Customer), accountID, actorCheckout+cs.ID, env.Created, 0, now)
	if errors.Is(err, errAccountMissing) {
		// A new subscriber: the session creates the account, then links.
		if err = s.provision(ctx, cs, accountID, env, now); err == nil {
			err = s.link(ctx, string(cs.Customer), accountID, actorCheckout+cs.ID, env.Created, 0, now)
		}
	}
	if err != nil {
		return err
	}
	// Without refetch the subscription's own events (retried until this
	// link exists) carry its state; with it, provision at once.
	if cs.Subscription == "" || !s.cfg.Refetch {
		return nil
	}
	return s.refetch(ctx, accountID, string(cs.Subscription), env, 0, now)
}

// checkoutAccount is the account a completed checkout session of the
// service's product links its customer to, or why it cannot link one.
func checkoutAccount(cs stripeCheckoutSession) (string, error) {
	accountID := cs.ClientReferenceID
	if accountID == "" {
		accountID = cs.Metadata["account_id"]
	}
	if accountID == "" {
		return "", playback.Errorf(playback.CodeInvalid, "no_account_reference",
			"checkout session %s has neither client_reference_id nor metadata.account_id", cs.ID)
	}
	if !playback.ValidID(accountID) {
		return "", playback.Errorf(playback.CodeInvalid, "account_reference_invalid",
			"checkout session %s names account %q: %s", cs.ID, accountID, playback.IDRule)
	}
	if cs.Customer == "" {
		return "", playback.Errorf(playback.CodeInvalid, "no_customer", "checkout session %s has no customer", cs.ID)
	}
	return accountID, nil
}

// startsNoSubscription reports whether a completed checkout session is in
// a mode that creates no subscription (payment, setup). A session of
// another mode, or of none named, is taken for a sign-up.
func startsNoSubscription(cs stripeCheckoutSession) bool {
	return cs.Mode == "payment" || cs.Mode == "setup"
}

// refetch reads the subscription from the API and applies it. The read is
// newer than the event, so it is stamped with the later of the event's
// second and now; entered is the second the event saw the subscription
// move into past_due, 0 if it did not (rule 5). A read that shares its second with a different snapshot
// cannot be ordered against it (see unordered): it is not applied, and
// the event is retried, to read again in a later second, which is after
// both.
func (s *Server) refetch(ctx context.Context, accountID, subID string, env event, entered int64, now time.Time) error {
	sub, err := s.deps.Stripe.subscription(ctx, subID)
	if err != nil {
		return err
	}
	if products := sub.productIDs(); s.otherProduct(products) {
		// The read's second is an upper bound: the state may be of the
		// second before, where the news it refuses may be.
		return s.ignoreOtherProduct(ctx, env, sub.ID, string(sub.Customer), products, max(env.Created, now.Unix())-1, s.movedAway(env), now)
	}
	if accountID == "" {
		if accountID, err = s.accountFor(ctx, string(sub.Customer), sub.Metadata, sub.Created, now); err != nil {
			return err
		}
	}
	snap, err := s.fromSubscription(sub, env.ID, max(env.Created, now.Unix()), placeAny, nil)
	if err != nil {
		return err
	}
	snap.entered = entered
	tied := false
	_, _, err = s.applyToAccount(ctx, accountID, env.ID, now, func(a *playback.Account) bool {
		if tied = unordered(*a, snap); tied {
			return false
		}
		return merge(a, snap, false)
	})
	if err != nil {
		return err
	}
	if tied {
		return playback.Errorf(playback.CodeUnavailable, "read_unordered",
			"subscription %s read in second %d beside a different state of it: read again once that second has passed", snap.subID, snap.clock)
	}
	return nil
}

func (s *Server) onSubscription(ctx context.Context, env event, now time.Time) error {
	var sub stripeSubscription
	if err := decodeObject(env, &sub); err != nil {
		return err
	}
	var prev map[string]string
	if env.Type == typeSubscriptionUpdated {
		prev = previousAttrs(env.previous)
	}
	if products := sub.productIDs(); !s.cfg.Refetch && s.otherProduct(products) {
		// With REFETCH the read, the state now, tells (refetch).
		moved := s.movedAway(env)
		if moved {
			if err := s.moveWaitsForLink(ctx, sub); err != nil {
				return err
			}
		}
		return s.ignoreOtherProduct(ctx, env, sub.ID, string(sub.Customer), products, env.Created, moved, now)
	}
	if s.cfg.Refetch {
		// The read is the state now; the event still says when the
		// subscription moved into past_due (rule 5).
		var entered int64
		if entersPastDue(sub.Status, prev) {
			entered = env.Created
		}
		return s.refetch(ctx, "", sub.ID, env, entered, now)
	}
	accountID, err := s.accountFor(ctx, string(sub.Customer), sub.Metadata, sub.Created, now)
	if err != nil {
		return err
	}
	snap, err := s.fromSubscription(sub, env.ID, env.Created, placeOf(env.Type), prev)
	if err != nil {
		return err
	}
	return s.applySnapshot(ctx, accountID, env.ID, now, snap)
}

// onInvoice acts on the invoice's own subscription only through the API:
// an invoice does not say what it did to its subscription (a declined
// pending update or an old invoice's last retry leave it as it was), and
// Stripe sends customer.subscription.updated for every status it does
// change. Without an API key the event only links its customer.
func (s *Server) onInvoice(ctx context.Context, env event, now time.Time) error {
	var inv stripeInvoice
	if err := decodeObject(env, &inv); err != nil {
		return err
	}
	subID := string(inv.Subscription)
	if subID == "" {
		return nil // a one-off invoice: no subscription to change
	}
	if products := inv.productIDs(subID); s.otherProduct(products) {
		// Before any link (subscription_details.metadata names an
		// account) and any read: the other product's invoice is none of
		// the service's business, and an old one of a subscription that
		// has moved products since says nothing of what it is now.
		return s.ignoreOtherProduct(ctx, env, subID, string(inv.Customer), products, 0, false, now)
	}
	var meta map[string]string
	if inv.SubscriptionDetails != nil {
		meta = inv.SubscriptionDetails.Metadata
	}
	accountID, err := s.accountFor(ctx, string(inv.Customer), meta, 0, now)
	if err != nil {
		return err
	}
	if !s.cfg.Refetch {
		return nil
	}
	return s.refetch(ctx, accountID, subID, env, 0, now)
}

// onCustomerDeleted cancels the subscriptions of the customer the account
// held before the deletion, and keeps the deletion for those it hears of
// later (rule 4). Stripe also sends customer.subscription.deleted for
// each, which carry the full objects and supersede this inferred
// cancellation whatever the order; this is the backstop for the ones that
// never arrive. A customer not linked yet waits for its link like any
// other event of it: its checkout.session.completed may come later. One
// that names its account only through metadata.account_id, of an account
// not created yet, waits for the account as the customer's other events
// that name it so do (errAccountMissing); it does not link the deleted
// customer. An account left naming the deleted customer, billed by none,
// names the customer it still pays through, if any, in the same write
// (applyToAccount's leaveDeleted).
func (s *Server) onCustomerDeleted(ctx context.Context, env event, now time.Time) error {
	var cus stripeCustomer
	if err := decodeObject(env, &cus); err != nil {
		return err
	}
	byMetadata := false
	accountID, err := playback.CustomerAccount(ctx, s.deps.Store, cus.ID)
	if playback.IsCode(err, playback.CodeNotFound) {
		accountID, err, byMetadata = cus.Metadata["account_id"], nil, true
	}
	if err != nil {
		return err
	}
	if accountID == "" {
		return fmt.Errorf("deleted customer %q: %w", cus.ID, errLinkPending)
	}
	_, _, err = s.applyToAccount(ctx, accountID, env.ID, now, func(a *playback.Account) bool {
		changed := noteDeletion(a, playback.CustomerDeletion{Customer: cus.ID, Clock: env.Created, Event: env.ID})
		for _, cur := range slices.Clone(a.Subscriptions) {
			changed = cancelDeleted(a, cur.ID) || changed
		}
		return changed
	})
	if byMetadata && playback.IsCode(err, playback.CodeNotFound) {
		return missingAccount(accountID, "deleted customer %q of account %s", cus.ID, accountID)
	}
	return err
}

// accountFor resolves a customer to an account: through the link, else
// through the metadata.account_id (which our checkout sets) of the object
// created at second created (a subscription's; 0 when unknown, as for an
// invoice's subscription_details), linking it. That link is no checkout:
// it carries no clock, so it renames no account a checkout or an operator
// named (a subscription of a customer the subscriber left may well be
// newer than the checkout of the one it has now); among such links the
// newest object names the customer (namesCustomer), so a customer linked
// already is offered the account again by a dated object. Without either
// the link may still be coming.
func (s *Server) accountFor(ctx context.Context, customer string, meta map[string]string, created int64, now time.Time) (string, error) {
	if customer != "" {
		id, err := playback.CustomerAccount(ctx, s.deps.Store, customer)
		if err == nil {
			if created > 0 && meta["account_id"] == id {
				// Linked by an older object, maybe: this one may be the
				// newest, in whatever order they come. One that renames
				// the account (which names another customer) links.
				err := s.redate(ctx, customer, id, created, now)
				if errors.Is(err, errRenames) {
					err = s.link(ctx, customer, id, actorMetadata+customer, 0, created, now)
				}
				if err != nil {
					return "", fmt.Errorf("paymentwebhook.accountFor %s → %s: %w", customer, id, err)
				}
			}
			return id, nil
		}
		if !playback.IsCode(err, playback.CodeNotFound) {
			return "", err
		}
	}
	accountID := meta["account_id"]
	if accountID == "" {
		return "", fmt.Errorf("customer %q: %w", customer, errLinkPending)
	}
	if customer != "" {
		if err := s.link(ctx, customer, accountID, actorMetadata+customer, 0, max(created, undatedLink), now); err != nil {
			return "", err
		}
	}
	return accountID, nil
}

// link records customer → account, news of the provider's second clock
// (clock 0: of an object created at second created), after making sure
// the account exists (an unknown account is a permanent failure:
// not_found). The customer resolves to the account whatever the clock;
// the account names it only if the news is the newest (namesCustomer).
// actor is the audit actor of the account's write.
//
// A customer bills one account, whoever links it: the link is claimed
// (playback.ClaimCustomer) before the account names the customer, as an
// operator's is, pending on the account as read, and the account is
// written on the condition that it still is as read (claimAndName). A
// customer another account holds is refused customer_linked_elsewhere,
// writing nothing, and the event is parked (parkHeld, at ERROR) until
// that account lets the customer go (an operator, an import, or a link
// here giving it another customer wakes it; Sweep retries it
// meanwhile): the event is kept, the other account keeps its billing,
// and no account names a customer whose events go elsewhere. A link its
// account no longer names is taken; one that renames the account frees
// the customer it named, and wakes the events held for that one
// (freeing).
func (s *Server) link(ctx context.Context, customer, accountID, actor string, clock, created int64, now time.Time) error {
	if !playback.ValidCustomerID(customer) {
		// Refused before the account names it: a store that cannot key
		// the link by it would refuse only after the account was written.
		return playback.Errorf(playback.CodeInvalid, "customer_invalid", "stripe customer %q: %s", customer, playback.CustomerIDRule)
	}
	rec, err := s.deps.Store.GetRecord(ctx, playback.KindAccount, accountID)
	if playback.IsCode(err, playback.CodeNotFound) {
		return missingAccount(accountID, "paymentwebhook.link %s → %s", customer, accountID)
	}
	if err != nil {
		return fmt.Errorf("paymentwebhook.link %s → %s: %w", customer, accountID, err)
	}
	// Wake even when the account already named the customer: an earlier
	// attempt may have stopped before the link, and events parked since
	// wait for this. A failed link or wake fails the event: nothing else
	// wakes events parked under a customer (Stripe does not redeliver
	// what was acknowledged, Sweep retries no customer's key), so the
	// event that links is retried until its wake went through.
	var (
		claim  playback.CustomerLink
		linked bool
		kept   string
		wrote  error
	)
	woken, err := events.ClaimStripeCustomer(ctx, s.deps.Store, s.deps.Bus, customer, s.cfg.SweepBatch, s.deps.Now, func() error {
		claim, linked, kept, wrote = s.claimAndName(ctx, customer, rec, actor, clock, created, now)
		return wrote
	})
	if playback.IsCode(wrote, playback.CodeNotFound) {
		// Deleted since the read, or about to be created again: wait for
		// it like for a link.
		return missingAccount(accountID, "paymentwebhook.link %s → %s", customer, accountID)
	}
	if err != nil && !playback.ErrorCode(err).Retryable() {
		// customer_linked_elsewhere is parked for retry; any other
		// refusal is the store's.
		return fmt.Errorf("paymentwebhook.link %s → %s: %w", customer, accountID, err)
	}
	if err == nil {
		// Plain once the account is as the news leaves it (best effort:
		// a write of it frees the claim all the same).
		if _, err := s.deps.Store.SwapCustomerLink(ctx, customer, claim, playback.CustomerLink{AccountID: accountID}); err != nil {
			httpx.Logger(ctx).WarnContext(ctx, "customer link left pending", "customer", customer, "account_id", accountID, "err", err)
		}
	}
	logWoken(ctx, customer, woken, err)
	if err != nil {
		return retryable(err, "linking %s and waking the stripe events parked for it", customer)
	}
	if err := s.announceLinked(ctx, rec, actor, now); err != nil {
		return err
	}
	switch {
	case linked:
		httpx.Logger(ctx).InfoContext(ctx, "stripe customer linked", "customer", customer, "account_id", accountID)
	case kept != "":
		httpx.Logger(ctx).InfoContext(ctx, "stripe customer linked; the account keeps its newer customer",
			"customer", customer, "account_id", accountID, "account_customer", kept)
	}
	return nil
}

// announceLinked announces the entitlement of the account rec (as read
// before a link) if the link moved it: the customer's subscriptions it
// adopted, or those of the customer it stopped naming
// (playback.Account.SetCustomer), as any change is announced
// (applyToAccount), changing nothing more. A link that moved nothing
// announces nothing, as before links moved subscriptions.
func (s *Server) announceLinked(ctx context.Context, rec playback.Record, actor string, now time.Time) error {
	var was playback.Account
	if err := json.Unmarshal(rec.Doc, &was); err != nil {
		return fmt.Errorf("paymentwebhook: stored account %q: %w", rec.ID, err)
	}
	is, err := s.deps.Store.GetAccount(ctx, rec.ID)
	if err != nil || s.entitlementOf(is, now) == s.entitlementOf(was, now) {
		return err
	}
	_, _, err = s.applyToAccount(ctx, rec.ID, actor, now, func(*playback.Account) bool { return false })
	return err
}

// freedBy is the customer the account rec (as read) names that naming
// customer there, by news of second clock of an object created at second
// created, frees: "" when the news names nothing new there (namesCustomer)
// or the account names no other customer.
func freedBy(rec playback.Record, customer string, clock, created int64) (string, error) {
	var a playback.Account
	if err := json.Unmarshal(rec.Doc, &a); err != nil {
		return "", fmt.Errorf("paymentwebhook: stored account %q: %w", rec.ID, err)
	}
	if a.CustomerID == customer || !namesCustomer(a, customer, clock, created) {
		return "", nil
	}
	return a.CustomerID, nil
}

// freeing runs write, which makes account name customer instead of
// named, and so frees named: a checkout of named for another account,
// parked while this one held it (parkHeld), applies then, and is woken
// around the write as an operator's free wakes it
// (events.FreeStripeCustomer): handed to Sweep before, so that a consumer
// killed after the write loses none (its retry reads the account naming
// customer and frees nothing), announced after. Handing them over resets
// their backoff (their wait under announced is new), so it is done only
// for a write that renames (freedBy) once customer is claimed: a link
// refused customer_linked_elsewhere, retried on its own backoff, would
// otherwise retry them each time, and two accounts whose checkouts name
// each other's customer would retry each other every SweepAge for good.
func (s *Server) freeing(ctx context.Context, named, customer, account string, write func() error) error {
	if named == "" {
		return write()
	}
	woken, err := events.FreeStripeCustomer(ctx, s.deps.Store, s.deps.Bus, named, s.cfg.SweepBatch, s.deps.Now, write)
	if woken > 0 {
		httpx.Logger(ctx).InfoContext(ctx, "parked stripe events woken by an account naming another customer",
			"customer", named, "account_id", account, "account_customer", customer, "count", woken)
	}
	return err
}

// nameAttempts bounds claimAndName's rereads of the account: each is
// another write of it that landed between a read and the write naming the
// customer.
const nameAttempts = 4

// claimAndName claims customer for the account rec as read, pending on
// its version, and names it there (nameCustomer) on the condition that
// the record still has that version: the version its claim holds the
// customer on. An unconditional write would land even after another write
// of the account, which leaves the claim a link its account does not
// name, free for an operator (or another checkout) to take meanwhile: two
// accounts would name one customer. On a version conflict it reads the
// account again and claims again, so a claim taken meanwhile is refused
// customer_linked_elsewhere. A write that renames the account wakes the
// events held for the customer it frees (freeing), once customer is
// claimed. A write refused for good gives the claim back; it returns the
// claim the account was written under.
//
// The account the claim took the link from (no longer naming the
// customer, or the claim would be refused) holds the customer's
// subscriptions, which its events kept bringing there: the account
// adopts them in the write that names the customer
// (playback.Account.AdoptSubscriptions), read after the claim, so that
// the customer's events since come here. A claim retried after its
// writer died took the link from its own claim, and adopts nothing: the
// subscription's next event, or a reconciliation, brings it here.
func (s *Server) claimAndName(ctx context.Context, customer string, rec playback.Record, actor string, clock, created int64, now time.Time) (claim playback.CustomerLink, linked bool, kept string, err error) {
	var holder playback.Account
	for attempt := 1; ; attempt++ {
		at := s.deps.Now()
		claim = playback.PendingClaim(rec.ID, rec.Version, at)
		prev, err := playback.ClaimCustomer(ctx, s.deps.Store, customer, claim, at)
		if err != nil {
			return claim, false, "", err
		}
		if prev.AccountID != "" && prev.AccountID != rec.ID && holder.ID == "" {
			if holder, err = playback.StoredAccount(ctx, s.deps.Store, prev.AccountID); err != nil {
				return claim, false, "", err
			}
		}
		freed, err := freedBy(rec, customer, clock, created)
		if err != nil {
			return claim, false, "", err
		}
		written := false
		err = s.freeing(ctx, freed, customer, rec.ID, func() error {
			var err error
			linked, kept, err = s.nameClaimed(ctx, at, customer, rec, holder, actor, clock, created, now)
			written = err == nil
			return err
		})
		if written && err != nil {
			// The wake of the freed customer's held events failed after
			// the write, which handed them to Sweep: retried, as a
			// failed wake of the link is.
			return claim, linked, kept, err
		}
		switch {
		case playback.IsCode(err, playback.CodePrecondition) && attempt < nameAttempts:
			if rec, err = s.deps.Store.GetRecord(ctx, playback.KindAccount, rec.ID); err != nil {
				return claim, false, "", err
			}
			continue
		case playback.IsCode(err, playback.CodePrecondition):
			return claim, false, "", playback.Unavailable(err, "paymentwebhook: account %q was written under %d claims of customer %q in a row",
				rec.ID, nameAttempts, customer)
		case err != nil && !playback.ErrorCode(err).Retryable():
			if _, err := s.deps.Store.SwapCustomerLink(ctx, customer, claim, prev); err != nil {
				httpx.Logger(ctx).WarnContext(ctx, "customer link claim not given back", "customer", customer, "account_id", rec.ID, "err", err)
			}
		}
		return claim, linked, kept, err
	}
}

// nameClaimed is nameCustomer for a claim written at claimed, within
// playback.PendingClaimWrite of it (playback.ClaimWriteContext).
func (s *Server) nameClaimed(ctx context.Context, claimed time.Time, customer string, rec playback.Record, holder playback.Account, actor string, clock, created int64, now time.Time) (linked bool, kept string, err error) {
	ctx, cancel, err := playback.ClaimWriteContext(ctx, claimed, s.deps.Now())
	defer cancel()
	if err != nil {
		return false, "", err
	}
	return s.nameCustomer(ctx, customer, rec, holder, actor, clock, created, now)
}

// nameCustomer makes the account rec (as read) name customer if that is
// the newest news (names), writing it on the condition that it is still
// at rec's version (CodePrecondition when not), audited as actor: linked
// reports that it did, else kept is the other customer the account keeps
// naming. The subscriptions holder (the account the link was taken from)
// holds of customer are adopted in the same write, whether or not the
// account names customer: they follow the customer's link, as its events
// do, and entitle the account only while it names customer.
func (s *Server) nameCustomer(ctx context.Context, customer string, rec playback.Record, holder playback.Account, actor string, clock, created int64, now time.Time) (linked bool, kept string, err error) {
	var a playback.Account
	if err := json.Unmarshal(rec.Doc, &a); err != nil {
		return false, "", fmt.Errorf("paymentwebhook: stored account %q: %w", rec.ID, err)
	}
	changed, linked, kept := names(ctx, &a, customer, clock, created, now)
	if a.AdoptSubscriptions(holder, customer) {
		changed = true
		a.UpdatedAt = now
	}
	if !changed {
		return false, kept, nil
	}
	doc, err := json.Marshal(a)
	if err != nil {
		return false, "", fmt.Errorf("paymentwebhook: account %q: %w", rec.ID, err)
	}
	_, err = s.deps.Store.ApplyChanges(ctx, playback.ChangeSet{Actor: actor, At: now,
		Changes: []playback.Change{{Kind: playback.KindAccount, ID: rec.ID, Doc: doc, IfMatch: rec.Version}}})
	if err != nil {
		return false, "", err
	}
	return linked, "", nil
}

// names makes a name customer if that is the newest news
// (namesCustomer), and reports whether it changed a: linked when a names
// customer and did not, else kept is the other customer a keeps naming.
func names(ctx context.Context, a *playback.Account, customer string, clock, created int64, now time.Time) (changed, linked bool, kept string) {
	if !namesCustomer(*a, customer, clock, created) {
		if a.CustomerID != customer {
			kept = a.CustomerID
		}
		return false, false, kept
	}
	if a.CustomerID != customer {
		linked = true
		if a.CustomerID != "" {
			httpx.Logger(ctx).WarnContext(ctx, "account changes Stripe customer", "account_id", a.ID,
				"from", a.CustomerID, "to", customer)
		}
	}
	a.SetCustomer(customer)
	a.CustomerClock, a.CustomerLinkCreated, a.UpdatedAt = clock, created, now
	return true, linked, ""
}

// errRenames is redate's refusal of news that renames the account: that
// is a link, which claims the customer first.
var errRenames = errors.New("the news renames the account")

// redate dates again the link of customer to accountID, which names it,
// by news of an object created at second created: the account keeps the
// customer, so no other account can take it meanwhile (its claim holds
// while the account names it). News that would rename the account is
// errRenames, written nothing.
func (s *Server) redate(ctx context.Context, customer, accountID string, created int64, now time.Time) error {
	_, err := s.deps.Store.UpdateAccount(ctx, accountID, func(a *playback.Account) error {
		if !namesCustomer(*a, customer, 0, created) {
			return playback.ErrNoChange
		}
		if a.CustomerID != customer {
			return errRenames
		}
		names(ctx, a, customer, 0, created, now)
		return nil
	})
	return err
}

// undatedLink is the created of a metadata link whose object carries no
// creation second (an invoice's subscription_details: a snapshot of the
// subscription's metadata, without the subscription's date), so that it
// ranks before any dated one and is told apart from a legacy link
// (namesCustomer), whose created is 0.
const undatedLink int64 = 1

// namesCustomer reports whether news of the provider's second clock that
// links customer to a makes a name it: Stripe retries an event for days,
// so the checkout of a customer a subscriber left may come after the one
// of the customer it has now. The newest news wins; within one second,
// which Stripe's events do not order, the greater customer id, so that
// every delivery order of checkouts ends alike. A customer named by an
// operator or a catalogue is news of the second it was written
// (catalogfile's Apply). A link with no news of its own (clock 0: by
// metadata) is outranked by any with news, and among such links the
// object created last (created; undatedLink before any dated one) wins,
// then the greater customer id: the newest subscription's customer, in
// any delivery order.
//
// An account named before links carried either (clock 0, created 0: a
// legacy link) may have been named by a checkout or an operator, which
// no metadata link outranks: the customer a subscriber left keeps
// sending events of its old subscriptions, whose metadata still names
// the account. No metadata link renames or dates such a link, as none
// renamed a named account when it was written; news does.
func namesCustomer(a playback.Account, customer string, clock, created int64) bool {
	switch {
	case a.CustomerID == "":
		return true
	case clock != a.CustomerClock:
		return clock > a.CustomerClock
	case clock == 0 && a.CustomerLinkCreated == 0:
		return false // a legacy link: of unknown news
	case clock == 0 && created != a.CustomerLinkCreated:
		return created > a.CustomerLinkCreated
	}
	return customer > a.CustomerID
}

// wakeParked announces the events parked for customer again, now that its
// link lets them apply. An event whose announcement fails is still parked,
// and calling it again wakes it.
func (s *Server) wakeParked(ctx context.Context, customer string) error {
	woken, err := events.WakeStripeCustomer(ctx, s.deps.Store, s.deps.Bus, customer, s.cfg.SweepBatch, s.deps.Now())
	logWoken(ctx, customer, woken, err)
	return err
}

// logWoken logs a wake of the events parked for customer: how many it
// woke, or why it stopped (those not woken are still parked).
func logWoken(ctx context.Context, customer string, woken int, err error) {
	switch {
	case err != nil:
		httpx.Logger(ctx).WarnContext(ctx, "waking parked stripe events", "customer", customer, "woken", woken, "err", err)
	case woken > 0:
		httpx.Logger(ctx).InfoContext(ctx, "parked stripe events woken", "customer", customer, "count", woken)
	}
}

// customerOf is the customer a recorded event is about, "" if none.
func customerOf(payload []byte) string { return events.StripeEventCustomer(payload) }

func (s *Server) applySnapshot(ctx context.Context, accountID, cause string, now time.Time, snap snapshot) error {
	_, _, err := s.applyToAccount(ctx, accountID, cause, now, func(a *playback.Account) bool {
		return merge(a, snap, false)
	})
	return err
}

func (s *Server) entitlementOf(a playback.Account, now time.Time) playback.Entitlement {
	return playback.Entitlement{Entitled: a.Entitled(now, s.cfg.PastDueGrace), Status: a.Status, PlanID: a.PlanID}
}

// applyToAccount runs change on the account and announces its entitlement
// when it differs from the one last announced (Account.Announced),
// changed or not: the announcement cannot share a transaction with the
// write, so a change whose publish failed stays unannounced in the account
// itself, and the next event or reconciliation to meet it announces,
// whatever that one changes. A publish that went out is recorded by a
// write of its own, on condition that the account's entitlement is still
// the one announced; if that write fails, the next one announces again.
// Consumers act on the account as it is, so a repeat is harmless.
func (s *Server) applyToAccount(ctx context.Context, accountID, cause string, now time.Time,
	change func(*playback.Account) bool) (after playback.Account, changed bool, err error) {
	// The links leaveDeleted judges by are read before the write, not
	// inside it (a store's transaction): a write that meets customers not
	// read yet stops, and is written again once they are.
	links := map[string]string{}
	for attempt := 1; ; attempt++ {
		var need []string
		after, err = s.deps.Store.UpdateAccount(ctx, accountID, func(a *playback.Account) error {
			changed = change(a)
			left, missing := leaveDeleted(a, links)
			if len(missing) > 0 {
				need = missing
				return errLinksUnread
			}
			changed = changed || left
			// After the change, which an old mark may still refuse: a
			// forgotten mark would let the very event being applied through.
			forgot := forgetMarks(a, now.Add(-s.markLifetime()).Unix())
			if !changed && !forgot {
				return playback.ErrNoChange
			}
			a.UpdatedAt = now
			return nil
		})
		if !errors.Is(err, errLinksUnread) || attempt == linkReads {
			break
		}
		for _, c := range need {
			id, err := s.deps.Store.AccountIDByCustomer(ctx, c)
			if err != nil && !playback.IsCode(err, playback.CodeNotFound) {
				return after, false, fmt.Errorf("paymentwebhook: account %s: customer %s: %w", accountID, c, err)
			}
			links[c] = id
		}
	}
	if err != nil {
		return after, false, fmt.Errorf("paymentwebhook: account %s: %w", accountID, err)
	}
	is := s.entitlementOf(after, now)
	if is == after.Announced {
		return after, changed, nil
	}
	if err := s.publishEntitlement(ctx, accountID, is, cause, now); err != nil {
		return after, changed, err
	}
	_, err = s.deps.Store.UpdateAccount(ctx, accountID, func(a *playback.Account) error {
		if a.Announced == is || s.entitlementOf(*a, now) != is {
			// Recorded already, or changed since: the writer of that
			// change finds it differ from Announced and announces it.
			return playback.ErrNoChange
		}
		a.Announced = is
		return nil
	})
	if err != nil {
		httpx.Logger(ctx).WarnContext(ctx, "recording the announced entitlement; the next write announces again",
			"account_id", accountID, "err", err)
	}
	return after, changed, nil
}

// errLinksUnread stops a write that needs customer links not read yet
// (leaveDeleted); linkReads bounds how often applyToAccount reads them
// and writes again, each time for customers the account came to hold
// meanwhile.
var errLinksUnread = errors.New("paymentwebhook: customer links not read yet")

const linkReads = 3

// leaveDeleted makes a, which names a deleted customer whose
// subscriptions entitle it no longer, name instead the customer of the
// best (BestSubscription) of the subscriptions it holds of another
// customer that still bill (active, trialing, past_due), not deleted on a,
// whose link (links: customer → account, "" for none, read before the
// write) still resolves to a, and reports whether it did; missing are the
// customers whose links it needs and links lacks, changing nothing then.
// The subscriber kept paying through that customer (a double-submitted
// checkout whose later duplicate support deleted), and is entitled by it
// as before the account named the duplicate. It runs in every write of a
// (applyToAccount), whichever of the deletion and that subscription's
// events comes last, and dates the name by the deletion, news of its
// second: a late checkout of the deleted customer, older, leaves it, a
// newer one renames.
//
// A named customer not deleted whose subscriptions on a all ended counts
// as deleted as of the newest of them: support's usual answer to the
// double checkout is to cancel the duplicate subscription and keep its
// customer, and the subscriber pays through the other all the same.
func leaveDeleted(a *playback.Account, links map[string]string) (left bool, missing []string) {
	if a.CustomerID == "" {
		return false, nil
	}
	if cur, ok := a.BillingSubscription(); ok && bills(cur.Status) {
		return false, nil
	}
	var ended int64
	if i := slices.IndexFunc(a.CustomersDeleted, func(d playback.CustomerDeletion) bool { return d.Customer == a.CustomerID }); i >= 0 {
		ended = a.CustomersDeleted[i].Clock
	} else {
		held := false
		for _, sub := range a.Subscriptions {
			if sub.Customer == a.CustomerID {
				held, ended = true, max(ended, sub.Clock)
			}
		}
		if !held {
			return false, nil
		}
	}
	var kept []playback.Subscription
	for _, sub := range a.Subscriptions {
		if sub.Customer == "" || sub.Customer == a.CustomerID || !bills(sub.Status) ||
			slices.ContainsFunc(a.CustomersDeleted, func(d playback.CustomerDeletion) bool { return d.Customer == sub.Customer }) {
			continue
		}
		id, ok := links[sub.Customer]
		switch {
		case !ok:
			if !slices.Contains(missing, sub.Customer) {
				missing = append(missing, sub.Customer)
			}
		case id == a.ID:
			kept = append(kept, sub)
		}
	}
	if len(missing) > 0 {
		return false, missing
	}
	best, ok := playback.BestSubscription(kept)
	if !ok {
		return false, nil
	}
	a.SetCustomer(best.Customer)
	a.CustomerClock, a.CustomerLinkCreated = max(a.CustomerClock, ended), 0
	return true, nil
}

// bills reports whether a subscription in status st is still paid
// through its customer: one the account may be entitled by, whatever the
// clock says of a past_due grace.
func bills(st playback.SubscriptionStatus) bool {
	return st == playback.StatusActive || st == playback.StatusTrialing || st == playback.StatusPastDue
}

// stripeRetries is how long Stripe resends an event it could not deliver
// (docs.stripe.com/webhooks: up to three days, in live mode).
const stripeRetries = 72 * time.Hour

// markLifetime is how long an other-product mark is kept (forgetMarks):
// STRIPE_INBOX_RETENTION, as long as Stripe keeps events, but never less
// than the latest a stale event may still be applied, Stripe's retries
// and then the inbox's own until it gives up (STRIPE_EVENT_GIVE_UP). A
// shorter retention is not refused: it only shortens the inbox's memory,
// which an operator may trade for storage.
func (s *Server) markLifetime() time.Duration {
	return max(s.cfg.InboxRetention, stripeRetries+s.cfg.GiveUpAfter)
}

func (s *Server) publishEntitlement(ctx context.Context, accountID string, e playback.Entitlement, cause string, now time.Time) error {
	data, err := json.Marshal(events.EntitlementChanged{AccountID: accountID, Status: string(e.Status),
		PlanID: e.PlanID, Entitled: e.Entitled, Cause: cause, At: now})
	if err != nil {
		return err
	}
	err = s.deps.Bus.Publish(ctx, events.TopicEntitlementChanged, playback.Message{OrderingKey: accountID, Data: data})
	if err != nil {
		return retryable(err, "publishing entitlement change of %s", accountID)
	}
	httpx.Logger(ctx).InfoContext(ctx, "entitlement changed", "account_id", accountID, "entitled", e.Entitled,
		"status", e.Status, "plan_id", e.PlanID, "cause", cause)
	return nil
}

func isUnknownStatus(err error) bool {
	pe := playback.AsError(err)
	return pe != nil && pe.Reason == reasonUnknownStatus
}

// linkedElsewhere reports whether err refuses a link of a customer another
// account holds (link).
func linkedElsewhere(err error) bool {
	pe := playback.AsError(err)
	return pe != nil && pe.Reason == playback.ReasonCustomerLinkedElsewhere
}
