package playback

import (
	"context"
	"strings"
	"time"
)

// Store is the persistence port. Every adapter (bolt, dynamo, firestore)
// implements all of it and passes the contract suite in shared/storetest.
// Functions depend on the narrow interfaces they use.
//
// Adapters return *Error with CodeNotFound for missing records, CodeConflict
// for failed preconditions the caller must see, and wrap infrastructure
// failures with Unavailable so that callers answer 5xx and retry.
//
// Besides what each method says, callers rely on these:
//   - Every method is safe for concurrent use: one store serves every
//     request and consumer of a function instance, and the atomic steps
//     (AcquireLease, the Update functions, the gated writes) hold however
//     many callers race, across instances too.
//   - Put methods create or replace the whole record.
//   - A store keeps nothing of what it is passed (a caller may reuse an
//     InboxEvent's Payload once the call returns), and what it returns is
//     the caller's own: changing a returned record changes nothing stored.
//
// Optional interfaces (ProgressBatchStore) are never found by a type
// assertion on a Store, which a wrapper would silently defeat: a function
// asks for one in its Deps, the wiring hands over an adapter that has it,
// and each adapter asserts at compile time what it implements.
type Store interface {
	CatalogStore
	AccountStore
	SessionStore
	InboxStore
	EdgeStore
	ProgressStore
	AdminStore
	Close() error
}

// CatalogStore holds plans and titles, written by configuration and seeding.
type CatalogStore interface {
	PutPlan(ctx context.Context, p Plan) error
	GetPlan(ctx context.Context, id string) (Plan, error)
	PutTitle(ctx context.Context, t Title) error
	GetTitle(ctx context.Context, id string) (Title, error)
}

// AccountStore holds accounts and the payment customer → account links.
type AccountStore interface {
	PutAccount(ctx context.Context, a Account) error
	GetAccount(ctx context.Context, id string) (Account, error)
	// UpdateAccount runs fn on the current account and saves the result
	// atomically: when another writer got there first the adapter re-reads and
	// runs fn again, so fn must be a pure function of its input. An error from
	// fn aborts the update and is returned as is. ErrNoChange from fn aborts
	// without writing and returns the current account with a nil error.
	UpdateAccount(ctx context.Context, id string, fn func(*Account) error) (Account, error)
	// LinkCustomer maps a payment customer to an account in one atomic
	// step, only where the customer is not linked or is linked to that
	// account already (which it leaves as it is): a customer linked to
	// another account is CodeConflict ReasonCustomerLinkedElsewhere
	// (LinkedElsewhere, its Details naming that account) and nothing is
	// written. Of concurrent links of one customer to several accounts,
	// one succeeds and the others see it. Moving a link is
	// SwapCustomerLink's (ClaimCustomer says when it may).
	LinkCustomer(ctx context.Context, customerID, accountID string) error
	// AccountIDByCustomer resolves a payment customer; CodeNotFound if unlinked.
	AccountIDByCustomer(ctx context.Context, customerID string) (string, error)
	// CustomerLink is a payment customer's link as stored, pending mark
	// included; CodeNotFound if unlinked.
	CustomerLink(ctx context.Context, customerID string) (CustomerLink, error)
	// SwapCustomerLink writes customerID's link to, in one atomic step,
	// only while the link is from (the zero CustomerLink: no link; a zero
	// to removes it), and reports whether it did: false, writing nothing,
	// when the link is anything else. Legacy links, stored before links
	// could be pending, read as plain ones.
	SwapCustomerLink(ctx context.Context, customerID string, from, to CustomerLink) (bool, error)
	// ListGracePending lists the accounts whose grace end is yet to be
	// announced (Account.GracePending) and whose PastDueSince is until or
	// earlier (undated ones included), in GraceKey order, at most limit
	// from after (the Next of the page before; "" for the first), as
	// records of KindAccount. The store keeps this listing in each account
	// write's own atomic step, whichever method writes it, so a listing
	// costs what it lists, however many accounts the store holds.
	// Records are as read after the listing: an account that no longer
	// qualifies is left out, one written qualifying a moment ago may be
	// missing from a listing at once (DynamoDB's index lags its writes).
	// Accounts a release before the listing wrote are listed once the
	// store is upgraded (see the adapter).
	ListGracePending(ctx context.Context, until time.Time, after string, limit int) (RecordPage, error)
}

// ErrNoChange lets an update function say there is nothing to write.
var ErrNoChange = &Error{Code: CodeConflict, Reason: "no_change", Message: "nothing to change"}

// LeaseRequest asks for one concurrent-stream lease.
type LeaseRequest struct {
	SessionID string
	AccountID string
	DeviceID  string
	TitleID   string
	Limit     int           // the plan's max concurrent streams
	TTL       time.Duration // lease length; heartbeats extend it
	Now       time.Time
	// On, when set, is the ReadAdmission of AccountID that the caller
	// decided on: the store admits on that read of the leases instead of
	// reading them again, and only while the account is as read then —
	// if any write changed the account since, it refuses with CodeConflict
	// and reason "account_changed", changing nothing, and the caller reads
	// again and decides again. So an admission checked against the account
	// (entitlement, registered devices) commits only on the account it
	// checked, in its one atomic step.
	On *AdmissionRead
	// SaveAccount, with On, is the account to write in the same atomic
	// step, in place of On.Account as read (authorize play registers the
	// device this way): refused account_changed like the admission, and
	// written only if the session is admitted. It must be the same account
	// on the same plan (CodeInvalid otherwise).
	SaveAccount *Account
	// Replaces, when set, names the session this admission re-authorizes
	// (a player renewing its playback token before it expires): the store
	// reads that session, and those its re-authorizations went on in, in
	// the admission's atomic step and admits only if FollowReplaces
	// passes on them as stored then, refusing and writing nothing
	// otherwise. So a play the account ended (from another screen, by
	// removing the device, by another play on the device) is not brought
	// back by a re-authorization the player had under way, and one whose
	// answer was lost is retried where it went on.
	Replaces string
	// DeviceRemoved, with Replaces and On, says that the account as read
	// does not have DeviceID. Every play registers its device, so it was
	// removed (DELETE /v1/devices/{id}) since the play began, and the
	// removal ended the play even where it could not list its session:
	// a lease that lapsed and that an admission counted out since
	// (EndSessions ends what a renewal could still extend). FollowReplaces
	// refuses the play nobody ended as one the removal ended at Now, so
	// the tab asleep in it that wakes and authorizes again naming it does
	// not bring back the stream, nor the device. On holds the decision to
	// the account as read.
	DeviceRemoved bool
}

// CheckSaveAccount is the rule of LeaseRequest.SaveAccount every store
// applies before anything else.
func (r LeaseRequest) CheckSaveAccount() error {
	switch {
	case r.SaveAccount == nil:
		return nil
	case r.On == nil:
		return Errorf(CodeInvalid, "lease_invalid", "SaveAccount needs On, the read it replaces")
	case r.SaveAccount.ID != r.AccountID || r.SaveAccount.PlanID != r.On.Account.PlanID:
		return Errorf(CodeInvalid, "lease_invalid", "SaveAccount must be account %q on plan %q", r.AccountID, r.On.Account.PlanID)
	}
	return nil
}

// OnGuard is the store's own record G of r.On (G's zero value when r has
// no On), refusing an On that is not G's kind or not a read of r's account:
// every store's first check of an admission on a read.
func OnGuard[G any](r LeaseRequest, store string) (G, error) {
	var zero G
	if r.On == nil {
		return zero, nil
	}
	g, ok := r.On.Guard.(G)
	if !ok || r.On.Account.ID != r.AccountID {
		return zero, Errorf(CodeInvalid, "lease_invalid",
			"%s.AcquireLease: LeaseRequest.On is not this store's read of account %q", store, r.AccountID)
	}
	return g, nil
}

// AdmissionRead is an account and its leases as ReadAdmission read them.
type AdmissionRead struct {
	Account Account
	// Active are the account's sessions active at the read's now, oldest
	// first, as ListActiveSessions would return them.
	Active []Session
	// Guard is the adapter's own record of what it read (versions, slots),
	// which AcquireLease conditions on. Callers pass it back untouched.
	Guard any
}

// ErrAccountChanged is AcquireLease's refusal of an admission whose
// LeaseRequest.On no longer holds: the account was written since it was
// read. Nothing was changed; read again.
func ErrAccountChanged(accountID string) *Error {
	return Errorf(CodeConflict, "account_changed", "account %q changed since it was read for this admission", accountID)
}

// ConflictDetails is the Details of a stream_limit conflict.
type ConflictDetails struct {
	Limit    int       `json:"limit"`
	Sessions []Session `json:"sessions"`
}

// SessionStore holds playback sessions and their leases.
type SessionStore interface {
	// AcquireLease atomically admits the session if the account holds fewer
	// than Limit active leases at Now on devices other than req.DeviceID,
	// else fails with CodeConflict, reason "stream_limit" and
	// *ConflictDetails listing those sessions. A device plays one stream:
	// the device's own active sessions are ended with EndReplaced in the
	// same atomic step that admits the new one, so however many requests
	// from one device race, one session per device stays live. A refusal
	// changes nothing, the device's running session included (see
	// LeaseRequest.Admit). Expired and ended sessions never count.
	// Acquiring an id that already holds an active lease returns it
	// unchanged (a retry takes no second slot).
	//
	// With req.On (from ReadAdmission) the admission is also conditioned
	// on the account being unchanged since that read (see LeaseRequest.On),
	// in the same atomic step, and the adapter starts from the leases that
	// read saw: read and admission are then two round trips in all.
	AcquireLease(ctx context.Context, req LeaseRequest) (Session, error)
	// ReadAdmission reads the account (CodeNotFound if absent) and its
	// leases in one round trip of latency (requests issued side by side or
	// batched), for an AcquireLease with LeaseRequest.On. Active lists the
	// sessions active at now.
	ReadAdmission(ctx context.Context, accountID string, now time.Time) (AdmissionRead, error)
	GetSession(ctx context.Context, id string) (Session, error)
	// ListActiveSessions returns the account's sessions active at now,
	// oldest first.
	ListActiveSessions(ctx context.Context, accountID string, now time.Time) ([]Session, error)
	// ListRenewableSessions returns the account's sessions that a renewal
	// could still extend, oldest first: every one not ended that still
	// holds its lease's place in the store (bolt: the account's index;
	// DynamoDB and Firestore: a stream slot), whether or not its lease
	// lapsed by anyone's clock. A renewal decides on its caller's now,
	// which may be earlier than a reader's (a heartbeat that read its
	// lease just before the expiry and writes after, another instance's
	// clock), so a lease lapsed at the reader's now may still come back;
	// the renewals (ExtendLease, RenewLease, RenewHeldLease) extend no
	// session this does not list, whatever their now: a lapsed lease whose
	// place an admission took back (AcquireLease counts lapsed leases out
	// of the account), or one the store no longer keeps, is refused. So
	// it is what an ender must end (EndSessions). It reads what
	// ListActiveSessions reads, never the account's history: an account
	// holds a place per stream slot, and its next admission frees those
	// of lapsed leases.
	ListRenewableSessions(ctx context.Context, accountID string) ([]Session, error)
	// ExtendLease moves the lease expiry forward to expiresAt (never back) and
	// sets LastSeenAt. An ended or expired session fails with CodeGone.
	ExtendLease(ctx context.Context, id string, expiresAt, now time.Time) (Session, error)
	// RenewLease is a heartbeat's ExtendLease to now+ttl, decided in the
	// read ExtendLease makes anyway: when the lease is fresh at now
	// (Session.LeaseFresh(now, ttl, slack)) nothing is written and the
	// session is returned as stored. A heartbeat inside its write slack
	// then costs one read, and outside it one read and one write, with no
	// read of the caller's own before. An adapter may skip the read of a
	// renewal that will write when it remembers what it last read or
	// wrote of the session, provided the write is conditioned on exactly
	// that (a version, a revision's guard) and falls back to the read when
	// it moved: the answer is then as exact as with the read
	// (storetest's RenewLeaseSeesOtherWrites). An ended or expired session
	// fails with CodeGone, an unknown one with CodeNotFound.
	RenewLease(ctx context.Context, id string, ttl, slack time.Duration, now time.Time) (Session, error)
	// RenewHeldLease is RenewLease of held.ID, for a caller that holds what
	// the session's admission answered (its playback token carries it):
	// held's ID, AccountID, DeviceID, TitleID, StartedAt and Lease as
	// AcquireLease returned them. The answers are RenewLease's, but an
	// adapter may renew on held without reading the session first,
	// conditioned on the lease being held by held.ID and active at now in
	// the same atomic step (DynamoDB: one conditional transaction, so a
	// renewal costs one round trip on any instance). held being wrong
	// (another account, a stale Lease) must cost only speed: the adapter
	// then answers from a read, exactly as RenewLease. It suits callers
	// whose renewals mostly fall outside the slack: a fresh lease may cost
	// a refused conditional write (write units on DynamoDB) where
	// RenewLease reads.
	RenewHeldLease(ctx context.Context, held Session, ttl, slack time.Duration, now time.Time) (Session, error)
	// EndSession releases the lease. Ending an ended session returns it
	// unchanged, so retries are harmless.
	EndSession(ctx context.Context, id, reason string, now time.Time) (Session, error)
}

// InboxEvent is an inbound event recorded before it is acted on, so that
// a delivery is acknowledged only once it is durable and is applied at most
// once in effect.
type InboxEvent struct {
	Source      string    `json:"source"` // e.g. "stripe"
	ID          string    `json:"id"`     // the sender's event id
	Type        string    `json:"type"`
	Created     time.Time `json:"created"`
	Payload     []byte    `json:"payload"`
	ReceivedAt  time.Time `json:"received_at"`
	ProcessedAt time.Time `json:"processed_at,omitzero"`
	// ExpiresAt lets stores with TTL forget processed events eventually,
	// and ends the wait of a parked event (see InboxStore.ParkEvent).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// ParkedKey is what a parked event waits for (see InboxStore.ParkEvent),
	// "" if it is not parked; ParkedAt is when it was last parked, and
	// ParkedSince when it was first parked under ParkedKey since it last
	// waited for something else (or for nothing): a retrier that parks
	// again under the same key each time it tries measures its backoff
	// from it, however long the event waited before.
	ParkedKey   string    `json:"parked_key,omitempty"`
	ParkedAt    time.Time `json:"parked_at,omitzero"`
	ParkedSince time.Time `json:"parked_since,omitzero"`
}

// Pending reports whether the event waits for the sweeper: neither
// processed nor parked.
func (ev InboxEvent) Pending() bool { return ev.ProcessedAt.IsZero() && ev.ParkedKey == "" }

// Park parks the event under key at at until expiresAt, the rule of
// InboxStore.ParkEvent, and reports whether that changed it: a processed
// event is never parked, and parking again under the same key no later
// changes nothing.
func (ev *InboxEvent) Park(key string, at, expiresAt time.Time) bool {
	if !ev.ProcessedAt.IsZero() || (ev.ParkedKey == key && !at.After(ev.ParkedAt)) {
		return false
	}
	if ev.ParkedKey != key || ev.ParkedSince.IsZero() {
		ev.ParkedSince = at
	}
	ev.ParkedKey, ev.ParkedAt, ev.ExpiresAt = key, at, expiresAt
	return true
}

// Unpark clears the parked state, as processing does.
func (ev *InboxEvent) Unpark() {
	ev.ParkedKey, ev.ParkedAt, ev.ParkedSince = "", time.Time{}, time.Time{}
}

// ParkExpired reports whether ev is parked and its wait ended by now: then
// it is gone (see InboxStore.ParkEvent).
func (ev InboxEvent) ParkExpired(now time.Time) bool {
	return ev.ProcessedAt.IsZero() && ev.ParkedKey != "" && !ev.ExpiresAt.IsZero() && !now.Before(ev.ExpiresAt)
}

// ValidParkKey reports whether key can name what parked events wait for:
// non-empty, at most 400 bytes, without '|' (stores use it as a separator).
func ValidParkKey(key string) bool {
	return key != "" && len(key) <= 400 && !strings.Contains(key, "|")
}

// InboxStore is the idempotency record of inbound events.
//
// An unprocessed event is either pending (recorded, maybe never announced:
// the sweeper's business) or parked (handled, but waiting for something,
// named by a key, before it can apply). Parked events leave the pending
// list so that events that wait, maybe forever, never crowd out the ones
// whose announcement was lost; they are found again by their key. What
// waits for something that may never come (a Stripe customer of another
// product, which no account links) must not pile up: a caller that knows
// past when waiting can no longer help bounds it (ParkEvent's expiresAt;
// the Stripe consumer: the inbox retention from receipt, where its
// reconciliation restores what such an event carried).
type InboxStore interface {
	// RecordEvent stores ev unless (Source, ID) exists. It returns the stored
	// event (parked or not) and whether this call created it.
	RecordEvent(ctx context.Context, ev InboxEvent) (InboxEvent, bool, error)
	GetEvent(ctx context.Context, source, id string) (InboxEvent, error)
	// MarkEventProcessed sets ProcessedAt (first call wins) and ExpiresAt,
	// and clears the parked state.
	MarkEventProcessed(ctx context.Context, source, id string, at, expiresAt time.Time) error
	// ListPendingEvents returns up to limit unprocessed, unparked events
	// received before receivedBefore, oldest first, for the sweeper that
	// republishes them.
	ListPendingEvents(ctx context.Context, source string, receivedBefore time.Time, limit int) ([]InboxEvent, error)
	// ParkEvent records that the unprocessed event (source, id) waits for
	// key (see ValidParkKey; CodeInvalid otherwise), parked at at: it leaves
	// the pending list and is listed under key by ListParkedEvents until it
	// is processed or parked under another key. It stays unprocessed:
	// GetEvent returns it with ParkedKey and ParkedAt set and RecordEvent
	// still finds it. Parking again under the same key with the same at
	// changes nothing; with a later at it moves the event behind the key's
	// others and keeps its ParkedSince, which parking under another key sets
	// to at (InboxEvent.Park). Parking a processed event changes nothing; an
	// unknown event is CodeNotFound.
	//
	// expiresAt, unless zero, ends the wait: from then on (by the store's
	// clock, as TTL goes) the event is gone as a processed event past its
	// ExpiresAt is: ListParkedEvents omits it, GetEvent, ParkEvent and
	// MarkEventProcessed answer CodeNotFound, RecordEvent records it anew,
	// and the store deletes it (TTL on DynamoDB and Firestore; bolt at its
	// next PruneExpired or Open). While it waits, GetEvent returns the end
	// in the event's ExpiresAt. Zero keeps it until it is processed; each
	// park sets it, so parking again with zero keeps for good an event
	// that had one.
	ParkEvent(ctx context.Context, source, id, key string, at, expiresAt time.Time) error
	// ListParkedEvents returns up to limit events parked under key, oldest
	// ParkedAt first (then by id). To page, list from after the last one:
	// after is the (ParkedAt, ID) of the last event of the previous page,
	// zero for the first page.
	ListParkedEvents(ctx context.Context, source, key string, after ParkCursor, limit int) ([]InboxEvent, error)
	// CountParkedEvents counts the events parked under the keys that begin
	// with prefix, those whose wait ended left out as ListParkedEvents
	// leaves them, up to limit: it stops there, so that a count reads
	// about limit events (and those past their wait not deleted yet)
	// however many wait, across keys that ListParkedEvents lists one at a
	// time. For gauges: it may lag a park by a moment (DynamoDB reads an
	// index).
	CountParkedEvents(ctx context.Context, source, prefix string, limit int) (int, error)
	// ListParkedKeys returns up to limit of the keys that begin with
	// prefix under which events of source are parked (those whose wait
	// ended left out as ListParkedEvents leaves them), each once, in
	// CompareParkKeys order from the first after after ("" for the
	// first). It is for a retrier of what waits under keys it cannot name
	// (the Stripe sweeper, for an account created by a writer that woke
	// nothing): it may lag a park by a moment (DynamoDB reads an index).
	ListParkedKeys(ctx context.Context, source, prefix, after string, limit int) ([]string, error)
	// ParkedKeysWalk returns where the walk of source's keys that begin
	// with prefix stands: the after of the walk's next ListParkedKeys
	// page, "" for the first (none kept yet, or the last page was read).
	// A retrier that reads a page a run keeps its walk here, not in
	// memory, so that a new instance, or many sharing a schedule, go on
	// where the last run stopped: each key is reached within as many runs
	// as there are pages, however often instances start.
	ParkedKeysWalk(ctx context.Context, source, prefix string) (string, error)
	// MoveParkedKeysWalk moves that walk to to if it still stands at from
	// (as ParkedKeysWalk read it), in one atomic step, and reports whether
	// it did: false, writing nothing, when another walker moved it since,
	// so that a slow run never moves the walk back over pages others read.
	// from and to are keys with prefix, or "". The source "" (no inbox's)
	// has no walk: ParkedKeysWalk returns "" and MoveParkedKeysWalk
	// refuses it, CodeInvalid (id_invalid), writing nothing.
	MoveParkedKeysWalk(ctx context.Context, source, prefix, from, to string) (bool, error)
}

// CompareParkKeys is the order of ListParkedKeys: each key followed by
// '|', which no key holds (ValidParkKey), so that stores sorting
// key|position strings list keys in it.
func CompareParkKeys(a, b string) int { return strings.Compare(a+"|", b+"|") }

// PastParkKey is the least string after every key|position string of key
// ('}' is the byte after '|'): where a store's listing of keys in
// CompareParkKeys order goes on past key, however many wait under it.
func PastParkKey(key string) string { return key + "}" }

// ParkKeysStart is where ListParkedKeys(prefix, after) starts in
// key|position order: at prefix, or past after if after is later.
func ParkKeysStart(prefix, after string) string {
	if after == "" {
		return prefix
	}
	return max(prefix, PastParkKey(after))
}

// ParkCursor is a position in a key's parked events: list the events
// parked after At, or at At with an ID greater than ID.
type ParkCursor struct {
	At time.Time
	ID string
}

// CompareParked orders ev against the position c: by ParkedAt, then ID.
func CompareParked(ev InboxEvent, c ParkCursor) int {
	if n := ev.ParkedAt.Compare(c.At); n != 0 {
		return n
	}
	return strings.Compare(ev.ID, c.ID)
}

// CursorOf is the position just after ev in its key's parked events.
func CursorOf(ev InboxEvent) ParkCursor { return ParkCursor{At: ev.ParkedAt, ID: ev.ID} }

// EdgeStore holds the CDN edge table.
type EdgeStore interface {
	PutEdge(ctx context.Context, e Edge) error
	GetEdge(ctx context.Context, id string) (Edge, error)
	// UpdateEdge has the semantics of UpdateAccount, for edges.
	UpdateEdge(ctx context.Context, id string, fn func(*Edge) error) (Edge, error)
	ListEdges(ctx context.Context) ([]Edge, error)
	// NoteUnknownEdge records reports health reports from edge id, which
	// the table does not hold, the newest at at, by the rule of
	// NoteUnknownEdge (at most MaxUnknownEdges kept). Concurrent notes all
	// count.
	NoteUnknownEdge(ctx context.Context, id string, at time.Time, reports int64) error
	// ListUnknownEdges returns them, most recently heard from first.
	ListUnknownEdges(ctx context.Context) ([]UnknownEdge, error)
}

// Progress is the resume position of one account on one title.
type Progress struct {
	AccountID  string    `json:"account_id"`
	TitleID    string    `json:"title_id"`
	SessionID  string    `json:"session_id"`
	DeviceID   string    `json:"device_id,omitempty"`
	PositionMS int64     `json:"position_ms"`
	DurationMS int64     `json:"duration_ms"`
	DeviceTime time.Time `json:"device_time"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// SessionQoE is the latest accepted quality-of-experience state of one
// session, derived from its heartbeats.
type SessionQoE struct {
	SessionID  string    `json:"session_id"`
	AccountID  string    `json:"account_id"`
	TitleID    string    `json:"title_id"`
	EdgeID     string    `json:"edge_id,omitempty"`
	DeviceTime time.Time `json:"device_time"`
	Heartbeats int       `json:"heartbeats"`
	QoE        QoE       `json:"qoe"`
	UpdatedAt  time.Time `json:"updated_at"`
	// Playhead is the session's playhead as its CMCD reports tell it. It
	// is kept here, next to the device time that orders the reports, so
	// that reports without pt (playhead time) still move the resume
	// position: by the play time between them (events/schemas/cmcd.md,
	// "Resume position without pt"). Zero for sessions that never sent
	// CMCD.
	Playhead Playhead `json:"playhead,omitzero"`
}

// Playhead is a session's playhead derived from its CMCD reports.
type Playhead struct {
	// Known is set once the session's first CMCD report was counted: the
	// position then starts from the resume position the session found.
	Known      bool  `json:"known"`
	PositionMS int64 `json:"position_ms"`
	// DurationMS is the title's duration where a heartbeat told it (CMCD
	// does not), 0 when unknown; the position never passes it.
	DurationMS int64 `json:"duration_ms,omitempty"`
	// State is the CMCD play state (sta) of the newest report counted:
	// the state the time until the next report was spent in.
	State string `json:"sta,omitempty"`
	// Began is set once a report said playing. Seeks before it are the
	// player going to the start it was given, not away from it.
	Began bool `json:"began,omitempty"`
	// Lost is set by a seek reported without pt once playback began (but
	// for the player's own move to its start reported just after,
	// functions/heartbeat cmcdPlayhead): where the player went is
	// unknown, so the position stays until a report carries pt.
	Lost bool `json:"lost,omitempty"`
	// AdvancedMS is the play time the position was moved by without pt,
	// all told, less play taken back by that move; the session's age on
	// the server clock bounds it.
	AdvancedMS int64 `json:"advanced_ms,omitempty"`
	// MovedAt is the device time of the report that last moved the
	// position: the resume position the state implies is PositionMS at
	// MovedAt, which can then be written again from the stored state
	// alone (a redelivery after that write failed).
	MovedAt time.Time `json:"moved_at,omitzero"`
}

// ProgressStore holds resume positions and per-session QoE. Both writes are
// gated on DeviceTime: a write whose DeviceTime is not after the stored one
// is ignored (applied=false), so late or replayed heartbeats never move
// state backwards and redelivery never double-applies.
type ProgressStore interface {
	SaveProgress(ctx context.Context, p Progress) (applied bool, err error)
	GetProgress(ctx context.Context, accountID, titleID string) (Progress, error)
	// SaveSessionQoE stores q, the state its caller built on the state it
	// read, whose DeviceTime is on (zero: it read none). It is a
	// compare-and-set on that read, decided in the same atomic step as
	// the write: consumers of one session run side by side (Lambda runs
	// batches of a standard SQS queue concurrently, each Pub/Sub push is
	// an invocation of its own), and a state built on a read another
	// write has overtaken would drop that write's heartbeats. A
	// DeviceTime names a state: the stored one only grows, so none is
	// stored twice (a record past its TTL is none). prev is the state
	// stored when the call decided (zero if none):
	//   - prev is not the state of on (another write landed since the
	//     read): nothing is written, the error is CodePrecondition and
	//     prev the state to build on again (where q's heartbeats may all
	//     turn out older than prev: they are then late);
	//   - else q.DeviceTime not after on: nothing is written, applied is
	//     false (the gate);
	//   - else q is written, applied.
	SaveSessionQoE(ctx context.Context, q SessionQoE, on time.Time) (prev SessionQoE, applied bool, err error)
	GetSessionQoE(ctx context.Context, sessionID string) (SessionQoE, error)
}

// ErrQoEMoved is SaveSessionQoE's refusal of a state built on a read that
// another write overtook: the session's state is at device time stored
// (zero: none), not on.
func ErrQoEMoved(sessionID string, stored, on time.Time) *Error {
	return Errorf(CodePrecondition, "qoe_moved", "session %q QoE is at device time %s, not %s as read",
		sessionID, stored.Format(time.RFC3339Nano), on.Format(time.RFC3339Nano))
}

// ProgressWrite is one session's share of a heartbeat batch: its resume
// position unless NoProgress (the batch moves none: CMCD reports without a
// playhead that add no play time) and, when QoE is set, its QoE state.
//
// Views are the view reports (QoEStore) of the session's heartbeats in the
// batch: a store that is also a QoEStore folds them into the session's view
// in the batch's own transaction and says so in ViewApplied, so views cost
// no transaction of their own. They are folded whether or not the QoE
// state applies: a view is a function of the set of its reports
// (QoEView.Apply), so late and replayed ones belong in it too, and fold
// to nothing when they are replays. Stores that keep no views leave them
// unread, and the caller writes the views elsewhere.
//
// QoEOn is the DeviceTime of the state QoE was built on, SaveSessionQoE's
// on. A write whose state moved since fails the whole batch with
// CodePrecondition, its Progress with it (it may have been derived from
// that state).
type ProgressWrite struct {
	Progress   Progress
	NoProgress bool
	QoE        *SessionQoE
	QoEOn      time.Time
	Views      []QoEReport
}

// ProgressWriteResult is what SaveProgress and SaveSessionQoE would have
// returned for the write.
type ProgressWriteResult struct {
	ProgressApplied bool
	QoEApplied      bool
	PrevQoE         SessionQoE
	ViewApplied     bool // the write's Views were folded (see ProgressWrite)
}

// ProgressBatchStore is implemented by stores where every write is a
// transaction commit of its own (the embedded bbolt file commits pages on
// each), so that a consumer writes a whole batch of sessions in one. The
// writes are gated exactly as SaveProgress and SaveSessionQoE (on QoEOn) and
// applied in order, all or nothing: after an error nothing was written. It is
// optional: heartbeat.Deps.Batch asks for it, shared/bolt implements it and
// passes storetest.RunProgressBatch.
type ProgressBatchStore interface {
	ProgressStore
	// GetSessionQoEs returns the stored states of the sessions that have
	// one; ids without a state are absent from the map.
	GetSessionQoEs(ctx context.Context, sessionIDs []string) (map[string]SessionQoE, error)
	SaveProgressBatch(ctx context.Context, writes []ProgressWrite) ([]ProgressWriteResult, error)
}

// LeaseCounter counts the leases held across every account for the
// playplane.leases.active gauge, never on a request path: the local runner
// reads it when metrics are collected, the clouds from the heartbeat
// function's scheduled job once a minute. The figure is what the store
// holds, so it cannot drift the way a counter of admissions minus ends
// would as leases lapse unrenewed. It is optional (heartbeat.Deps.Leases):
// bolt walks its account-session index in one read transaction, DynamoDB
// counts a sparse index of held slots (Query, Select=COUNT; eventually
// consistent), Firestore runs a COUNT aggregation on its sessions;
// storetest.RunLeaseCounter is the contract.
type LeaseCounter interface {
	CountActiveLeases(ctx context.Context, now time.Time) (int, error)
}
