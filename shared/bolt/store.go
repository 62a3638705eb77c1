// Package bolt is the embedded, persistent default Store on a bbolt file.
// bbolt serialises writers, so every multi-record rule (the stream limit,
// version gates) is a read-check-write inside one Update transaction.
package bolt

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/playplane/playplane/shared/playback"
)

var _ playback.Store = (*Store)(nil)
var _ playback.ProgressBatchStore = (*Store)(nil)

var (
	bucketPlans           = []byte("plans")
	bucketTitles          = []byte("titles")
	bucketAccounts        = []byte("accounts")
	bucketCustomers       = []byte("customers")
	bucketSessions        = []byte("sessions")
	bucketAccountSessions = []byte("account_sessions") // accountID \x00 sessionID -> nil
	bucketInbox           = []byte("inbox")            // source \x00 id -> InboxEvent
	bucketEdges           = []byte("edges")
	bucketProgress        = []byte("progress") // accountID \x00 titleID -> Progress
	bucketQoE             = []byte("session_qoe")
	bucketAudit           = []byte("audit")          // AuditID -> AuditRecord
	bucketCoverageZones   = []byte("coverage_zones") // big-endian version -> storedCoverageZones
	bucketUnknownEdges    = []byte("unknown_edges")  // keyUnknownEdges -> []UnknownEdge
	bucketInboxWalks      = []byte("inbox_walks")    // source \x00 prefix -> the walk's after (ParkedKeysWalk)
	allBuckets            = [][]byte{bucketPlans, bucketTitles, bucketAccounts, bucketCustomers, bucketSessions,
		bucketAccountSessions, bucketInbox, bucketEdges, bucketProgress, bucketQoE, bucketAudit, bucketCoverageZones,
		bucketUnknownEdges, bucketQoEViews, bucketQoEBeats, bucketQoEPruned, bucketInboxWalks}
)

// Store is a playback.Store on one bbolt file.
type Store struct {
	db  *bbolt.DB
	gc  *groupCommit
	now func() time.Time
	// qoeRetention is how long a QoE view and its beats outlive the
	// view's end (PruneQoEViews).
	qoeRetention time.Duration
	// retention is how long sessions and their QoE outlive their end
	// (PruneExpired).
	retention time.Duration
	// pruneBudget bounds the records one of PruneQoEViews' and
	// PruneExpired's transactions reads and deletes.
	pruneBudget int
}

// Option tunes Open.
type Option func(*options)

type options struct {
	bolt         bbolt.Options
	now          func() time.Time
	qoeRetention time.Duration
	retention    time.Duration
}

// WithoutSync skips fsync after each commit. Data still survives a process
// restart (it is in the page cache), but an OS crash or power loss may
// lose recent commits or corrupt the file. Each durable commit costs two
// fdatasyncs, ~1-2 ms on ordinary disks, which dominates a request
// (concurrent writers share commits, see groupCommit); use this only where
// that trade is right (benchmarks of handler cost, throwaway local data).
func WithoutSync() Option { return func(o *options) { o.bolt.NoSync = true } }

// DefaultQoERetention is how long views are kept after they end unless
// WithQoERetention says otherwise: the widest range GET /v1/admin/qoe
// answers, so every range it admits that ends now is served whole. (The
// clouds keep the heartbeats the views are computed from in their
// warehouse, which expires nothing.)
const DefaultQoERetention = playback.MaxQoERange

// WithQoERetention keeps QoE views and their beats d after each view
// ended (PruneQoEViews); 0 is DefaultQoERetention.
func WithQoERetention(d time.Duration) Option { return func(o *options) { o.qoeRetention = d } }

// WithClock sets the clock past whose inbox expiries reads hide events:
// processed ones past their ExpiresAt and parked ones whose wait ended
// (playback.InboxStore.ParkEvent's expiresAt; time.Now by default), as
// the clouds' TTL attributes are read. bolt has no TTL, and every other
// time it is given. A test whose clock is not
// the wall clock passes its own.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Open opens (creating if needed) the store at path. Only one process may
// hold the file; a second Open waits up to a second and fails.
func Open(path string, opts ...Option) (*Store, error) {
	// The free page list is rebuilt by a scan at Open instead of written on
	// every commit: heartbeat batches commit many times a second, and the
	// list was a page write of each (what etcd does too).
	o := options{bolt: bbolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType}, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case o.qoeRetention == 0:
		o.qoeRetention = DefaultQoERetention
	case o.qoeRetention < 0:
		return nil, fmt.Errorf("bolt.Open: qoe retention %v < 0", o.qoeRetention)
	}
	switch {
	case o.retention == 0:
		o.retention = DefaultRetention
	case o.retention < 0:
		return nil, fmt.Errorf("bolt.Open: retention %v < 0", o.retention)
	}
	db, err := bbolt.Open(path, 0o600, &o.bolt)
	if err != nil {
		return nil, fmt.Errorf("bolt.Open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if err := indexGrace(tx); err != nil {
			return err
		}
		return indexInbox(tx, o.now())
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt.Open: create buckets: %w", err)
	}
	return &Store{db: db, gc: &groupCommit{db: db}, now: o.now, qoeRetention: o.qoeRetention, retention: o.retention,
		pruneBudget: pruneBudget}, nil
}

// Close releases the file.
func (s *Store) Close() error { return s.db.Close() }

func key(parts ...string) []byte {
	n := len(parts) - 1
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return b
}

func get[T any](tx *bbolt.Tx, bucket, k []byte, kind, id string) (T, error) {
	raw := tx.Bucket(bucket).Get(k)
	if raw == nil {
		var v T
		return v, playback.NotFound(kind, id)
	}
	return decode[T](raw, kind, id)
}

// decode is get for a record already in hand, as a cursor yields it.
func decode[T any](raw []byte, kind, id string) (T, error) {
	var v T
	if err := decodeRecord(raw, &v); err != nil {
		return v, fmt.Errorf("decode %s %q: %w", kind, id, err)
	}
	return v, nil
}

// updateRecord has UpdateAccount's semantics for any record: fn changes
// the stored record, which is written back with its id set; on
// ErrNoChange nothing is written and the record is returned as stored (read
// again, since fn may have changed the copy in hand before giving up).
func updateRecord[T any](tx *bbolt.Tx, bucket []byte, kind, id string, setID func(*T), fn func(*T) error) (T, error) {
	v, err := get[T](tx, bucket, []byte(id), kind, id)
	if err != nil {
		return v, err
	}
	if err := fn(&v); err != nil {
		if errors.Is(err, playback.ErrNoChange) {
			return get[T](tx, bucket, []byte(id), kind, id)
		}
		return v, err
	}
	setID(&v)
	return v, put(tx, bucket, []byte(id), v)
}

func put(tx *bbolt.Tx, bucket, k []byte, v any) error {
	raw, err := encodeRecord(v)
	if err != nil {
		return err
	}
	return putRaw(tx, bucket, k, raw)
}

func (s *Store) view(ctx context.Context, op string, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt.%s: %w", op, err)
	}
	if err := s.db.View(fn); err != nil {
		return wrap(op, err)
	}
	return nil
}

// update runs fn in a write transaction shared with concurrent callers
// (see groupCommit): fn may run more than once and must set every result
// it reports on each run.
func (s *Store) update(ctx context.Context, op string, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt.%s: %w", op, err)
	}
	if err := s.gc.update(fn); err != nil {
		return wrap(op, err)
	}
	return nil
}

// wrap keeps domain errors as they are (their codes reach clients) and
// marks everything else as a storage failure.
func wrap(op string, err error) error {
	var e *playback.Error
	if errors.As(err, &e) {
		return err
	}
	return fmt.Errorf("bolt.%s: %w", op, err)
}

func (s *Store) PutPlan(ctx context.Context, p playback.Plan) error {
	return s.update(ctx, "PutPlan", func(tx *bbolt.Tx) error { return put(tx, bucketPlans, []byte(p.ID), p) })
}

func (s *Store) GetPlan(ctx context.Context, id string) (p playback.Plan, err error) {
	err = s.view(ctx, "GetPlan", func(tx *bbolt.Tx) error {
		p, err = get[playback.Plan](tx, bucketPlans, []byte(id), "plan", id)
		return err
	})
	return p, err
}

func (s *Store) PutTitle(ctx context.Context, t playback.Title) error {
	return s.update(ctx, "PutTitle", func(tx *bbolt.Tx) error { return put(tx, bucketTitles, []byte(t.ID), t) })
}

func (s *Store) GetTitle(ctx context.Context, id string) (t playback.Title, err error) {
	err = s.view(ctx, "GetTitle", func(tx *bbolt.Tx) error {
		t, err = get[playback.Title](tx, bucketTitles, []byte(id), "title", id)
		return err
	})
	return t, err
}

func (s *Store) PutAccount(ctx context.Context, a playback.Account) error {
	return s.update(ctx, "PutAccount", func(tx *bbolt.Tx) error { return put(tx, bucketAccounts, []byte(a.ID), a) })
}

func (s *Store) GetAccount(ctx context.Context, id string) (a playback.Account, err error) {
	err = s.view(ctx, "GetAccount", func(tx *bbolt.Tx) error {
		a, err = get[playback.Account](tx, bucketAccounts, []byte(id), "account", id)
		return err
	})
	return a, err
}

func (s *Store) UpdateAccount(ctx context.Context, id string, fn func(*playback.Account) error) (a playback.Account, err error) {
	err = s.update(ctx, "UpdateAccount", func(tx *bbolt.Tx) (err error) {
		a, err = updateRecord(tx, bucketAccounts, "account", id, func(a *playback.Account) { a.ID = id }, fn)
		return err
	})
	return a, err
}

func (s *Store) LinkCustomer(ctx context.Context, customerID, accountID string) error {
	return s.update(ctx, "LinkCustomer", func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketCustomers)
		v := b.Get([]byte(customerID))
		if v == nil {
			return b.Put([]byte(customerID), linkValue(playback.CustomerLink{AccountID: accountID}))
		}
		if cur := parseLink(v); cur.AccountID != accountID {
			return playback.LinkedElsewhere(customerID, accountID, cur.AccountID)
		}
		return nil
	})
}

func (s *Store) CustomerLink(ctx context.Context, customerID string) (l playback.CustomerLink, err error) {
	err = s.view(ctx, "CustomerLink", func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketCustomers).Get([]byte(customerID))
		if v == nil {
			return playback.NotFound("customer", customerID)
		}
		l = parseLink(v)
		return nil
	})
	return l, err
}

func (s *Store) SwapCustomerLink(ctx context.Context, customerID string, from, to playback.CustomerLink) (swapped bool, err error) {
	err = s.update(ctx, "SwapCustomerLink", func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketCustomers)
		var cur playback.CustomerLink
		if v := b.Get([]byte(customerID)); v != nil {
			cur = parseLink(v)
		}
		if cur != from {
			return nil
		}
		swapped = true
		if to.AccountID == "" {
			return b.Delete([]byte(customerID))
		}
		return b.Put([]byte(customerID), linkValue(to))
	})
	return swapped, err
}

// A customer's link is stored as its account's id, a pending one
// followed by a NUL (which no id holds) and its Before, and, when it has
// one, another NUL and its Claimed in decimal (a version holds no NUL),
// and, when it has one, another NUL and its From.
func linkValue(l playback.CustomerLink) []byte {
	switch {
	case !l.Pending:
		return []byte(l.AccountID)
	case l.Claimed == 0 && l.From == "":
		return []byte(l.AccountID + "\x00" + l.Before)
	case l.From == "":
		return []byte(l.AccountID + "\x00" + l.Before + "\x00" + strconv.FormatInt(l.Claimed, 10))
	}
	return []byte(l.AccountID + "\x00" + l.Before + "\x00" + strconv.FormatInt(l.Claimed, 10) + "\x00" + l.From)
}

func parseLink(v []byte) playback.CustomerLink {
	id, rest, pending := strings.Cut(string(v), "\x00")
	before, rest, _ := strings.Cut(rest, "\x00")
	claimed, from, _ := strings.Cut(rest, "\x00")
	at, _ := strconv.ParseInt(claimed, 10, 64)
	return playback.CustomerLink{AccountID: id, Pending: pending, Before: before, Claimed: at, From: from}
}

func (s *Store) AccountIDByCustomer(ctx context.Context, customerID string) (id string, err error) {
	err = s.view(ctx, "AccountIDByCustomer", func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketCustomers).Get([]byte(customerID))
		if v == nil {
			return playback.NotFound("customer", customerID)
		}
		id = parseLink(v).AccountID
		return nil
	})
	return id, err
}
