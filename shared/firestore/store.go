// Package firestore is the playback.Store on Cloud Firestore (native mode).
//
// Layout (collection names take Config.CollectionPrefix):
//
//	plans/{id}                      plan
//	titles/{id}                     title
//	accounts/{id}                   account, guarded
//	accounts/{id}/slots/{k}         stream slot k of the account: the session holding it, mirrored; guarded
//	accounts/{id}/slots/device-{d}  device lock: the last session admitted on device d; guarded
//	accounts/{id}/progress/{title}  resume position, gated on device time; guarded
//	customers/{id}                  payment customer → account
//	sessions/{id}                   session; lease_until is its lease's expiry until it ends
//	session_qoe/{id}                session QoE, gated on device time; guarded
//	inbox/{source}/events/{id}      inbox event; pending ones carry pending_at, parked ones
//	                                "parked" = key|parked_at|id (both sparse, single-field indexed)
//	edges/{id}                      edge, guarded
//	…/guards/{rev}                  guard of revision rev of the document above it
//
// Every document holds its domain value as JSON in "doc" beside the few
// fields that queries and TTL read. Every conditional write rests on a
// document Create, the one precondition every Firestore (and the local
// emulator, which ignores update-time preconditions and applies the writes
// of a failed commit up to the failing one) enforces: a "guarded" document
// carries a random revision token "rev", and a write that read revision R
// commits, first, the creation of the guard document …/guards/R, then the
// new value with a fresh revision. Of any number of writers that read R,
// exactly one creates the guard; the others fail with AlreadyExists, read
// again and retry. A document that does not exist yet is created with
// Create for the same effect. Every write of a guarded document also
// carries a LastUpdateTime precondition, which Cloud Firestore enforces.
//
// The stream limit rests on slot documents: a lease is admitted by
// claiming the lowest free slot k < Limit (absent, ended or expired)
// together with creating the session, so of racing acquisitions that saw
// the same slot only one wins it, and at most Limit slots below the limit
// are ever held. The session is changed only by writers that hold its
// slot's guard, or, once it has lost its slot, its own. The admission also
// moves the device's lock through its guard and ends the device's running
// session, so one device never holds two leases.
//
// TTL: sessions, slots, session QoE and inbox events carry "expire_at"
// (lease expiry or end plus Retention; an event's ExpiresAt), guards carry
// it at creation plus GuardRetention. Enable a TTL policy on expire_at for
// the collection groups sessions, slots, session_qoe, events and guards.
// TTL deletion lags by up to a day, so reads treat expired documents as
// absent. Exempt "doc" from single-field indexing: nothing queries it.
//
// Cost: a guarded write is one more small document (the guard) than the
// write itself, and a multi-document write is one batched write (a single
// Commit RPC).
package firestore

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/playplane/playplane/shared/memo"
	"github.com/playplane/playplane/shared/playback"
)

var _ playback.Store = (*Store)(nil)

// Field names.
const (
	fieldDoc       = "doc"
	fieldRev       = "rev"
	fieldExpireAt  = "expire_at"  // TTL policy field
	fieldPendingAt = "pending_at" // inbox: receipt time while unprocessed and unparked, null after
	fieldParked    = "parked"     // inbox: key|parked_at|id while parked, null otherwise
	fieldSession   = "session"    // slot: id of the session holding it, "" when free
	fieldSlot      = "slot"       // session: index of its slot
	// fieldLeaseUntil is a session's lease expiry while it is not ended,
	// null after: what CountActiveLeases counts.
	fieldLeaseUntil  = "lease_until"
	fieldAccountID   = "account_id"   // customer: the account it maps to
	fieldLinkBefore  = "link_before"  // customer: a pending link's Before (playback.CustomerLink)
	fieldLinkClaimed = "link_claimed" // customer: a pending link's Claimed
	// fieldLinkClaimedFor is the claim a customer's link_claimed is the
	// age of (claimedFor).
	fieldLinkClaimedFor = "link_claimed_for"
	// fieldLinkFrom is a customer's pending link's From, after the claim
	// it is of (fromOf).
	fieldLinkFrom = "link_from"
	fieldBy       = "by" // guard: nonce of the commit that created it
)

// Collection names.
const (
	colPlans     = "plans"
	colTitles    = "titles"
	colAccounts  = "accounts"
	colCustomers = "customers"
	colSessions  = "sessions"
	colQoE       = "session_qoe"
	colInbox     = "inbox"
	colWalks     = "inbox_walks" // ListParkedKeys' walks (parkWalkRef)
	colEdges     = "edges"
	subSlots     = "slots"
	subProgress  = "progress"
	subEvents    = "events"
	subGuards    = "guards"
)

// maxLeaseLimit bounds the slots an account may have: AcquireLease reads
// them all.
const maxLeaseLimit = 64

// maxCASAttempts bounds the re-read-and-retry rounds of guarded writes. A
// round fails only when another writer got the same revision first, so
// every round lets one contender through; only a storm on one document
// exhausts it, and the caller then answers 503 and retries later.
const maxCASAttempts = 32

// Config configures the store.
type Config struct {
	// ProjectID defaults to GOOGLE_CLOUD_PROJECT, then to the project of the
	// credentials.
	ProjectID  string `env:"FIRESTORE_PROJECT_ID, default=$GOOGLE_CLOUD_PROJECT"`
	DatabaseID string `env:"FIRESTORE_DATABASE, default=(default)"`
	// CollectionPrefix is put before every top-level collection name, so
	// several deployments (or tests) can share one database.
	CollectionPrefix string `env:"FIRESTORE_COLLECTION_PREFIX"`
	// Retention is how long sessions, slots and QoE outlive their expiry
	// before TTL deletes them, so a late heartbeat still gets "gone", not
	// "not found".
	Retention time.Duration `env:"FIRESTORE_RETENTION, default=48h"`
	// GuardRetention is how long a guard document lives. A writer that read
	// a revision longer ago than this could win its guard again after TTL
	// deleted it, where the emulator does not check update times: keep it
	// far above any request deadline.
	GuardRetention time.Duration `env:"FIRESTORE_GUARD_RETENTION, default=1h"`
}

func (c *Config) validate() error {
	if c.DatabaseID == "" {
		c.DatabaseID = firestore.DefaultDatabaseID
	}
	if c.Retention == 0 {
		c.Retention = 48 * time.Hour
	}
	if c.GuardRetention == 0 {
		c.GuardRetention = time.Hour
	}
	switch {
	case c.Retention < 0:
		return fmt.Errorf("retention %v < 0", c.Retention)
	case c.GuardRetention < time.Minute:
		return fmt.Errorf("guard retention %v is shorter than a minute", c.GuardRetention)
	case strings.Contains(c.CollectionPrefix, "/"):
		return fmt.Errorf("collection prefix %q contains '/'", c.CollectionPrefix)
	}
	return nil
}

// Store is a playback.Store on Firestore.
type Store struct {
	cfg    Config
	now    func() time.Time // wall clock for TTL decisions
	leases *memo.Map[memoLease]

	// newClient makes the client on the first call that needs the store,
	// when New was given none. Every exported method with a context opens
	// the store first; client is only read after that.
	newClient func(context.Context) (*firestore.Client, error)
	mu        sync.Mutex // serializes opening and closing
	opened    atomic.Bool
	closed    bool // under mu: a store closed before it opened stays closed
	client    *firestore.Client
	ownClient bool
}

// New returns a store. A nil client is made from cfg and opts
// (FIRESTORE_EMULATOR_HOST is honoured by the client library) on the first
// call that needs it, and closed on Close: finding credentials and dialing
// is left out of a cold start's requests that never reach the store (a
// refused token). A client that cannot be made fails that call and is
// tried again on the next. New makes no network calls.
func New(ctx context.Context, cfg Config, client *firestore.Client, opts ...option.ClientOption) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("firestore.New: %w", err)
	}
	s := &Store{client: client, cfg: cfg, now: time.Now, leases: memo.New[memoLease](maxMemoLeases)}
	if client != nil {
		s.opened.Store(true)
		return s, nil
	}
	project := cfg.ProjectID
	if project == "" {
		project = firestore.DetectProjectID
	}
	s.newClient = func(ctx context.Context) (*firestore.Client, error) {
		return firestore.NewClientWithDatabase(ctx, project, cfg.DatabaseID, opts...)
	}
	return s, nil
}

// open makes the client if New did not get one and no call has made it yet.
func (s *Store) open(context.Context) error {
	if s.opened.Load() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opened.Load() {
		return nil
	}
	if s.closed {
		return errors.New("firestore: the store is closed")
	}
	// The client outlives the call that happened to make it, and must not
	// keep that request's context values (its span, its logger) alive.
	c, err := s.newClient(context.Background())
	if err != nil {
		return fmt.Errorf("firestore: making the client: %w", err)
	}
	s.client, s.ownClient = c, true
	s.opened.Store(true)
	return nil
}

// Close closes the client if the store made it.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.ownClient {
		return s.client.Close()
	}
	return nil
}

func (s *Store) col(name string) *firestore.CollectionRef {
	return s.client.Collection(s.cfg.CollectionPrefix + name)
}

// validID reports whether id can name a Firestore document.
func validID(id string) bool {
	return id != "" && len(id) <= 1500 && utf8.ValidString(id) && !strings.Contains(id, "/") && !playback.ReservedID(id)
}

// invalidID is the error of a write naming a record Firestore cannot store.
func invalidID(op, kind, id string) error {
	return playback.Errorf(playback.CodeInvalid, "id_invalid",
		"firestore.%s: %s id %q must be 1-1500 bytes of UTF-8 without '/' and not . .. or __x__", op, kind, id)
}

// newRev returns a fresh revision token (128 random bits).
func newRev() string { return crand.Text() }

// stored is one document as read.
type stored struct {
	ref     *firestore.DocumentRef
	exists  bool      // the document exists (live or expired)
	live    bool      // it exists and TTL would not have deleted it yet
	updated time.Time // its update time, for LastUpdateTime
	readAt  time.Time // the time it was read at
	rev     string
	data    map[string]any
}

// read reads one document. Missing is not an error: exists says.
func (s *Store) read(ctx context.Context, ref *firestore.DocumentRef) (stored, error) {
	snap, err := ref.Get(ctx)
	if status.Code(err) == codes.NotFound {
		return stored{ref: ref}, nil
	}
	if err != nil {
		return stored{}, err
	}
	return s.fromSnapshot(snap), nil
}

func (s *Store) fromSnapshot(snap *firestore.DocumentSnapshot) stored {
	st := stored{ref: snap.Ref, exists: snap.Exists(), updated: snap.UpdateTime, readAt: snap.ReadTime, data: snap.Data()}
	st.rev, _ = st.data[fieldRev].(string)
	st.live = st.exists
	if exp, ok := st.data[fieldExpireAt].(time.Time); ok && !exp.After(s.now()) {
		st.live = false
	}
	return st
}

// decode unmarshals the doc field of a live document.
func decode[T any](st stored, kind, id string) (T, error) {
	var v T
	raw, ok := st.data[fieldDoc].(string)
	if !ok {
		return v, fmt.Errorf("decode %s %q: no %s field", kind, id, fieldDoc)
	}
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return v, fmt.Errorf("decode %s %q: %w", kind, id, err)
	}
	return v, nil
}

func encode(v any) (string, error) {
	raw, err := json.Marshal(v)
	return string(raw), err
}

// getDoc reads and decodes a live document; absent and expired ones are
// CodeNotFound.
func getDoc[T any](ctx context.Context, s *Store, op string, ref *firestore.DocumentRef, kind, id string) (T, error) {
	var zero T
	if !validID(id) {
		return zero, playback.NotFound(kind, id)
	}
	st, err := s.read(ctx, ref)
	if err != nil {
		return zero, fail(op, err)
	}
	if !st.live {
		return zero, playback.NotFound(kind, id)
	}
	v, err := decode[T](st, kind, id)
	return v, fail(op, err)
}

// write is one write of a commit.
type write struct {
	ref    *firestore.DocumentRef
	create bool           // Create: fails if the document exists
	del    bool           // Delete, with LastUpdateTime(since) when since is set
	since  time.Time      // else Update with LastUpdateTime(since), or Set when zero
	fields map[string]any // every field of the document
	// guarded is the document as read whose guard this write creates.
	guarded *stored
}

// replace returns the writes that replace st with fields on the condition
// that nobody wrote st since it was read: the creation of the guard of its
// revision comes first, so that on the emulator, which applies writes up
// to a failing one, a lost race writes nothing.
func (s *Store) replace(st stored, fields map[string]any) []write {
	fields[fieldRev] = newRev()
	if !st.exists {
		return []write{{ref: st.ref, create: true, fields: fields}}
	}
	guard := st.rev
	if guard == "" {
		// Written by something else than this store: its update time is
		// the best revision there is.
		guard = fmt.Sprintf("t%d", st.updated.UnixNano())
	}
	return []write{
		{ref: st.ref.Collection(subGuards).Doc(guard), create: true, guarded: &st,
			fields: map[string]any{fieldExpireAt: s.now().Add(s.cfg.GuardRetention)}},
		{ref: st.ref, since: st.updated, fields: fields},
	}
}

// commit applies writes atomically (on Cloud Firestore; see replace for
// the emulator). A single write needs no transaction.
func (s *Store) commit(ctx context.Context, writes []write) error {
	_, err := s.commitTimes(ctx, writes)
	return err
}

// commitTimes is commit, returning the update time of each document
// written, by path.
func (s *Store) commitTimes(ctx context.Context, writes []write) (map[string]time.Time, error) {
	if len(writes) == 1 {
		w := writes[0]
		var (
			res *firestore.WriteResult
			err error
		)
		switch {
		case w.del:
			res, err = w.ref.Delete(ctx, deletePreconditions(w)...)
		case w.create:
			res, err = w.ref.Create(ctx, w.fields)
		case w.since.IsZero():
			res, err = w.ref.Set(ctx, w.fields)
		default:
			res, err = w.ref.Update(ctx, updates(w.fields), firestore.LastUpdateTime(w.since))
		}
		if err != nil {
			return nil, err
		}
		return map[string]time.Time{w.ref.Path: res.UpdateTime}, nil
	}
	// Every guard is created before anything else is written: on the
	// emulator, which applies a failed commit's writes up to the failing
	// one, a lost race then leaves at most guards behind, never a
	// half-made change; releaseGuards takes those back.
	writes = slices.Clone(writes)
	slices.SortStableFunc(writes, func(a, b write) int { return cmp.Compare(guardFirst(a), guardFirst(b)) })
	nonce := newRev()
	guards, creates := 0, 0
	for i, w := range writes {
		switch {
		case w.guarded != nil:
			writes[i].fields = maps.Clone(w.fields)
			writes[i].fields[fieldBy] = nonce
			guards++
		case w.create:
			creates++
		}
	}
	// Reads happen before, outside: a read-write transaction would lock
	// the documents it reads and serialise contenders on Cloud Firestore,
	// and the guards already decide who wins. So the writes go as one
	// batched write, one Commit RPC, as atomic as a transaction's commit
	// (a write-only transaction would add a BeginTransaction round trip).
	//lint:ignore SA1019 WriteBatch is the one atomic multi-document write without a transaction; BulkWriter is not atomic.
	b := s.client.Batch()
	for _, w := range writes {
		switch {
		case w.del:
			b.Delete(w.ref, deletePreconditions(w)...)
		case w.create:
			b.Create(w.ref, w.fields)
		case w.since.IsZero():
			b.Set(w.ref, w.fields)
		default:
			b.Update(w.ref, updates(w.fields), firestore.LastUpdateTime(w.since))
		}
	}
	results, err := b.Commit(ctx)
	// Only a second guard or a create after the guards can fail once a
	// guard has been written.
	if err != nil && (guards > 1 || guards > 0 && creates > 0) && conflict(err) {
		s.releaseGuards(ctx, writes, nonce)
	}
	if err != nil {
		return nil, err
	}
	times := make(map[string]time.Time, len(writes))
	for i, w := range writes {
		if i < len(results) && results[i] != nil {
			times[w.ref.Path] = results[i].UpdateTime
		}
	}
	return times, nil
}

func guardFirst(w write) int {
	if w.guarded != nil {
		return 0
	}
	return 1
}

// releaseGuards deletes the guards that a failed commit created (only the
// emulator keeps any) for documents it then did not write, so that the
// next writer of those revisions can win them. A guard created by another
// writer carries another nonce and stays. Best effort: a guard left behind
// blocks its revision until TTL deletes it.
func (s *Store) releaseGuards(ctx context.Context, writes []write, nonce string) {
	for _, w := range writes {
		if w.guarded == nil {
			continue
		}
		g, err := s.read(ctx, w.ref)
		if err != nil || !g.exists || g.data[fieldBy] != nonce {
			continue
		}
		if doc, err := s.read(ctx, w.guarded.ref); err != nil || doc.rev != w.guarded.rev || !doc.updated.Equal(w.guarded.updated) {
			continue // written after all: the guard is spent
		}
		_, _ = w.ref.Delete(ctx)
	}
}

func updates(fields map[string]any) []firestore.Update {
	us := make([]firestore.Update, 0, len(fields))
	for k, v := range fields {
		us = append(us, firestore.Update{Path: k, Value: v})
	}
	return us
}

// conflict reports whether a commit lost a race: a guard or document that
// another writer created first, an update time that moved, or (Cloud
// Firestore) contention.
func conflict(err error) bool {
	switch status.Code(err) {
	case codes.AlreadyExists, codes.FailedPrecondition, codes.Aborted:
		return true
	}
	return false
}

// backoff sleeps a jittered, exponentially growing pause before attempt+1.
func backoff(ctx context.Context, attempt int) error {
	ceiling := min(100*time.Millisecond, time.Millisecond<<min(attempt, 10))
	t := time.NewTimer(rand.N(ceiling) + time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryLost says what a guarded write's failure means: nil when the write
// lost a race and may read again and retry (after a backoff), else the error
// to return — a failure that is no lost race, the last lost race
// (contended), or the context ending during the backoff.
func retryLost(ctx context.Context, op, kind, id string, attempt int, err error) error {
	if !conflict(err) {
		return fail(op, err)
	}
	if attempt+1 >= maxCASAttempts {
		return contended(op, kind, id, err)
	}
	if err := backoff(ctx, attempt); err != nil {
		return fail(op, err)
	}
	return nil
}

// contended is the error of a write that lost its race maxCASAttempts times.
func contended(op, kind, id string, err error) error {
	return playback.Unavailable(err, "firestore.%s: %s %q is contended", op, kind, id)
}

// fail classifies err for callers: domain errors pass as they are,
// failures a retry can cure become CodeUnavailable, the rest stays an
// internal error named after op.
func fail(op string, err error) error {
	if err == nil {
		return nil
	}
	var pe *playback.Error
	if errors.As(err, &pe) {
		return err
	}
	err = fmt.Errorf("firestore.%s: %w", op, err)
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted,
		codes.Internal, codes.Canceled:
		return playback.Unavailable(err, "firestore.%s: Firestore unavailable", op)
	}
	return err
}

// ttlAfter is the expire_at of a record that may go once t plus the
// retention has passed.
func (s *Store) ttlAfter(t time.Time) time.Time { return t.Add(s.cfg.Retention) }

// update is UpdateAccount/UpdateEdge: read, apply fn, write back guarded,
// retrying from the read when another writer got there first.
func update[T any](ctx context.Context, s *Store, op string, ref *firestore.DocumentRef, kind, id string, setID func(*T), fn func(*T) error) (T, error) {
	var zero T
	if !validID(id) {
		return zero, playback.NotFound(kind, id)
	}
	for attempt := 0; ; attempt++ {
		st, err := s.read(ctx, ref)
		if err != nil {
			return zero, fail(op, err)
		}
		if !st.live {
			return zero, playback.NotFound(kind, id)
		}
		v, err := decode[T](st, kind, id)
		if err != nil {
			return zero, fail(op, err)
		}
		if err := fn(&v); err != nil {
			if errors.Is(err, playback.ErrNoChange) {
				// fn may have changed v before giving up; answer the stored record.
				v, err = decode[T](st, kind, id)
				return v, fail(op, err)
			}
			return zero, err
		}
		setID(&v)
		doc, err := encode(v)
		if err != nil {
			return zero, fail(op, err)
		}
		err = s.commit(ctx, s.replace(st, docFields(doc, v)))
		if err == nil {
			return v, nil
		}
		if err := retryLost(ctx, op, kind, id, attempt, err); err != nil {
			return zero, err
		}
	}
}

// put writes v over whatever the document holds, through its guard so
// that a concurrent guarded update cannot silently undo it.
func put(ctx context.Context, s *Store, op string, ref *firestore.DocumentRef, kind, id string, v any) error {
	if !validID(id) {
		return invalidID(op, kind, id)
	}
	doc, err := encode(v)
	if err != nil {
		return fail(op, err)
	}
	for attempt := 0; ; attempt++ {
		st, err := s.read(ctx, ref)
		if err != nil {
			return fail(op, err)
		}
		err = s.commit(ctx, s.replace(st, docFields(doc, v)))
		if err == nil {
			return nil
		}
		if err := retryLost(ctx, op, kind, id, attempt, err); err != nil {
			return err
		}
	}
}

// putIfNewer writes fields to ref unless the live document there holds a
// device time not older than deviceTime. It returns whether it wrote and
// the document it replaced or kept (not live if there was none). With on
// set, it first asks on about the stored device time (zero if none) and
// returns its refusal, writing nothing: the write is guarded on the
// revision read, so what on saw is still there when it lands.
func (s *Store) putIfNewer(ctx context.Context, op string, ref *firestore.DocumentRef, kind, id string,
	deviceTime time.Time, fields map[string]any, storedTime func(stored) (time.Time, error), on func(time.Time) error) (bool, stored, error) {
	for attempt := 0; ; attempt++ {
		st, err := s.read(ctx, ref)
		if err != nil {
			return false, st, fail(op, err)
		}
		var prev time.Time
		if st.live {
			if prev, err = storedTime(st); err != nil {
				return false, st, fail(op, err)
			}
		}
		if on != nil {
			if err := on(prev); err != nil {
				return false, st, err
			}
		}
		if st.live && !deviceTime.After(prev) {
			return false, st, nil
		}
		err = s.commit(ctx, s.replace(st, fields))
		if err == nil {
			return true, st, nil
		}
		if err := retryLost(ctx, op, kind, id, attempt, err); err != nil {
			return false, st, err
		}
	}
}
