package playback

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Quality is the highest rendition a plan may stream.
type Quality string

const (
	QualitySD  Quality = "SD"
	QualityHD  Quality = "HD"
	QualityUHD Quality = "UHD"
)

// Plan is a subscription tier.
type Plan struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	MaxStreams int     `json:"max_streams"`
	MaxDevices int     `json:"max_devices"`
	MaxQuality Quality `json:"max_quality"`
}

// SubscriptionStatus follows Stripe's subscription statuses, plus "none" for an
// account that never subscribed.
type SubscriptionStatus string

const (
	StatusNone       SubscriptionStatus = "none"
	StatusTrialing   SubscriptionStatus = "trialing"
	StatusActive     SubscriptionStatus = "active"
	StatusPastDue    SubscriptionStatus = "past_due"
	StatusPaused     SubscriptionStatus = "paused"
	StatusCanceled   SubscriptionStatus = "canceled"
	StatusUnpaid     SubscriptionStatus = "unpaid"
	StatusIncomplete SubscriptionStatus = "incomplete"
)

// Device is a player registered to an account.
type Device struct {
	ID           string    `json:"id"`
	Name         string    `json:"name,omitempty"`
	RegisteredAt time.Time `json:"registered_at"`
	// LastPlayedAt is when the device last started a play, to within
	// LastPlayedStep (see Account.Played); zero for a device registered
	// before it was kept and not played since.
	LastPlayedAt time.Time `json:"last_played_at,omitzero"`
}

// LastPlayedStep is how far a registered device's LastPlayedAt may lag
// its plays. A play records its time only when the recorded one is this
// old: recording every play would make every admission write the account
// (on DynamoDB it only checks the account's version), and each such write
// would send the household's other plays in flight back to read again.
// A day still tells a stale device from one in use.
const LastPlayedStep = 24 * time.Hour

// Played is the account as a play from device id at now leaves it, and
// whether the play changed it, so that the admission writes it only then:
// a new device is registered, named name; a registered one's LastPlayedAt
// moves to now once it is LastPlayedStep old. Devices is copied when it
// changes, never written in place.
func (a Account) Played(id, name string, now time.Time) (Account, bool) {
	i := slices.IndexFunc(a.Devices, func(d Device) bool { return d.ID == id })
	if i < 0 {
		a.Devices = append(slices.Clone(a.Devices), Device{ID: id, Name: name, RegisteredAt: now, LastPlayedAt: now})
		return a, true
	}
	if now.Sub(a.Devices[i].LastPlayedAt) < LastPlayedStep {
		return a, false
	}
	a.Devices = slices.Clone(a.Devices)
	a.Devices[i].LastPlayedAt = now
	return a, true
}

// Subscription is one billing subscription of an account as last seen from
// the payment provider. An account may hold several; Entitle folds them.
//
// Status, plan and period are those of the newest snapshot of the
// subscription the provider sent. Ordering is explicit and stored as plain
// integers and strings, so that every store (bolt, DynamoDB, Firestore,
// whose timestamps keep only microseconds) orders alike: snapshots of
// older provider seconds than Clock are stale, and the snapshots of second
// Clock are all kept so that their order within the second is decided from
// the set, whatever order they arrived in (see the provider adapter).
type Subscription struct {
	ID               string             `json:"id"`
	Status           SubscriptionStatus `json:"status"`
	PlanID           string             `json:"plan_id"`
	CurrentPeriodEnd time.Time          `json:"current_period_end"`
	PastDueSince     time.Time          `json:"past_due_since,omitzero"`
	// Clock is the provider's clock (Unix seconds) of the newest snapshot.
	Clock int64 `json:"clock"`
	// Snapshots are the snapshots seen at second Clock.
	Snapshots []SubscriptionSnapshot `json:"snapshots,omitempty"`
	// Derived marks a cancellation inferred (from the customer's deletion)
	// rather than read from the subscription itself.
	Derived bool `json:"derived,omitempty"`
	// Live is, under a derived cancellation, the state it was inferred
	// from, which the provider's later news of the time before the
	// deletion still moves (nil under one stored before it was kept).
	Live *Subscription `json:"live,omitempty"`
	// Customer is the provider's customer the subscription bills, "" when
	// not known (a subscription stored before it was kept).
	Customer string `json:"customer,omitempty"`
	// What the provider said about past_due, in provider seconds, from
	// every snapshot however stale, so that PastDueSince does not depend
	// on the order they came in (see the provider adapter):
	// PastDueEntered is the newest move into past_due, NotPastDue the
	// newest second seen in another status, PastDueSeen the seconds after
	// NotPastDue seen past_due, ascending.
	PastDueEntered int64   `json:"past_due_entered,omitempty"`
	NotPastDue     int64   `json:"not_past_due,omitempty"`
	PastDueSeen    []int64 `json:"past_due_seen,omitempty"`
}

// SubscriptionSnapshot is one provider event's view of a subscription.
type SubscriptionSnapshot struct {
	Event            string             `json:"event"`
	Status           SubscriptionStatus `json:"status"`
	PlanID           string             `json:"plan_id"`
	CurrentPeriodEnd time.Time          `json:"current_period_end,omitzero"`
	// Place pins the snapshot within its second: -1 first (a creation), 1
	// last (a deletion), 0 wherever the provider's attributes put it.
	Place int `json:"place,omitempty"`
	// Attrs are the provider's attribute values of this state, Prev the
	// values the attributes this event changed had before it.
	Attrs map[string]string `json:"attrs,omitempty"`
	Prev  map[string]string `json:"prev,omitempty"`
}

// Account is a subscriber household.
type Account struct {
	ID               string             `json:"id"`
	Email            string             `json:"email,omitempty"`
	PlanID           string             `json:"plan_id"`
	Status           SubscriptionStatus `json:"status"`
	PastDueSince     time.Time          `json:"past_due_since,omitzero"`
	CurrentPeriodEnd time.Time          `json:"current_period_end,omitzero"`
	Territory        string             `json:"territory"`    // ISO 3166-1 alpha-2
	ParentalCap      int                `json:"parental_cap"` // highest age rating allowed; 0 means no cap
	Devices          []Device           `json:"devices,omitempty"`
	CustomerID       string             `json:"customer_id,omitempty"` // payment provider's customer
	// CustomerClock is the payment provider's second of the news that
	// named CustomerID (a checkout's completion): news of an older second
	// naming another customer, delivered late, does not set it back.
	CustomerClock int64 `json:"customer_clock,omitempty"`
	// CustomerLinkCreated is, when no such news named CustomerID (clock
	// 0: the metadata.account_id of a subscription), the provider's
	// second the linking object was created (1 if it has none, an
	// invoice's): among such links a newer object naming another customer
	// renames the account. Both 0 with a CustomerID: a link written before
	// links were dated, by news maybe, which only news renames.
	CustomerLinkCreated int64 `json:"customer_link_created,omitempty"`
	// Suspended is an operator's hold (fraud, abuse, a chargeback): the
	// account plays nothing whatever its subscriptions say, and keeps
	// them, so lifting it restores what payments decided.
	Suspended     bool           `json:"suspended,omitempty"`
	Subscriptions []Subscription `json:"subscriptions,omitempty"`
	UpdatedAt     time.Time      `json:"updated_at,omitzero"`
	// Announced is the entitlement last announced on entitlement-changed
	// (an outbox kept in the account): the publish cannot share the
	// write that changes the entitlement, so until one succeeds and is
	// recorded here, the next event or reconciliation to meet the account
	// sees the two differ and announces, whatever it changes itself.
	Announced Entitlement `json:"announced,omitzero"`
	// GraceAnnounced is the PastDueSince of the past_due episode whose
	// grace end was announced (grace_expired), so that it is announced
	// once: a later episode, dated anew, is announced again. A pointer,
	// as an undated episode's is the zero time.
	GraceAnnounced *time.Time `json:"grace_announced,omitempty"`

	// CustomersDeleted are the deletions of the account's payment
	// provider customers: a deletion cancels the customer's
	// subscriptions, those heard of after it included, so it is kept.
	CustomersDeleted []CustomerDeletion `json:"customers_deleted,omitempty"`

	// OtherProducts are the subscriptions the payment provider showed to
	// be another product's (one it bills beside the service) at a second
	// after the account's state of them. The account holds either a
	// subscription or its mark, never both: the provider's news of the
	// subscription older than the mark, delivered late, is refused
	// rather than taken for the service's, and newer news of the
	// service's replaces the mark. Marks never count toward status or
	// plan; the provider adapter keeps and forgets them.
	OtherProducts []OtherProductMark `json:"other_products,omitempty"`
}

// NameCustomer links customer as an operator or a catalogue names it (""
// unlinks): news of the second now, so that a payment provider's older
// news (a checkout Stripe still retries) leaves the link and newer news
// renames it. Naming the customer already linked changes nothing.
func (a *Account) NameCustomer(customer string, now time.Time) {
	if customer == a.CustomerID {
		return
	}
	a.SetCustomer(customer)
	a.CustomerClock, a.CustomerLinkCreated = 0, 0
	if customer != "" {
		a.CustomerClock = now.Unix()
	}
}

// SetCustomer makes a name customer ("" none) and refolds its status and
// plan from the subscriptions that customer bills (BillingSubscription):
// the subscriptions of the customer it named before stay on it, held for
// that customer, and entitle it no longer; they go with the customer to
// the next account that links it (AdoptSubscriptions). A subscription of
// no known customer (stored before Subscription.Customer was kept) is
// taken for the customer the account named until now, whose events
// brought it: it stays with that customer rather than entitling the
// account on a customer nobody pays through. The caller dates the link
// (CustomerClock, CustomerLinkCreated).
func (a *Account) SetCustomer(customer string) {
	from := a.CustomerID
	if customer == from {
		return
	}
	a.CustomerID = customer
	if from != "" && slices.ContainsFunc(a.Subscriptions, func(s Subscription) bool { return s.Customer == "" }) {
		a.Subscriptions = slices.Clone(a.Subscriptions)
		for i := range a.Subscriptions {
			if a.Subscriptions[i].Customer == "" {
				a.Subscriptions[i].Customer = from
			}
		}
	}
	a.refold()
}

// Bills reports whether s is billed to the customer a names, which alone
// entitles a: a subscription of no known customer (stored before
// Subscription.Customer was kept) is taken for it.
func (a Account) Bills(s Subscription) bool {
	return s.Customer == "" || s.Customer == a.CustomerID
}

// AdoptSubscriptions gives a, which links customer, the subscriptions of
// customer that from, the account that linked it before, holds (kept
// there since from named another: SetCustomer), and from's deletion of
// customer, and refolds; it reports whether that changed a. A
// subscription a already holds is replaced only by a newer state of it
// (NewerSubscription), so that the copy is idempotent and a state the
// customer's events brought to a since is not set back; one a holds as
// another product's (OtherProducts) is left to that mark. from keeps its
// copies, which entitle it no longer: the customer's events now come to a.
func (a *Account) AdoptSubscriptions(from Account, customer string) bool {
	if customer == "" || from.ID == a.ID {
		return false
	}
	changed := false
	for _, s := range from.Subscriptions {
		if s.Customer != customer || slices.ContainsFunc(a.OtherProducts, func(m OtherProductMark) bool { return m.Subscription == s.ID }) {
			continue
		}
		i := slices.IndexFunc(a.Subscriptions, func(x Subscription) bool { return x.ID == s.ID })
		switch {
		case i < 0:
			a.Subscriptions = append(slices.Clone(a.Subscriptions), s)
		case NewerSubscription(s, a.Subscriptions[i]):
			a.Subscriptions = slices.Clone(a.Subscriptions)
			a.Subscriptions[i] = s
		default:
			continue
		}
		changed = true
	}
	for _, d := range from.CustomersDeleted {
		if d.Customer != customer {
			continue
		}
		i := slices.IndexFunc(a.CustomersDeleted, func(x CustomerDeletion) bool { return x.Customer == customer })
		switch {
		case i < 0:
			a.CustomersDeleted = append(slices.Clone(a.CustomersDeleted), d)
		case d.Clock > a.CustomersDeleted[i].Clock:
			a.CustomersDeleted = slices.Clone(a.CustomersDeleted)
			a.CustomersDeleted[i] = d
		default:
			continue
		}
		changed = true
	}
	if changed {
		a.refold()
	}
	return changed
}

// SubscriptionTier ranks states of a subscription that replace each other
// whatever the provider's clock says: a cancellation read from the
// provider is final (2); one inferred (derived) from the customer's
// deletion beats any live state (1); live states (0) follow the clock.
func SubscriptionTier(status SubscriptionStatus, derived bool) int {
	switch {
	case status != StatusCanceled:
		return 0
	case derived:
		return 1
	}
	return 2
}

// NewerSubscription reports whether s is a newer state of a subscription
// than cur, by the rules the provider's events are merged by: a higher
// SubscriptionTier, else a later Clock, else, within one second, more of
// its snapshots (the same second seen further).
func NewerSubscription(s, cur Subscription) bool {
	if ts, tc := SubscriptionTier(s.Status, s.Derived), SubscriptionTier(cur.Status, cur.Derived); ts != tc {
		return ts > tc
	}
	if s.Clock != cur.Clock {
		return s.Clock > cur.Clock
	}
	return len(s.Snapshots) > len(cur.Snapshots)
}

// CustomerHolder is the account other than account that customer's link
// names ("" when none), whose subscriptions of customer a link of it to
// account adopts (AdoptSubscriptions). Read before the claim that takes
// the link from it; its subscriptions are read after (StoredAccount), so
// that the customer's events, which follow the claim, are not missed.
func CustomerHolder(ctx context.Context, s CustomerLinks, customer, account string) (string, error) {
	l, err := s.CustomerLink(ctx, customer)
	if IsCode(err, CodeNotFound) || err == nil && l.AccountID == account {
		return "", nil
	}
	return l.AccountID, err
}

// StoredAccount is account id as stored, the zero Account when there is
// none (or id is "").
func StoredAccount(ctx context.Context, s CustomerLinks, id string) (Account, error) {
	if id == "" {
		return Account{}, nil
	}
	rec, err := s.GetRecord(ctx, KindAccount, id)
	if IsCode(err, CodeNotFound) {
		return Account{}, nil
	}
	if err != nil {
		return Account{}, err
	}
	var a Account
	if err := json.Unmarshal(rec.Doc, &a); err != nil {
		return Account{}, fmt.Errorf("stored account %q: %w", id, err)
	}
	return a, nil
}

// AdoptInto is doc, an account document about to be written naming
// customer, with the subscriptions holder (StoredAccount of the
// CustomerHolder) holds of it
// adopted (AdoptSubscriptions), and whether it adopted any; doc itself
// when not.
func AdoptInto(doc json.RawMessage, holder Account, customer string) (json.RawMessage, bool, error) {
	if holder.ID == "" {
		return doc, false, nil
	}
	var a Account
	if err := json.Unmarshal(doc, &a); err != nil {
		return doc, false, err
	}
	if !a.AdoptSubscriptions(holder, customer) {
		return doc, false, nil
	}
	out, err := json.Marshal(a)
	return out, err == nil, err
}

// OtherProductMark says that the payment provider's subscription is
// another product's as of the provider's second Clock.
type OtherProductMark struct {
	Subscription string `json:"subscription"`
	Clock        int64  `json:"clock"`
	Event        string `json:"event"` // what told it: the provider's event, or a listing
	// Written is when the mark was written, in unix seconds of the
	// adapter's clock: news told late (an event that waited for its
	// customer's link) still refuses older news for as long from then.
	Written int64 `json:"written,omitempty"`
	// The past_due facts (Subscription.PastDueEntered, NotPastDue,
	// PastDueSeen) of the state the mark dropped and of the news it
	// refused, given back to the subscription when it moves back.
	PastDueEntered int64   `json:"past_due_entered,omitempty"`
	NotPastDue     int64   `json:"not_past_due,omitempty"`
	PastDueSeen    []int64 `json:"past_due_seen,omitempty"`
}

// CustomerDeletion is the payment provider's deletion of a customer.
type CustomerDeletion struct {
	Customer string `json:"customer"`
	Clock    int64  `json:"clock"` // the provider's second of the deletion
	Event    string `json:"event"` // the provider's event that told it
}

// Entitlement is what consumers of entitlement changes care about.
type Entitlement struct {
	Entitled bool               `json:"entitled"`
	Status   SubscriptionStatus `json:"status"`
	PlanID   string             `json:"plan_id"`
}

// ReasonManagedInStripe is the CodeConflict reason of an operator's write
// that would change what Stripe decides of an account (PaymentManaged):
// its status or plan. They are changed in Stripe (the subscription's
// price, cancellation, pause, or its payment collection paused to comp a
// viewer, which keeps it active); the operator's own lever is the hold,
// Suspended, which no payment event lifts.
const ReasonManagedInStripe = "managed_in_stripe"

// ReasonCustomerLinkedElsewhere is the CodeConflict reason of a link
// (an operator's, a catalogue import's, a payment event's) of a payment
// customer that another account holds (ClaimCustomer): a customer routes
// its events to one account, so the link would take that account's
// billing and leave it named, locked (managed_in_stripe) and deaf to the
// customer's events. An operator renames or clears the other's
// customer_id first; the paymentwebhook consumer parks the event until
// then.
const ReasonCustomerLinkedElsewhere = "customer_linked_elsewhere"

// CustomerLinkedElsewhere is the Details of a 409
// customer_linked_elsewhere: the customer and the account that names it.
type CustomerLinkedElsewhere struct {
	CustomerID string `json:"customer_id"`
	AccountID  string `json:"account_id"`
}

// LinkedElsewhere refuses a link of customer to account while other
// holds it.
func LinkedElsewhere(customer, account, other string) *Error {
	e := Errorf(CodeConflict, ReasonCustomerLinkedElsewhere,
		"customer %q is account %q's: a customer bills one account; give %[2]q another customer_id (or none) before linking it to %[3]q",
		customer, other, account)
	e.Details = CustomerLinkedElsewhere{CustomerID: customer, AccountID: other}
	return e
}

// CustomerLink is a payment customer's link to an account (the
// customer's events apply to AccountID). Pending marks a link written
// before a write of the account that names the customer: Before is the
// version of the account's record that write is conditioned on ("" for a
// create), Claimed when the claim was written. While the record still has
// that version the write may be on its way, so the link holds though the
// account does not name the customer yet; once it has another, the write
// landed or never will, and the link is as plain as any. A claim older
// than PendingClaimAge holds no longer either (Stale): its writer died
// between the claim and the write.
type CustomerLink struct {
	AccountID string
	Pending   bool
	Before    string
	// Claimed is when a pending claim was written, in Unix milliseconds
	// (an integer, so that links compare with ==); 0 for a plain link,
	// and for a claim written before claims had an age, whose writer may
	// be of the release before (its own claims have none) and which holds
	// as it did.
	Claimed int64
	// From is, on a pending claim, the account that names the customer
	// until the claim's write lands and frees it in the same write (an
	// import's accounts moving customers around a cycle, written as one
	// change set); "" when the customer was free. While From names the
	// customer it holds it, whatever becomes of the claim: a writer that
	// died before its write leaves the customer to the account that still
	// names it, not free once the claim is Stale.
	From string
}

// PendingClaimAge is how long a pending claim may hold its customer
// while the account's record still has the version the claim's write is
// conditioned on. A writer claims, writes the account, then makes the
// claim plain, all in one request or one event's processing, which the
// functions' timeouts end within seconds (functions/catalog's
// TimeoutSeconds, held well below this by functions/admin's tests) and
// which sends no write past PendingClaimWrite wherever it runs on; a
// claim older than this
// is one whose writer died (a runner killed, a crash) before its write,
// which would otherwise keep the customer from every other account until
// that same request was retried. Once stale the claim is judged as a
// plain link: it holds while its account names the customer.
const PendingClaimAge = 10 * time.Minute

// PendingClaimWrite is how long after its claim a writer may still send
// the write the claim is for (ClaimWriteContext). A function's timeout
// does not end its writer everywhere: Cloud Run (Cloud Functions) closes
// a timed-out request but not its instance, whose code goes on,
// CPU-throttled until the instance's next request, maybe past
// PendingClaimAge; its write, conditioned on the account's version alone,
// would then land after another account took the stale claim. The rest of
// PendingClaimAge is room for the write's flight and for the clocks of
// the instances that judge the claim's age.
const PendingClaimWrite = PendingClaimAge / 2

// ClaimWriteContext is ctx for the write a pending claim written at
// claimed is for, at now: with a deadline PendingClaimWrite after the
// claim, so that a write still unsent or in flight then is abandoned
// (a gRPC server refuses it past its deadline too), or, that deadline
// passed, a CodeUnavailable refusal: a retry claims again. Call cancel
// once the write returns.
func ClaimWriteContext(ctx context.Context, claimed, now time.Time) (_ context.Context, cancel context.CancelFunc, err error) {
	left := PendingClaimWrite - now.Sub(claimed)
	if left <= 0 {
		return ctx, func() {}, Errorf(CodeUnavailable, "customer_claim_stale",
			"the customer claim written at %s is %v old, past %v: its write is not sent (a retry claims again)",
			claimed.UTC().Format(time.RFC3339Nano), now.Sub(claimed), PendingClaimWrite)
	}
	ctx, cancel = context.WithTimeout(ctx, left)
	return ctx, cancel, nil
}

// ClaimedWrite is what WriteClaimed did after its write: Written when the
// write landed, and LinkErr, the failure of making the link plain after it
// (Written) or of giving the claim back after a refusal for good (not
// Written); each leaves the claim to hold at most PendingClaimAge.
type ClaimedWrite struct {
	Written bool
	LinkErr error
}

// WriteClaimed claims customer for accountID, pending on version before
// (PendingClaim, ClaimCustomer) at at, sends write within the claim's
// ClaimWriteContext (now reads the clock again for it), and then makes the
// link plain if the write landed, gives the claim back (to the link it
// replaced) if it was refused for good, or keeps it if the write may have
// landed (a retryable failure): the retry claims again. It returns the
// claim's or the write's error.
func WriteClaimed(ctx context.Context, s CustomerLinks, customer, accountID, before string, at time.Time, now func() time.Time, write func(context.Context) error) (ClaimedWrite, error) {
	claim := PendingClaim(accountID, before, at)
	prev, err := ClaimCustomer(ctx, s, customer, claim, at)
	if err != nil {
		return ClaimedWrite{}, err
	}
	wctx, cancel, err := ClaimWriteContext(ctx, at, now())
	if err == nil {
		err = write(wctx)
	}
	cancel()
	var out ClaimedWrite
	switch {
	case err == nil:
		out.Written = true
		_, out.LinkErr = s.SwapCustomerLink(ctx, customer, claim, CustomerLink{AccountID: accountID})
	case !ErrorCode(err).Retryable():
		_, out.LinkErr = s.SwapCustomerLink(ctx, customer, claim, prev)
	}
	return out, err
}

// PendingClaim is accountID's claim, at now, of a customer before a write
// of the account conditioned on version before ("" for a create).
func PendingClaim(accountID, before string, now time.Time) CustomerLink {
	return CustomerLink{AccountID: accountID, Pending: true, Before: before, Claimed: now.UnixMilli()}
}

// Stale reports whether l is a pending claim PendingClaimAge old or older
// at now. A claim of no known age (Claimed 0) is never stale.
func (l CustomerLink) Stale(now time.Time) bool {
	return l.Pending && l.Claimed != 0 && now.UnixMilli()-l.Claimed >= PendingClaimAge.Milliseconds()
}

// CustomerLinks is what ClaimCustomer reads and writes.
type CustomerLinks interface {
	CustomerLink(ctx context.Context, customerID string) (CustomerLink, error)
	SwapCustomerLink(ctx context.Context, customerID string, from, to CustomerLink) (bool, error)
	GetRecord(ctx context.Context, kind Kind, id string) (Record, error)
}

// claimAttempts bounds ClaimCustomer's rereads: each lost swap means
// another writer moved the link, which the next read judges.
const claimAttempts = 4

// ClaimCustomer links customer to to.AccountID (as to: a Pending claim
// before a write of the account naming the customer, a plain link after
// one) under the rule that a customer bills one account: refused with
// LinkedElsewhere while another account holds the link at now (holderOf),
// else written with one SwapCustomerLink over the link as read, so that
// of concurrent claims one wins and the others read it and are refused.
// A link the account has already is left as it is, unless to is a
// pending claim or the link is a claim whose From may still name the
// customer (an import's cycle that died before its write: the account
// takes it once From frees it). It returns the link it replaced, which a writer whose
// write failed swaps back.
func ClaimCustomer(ctx context.Context, s CustomerLinks, customer string, to CustomerLink, now time.Time) (CustomerLink, error) {
	for range claimAttempts {
		cur, err := s.CustomerLink(ctx, customer)
		if IsCode(err, CodeNotFound) {
			cur, err = CustomerLink{}, nil
		}
		if err != nil {
			return cur, err
		}
		if cur == to || cur.AccountID == to.AccountID && !to.Pending && cur.From == "" {
			return cur, nil
		}
		if cur.AccountID != "" && (cur.AccountID != to.AccountID || cur.From != "") {
			holder, err := holderOf(ctx, s, customer, cur, to.AccountID, now)
			if err != nil {
				return cur, err
			}
			if holder != "" && holder != to.AccountID {
				return cur, LinkedElsewhere(customer, to.AccountID, holder)
			}
		}
		swapped, err := s.SwapCustomerLink(ctx, customer, cur, to)
		if err != nil || swapped {
			return cur, err
		}
	}
	return CustomerLink{}, Errorf(CodeUnavailable, "customer_link_contended", "customer %q: its link moved under %d claims in a row", customer, claimAttempts)
}

// holderOf is the account other than claimant that link keeps its
// customer for at now, "" when none: link.From while it names the
// customer (its claim's write has not freed it), else link's account
// while it names the customer, or while a write naming it may be on its
// way (Pending, the record still at Before, the claim not Stale). A link
// left by an account since renamed, cleared or deleted is free to take.
// From itself is kept from the customer while its claim's write may be
// on its way: that write frees it (an import's cycle), and a link From
// took meanwhile would be left to it once it lands.
func holderOf(ctx context.Context, s CustomerLinks, customer string, link CustomerLink, claimant string, now time.Time) (string, error) {
	if link.Pending && link.From != "" && link.From != claimant {
		names, err := namesCustomer(ctx, s, link.From, customer)
		if err != nil || names {
			return link.From, err
		}
	}
	if link.AccountID == claimant {
		return "", nil
	}
	rec, err := s.GetRecord(ctx, KindAccount, link.AccountID)
	if IsCode(err, CodeNotFound) {
		rec, err = Record{}, nil
	}
	if err != nil {
		return "", err
	}
	if link.Pending && rec.Version == link.Before && !link.Stale(now) {
		return link.AccountID, nil
	}
	names, err := recordNames(rec, link.AccountID, customer)
	if err != nil || !names {
		return "", err
	}
	return link.AccountID, nil
}

// namesCustomer reports whether account's record names customer.
func namesCustomer(ctx context.Context, s CustomerLinks, account, customer string) (bool, error) {
	rec, err := s.GetRecord(ctx, KindAccount, account)
	if IsCode(err, CodeNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return recordNames(rec, account, customer)
}

func recordNames(rec Record, account, customer string) (bool, error) {
	if rec.Doc == nil {
		return false, nil
	}
	var a struct {
		CustomerID string `json:"customer_id"`
	}
	if err := json.Unmarshal(rec.Doc, &a); err != nil {
		return false, fmt.Errorf("stored account %q: %w", account, err)
	}
	return a.CustomerID == customer, nil
}

// ReasonPlanMissing is the CodeForbidden reason of a play by an account
// whose plan_id names no plan: "" (a Stripe checkout whose price maps no
// plan) or one since deleted. It is the account's configuration, which an
// operator fixes (its plan_id), not the request's, and a retry meets it
// again.
const ReasonPlanMissing = "plan_missing"

// AccountPlan is what a read of account a's plan (plan and err, the
// store's answer to GetPlan(a.PlanID)) means to a caller serving a: a
// plan_id naming no plan is ReasonPlanMissing, whichever route meets it.
func AccountPlan(a Account, plan Plan, err error) (Plan, error) {
	if a.PlanID == "" || IsCode(err, CodeNotFound) {
		return Plan{}, Errorf(CodeForbidden, ReasonPlanMissing,
			"the account's plan %q does not exist: its plan_id (an operator's, or STRIPE_PRICE_PLANS' for a Stripe price) must name a plan", a.PlanID)
	}
	return plan, err
}

// PaymentManaged reports whether the payment provider decides a's status
// and plan: a names its customer or holds its subscriptions, and each of
// the customer's events folds them again from the subscriptions
// (PutSubscription), over whatever else wrote them.
func (a Account) PaymentManaged() bool {
	return a.CustomerID != "" || len(a.Subscriptions) > 0
}

// HasDevice reports whether id is registered to the account.
func (a Account) HasDevice(id string) bool {
	return slices.ContainsFunc(a.Devices, func(d Device) bool { return d.ID == id })
}

// Entitled reports whether the account may start playback at now: not
// suspended, and trialing or active, or past_due for at most grace.
func (a Account) Entitled(now time.Time, grace time.Duration) bool {
	if a.Suspended {
		return false
	}
	switch a.Status {
	case StatusActive, StatusTrialing:
		return true
	case StatusPastDue:
		return !a.PastDueSince.IsZero() && now.Sub(a.PastDueSince) <= grace
	default:
		return false
	}
}

// DatePastDue is a as a write at now leaves it when the writer knows no
// better date for its past_due episode than the write itself (an
// operator's, whose records carry no date; the payment provider dates
// its own from its events): past_due without a date starts its grace
// now, past_due with one keeps it, and any other status holds none, so
// that Entitled counts the grace from when the account entered it.
func (a Account) DatePastDue(now time.Time) Account {
	switch {
	case a.Status != StatusPastDue:
		a.PastDueSince = time.Time{}
	case a.PastDueSince.IsZero():
		a.PastDueSince = now.UTC()
	}
	return a
}

// DateUndated is a as a reader at now takes it, and whether that dated
// it: past_due stored without a date (written by a release before
// past_due_since existed, whose operator's past_due carried none) starts
// its grace at now, as a write's would (DatePastDue). There is no
// migration: the reader stores the date before an answer relies on it,
// in the write it makes anyway or in one of its own, conditioned on the
// account as read, so that the first reader to store it fixes the start
// on every store and the grace ends 72 h (PAST_DUE_GRACE) later. An
// account the payment provider manages (PaymentManaged) is left as it is:
// its date is its subscriptions' fold's, which the next event folds again
// over a reader's.
func (a Account) DateUndated(now time.Time) (Account, bool) {
	if a.Status != StatusPastDue || !a.PastDueSince.IsZero() || a.PaymentManaged() {
		return a, false
	}
	return a.DatePastDue(now), true
}

// GracePending reports whether the end of a's grace is yet to be
// announced: a is past_due and no announcement names its episode
// (GraceAnnounced).
func (a Account) GracePending() bool {
	return a.Status == StatusPastDue && (a.GraceAnnounced == nil || !a.GraceAnnounced.Equal(a.PastDueSince))
}

// GraceKey is where a stands among the accounts GracePending holds for
// ("" if it does not), which every store lists in GraceKey order
// (AccountStore.ListGracePending): its PastDueSince as zero-padded unix
// nanoseconds (undated, or before 1970, first), then its id. A string, so
// that every store compares keys as it compares strings.
func (a Account) GraceKey() string {
	if !a.GracePending() {
		return ""
	}
	return graceNanos(a.PastDueSince) + "|" + a.ID
}

// GraceKeyID is the account id a GraceKey names.
func GraceKeyID(key string) string { return key[strings.IndexByte(key, '|')+1:] }

// GraceKeyOf is the GraceKey of an account document ("" if it does not
// decode), for stores that index documents they do not otherwise decode.
func GraceKeyOf(doc json.RawMessage) string {
	var a struct {
		ID             string             `json:"id"`
		Status         SubscriptionStatus `json:"status"`
		PastDueSince   time.Time          `json:"past_due_since"`
		GraceAnnounced *time.Time         `json:"grace_announced"`
	}
	if json.Unmarshal(doc, &a) != nil {
		return ""
	}
	return Account{ID: a.ID, Status: a.Status, PastDueSince: a.PastDueSince, GraceAnnounced: a.GraceAnnounced}.GraceKey()
}

// GraceKeyBefore is the bound below which lie the GraceKeys of accounts
// past_due since until or earlier, and no others.
func GraceKeyBefore(until time.Time) string {
	return graceNanos(until.Add(time.Nanosecond))
}

func graceNanos(t time.Time) string {
	var n int64
	switch {
	case t.Before(time.Unix(0, 0)):
	case t.After(time.Unix(0, 1<<63-1)):
		n = 1<<63 - 1
	default:
		n = t.UnixNano()
	}
	return fmt.Sprintf("%019d", n)
}

// statusRank orders statuses from most to least entitling, so that an
// account with several subscriptions gets the best one.
var statusRank = map[SubscriptionStatus]int{
	StatusActive: 6, StatusTrialing: 5, StatusPastDue: 4, StatusPaused: 3,
	StatusUnpaid: 2, StatusIncomplete: 1, StatusCanceled: 0, StatusNone: -1,
}

// PutSubscription records s on the account in place of the subscription
// of the same id and refolds the account's status and plan from all its
// subscriptions. Ordering is the caller's; it returns false (and leaves a
// unchanged) when s is what the account already holds.
func (a *Account) PutSubscription(s Subscription) bool {
	i := slices.IndexFunc(a.Subscriptions, func(x Subscription) bool { return x.ID == s.ID })
	if i >= 0 {
		if reflect.DeepEqual(a.Subscriptions[i], s) {
			return false
		}
		a.Subscriptions[i] = s
	} else {
		a.Subscriptions = append(a.Subscriptions, s)
	}
	a.refold()
	return true
}

// DropSubscription removes subscription id from the account, one found not
// to be the service's after all (another product billed by the same
// provider account), and refolds from the others; with none left the
// account has no subscription (StatusNone) and keeps its plan. It returns
// false when the account does not hold id.
func (a *Account) DropSubscription(id string) bool {
	if !slices.ContainsFunc(a.Subscriptions, func(x Subscription) bool { return x.ID == id }) {
		return false
	}
	a.Subscriptions = slices.DeleteFunc(slices.Clone(a.Subscriptions), func(x Subscription) bool { return x.ID == id })
	if len(a.Subscriptions) == 0 {
		a.Subscriptions = nil
		a.Status, a.CurrentPeriodEnd, a.PastDueSince = StatusNone, time.Time{}, time.Time{}
		return true
	}
	a.refold()
	return true
}

// refold derives status, plan and period end from the best subscription
// billed to the customer a names; holding only others' (kept for their
// customer: SetCustomer), a has no subscription (StatusNone) and keeps
// its plan, as when its last is dropped.
func (a *Account) refold() {
	best, ok := a.BillingSubscription()
	if !ok {
		if len(a.Subscriptions) > 0 {
			a.Status, a.CurrentPeriodEnd, a.PastDueSince = StatusNone, time.Time{}, time.Time{}
		}
		return
	}
	a.Status = best.Status
	if best.PlanID != "" {
		a.PlanID = best.PlanID
	}
	a.CurrentPeriodEnd = best.CurrentPeriodEnd
	a.PastDueSince = best.PastDueSince
}

// BillingSubscription is the best of a's subscriptions billed to the
// customer it names (Bills), which the payment provider decides its
// status, plan and period end from (refold); false when it holds none.
// Its plan is "" when its price maps none, and the provider's events then
// keep whatever plan a has.
func (a Account) BillingSubscription() (Subscription, bool) {
	return BestSubscription(slices.DeleteFunc(slices.Clone(a.Subscriptions), func(s Subscription) bool { return !a.Bills(s) }))
}

// BestSubscription is the most entitling of subs by the ranking
// BillingSubscription folds by; false when subs is empty.
func BestSubscription(subs []Subscription) (Subscription, bool) {
	if len(subs) == 0 {
		return Subscription{}, false
	}
	best := subs[0]
	for _, s := range subs[1:] {
		rs, rb := statusRank[s.Status], statusRank[best.Status]
		if rs == rb && s.Status == StatusPastDue && !s.PastDueSince.Equal(best.PastDueSince) {
			// The one that went past due last keeps its grace longest.
			if s.PastDueSince.After(best.PastDueSince) {
				best = s
			}
			continue
		}
		// Ties fall to the subscription id so the result never depends on
		// the order the subscriptions arrived in.
		if rs > rb || rs == rb && (s.CurrentPeriodEnd.After(best.CurrentPeriodEnd) ||
			s.CurrentPeriodEnd.Equal(best.CurrentPeriodEnd) && s.ID < best.ID) {
			best = s
		}
	}
	return best, true
}

// Title is a piece of content in the catalogue. Every write path requires
// its Rating; nil is a record stored before that, whose age is unknown, so
// it plays under no parental cap (0, all ages, would play under any).
type Title struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Rating    *int            `json:"rating,omitempty"` // minimum age, e.g. 0, 7, 12, 16, 18
	AssetPath string          `json:"asset_path"`       // CDN path prefix of its manifests and segments, "/titles/<id>/"
	Manifest  string          `json:"manifest"`         // manifest file name under AssetPath, e.g. "master.m3u8"
	Windows   []LicenceWindow `json:"windows"`
	// Renditions is the title's ladder, lowest first. Personalized
	// manifests list, and CDN grants cover, only those a plan's MaxQuality
	// allows.
	Renditions []Rendition `json:"renditions,omitempty"`
}

// LicenceWindow is a period a title may be streamed in one territory.
type LicenceWindow struct {
	Territory string    `json:"territory"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
}

// LicensedIn reports whether the title may be streamed in territory at now.
// Windows are half-open: [Start, End).
func (t Title) LicensedIn(territory string, now time.Time) bool {
	_, ok := t.LicensedUntil(territory, now)
	return ok
}

// LicensedUntil is when the title stops being licensed in territory, if
// it is at now: the end of the window holding now, carried on through
// every window of the territory that starts by then (abutting or
// overlapping), since the licence runs on without a gap.
func (t Title) LicensedUntil(territory string, now time.Time) (until time.Time, ok bool) {
	return t.licensedUntil(now, territory, territory)
}

// licensedUntil is LicensedUntil where a window of either territory
// licenses the title (portability: the viewer's and the home's), so that
// the licence runs on through the windows of one meeting the other's.
func (t Title) licensedUntil(now time.Time, territory, or string) (until time.Time, ok bool) {
	until = now
	// Each pass moves until to a later end, or stops: at most one pass a
	// window.
	for range len(t.Windows) {
		moved := false
		for _, w := range t.Windows {
			if (w.Territory == territory || w.Territory == or) && !until.Before(w.Start) && until.Before(w.End) {
				until, moved = w.End, true
			}
		}
		if !moved {
			break
		}
	}
	return until, until.After(now)
}

// Session is a playback session holding one concurrent-stream lease.
type Session struct {
	ID         string    `json:"id"`
	AccountID  string    `json:"account_id"`
	DeviceID   string    `json:"device_id"`
	TitleID    string    `json:"title_id"`
	StartedAt  time.Time `json:"started_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	EndedAt    time.Time `json:"ended_at,omitzero"`
	EndReason  string    `json:"end_reason,omitempty"`
	// ReplacedBy is, on a session a re-authorization replaced
	// (LeaseRequest.Replaces), the session its play went on in: ending
	// this one from another screen (by a list read before the
	// re-authorization) ends that one, the same play, and a retry of the
	// re-authorization (its answer lost) goes on from that one
	// (LeaseRequest.FollowReplaces).
	ReplacedBy string `json:"replaced_by,omitempty"`
	// Lease is the store's own locator of the session's lease (DynamoDB:
	// its slot), "" where the store needs none. Opaque to callers, who
	// carry it from the admission to RenewHeldLease (in the playback
	// token); never serialized.
	Lease string `json:"-"`
}

// Active reports whether the session still holds its lease at now.
func (s Session) Active(now time.Time) bool {
	return s.EndedAt.IsZero() && now.Before(s.ExpiresAt)
}

// Reasons a session ends.
const (
	EndStopped     = "stopped"       // the player sent stop
	EndByUser      = "ended_by_user" // DELETE /v1/sessions/{id}
	EndEntitlement = "entitlement"   // the account lost its entitlement
	EndReplaced    = "replaced"      // the same device started another title
	// EndDeviceRemoved: the account removed the session's device
	// (DELETE /v1/devices/{id}).
	EndDeviceRemoved = "device_removed"
	// EndLapsed is no stored reason: the lease ran out unrenewed before
	// anyone ended the session (Session.Over).
	EndLapsed = "lapsed"
)

// EndReasons are every reason a 410 can name (EndDetails): the stored
// ones and EndLapsed. The OpenAPI document's enum is checked against it.
var EndReasons = []string{EndStopped, EndByUser, EndEntitlement, EndReplaced, EndDeviceRemoved, EndLapsed}

// RetainedFrom is when a store's retention of s starts (the clouds' TTL,
// the embedded store's sweep): its lease's expiry. A session ended early
// is kept as long as its lease could have run; one ended after its lease
// lapsed (an ender ends those a late renewal could still extend:
// EndSessions) is over at the lapse, as its 410s name it (Over), and is
// kept from there as if nobody had ended it, not from that later end.
func (s Session) RetainedFrom() time.Time {
	return s.ExpiresAt
}

// Over reports when s stopped holding its lease and why: its stored end,
// or EndLapsed at ExpiresAt when the lease ran out first — by the instant
// of the end included, as Active reads it: an end at ExpiresAt found the
// lease lapsed (EndSessions reports no lease taken, DELETE answers the
// lapse), so every later read must name the lapse too. Only meaningful
// once s is not Active.
func (s Session) Over() (at time.Time, reason string) {
	if s.EndedAt.IsZero() || !s.EndedAt.Before(s.ExpiresAt) {
		return s.ExpiresAt, EndLapsed
	}
	return s.EndedAt, s.EndReason
}
