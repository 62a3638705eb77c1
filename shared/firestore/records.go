package firestore

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"

	"github.com/playplane/playplane/shared/playback"
)

func (s *Store) eventRef(source, id string) *firestore.DocumentRef {
	return s.col(colInbox).Doc(source).Collection(subEvents).Doc(id)
}

// eventFields stores ev. pending_at is the receipt time while the event
// is unprocessed and null after: ListPendingEvents' range query skips
// nulls, so the pending set is a sparse single-field index, no composite
// index needed. (Null rather than a deleted field: the emulator ignores
// field deletes.) A parked event has no pending_at but "parked", its key,
// park time and id in one string: ListParkedEvents' range query on that
// one field lists a key's events in park order from a single-field index,
// where an equality on the key ordered by the time would need a composite
// index.
func eventFields(ev playback.InboxEvent) (map[string]any, error) {
	if !ev.ProcessedAt.IsZero() {
		ev.Unpark()
	}
	doc, err := encode(ev)
	fields := map[string]any{fieldDoc: doc, fieldPendingAt: nil, fieldParked: nil, fieldExpireAt: nil}
	switch {
	case !ev.ProcessedAt.IsZero():
	case ev.ParkedKey != "":
		fields[fieldParked] = parkedValue(ev.ParkedKey, playback.CursorOf(ev))
	default:
		fields[fieldPendingAt] = ev.ReceivedAt
	}
	if !ev.ExpiresAt.IsZero() {
		fields[fieldExpireAt] = ev.ExpiresAt
	}
	return fields, err
}

func (s *Store) RecordEvent(ctx context.Context, ev playback.InboxEvent) (playback.InboxEvent, bool, error) {
	if err := s.open(ctx); err != nil {
		return playback.InboxEvent{}, false, err
	}
	const op = "RecordEvent"
	if !validID(ev.Source) || !validID(ev.ID) {
		return ev, false, playback.Errorf(playback.CodeInvalid, "event_invalid",
			"firestore.%s: source %q and id %q must be valid document ids", op, ev.Source, ev.ID)
	}
	ref := s.eventRef(ev.Source, ev.ID)
	// The first attempt assumes a new event: one Create, no read.
	st := stored{ref: ref}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			var err error
			if st, err = s.read(ctx, ref); err != nil {
				return ev, false, fail(op, err)
			}
			if st.live {
				prev, err := decode[playback.InboxEvent](st, "event", ev.ID)
				return prev, false, fail(op, err)
			}
			// An expired event TTL has not deleted yet counts as absent.
		}
		fields, err := eventFields(ev)
		if err != nil {
			return ev, false, fail(op, err)
		}
		err = s.commit(ctx, s.replace(st, fields))
		if err == nil {
			return ev, true, nil
		}
		if !conflict(err) {
			return ev, false, fail(op, err)
		}
		if attempt+1 >= maxCASAttempts {
			return ev, false, contended(op, "event", ev.ID, err)
		}
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return ev, false, fail(op, err)
			}
		}
	}
}

func (s *Store) GetEvent(ctx context.Context, source, id string) (playback.InboxEvent, error) {
	if err := s.open(ctx); err != nil {
		return playback.InboxEvent{}, err
	}
	if !validID(source) {
		return playback.InboxEvent{}, playback.NotFound("event", id)
	}
	return getDoc[playback.InboxEvent](ctx, s, "GetEvent", s.eventRef(source, id), "event", id)
}

func (s *Store) MarkEventProcessed(ctx context.Context, source, id string, at, expiresAt time.Time) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	return s.updateEvent(ctx, "MarkEventProcessed", source, id, func(ev *playback.InboxEvent) bool {
		if !ev.ProcessedAt.IsZero() {
			return false // the first mark wins
		}
		ev.ProcessedAt, ev.ExpiresAt = at, expiresAt
		return true
	})
}

// updateEvent reads an inbox event, lets change modify it (false: nothing
// to write) and writes it back with its query fields through its guard,
// reading again when another writer got there first.
func (s *Store) updateEvent(ctx context.Context, op, source, id string, change func(*playback.InboxEvent) bool) error {
	if !validID(source) || !validID(id) {
		return playback.NotFound("event", id)
	}
	ref := s.eventRef(source, id)
	for attempt := 0; ; attempt++ {
		st, err := s.read(ctx, ref)
		if err != nil {
			return fail(op, err)
		}
		if !st.live {
			return playback.NotFound("event", id)
		}
		ev, err := decode[playback.InboxEvent](st, "event", id)
		if err != nil || !change(&ev) {
			return fail(op, err)
		}
		fields, err := eventFields(ev)
		if err != nil {
			return fail(op, err)
		}
		err = s.commit(ctx, s.replace(st, fields))
		if err == nil {
			return nil
		}
		if err := retryLost(ctx, op, "event", id, attempt, err); err != nil {
			return err
		}
	}
}

// maxPendingPage bounds one sweep's query.
const maxPendingPage = 1000

func (s *Store) ListPendingEvents(ctx context.Context, source string, receivedBefore time.Time, limit int) ([]playback.InboxEvent, error) {
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	const op = "ListPendingEvents"
	if limit <= 0 || !validID(source) {
		return nil, nil
	}
	docs, err := s.col(colInbox).Doc(source).Collection(subEvents).
		Where(fieldPendingAt, "<", receivedBefore).
		OrderBy(fieldPendingAt, firestore.Asc).
		Limit(min(limit, maxPendingPage)).
		Documents(ctx).GetAll()
	if err != nil {
		return nil, fail(op, err)
	}
	// Firestore keeps microseconds: recheck at full precision.
	out, err := s.appendLiveEvents(nil, docs, limit, func(ev playback.InboxEvent) bool {
		return ev.Pending() && ev.ReceivedAt.Before(receivedBefore)
	})
	if err != nil {
		return nil, fail(op, err)
	}
	return out, nil
}

// appendLiveEvents appends to out, up to limit in all, the events of docs
// that are live (not past their expiry, which TTL deletes only later) and
// that keep accepts.
func (s *Store) appendLiveEvents(out []playback.InboxEvent, docs []*firestore.DocumentSnapshot, limit int,
	keep func(playback.InboxEvent) bool) ([]playback.InboxEvent, error) {
	for _, d := range docs {
		if len(out) >= limit {
			break
		}
		st := s.fromSnapshot(d)
		if !st.live {
			continue
		}
		ev, err := decode[playback.InboxEvent](st, "event", d.Ref.ID)
		if err != nil {
			return nil, err
		}
		if keep(ev) {
			out = append(out, ev)
		}
	}
	return out, nil
}

// parkedValue is the "parked" field of an event parked under key at c.
// Keys have no '|' (playback.ValidParkKey), so a key's values are exactly
// those from key+"|" to key+"}"; the fixed-width time sorts numerically.
func parkedValue(key string, c playback.ParkCursor) string {
	var n int64
	if !c.At.IsZero() {
		n = c.At.UnixNano()
	}
	return fmt.Sprintf("%s|%020d|%s", key, n, c.ID)
}

func (s *Store) ParkEvent(ctx context.Context, source, id, key string, at, expiresAt time.Time) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	const op = "ParkEvent"
	if !playback.ValidParkKey(key) {
		return playback.Errorf(playback.CodeInvalid, "park_key_invalid", "firestore.%s: key %q", op, key)
	}
	return s.updateEvent(ctx, op, source, id, func(ev *playback.InboxEvent) bool { return ev.Park(key, at, expiresAt) })
}

func (s *Store) ListParkedEvents(ctx context.Context, source, key string, after playback.ParkCursor, limit int) ([]playback.InboxEvent, error) {
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	const op = "ListParkedEvents"
	if limit <= 0 || !validID(source) || !playback.ValidParkKey(key) {
		return nil, nil
	}
	from := ">="
	bound := key + "|"
	if after != (playback.ParkCursor{}) {
		from, bound = ">", parkedValue(key, after)
	}
	// Events whose wait ended stay until TTL deletes them (up to a day
	// late) and are skipped: read on past them, or a page of only those
	// would end the caller's walk before the live events behind them.
	var out []playback.InboxEvent
	err := s.walkParked(ctx, source, from, bound, key+"}", min(limit, maxPendingPage), nil,
		func(docs []*firestore.DocumentSnapshot) (more bool, err error) {
			out, err = s.appendLiveEvents(out, docs, limit, func(ev playback.InboxEvent) bool {
				return ev.ProcessedAt.IsZero() && ev.ParkedKey == key
			})
			return len(out) < limit, err
		})
	if err != nil {
		return nil, fail(op, err)
	}
	return out, nil
}

// CountParkedEvents reads the "parked" values from prefix on, a batch at a
// time as ListParkedEvents does, each document's expiry alone, and counts
// the live ones.
func (s *Store) CountParkedEvents(ctx context.Context, source, prefix string, limit int) (int, error) {
	if err := s.open(ctx); err != nil {
		return 0, err
	}
	const op = "CountParkedEvents"
	if limit <= 0 || !validID(source) {
		return 0, nil
	}
	// Values begin with their key: those of the keys with prefix run from
	// prefix to prefix followed by the greatest code point (park keys are
	// ASCII in practice, where UTF-8 and UTF-16 order agree).
	n := 0
	err := s.walkParked(ctx, source, ">=", prefix, prefix+"\U0010FFFF", min(limit, maxPendingPage), []string{fieldParked, fieldExpireAt},
		func(docs []*firestore.DocumentSnapshot) (bool, error) {
			for _, d := range docs {
				if n < limit && s.fromSnapshot(d).live {
					n++
				}
			}
			return n < limit, nil
		})
	if err != nil {
		return 0, fail(op, err)
	}
	return n, nil
}

// ListParkedKeys reads the "parked" values from after on, as
// CountParkedEvents does: each begins with its key and '|', so a key's
// events sit together in playback.CompareParkKeys order. Once a key is
// found live, the next read starts past its events (the key and '}', the
// character after '|'), however many wait under it.
func (s *Store) ListParkedKeys(ctx context.Context, source, prefix, after string, limit int) ([]string, error) {
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	const op = "ListParkedKeys"
	if limit <= 0 || !validID(source) {
		return nil, nil
	}
	from := playback.ParkKeysStart(prefix, after)
	var keys []string
	for len(keys) < limit {
		found := ""
		err := s.walkParked(ctx, source, ">=", from, prefix+"\U0010FFFF", 25, []string{fieldParked, fieldExpireAt},
			func(docs []*firestore.DocumentSnapshot) (bool, error) {
				for _, d := range docs {
					if st := s.fromSnapshot(d); st.live {
						v, _ := st.data[fieldParked].(string)
						found, _, _ = strings.Cut(v, "|")
						return false, nil
					}
				}
				return true, nil
			})
		if err != nil {
			return nil, fail(op, err)
		}
		if found == "" {
			return keys, nil
		}
		keys, from = append(keys, found), playback.PastParkKey(found)
	}
	return keys, nil
}

// walkParked reads source's inbox documents whose "parked" value is from
// bound (from: ">=" or ">") up to end, exclusive, in that order, batch at
// a time, each read's documents (only fields, when given) handed to each
// until it wants no more or the range ends. Each read is bounded by
// batch; it resumes by a filter, not StartAfter: the emulator ignores
// cursors. Parked values are unique (each ends in its document's id), so
// a read that does not advance is an error, not a loop.
func (s *Store) walkParked(ctx context.Context, source, from, bound, end string, batch int, fields []string,
	each func([]*firestore.DocumentSnapshot) (more bool, err error)) error {
	for {
		q := s.col(colInbox).Doc(source).Collection(subEvents).
			Where(fieldParked, from, bound).Where(fieldParked, "<", end).OrderBy(fieldParked, firestore.Asc)
		if len(fields) > 0 {
			q = q.Select(fields...)
		}
		docs, err := q.Limit(batch).Documents(ctx).GetAll()
		if err != nil {
			return err
		}
		more, err := each(docs)
		if err != nil || !more || len(docs) < batch {
			return err
		}
		last, _ := docs[len(docs)-1].Data()[fieldParked].(string)
		if last <= bound {
			return fmt.Errorf("parked events before %q do not advance past %q", end, bound)
		}
		from, bound = ">", last
	}
}

func (s *Store) PutEdge(ctx context.Context, e playback.Edge) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	return put(ctx, s, "PutEdge", s.col(colEdges).Doc(e.ID), "edge", e.ID, e)
}

func (s *Store) GetEdge(ctx context.Context, id string) (playback.Edge, error) {
	if err := s.open(ctx); err != nil {
		return playback.Edge{}, err
	}
	return getDoc[playback.Edge](ctx, s, "GetEdge", s.col(colEdges).Doc(id), "edge", id)
}

func (s *Store) UpdateEdge(ctx context.Context, id string, fn func(*playback.Edge) error) (playback.Edge, error) {
	if err := s.open(ctx); err != nil {
		return playback.Edge{}, err
	}
	return update(ctx, s, "UpdateEdge", s.col(colEdges).Doc(id), "edge", id,
		func(e *playback.Edge) { e.ID = id }, fn)
}

func (s *Store) ListEdges(ctx context.Context) ([]playback.Edge, error) {
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	const op = "ListEdges"
	it := s.col(colEdges).Documents(ctx)
	defer it.Stop()
	var out []playback.Edge
	for {
		d, err := it.Next()
		if err == iterator.Done {
			return out, nil
		}
		if err != nil {
			return nil, fail(op, err)
		}
		st := s.fromSnapshot(d)
		if !st.live {
			continue
		}
		e, err := decode[playback.Edge](st, "edge", d.Ref.ID)
		if err != nil {
			return nil, fail(op, err)
		}
		out = append(out, e)
	}
}

func (s *Store) progressRef(accountID, titleID string) *firestore.DocumentRef {
	return s.col(colAccounts).Doc(accountID).Collection(subProgress).Doc(titleID)
}

func (s *Store) SaveProgress(ctx context.Context, p playback.Progress) (bool, error) {
	if err := s.open(ctx); err != nil {
		return false, err
	}
	const op = "SaveProgress"
	if !validID(p.AccountID) || !validID(p.TitleID) {
		return false, playback.Errorf(playback.CodeInvalid, "progress_invalid",
			"firestore.%s: account id %q and title id %q must be valid document ids", op, p.AccountID, p.TitleID)
	}
	doc, err := encode(p)
	if err != nil {
		return false, fail(op, err)
	}
	applied, _, err := s.putIfNewer(ctx, op, s.progressRef(p.AccountID, p.TitleID), "progress", p.TitleID,
		p.DeviceTime, map[string]any{fieldDoc: doc}, func(st stored) (time.Time, error) {
			old, err := decode[playback.Progress](st, "progress", p.TitleID)
			return old.DeviceTime, err
		}, nil)
	return applied, err
}

func (s *Store) GetProgress(ctx context.Context, accountID, titleID string) (playback.Progress, error) {
	if err := s.open(ctx); err != nil {
		return playback.Progress{}, err
	}
	if !validID(accountID) {
		return playback.Progress{}, playback.NotFound("progress", titleID)
	}
	return getDoc[playback.Progress](ctx, s, "GetProgress", s.progressRef(accountID, titleID), "progress", titleID)
}

func (s *Store) SaveSessionQoE(ctx context.Context, q playback.SessionQoE, on time.Time) (playback.SessionQoE, bool, error) {
	if err := s.open(ctx); err != nil {
		return playback.SessionQoE{}, false, err
	}
	const op = "SaveSessionQoE"
	if !validID(q.SessionID) {
		return playback.SessionQoE{}, false, playback.Errorf(playback.CodeInvalid, "qoe_invalid",
			"firestore.%s: session id %q must be a valid document id", op, q.SessionID)
	}
	doc, err := encode(q)
	if err != nil {
		return playback.SessionQoE{}, false, fail(op, err)
	}
	// QoE lives as long as the session record it describes.
	expire := s.now()
	if q.UpdatedAt.After(expire) {
		expire = q.UpdatedAt
	}
	var prev playback.SessionQoE
	applied, old, err := s.putIfNewer(ctx, op, s.col(colQoE).Doc(q.SessionID), "session_qoe", q.SessionID,
		q.DeviceTime, map[string]any{fieldDoc: doc, fieldExpireAt: s.ttlAfter(expire)}, func(st stored) (time.Time, error) {
			var err error
			prev, err = decode[playback.SessionQoE](st, "session_qoe", q.SessionID)
			return prev.DeviceTime, err
		}, func(stored time.Time) error {
			if !stored.Equal(on) {
				return playback.ErrQoEMoved(q.SessionID, stored, on)
			}
			return nil
		})
	if !old.live {
		prev = playback.SessionQoE{}
	}
	if playback.IsCode(err, playback.CodePrecondition) {
		return prev, false, err
	}
	if err != nil {
		return playback.SessionQoE{}, false, err
	}
	return prev, applied, nil
}

func (s *Store) GetSessionQoE(ctx context.Context, sessionID string) (playback.SessionQoE, error) {
	if err := s.open(ctx); err != nil {
		return playback.SessionQoE{}, err
	}
	return getDoc[playback.SessionQoE](ctx, s, "GetSessionQoE", s.col(colQoE).Doc(sessionID), "session_qoe", sessionID)
}

// unknownEdgesRef holds the whole bounded list of unknown edges, read and
// replaced whole: a few notes a minute at most (one per edge per consumer
// batch), far below a document's write rate.
func (s *Store) unknownEdgesRef() *firestore.DocumentRef {
	return s.col(colEdges + "_unknown").Doc("all")
}

func (s *Store) NoteUnknownEdge(ctx context.Context, id string, at time.Time, reports int64) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	const op = "NoteUnknownEdge"
	ref := s.unknownEdgesRef()
	for attempt := 0; ; attempt++ {
		st, err := s.read(ctx, ref)
		if err != nil {
			return fail(op, err)
		}
		var list []playback.UnknownEdge
		if st.live {
			if list, err = decode[[]playback.UnknownEdge](st, "unknown edges", "all"); err != nil {
				return fail(op, err)
			}
		}
		list = playback.NoteUnknownEdge(list, id, at, reports)
		doc, err := encode(list)
		if err != nil {
			return fail(op, err)
		}
		err = s.commit(ctx, s.replace(st, docFields(doc, list)))
		if err == nil {
			return nil
		}
		if err := retryLost(ctx, op, "unknown edges", "all", attempt, err); err != nil {
			return err
		}
	}
}

func (s *Store) ListUnknownEdges(ctx context.Context) ([]playback.UnknownEdge, error) {
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	list, err := getDoc[[]playback.UnknownEdge](ctx, s, "ListUnknownEdges", s.unknownEdgesRef(), "unknown edges", "all")
	if playback.IsCode(err, playback.CodeNotFound) {
		return nil, nil
	}
	return list, err
}

// parkWalkRef is the document of a walk of ListParkedKeys
// (ParkedKeysWalk): its after in fieldWalkAfter, replaced on its revision
// as read (a few writes a minute).
func (s *Store) parkWalkRef(source, prefix string) *firestore.DocumentRef {
	return s.col(colWalks).Doc(source + "|" + url.PathEscape(prefix))
}

const fieldWalkAfter = "after"

func (s *Store) ParkedKeysWalk(ctx context.Context, source, prefix string) (string, error) {
	if err := s.open(ctx); err != nil {
		return "", err
	}
	if !validID(source) {
		return "", nil
	}
	st, err := s.read(ctx, s.parkWalkRef(source, prefix))
	if err != nil {
		return "", fail("ParkedKeysWalk", err)
	}
	after, _ := st.data[fieldWalkAfter].(string)
	return after, nil
}

func (s *Store) MoveParkedKeysWalk(ctx context.Context, source, prefix, from, to string) (bool, error) {
	if err := s.open(ctx); err != nil {
		return false, err
	}
	const op = "MoveParkedKeysWalk"
	if !validID(source) {
		return false, invalidID(op, "source", source)
	}
	st, err := s.read(ctx, s.parkWalkRef(source, prefix))
	if err != nil {
		return false, fail(op, err)
	}
	if after, _ := st.data[fieldWalkAfter].(string); after != from {
		return false, nil
	}
	err = s.commit(ctx, s.replace(st, map[string]any{fieldWalkAfter: to}))
	switch {
	case conflict(err):
		return false, nil // another walker moved it since the read
	case err != nil:
		return false, fail(op, err)
	}
	return true, nil
}
