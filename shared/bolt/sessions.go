package bolt

import (
	"bytes"
	"context"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/playplane/playplane/shared/playback"
)

// admissionGuard is what ReadAdmission read of the account: its stored
// bytes, which any write of the account changes (UpdatedAt or a field).
type admissionGuard struct{ account []byte }

func (s *Store) ReadAdmission(ctx context.Context, accountID string, now time.Time) (r playback.AdmissionRead, err error) {
	err = s.view(ctx, "ReadAdmission", func(tx *bbolt.Tx) error {
		raw := tx.Bucket(bucketAccounts).Get([]byte(accountID))
		if raw == nil {
			return playback.NotFound("account", accountID)
		}
		if r.Account, err = decode[playback.Account](raw, "account", accountID); err != nil {
			return err
		}
		r.Guard = &admissionGuard{account: bytes.Clone(raw)}
		r.Active, err = activeSessions(tx, accountID, now, false)
		return err
	})
	return r, err
}

func (s *Store) AcquireLease(ctx context.Context, req playback.LeaseRequest) (sess playback.Session, err error) {
	if err := req.CheckSaveAccount(); err != nil {
		return sess, err
	}
	guard, err := playback.OnGuard[*admissionGuard](req, "bolt")
	if err != nil {
		return sess, err
	}
	err = s.update(ctx, "AcquireLease", func(tx *bbolt.Tx) error {
		// Writes are serialized: the account as stored now is the one the
		// admission commits on.
		if guard != nil && !bytes.Equal(tx.Bucket(bucketAccounts).Get([]byte(req.AccountID)), guard.account) {
			return playback.ErrAccountChanged(req.AccountID)
		}
		existing, err := get[playback.Session](tx, bucketSessions, []byte(req.SessionID), "session", req.SessionID)
		switch {
		case err == nil && existing.Active(req.Now):
			sess = existing
			return nil
		case err == nil:
			return playback.SessionEnded(req.SessionID)
		case !playback.IsCode(err, playback.CodeNotFound):
			return err
		}
		play, err := req.FollowReplaces(func(id string) (playback.Session, bool, error) {
			sess, err := get[playback.Session](tx, bucketSessions, []byte(id), "session", id)
			if playback.IsCode(err, playback.CodeNotFound) {
				return sess, false, nil
			}
			return sess, err == nil, err
		})
		if err != nil {
			return err
		}
		active, err := activeSessions(tx, req.AccountID, req.Now, true)
		if err != nil {
			return err
		}
		replaced, err := req.Admit(active)
		if err != nil {
			return err
		}
		if req.ReplacesLapsed(play) {
			replaced = append(replaced, play)
		}
		for _, r := range replaced {
			if err := storeEnded(tx, req.Replace(r, play.ID)); err != nil {
				return err
			}
		}
		sess = req.NewSession()
		if err := put(tx, bucketSessions, []byte(sess.ID), sess); err != nil {
			return err
		}
		if req.SaveAccount != nil {
			if err := put(tx, bucketAccounts, []byte(req.AccountID), *req.SaveAccount); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketAccountSessions).Put(key(req.AccountID, sess.ID), nil)
	})
	return sess, err
}

// activeSessions lists the account's active sessions, oldest first. With
// prune it drops index entries of sessions that no longer hold a lease, so
// the scan stays as short as the account's live sessions.
func activeSessions(tx *bbolt.Tx, accountID string, now time.Time, prune bool) ([]playback.Session, error) {
	var stale [][]byte
	active, err := indexedSessions(tx, accountID, func(k []byte, sess playback.Session, found bool) bool {
		if found && sess.Active(now) {
			return true
		}
		if prune {
			stale = append(stale, append([]byte(nil), k...))
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	idx := tx.Bucket(bucketAccountSessions)
	for _, k := range stale {
		if err := idx.Delete(k); err != nil {
			return nil, err
		}
	}
	return active, nil
}

// indexedSessions walks the account's index and returns the sessions keep
// keeps (found is false for an entry whose session is gone), oldest first.
func indexedSessions(tx *bbolt.Tx, accountID string, keep func(k []byte, sess playback.Session, found bool) bool) ([]playback.Session, error) {
	prefix := key(accountID, "")
	var out []playback.Session
	c := tx.Bucket(bucketAccountSessions).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		id := string(k[len(prefix):])
		sess, err := get[playback.Session](tx, bucketSessions, []byte(id), "session", id)
		if err != nil && !playback.IsCode(err, playback.CodeNotFound) {
			return nil, err
		}
		if keep(k, sess, err == nil) {
			out = append(out, sess)
		}
	}
	playback.SortOldestFirst(out)
	return out, nil
}

func (s *Store) GetSession(ctx context.Context, id string) (sess playback.Session, err error) {
	err = s.view(ctx, "GetSession", func(tx *bbolt.Tx) error {
		sess, err = get[playback.Session](tx, bucketSessions, []byte(id), "session", id)
		return err
	})
	return sess, err
}

func (s *Store) ListActiveSessions(ctx context.Context, accountID string, now time.Time) (out []playback.Session, err error) {
	err = s.view(ctx, "ListActiveSessions", func(tx *bbolt.Tx) error {
		out, err = activeSessions(tx, accountID, now, false)
		return err
	})
	return out, err
}

// ListRenewableSessions lists the account's index: extendLease renews only
// a session the index holds, and every end drops it, so these are the
// sessions not ended that no admission has counted out since they lapsed.
func (s *Store) ListRenewableSessions(ctx context.Context, accountID string) (out []playback.Session, err error) {
	err = s.view(ctx, "ListRenewableSessions", func(tx *bbolt.Tx) error {
		out, err = indexedSessions(tx, accountID, func(_ []byte, sess playback.Session, found bool) bool {
			return found && sess.EndedAt.IsZero()
		})
		return err
	})
	return out, err
}

func (s *Store) ExtendLease(ctx context.Context, id string, expiresAt, now time.Time) (playback.Session, error) {
	return s.extendLease(ctx, "ExtendLease", id, expiresAt, now, nil)
}

// RenewHeldLease is RenewLease: a read of the embedded file costs no round
// trip, so held saves nothing.
func (s *Store) RenewHeldLease(ctx context.Context, held playback.Session, ttl, slack time.Duration, now time.Time) (playback.Session, error) {
	return s.RenewLease(ctx, held.ID, ttl, slack, now)
}

func (s *Store) RenewLease(ctx context.Context, id string, ttl, slack time.Duration, now time.Time) (playback.Session, error) {
	// A fresh lease is read without a write transaction: on bbolt that
	// is the difference between a read and a commit.
	sess, err := s.GetSession(ctx, id)
	if err != nil {
		return sess, err
	}
	if !sess.Active(now) {
		return playback.Session{}, playback.SessionEnded(id)
	}
	if sess.LeaseFresh(now, ttl, slack) {
		return sess, nil
	}
	return s.extendLease(ctx, "RenewLease", id, now.Add(ttl), now, func(sess playback.Session) bool { return sess.LeaseFresh(now, ttl, slack) })
}

// extendLease is ExtendLease, writing nothing when fresh (if set) says the
// session read needs no renewal.
func (s *Store) extendLease(ctx context.Context, op, id string, expiresAt, now time.Time, fresh func(playback.Session) bool) (sess playback.Session, err error) {
	err = s.update(ctx, op, func(tx *bbolt.Tx) error {
		sess, err = get[playback.Session](tx, bucketSessions, []byte(id), "session", id)
		if err != nil {
			return err
		}
		if !sess.Active(now) {
			return playback.SessionEnded(id)
		}
		// An admission that found the lease lapsed at its own now dropped
		// it from the account's index and admitted on the others: the
		// lease was lost to them (DynamoDB's lease taken after it
		// expired), and extending it would bring back a stream no
		// admission counts. (Not Get: a key put with a nil value reads nil
		// in the transaction that put it, which may be this one.)
		ik := key(sess.AccountID, id)
		if k, _ := tx.Bucket(bucketAccountSessions).Cursor().Seek(ik); !bytes.Equal(k, ik) {
			return playback.SessionEnded(id)
		}
		if fresh != nil && fresh(sess) {
			return nil
		}
		if !sess.Extend(expiresAt, now) {
			return nil
		}
		return put(tx, bucketSessions, []byte(id), sess)
	})
	return sess, err
}

func (s *Store) EndSession(ctx context.Context, id, reason string, now time.Time) (sess playback.Session, err error) {
	err = s.update(ctx, "EndSession", func(tx *bbolt.Tx) error {
		sess, err = get[playback.Session](tx, bucketSessions, []byte(id), "session", id)
		if err != nil || !sess.EndedAt.IsZero() {
			return err
		}
		sess.EndedAt, sess.EndReason = now, reason
		return storeEnded(tx, sess)
	})
	return sess, err
}

// storeEnded writes an ended session and drops it from its account's index.
func storeEnded(tx *bbolt.Tx, sess playback.Session) error {
	if err := put(tx, bucketSessions, []byte(sess.ID), sess); err != nil {
		return err
	}
	return tx.Bucket(bucketAccountSessions).Delete(key(sess.AccountID, sess.ID))
}
