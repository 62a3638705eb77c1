package roundtrip

import (
	"context"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// Store is a playback.Store that records every method call (LayerStore)
// and forwards it. Optional interfaces are forwarded as the wiring finds
// them: Batch for Deps.Batch (playback.ProgressBatchStore), and
// ChangeSetLimits answers what the wrapped store's would
// (playback.ChangeSetLimiter).
type Store struct {
	inner playback.Store
	batch *BatchStore // nil unless inner is a ProgressBatchStore
}

var (
	_ playback.Store              = (*Store)(nil)
	_ playback.ChangeSetLimiter   = (*Store)(nil)
	_ playback.ProgressBatchStore = (*BatchStore)(nil)
)

// WrapStore wraps s.
func WrapStore(s playback.Store) *Store {
	w := &Store{inner: s}
	if b, ok := s.(playback.ProgressBatchStore); ok {
		w.batch = &BatchStore{Store: w, inner: b}
	}
	return w
}

// Unwrap returns the wrapped store.
func (s *Store) Unwrap() playback.Store { return s.inner }

// Batch returns the wrapped store's batch interface, recorded, and false
// if it has none. Wire it as Deps.Batch only when ok: a nil *BatchStore in
// an interface is not a nil interface.
func (s *Store) Batch() (playback.ProgressBatchStore, bool) {
	if s.batch == nil {
		return nil, false
	}
	return s.batch, true
}

// ChangeSetLimits returns the wrapped store's limits.
func (s *Store) ChangeSetLimits() (changes, bytes int) { return playback.ChangeSetLimits(s.inner) }

// Close closes the wrapped store.
func (s *Store) Close() error { return s.inner.Close() }

// BatchStore is the recorded ProgressBatchStore of a Store.
type BatchStore struct {
	*Store
	inner playback.ProgressBatchStore
}

func (s *Store) PutPlan(ctx context.Context, p playback.Plan) error {
	defer begin(ctx, LayerStore, "PutPlan")()
	return s.inner.PutPlan(ctx, p)
}

func (s *Store) GetPlan(ctx context.Context, id string) (playback.Plan, error) {
	defer begin(ctx, LayerStore, "GetPlan")()
	return s.inner.GetPlan(ctx, id)
}

func (s *Store) PutTitle(ctx context.Context, t playback.Title) error {
	defer begin(ctx, LayerStore, "PutTitle")()
	return s.inner.PutTitle(ctx, t)
}

func (s *Store) GetTitle(ctx context.Context, id string) (playback.Title, error) {
	defer begin(ctx, LayerStore, "GetTitle")()
	return s.inner.GetTitle(ctx, id)
}

func (s *Store) PutAccount(ctx context.Context, a playback.Account) error {
	defer begin(ctx, LayerStore, "PutAccount")()
	return s.inner.PutAccount(ctx, a)
}

func (s *Store) GetAccount(ctx context.Context, id string) (playback.Account, error) {
	defer begin(ctx, LayerStore, "GetAccount")()
	return s.inner.GetAccount(ctx, id)
}

func (s *Store) UpdateAccount(ctx context.Context, id string, fn func(*playback.Account) error) (playback.Account, error) {
	defer begin(ctx, LayerStore, "UpdateAccount")()
	return s.inner.UpdateAccount(ctx, id, fn)
}

func (s *Store) LinkCustomer(ctx context.Context, customerID, accountID string) error {
	defer begin(ctx, LayerStore, "LinkCustomer")()
	return s.inner.LinkCustomer(ctx, customerID, accountID)
}

func (s *Store) AccountIDByCustomer(ctx context.Context, customerID string) (string, error) {
	defer begin(ctx, LayerStore, "AccountIDByCustomer")()
	return s.inner.AccountIDByCustomer(ctx, customerID)
}

func (s *Store) CustomerLink(ctx context.Context, customerID string) (playback.CustomerLink, error) {
	defer begin(ctx, LayerStore, "CustomerLink")()
	return s.inner.CustomerLink(ctx, customerID)
}

func (s *Store) SwapCustomerLink(ctx context.Context, customerID string, from, to playback.CustomerLink) (bool, error) {
	defer begin(ctx, LayerStore, "SwapCustomerLink")()
	return s.inner.SwapCustomerLink(ctx, customerID, from, to)
}

func (s *Store) ListGracePending(ctx context.Context, until time.Time, after string, limit int) (playback.RecordPage, error) {
	defer begin(ctx, LayerStore, "ListGracePending")()
	return s.inner.ListGracePending(ctx, until, after, limit)
}

func (s *Store) AcquireLease(ctx context.Context, req playback.LeaseRequest) (playback.Session, error) {
	defer begin(ctx, LayerStore, "AcquireLease")()
	return s.inner.AcquireLease(ctx, req)
}

func (s *Store) ReadAdmission(ctx context.Context, accountID string, now time.Time) (playback.AdmissionRead, error) {
	defer begin(ctx, LayerStore, "ReadAdmission")()
	return s.inner.ReadAdmission(ctx, accountID, now)
}

func (s *Store) GetSession(ctx context.Context, id string) (playback.Session, error) {
	defer begin(ctx, LayerStore, "GetSession")()
	return s.inner.GetSession(ctx, id)
}

func (s *Store) ListActiveSessions(ctx context.Context, accountID string, now time.Time) ([]playback.Session, error) {
	defer begin(ctx, LayerStore, "ListActiveSessions")()
	return s.inner.ListActiveSessions(ctx, accountID, now)
}

func (s *Store) ListRenewableSessions(ctx context.Context, accountID string) ([]playback.Session, error) {
	defer begin(ctx, LayerStore, "ListRenewableSessions")()
	return s.inner.ListRenewableSessions(ctx, accountID)
}

func (s *Store) ExtendLease(ctx context.Context, id string, expiresAt, now time.Time) (playback.Session, error) {
	defer begin(ctx, LayerStore, "ExtendLease")()
	return s.inner.ExtendLease(ctx, id, expiresAt, now)
}

func (s *Store) RenewLease(ctx context.Context, id string, ttl, slack time.Duration, now time.Time) (playback.Session, error) {
	defer begin(ctx, LayerStore, "RenewLease")()
	return s.inner.RenewLease(ctx, id, ttl, slack, now)
}

func (s *Store) RenewHeldLease(ctx context.Context, held playback.Session, ttl, slack time.Duration, now time.Time) (playback.Session, error) {
	defer begin(ctx, LayerStore, "RenewHeldLease")()
	return s.inner.RenewHeldLease(ctx, held, ttl, slack, now)
}

func (s *Store) EndSession(ctx context.Context, id, reason string, now time.Time) (playback.Session, error) {
	defer begin(ctx, LayerStore, "EndSession")()
	return s.inner.EndSession(ctx, id, reason, now)
}

func (s *Store) RecordEvent(ctx context.Context, ev playback.InboxEvent) (playback.InboxEvent, bool, error) {
	defer begin(ctx, LayerStore, "RecordEvent")()
	return s.inner.RecordEvent(ctx, ev)
}

func (s *Store) GetEvent(ctx context.Context, source, id string) (playback.InboxEvent, error) {
	defer begin(ctx, LayerStore, "GetEvent")()
	return s.inner.GetEvent(ctx, source, id)
}

func (s *Store) MarkEventProcessed(ctx context.Context, source, id string, at, expiresAt time.Time) error {
	defer begin(ctx, LayerStore, "MarkEventProcessed")()
	return s.inner.MarkEventProcessed(ctx, source, id, at, expiresAt)
}

func (s *Store) ListPendingEvents(ctx context.Context, source string, receivedBefore time.Time, limit int) ([]playback.InboxEvent, error) {
	defer begin(ctx, LayerStore, "ListPendingEvents")()
	return s.inner.ListPendingEvents(ctx, source, receivedBefore, limit)
}

func (s *Store) ParkEvent(ctx context.Context, source, id, key string, at, expiresAt time.Time) error {
	defer begin(ctx, LayerStore, "ParkEvent")()
	return s.inner.ParkEvent(ctx, source, id, key, at, expiresAt)
}

func (s *Store) CountParkedEvents(ctx context.Context, source, prefix string, limit int) (int, error) {
	defer begin(ctx, LayerStore, "CountParkedEvents")()
	return s.inner.CountParkedEvents(ctx, source, prefix, limit)
}

func (s *Store) ListParkedKeys(ctx context.Context, source, prefix, after string, limit int) ([]string, error) {
	defer begin(ctx, LayerStore, "ListParkedKeys")()
	return s.inner.ListParkedKeys(ctx, source, prefix, after, limit)
}

func (s *Store) ParkedKeysWalk(ctx context.Context, source, prefix string) (string, error) {
	defer begin(ctx, LayerStore, "ParkedKeysWalk")()
	return s.inner.ParkedKeysWalk(ctx, source, prefix)
}

func (s *Store) MoveParkedKeysWalk(ctx context.Context, source, prefix, from, to string) (bool, error) {
	defer begin(ctx, LayerStore, "MoveParkedKeysWalk")()
	return s.inner.MoveParkedKeysWalk(ctx, source, prefix, from, to)
}

func (s *Store) ListParkedEvents(ctx context.Context, source, key string, after playback.ParkCursor, limit int) ([]playback.InboxEvent, error) {
	defer begin(ctx, LayerStore, "ListParkedEvents")()
	return s.inner.ListParkedEvents(ctx, source, key, after, limit)
}

func (s *Store) PutEdge(ctx context.Context, e playback.Edge) error {
	defer begin(ctx, LayerStore, "PutEdge")()
	return s.inner.PutEdge(ctx, e)
}

func (s *Store) GetEdge(ctx context.Context, id string) (playback.Edge, error) {
	defer begin(ctx, LayerStore, "GetEdge")()
	return s.inner.GetEdge(ctx, id)
}

func (s *Store) UpdateEdge(ctx context.Context, id string, fn func(*playback.Edge) error) (playback.Edge, error) {
	defer begin(ctx, LayerStore, "UpdateEdge")()
	return s.inner.UpdateEdge(ctx, id, fn)
}

func (s *Store) ListEdges(ctx context.Context) ([]playback.Edge, error) {
	defer begin(ctx, LayerStore, "ListEdges")()
	return s.inner.ListEdges(ctx)
}

func (s *Store) NoteUnknownEdge(ctx context.Context, id string, at time.Time, reports int64) error {
	defer begin(ctx, LayerStore, "NoteUnknownEdge")()
	return s.inner.NoteUnknownEdge(ctx, id, at, reports)
}

func (s *Store) ListUnknownEdges(ctx context.Context) ([]playback.UnknownEdge, error) {
	defer begin(ctx, LayerStore, "ListUnknownEdges")()
	return s.inner.ListUnknownEdges(ctx)
}

func (s *Store) SaveProgress(ctx context.Context, p playback.Progress) (applied bool, err error) {
	defer begin(ctx, LayerStore, "SaveProgress")()
	return s.inner.SaveProgress(ctx, p)
}

func (s *Store) GetProgress(ctx context.Context, accountID, titleID string) (playback.Progress, error) {
	defer begin(ctx, LayerStore, "GetProgress")()
	return s.inner.GetProgress(ctx, accountID, titleID)
}

func (s *Store) SaveSessionQoE(ctx context.Context, q playback.SessionQoE, on time.Time) (prev playback.SessionQoE, applied bool, err error) {
	defer begin(ctx, LayerStore, "SaveSessionQoE")()
	return s.inner.SaveSessionQoE(ctx, q, on)
}

func (s *Store) GetSessionQoE(ctx context.Context, sessionID string) (playback.SessionQoE, error) {
	defer begin(ctx, LayerStore, "GetSessionQoE")()
	return s.inner.GetSessionQoE(ctx, sessionID)
}

func (s *Store) GetRecord(ctx context.Context, kind playback.Kind, id string) (playback.Record, error) {
	defer begin(ctx, LayerStore, "GetRecord")()
	return s.inner.GetRecord(ctx, kind, id)
}

func (s *Store) ListRecords(ctx context.Context, kind playback.Kind, after string, limit int) (playback.RecordPage, error) {
	defer begin(ctx, LayerStore, "ListRecords")()
	return s.inner.ListRecords(ctx, kind, after, limit)
}

func (s *Store) ApplyChanges(ctx context.Context, cs playback.ChangeSet) (playback.AuditRecord, error) {
	defer begin(ctx, LayerStore, "ApplyChanges")()
	return s.inner.ApplyChanges(ctx, cs)
}

func (s *Store) ListAudit(ctx context.Context, before string, limit int) (playback.AuditPage, error) {
	defer begin(ctx, LayerStore, "ListAudit")()
	return s.inner.ListAudit(ctx, before, limit)
}

func (s *Store) PutCoverageZones(ctx context.Context, up playback.CoverageZonesUpload) (playback.CoverageZones, error) {
	defer begin(ctx, LayerStore, "PutCoverageZones")()
	return s.inner.PutCoverageZones(ctx, up)
}

func (s *Store) GetCoverageZones(ctx context.Context, v int64) (playback.CoverageZones, error) {
	defer begin(ctx, LayerStore, "GetCoverageZones")()
	return s.inner.GetCoverageZones(ctx, v)
}

func (s *BatchStore) GetSessionQoEs(ctx context.Context, sessionIDs []string) (map[string]playback.SessionQoE, error) {
	defer begin(ctx, LayerStore, "GetSessionQoEs")()
	return s.inner.GetSessionQoEs(ctx, sessionIDs)
}

func (s *BatchStore) SaveProgressBatch(ctx context.Context, writes []playback.ProgressWrite) ([]playback.ProgressWriteResult, error) {
	defer begin(ctx, LayerStore, "SaveProgressBatch")()
	return s.inner.SaveProgressBatch(ctx, writes)
}
