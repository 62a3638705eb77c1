package bolt

import (
	"context"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/playplane/playplane/shared/playback"
)

func (s *Store) RecordEvent(ctx context.Context, ev playback.InboxEvent) (stored playback.InboxEvent, created bool, err error) {
	err = s.update(ctx, "RecordEvent", func(tx *bbolt.Tx) error {
		k := key(ev.Source, ev.ID)
		created = false // a run before this one may have set it
		old, err := get[playback.InboxEvent](tx, bucketInbox, k, "event", ev.ID)
		if err == nil && !eventGone(old, s.now()) {
			stored = old
			return nil
		}
		if err != nil && !playback.IsCode(err, playback.CodeNotFound) {
			return err
		}
		stored, created = ev, true
		// Over an expired event, whose index entries go with it.
		return putEvent(tx, old, ev)
	})
	return stored, created, err
}

func (s *Store) GetEvent(ctx context.Context, source, id string) (ev playback.InboxEvent, err error) {
	err = s.view(ctx, "GetEvent", func(tx *bbolt.Tx) error {
		ev, err = getEvent(tx, source, id, s.now())
		return err
	})
	return ev, err
}

// getEvent reads an inbox event; one gone by now (eventGone) is not found.
func getEvent(tx *bbolt.Tx, source, id string, now time.Time) (playback.InboxEvent, error) {
	ev, err := get[playback.InboxEvent](tx, bucketInbox, key(source, id), "event", id)
	if err == nil && eventGone(ev, now) {
		return playback.InboxEvent{}, playback.NotFound("event", id)
	}
	return ev, err
}

// eventGone reports whether ev is gone at now, as reads on DynamoDB and
// Firestore see it once its expiry passed, before TTL deletes it: a
// processed event past its ExpiresAt, or a parked one whose wait ended
// (playback.InboxStore.ParkEvent). PruneExpired deletes it later; until
// then a redelivery that found it would be a duplicate here and a new
// event there.
func eventGone(ev playback.InboxEvent, now time.Time) bool {
	return ev.ParkExpired(now) || !ev.ProcessedAt.IsZero() && !ev.ExpiresAt.IsZero() && !now.Before(ev.ExpiresAt)
}

func (s *Store) MarkEventProcessed(ctx context.Context, source, id string, at, expiresAt time.Time) error {
	return s.update(ctx, "MarkEventProcessed", func(tx *bbolt.Tx) error {
		ev, err := getEvent(tx, source, id, s.now())
		if err != nil || !ev.ProcessedAt.IsZero() {
			return err
		}
		old := ev
		ev.ProcessedAt, ev.ExpiresAt = at, expiresAt
		ev.Unpark()
		return putEvent(tx, old, ev)
	})
}

// ListPendingEvents reads the source's entries of bucketInboxPending.
func (s *Store) ListPendingEvents(ctx context.Context, source string, receivedBefore time.Time, limit int) (out []playback.InboxEvent, err error) {
	if limit <= 0 {
		return nil, nil
	}
	err = s.view(ctx, "ListPendingEvents", func(tx *bbolt.Tx) (err error) {
		out, err = listPending(tx, source, receivedBefore, limit)
		return err
	})
	return out, err
}

func (s *Store) ParkEvent(ctx context.Context, source, id, parkKey string, at, expiresAt time.Time) error {
	if !playback.ValidParkKey(parkKey) {
		return playback.Errorf(playback.CodeInvalid, "park_key_invalid", "bolt.ParkEvent: key %q", parkKey)
	}
	return s.update(ctx, "ParkEvent", func(tx *bbolt.Tx) error {
		ev, err := getEvent(tx, source, id, s.now())
		old := ev
		if err != nil || !ev.Park(parkKey, at, expiresAt) {
			return err
		}
		return putEvent(tx, old, ev)
	})
}

// ListParkedEvents reads the key's entries of bucketInboxParked: it decodes
// the events it returns and no others.
func (s *Store) ListParkedEvents(ctx context.Context, source, parkKey string, after playback.ParkCursor, limit int) (out []playback.InboxEvent, err error) {
	if limit <= 0 {
		return nil, nil
	}
	err = s.view(ctx, "ListParkedEvents", func(tx *bbolt.Tx) (err error) {
		out, err = listParked(tx, source, parkKey, after, limit, s.now())
		return err
	})
	return out, err
}

// CountParkedEvents walks the source's entries of bucketInboxParked,
// decoding only those under a key with prefix, to tell the live ones.
func (s *Store) CountParkedEvents(ctx context.Context, source, prefix string, limit int) (n int, err error) {
	if limit <= 0 {
		return 0, nil
	}
	err = s.view(ctx, "CountParkedEvents", func(tx *bbolt.Tx) (err error) {
		n, err = countParked(tx, source, prefix, limit, s.now())
		return err
	})
	return n, err
}

// ListParkedKeys walks the source's entries of bucketInboxParked, as
// CountParkedEvents does, decoding a key's events until one is live
// (expired ones first, in park order) to tell it waits, and none after:
// the index orders keys by length first, so it collects them all and
// sorts them.
func (s *Store) ListParkedKeys(ctx context.Context, source, prefix, after string, limit int) (keys []string, err error) {
	if limit <= 0 {
		return nil, nil
	}
	err = s.view(ctx, "ListParkedKeys", func(tx *bbolt.Tx) (err error) {
		keys, err = parkedKeys(tx, source, prefix, after, limit, s.now())
		return err
	})
	return keys, err
}

func (s *Store) ParkedKeysWalk(ctx context.Context, source, prefix string) (after string, err error) {
	err = s.view(ctx, "ParkedKeysWalk", func(tx *bbolt.Tx) error {
		after = string(tx.Bucket(bucketInboxWalks).Get(key(source, prefix)))
		return nil
	})
	return after, err
}

// MoveParkedKeysWalk compares and writes in one write transaction, which
// bbolt serializes.
func (s *Store) MoveParkedKeysWalk(ctx context.Context, source, prefix, from, to string) (moved bool, err error) {
	if source == "" {
		return false, playback.Errorf(playback.CodeInvalid, "id_invalid", "bolt.MoveParkedKeysWalk: source id is empty")
	}
	err = s.update(ctx, "MoveParkedKeysWalk", func(tx *bbolt.Tx) error {
		b, k := tx.Bucket(bucketInboxWalks), key(source, prefix)
		if moved = string(b.Get(k)) == from; !moved {
			return nil
		}
		if to == "" {
			return b.Delete(k)
		}
		return b.Put(k, []byte(to))
	})
	return moved, err
}

func (s *Store) PutEdge(ctx context.Context, e playback.Edge) error {
	return s.update(ctx, "PutEdge", func(tx *bbolt.Tx) error { return put(tx, bucketEdges, []byte(e.ID), e) })
}

func (s *Store) GetEdge(ctx context.Context, id string) (e playback.Edge, err error) {
	err = s.view(ctx, "GetEdge", func(tx *bbolt.Tx) error {
		e, err = get[playback.Edge](tx, bucketEdges, []byte(id), "edge", id)
		return err
	})
	return e, err
}

func (s *Store) UpdateEdge(ctx context.Context, id string, fn func(*playback.Edge) error) (e playback.Edge, err error) {
	err = s.update(ctx, "UpdateEdge", func(tx *bbolt.Tx) (err error) {
		e, err = updateRecord(tx, bucketEdges, "edge", id, func(e *playback.Edge) { e.ID = id }, fn)
		return err
	})
	return e, err
}

func (s *Store) ListEdges(ctx context.Context) (out []playback.Edge, err error) {
	err = s.view(ctx, "ListEdges", func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketEdges).ForEach(func(k, v []byte) error {
			e, err := decode[playback.Edge](v, "edge", string(k))
			out = append(out, e)
			return err
		})
	})
	return out, err
}

// keyUnknownEdges holds the whole bounded list: it is read and written whole.
var keyUnknownEdges = []byte("all")

func (s *Store) NoteUnknownEdge(ctx context.Context, id string, at time.Time, reports int64) error {
	return s.update(ctx, "NoteUnknownEdge", func(tx *bbolt.Tx) error {
		list, err := unknownEdges(tx)
		if err != nil {
			return err
		}
		return put(tx, bucketUnknownEdges, keyUnknownEdges, playback.NoteUnknownEdge(list, id, at, reports))
	})
}

func (s *Store) ListUnknownEdges(ctx context.Context) (out []playback.UnknownEdge, err error) {
	err = s.view(ctx, "ListUnknownEdges", func(tx *bbolt.Tx) (err error) {
		out, err = unknownEdges(tx)
		return err
	})
	return out, err
}

func unknownEdges(tx *bbolt.Tx) ([]playback.UnknownEdge, error) {
	list, err := get[[]playback.UnknownEdge](tx, bucketUnknownEdges, keyUnknownEdges, "unknown edges", "all")
	if playback.IsCode(err, playback.CodeNotFound) {
		return nil, nil
	}
	return list, err
}

func (s *Store) SaveProgress(ctx context.Context, p playback.Progress) (applied bool, err error) {
	err = s.update(ctx, "SaveProgress", func(tx *bbolt.Tx) (err error) {
		applied, err = saveProgress(tx, p)
		return err
	})
	return applied, err
}

func saveProgress(tx *bbolt.Tx, p playback.Progress) (applied bool, err error) {
	k := key(p.AccountID, p.TitleID)
	old, err := get[playback.Progress](tx, bucketProgress, k, "progress", p.TitleID)
	if err != nil && !playback.IsCode(err, playback.CodeNotFound) {
		return false, err
	}
	if err == nil && !p.DeviceTime.After(old.DeviceTime) {
		return false, nil
	}
	return true, put(tx, bucketProgress, k, p)
}

func (s *Store) GetProgress(ctx context.Context, accountID, titleID string) (p playback.Progress, err error) {
	err = s.view(ctx, "GetProgress", func(tx *bbolt.Tx) error {
		p, err = get[playback.Progress](tx, bucketProgress, key(accountID, titleID), "progress", titleID)
		return err
	})
	return p, err
}

func (s *Store) SaveSessionQoE(ctx context.Context, q playback.SessionQoE, on time.Time) (prev playback.SessionQoE, applied bool, err error) {
	var moved error
	err = s.update(ctx, "SaveSessionQoE", func(tx *bbolt.Tx) (err error) {
		prev, applied, err = saveSessionQoE(tx, q, on)
		// The refusal wrote nothing: it need not roll back the writes it
		// shares a group commit with.
		if moved = nil; playback.IsCode(err, playback.CodePrecondition) {
			moved, err = err, nil
		}
		return err
	})
	if err != nil {
		return prev, applied, err
	}
	return prev, applied, moved
}

func saveSessionQoE(tx *bbolt.Tx, q playback.SessionQoE, on time.Time) (prev playback.SessionQoE, applied bool, err error) {
	prev, err = get[playback.SessionQoE](tx, bucketQoE, []byte(q.SessionID), "session_qoe", q.SessionID)
	if playback.IsCode(err, playback.CodeNotFound) {
		prev, err = playback.SessionQoE{}, nil
	}
	switch {
	case err != nil:
		return prev, false, err
	case !prev.DeviceTime.Equal(on):
		return prev, false, playback.ErrQoEMoved(q.SessionID, prev.DeviceTime, on)
	case !q.DeviceTime.After(prev.DeviceTime):
		return prev, false, nil
	}
	return prev, true, put(tx, bucketQoE, []byte(q.SessionID), q)
}

// SaveProgressBatch writes every session's state in one transaction, so a
// consumer batch costs one commit instead of two per session.
func (s *Store) SaveProgressBatch(ctx context.Context, writes []playback.ProgressWrite) ([]playback.ProgressWriteResult, error) {
	var out []playback.ProgressWriteResult
	err := s.update(ctx, "SaveProgressBatch", func(tx *bbolt.Tx) error {
		out = make([]playback.ProgressWriteResult, len(writes)) // a fresh start if bbolt runs fn again
		for i, w := range writes {
			var err error
			if !w.NoProgress {
				if out[i].ProgressApplied, err = saveProgress(tx, w.Progress); err != nil {
					return err
				}
			}
			if w.QoE != nil {
				if out[i].PrevQoE, out[i].QoEApplied, err = saveSessionQoE(tx, *w.QoE, w.QoEOn); err != nil {
					return err
				}
			}
			if len(w.Views) > 0 {
				if err := applyQoEReports(tx, w.Views, s.prunedAtMost()); err != nil {
					return err
				}
				out[i].ViewApplied = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) GetSessionQoEs(ctx context.Context, sessionIDs []string) (map[string]playback.SessionQoE, error) {
	out := make(map[string]playback.SessionQoE, len(sessionIDs))
	err := s.view(ctx, "GetSessionQoEs", func(tx *bbolt.Tx) error {
		for _, id := range sessionIDs {
			q, err := get[playback.SessionQoE](tx, bucketQoE, []byte(id), "session_qoe", id)
			switch {
			case err == nil:
				out[id] = q
			case !playback.IsCode(err, playback.CodeNotFound):
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) GetSessionQoE(ctx context.Context, sessionID string) (q playback.SessionQoE, err error) {
	err = s.view(ctx, "GetSessionQoE", func(tx *bbolt.Tx) error {
		q, err = get[playback.SessionQoE](tx, bucketQoE, []byte(sessionID), "session_qoe", sessionID)
		return err
	})
	return q, err
}
