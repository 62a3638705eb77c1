package firestore

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/playplane/playplane/shared/playback"
)

func (s *Store) sessionRef(id string) *firestore.DocumentRef { return s.col(colSessions).Doc(id) }

func (s *Store) slotRef(accountID string, k int) *firestore.DocumentRef {
	return s.col(colAccounts).Doc(accountID).Collection(subSlots).Doc(strconv.Itoa(k))
}

// slot is one stream slot of an account as read, with the copy of the
// session holding it (kept in step by the same commits).
type slot struct {
	index   int
	st      stored
	holder  string
	session playback.Session
}

func (sl slot) activeAt(now time.Time) bool { return sl.holder != "" && sl.session.Active(now) }

// deviceLockPrefix names device locks among an account's slots, so the one
// query that reads the slots reads them too. A device lock names the last
// session admitted on the device; admissions replace it through its guard,
// so racing plays from one device serialize.
const deviceLockPrefix = "device-"

func (s *Store) deviceLockRef(accountID, deviceID string) *firestore.DocumentRef {
	return s.col(colAccounts).Doc(accountID).Collection(subSlots).Doc(deviceLockPrefix + deviceID)
}

// readSlots reads the account's stream slots and device locks (as stored,
// TTL or not: a guard compares what is there).
func (s *Store) readSlots(ctx context.Context, accountID string) (slots []slot, locks map[string]stored, err error) {
	r, err := s.querySlots(ctx, accountID)
	return r.slots, r.locks, err
}

// slotsRead is one query of an account's slots and device locks.
type slotsRead struct {
	slots []slot
	locks map[string]stored
	// at is the earliest read time of the documents found (zero when the
	// query found none): each is as stored at or after it.
	at time.Time
}

// querySlots is readSlots, with the query's read time; opts may set the
// read time it reads at (firestore.ReadTime).
func (s *Store) querySlots(ctx context.Context, accountID string, opts ...firestore.ReadOption) (slotsRead, error) {
	q := s.col(colAccounts).Doc(accountID).Collection(subSlots).Query
	docs, err := q.WithReadOptions(opts...).Documents(ctx).GetAll()
	if err != nil {
		return slotsRead{}, err
	}
	r := slotsRead{slots: make([]slot, 0, len(docs)), locks: map[string]stored{}}
	for _, d := range docs {
		if r.at.IsZero() || d.ReadTime.Before(r.at) {
			r.at = d.ReadTime
		}
		if device, ok := strings.CutPrefix(d.Ref.ID, deviceLockPrefix); ok {
			r.locks[device] = s.fromSnapshot(d)
			continue
		}
		k, err := strconv.Atoi(d.Ref.ID)
		if err != nil || k < 0 {
			continue // not a slot of ours
		}
		sl, err := s.toSlot(k, s.fromSnapshot(d))
		if err != nil {
			return slotsRead{}, err
		}
		r.slots = append(r.slots, sl)
	}
	return r, nil
}

func (s *Store) toSlot(k int, st stored) (slot, error) {
	sl := slot{index: k, st: st}
	if !st.live {
		return sl, nil
	}
	sl.holder, _ = st.data[fieldSession].(string)
	if sl.holder == "" {
		return sl, nil
	}
	var err error
	sl.session, err = decode[playback.Session](st, "slot", st.ref.Path)
	sl.session.Lease = strconv.Itoa(k)
	return sl, err
}

// activeSessions lists the sessions holding slots at now, oldest first.
func activeSessions(slots []slot, now time.Time) []playback.Session {
	return slotSessions(slots, func(sl slot) bool { return sl.activeAt(now) })
}

// slotSessions is the sessions of the slots keep keeps, each once (a
// session may hold more than one slot), oldest first.
func slotSessions(slots []slot, keep func(slot) bool) []playback.Session {
	var out []playback.Session
	for _, sl := range slots {
		if keep(sl) && !slices.ContainsFunc(out, func(x playback.Session) bool { return x.ID == sl.holder }) {
			out = append(out, sl.session)
		}
	}
	playback.SortOldestFirst(out)
	return out
}

func (s *Store) heldSlotFields(sess playback.Session) (map[string]any, error) {
	doc, err := encode(sess)
	return map[string]any{fieldSession: sess.ID, fieldDoc: doc, fieldExpireAt: s.ttlAfter(sess.ExpiresAt)}, err
}

func (s *Store) freeSlotFields() map[string]any {
	return map[string]any{fieldSession: "", fieldDoc: "", fieldExpireAt: s.ttlAfter(s.now())}
}

// sessionFields is the session document with a fresh revision.
func (s *Store) sessionFields(sess playback.Session, k int) (map[string]any, error) {
	doc, err := encode(sess)
	var leaseUntil any // null: ended, never counted
	if sess.EndedAt.IsZero() {
		leaseUntil = sess.ExpiresAt
	}
	return map[string]any{fieldDoc: doc, fieldSlot: int64(k), fieldRev: newRev(), fieldExpireAt: s.ttlAfter(sess.RetainedFrom()),
		fieldLeaseUntil: leaseUntil}, err
}

func (s *Store) AcquireLease(ctx context.Context, req playback.LeaseRequest) (playback.Session, error) {
	if err := s.open(ctx); err != nil {
		return playback.Session{}, err
	}
	const op = "AcquireLease"
	switch {
	case !validID(req.SessionID) || !validID(req.AccountID):
		return playback.Session{}, playback.Errorf(playback.CodeInvalid, "lease_invalid",
			"firestore.%s: session id %q and account id %q must be valid document ids", op, req.SessionID, req.AccountID)
	case req.TTL <= 0:
		return playback.Session{}, playback.Errorf(playback.CodeInvalid, "lease_invalid", "firestore.%s: lease ttl %v must be positive", op, req.TTL)
	case req.Limit > maxLeaseLimit:
		return playback.Session{}, playback.Errorf(playback.CodeInvalid, "lease_invalid", "firestore.%s: stream limit %d exceeds %d", op, req.Limit, maxLeaseLimit)
	}
	if err := req.CheckSaveAccount(); err != nil {
		return playback.Session{}, err
	}
	guard, err := playback.OnGuard[*admissionGuard](req, "firestore")
	if err != nil {
		return playback.Session{}, err
	}
	sess := req.NewSession()
	for attempt := 0; ; attempt++ {
		var slots []slot
		var locks map[string]stored
		var err error
		if attempt == 0 && guard != nil {
			slots, locks = guard.slots, guard.locks // read side by side with the account
		} else if slots, locks, err = s.readSlots(ctx, req.AccountID); err != nil {
			return playback.Session{}, fail(op, err)
		}
		active := activeSessions(slots, req.Now)
		if i := slices.IndexFunc(active, func(x playback.Session) bool { return x.ID == req.SessionID }); i >= 0 {
			return active[i], nil
		}
		play, prevWrites, err := s.checkReplaces(ctx, req, active)
		if err != nil {
			return playback.Session{}, err
		}
		replaced, refusal := req.Admit(active)
		target := -1
		if refusal == nil && len(replaced) == 0 {
			target = lowestFree(slots, req.Limit, req.Now)
		}
		if refusal != nil || len(replaced) == 0 && target < 0 {
			// An ended or expired session asking again must hear gone,
			// not stream_limit, so look it up before refusing.
			if existing, err := s.GetSession(ctx, req.SessionID); err == nil {
				return playback.ExistingLease(existing, req.Now)
			} else if !playback.IsCode(err, playback.CodeNotFound) {
				return playback.Session{}, err
			}
			if refusal == nil {
				refusal = playback.StreamLimit(req.Limit, active)
			}
			return playback.Session{}, refusal
		}
		writes, claimed, err := s.admitWrites(req, play.ID, sess, slots, locks, replaced, target)
		if err != nil {
			return playback.Session{}, fail(op, err)
		}
		writes = append(writes, prevWrites...)
		if guard != nil {
			// The account is rewritten as read through its guard: no
			// precondition short of a guard holds on the emulator, and a
			// guard once created must be followed by a new revision. Last,
			// so that on the emulator it is written only if all else was.
			fields := maps.Clone(guard.account.data)
			if req.SaveAccount != nil {
				doc, err := encode(*req.SaveAccount)
				if err != nil {
					return playback.Session{}, fail(op, err)
				}
				fields = docFields(doc, *req.SaveAccount)
			}
			writes = append(writes, s.replace(guard.account, fields)...)
		}
		err = s.commit(ctx, writes)
		if err == nil {
			for _, w := range writes {
				if w.create && w.ref.Path == s.sessionRef(sess.ID).Path {
					k, _ := w.fields[fieldSlot].(int64)
					sess.Lease = strconv.FormatInt(k, 10)
				}
			}
			return sess, nil
		}
		if !conflict(err) {
			return playback.Session{}, fail(op, err)
		}
		// The emulator keeps the writes before the failing one: give back
		// the slot if this attempt took it.
		s.releaseIfClaimedBy(ctx, claimed.ref, claimed.rev)
		if guard != nil {
			now, rerr := s.read(ctx, guard.account.ref)
			if rerr != nil {
				return playback.Session{}, fail(op, rerr)
			}
			if now.rev != guard.account.rev || !now.updated.Equal(guard.account.updated) {
				return playback.Session{}, playback.ErrAccountChanged(req.AccountID)
			}
		}
		// Another acquisition took the slot or the device first, or the
		// session exists: a retry of an admitted request whose answer was
		// lost, or one that has ended.
		existing, rerr := s.read(ctx, s.sessionRef(sess.ID))
		if rerr != nil {
			return playback.Session{}, fail(op, rerr)
		}
		if existing.exists {
			prev, err := decodeSession(existing, sess.ID)
			if err != nil {
				return playback.Session{}, fail(op, err)
			}
			return playback.ExistingLease(prev, req.Now)
		}
		if attempt+1 >= maxCASAttempts {
			return playback.Session{}, contended(op, "account", req.AccountID, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return playback.Session{}, fail(op, err)
		}
	}
}

// checkReplaces applies req.FollowReplaces to the sessions of the play
// req.Replaces names, and returns the session it re-authorizes. A session
// among the active leases read is one of the device's, which the
// admission replaces through its slot's guard: an end since moved the
// slot, the commit fails and the next round reads it ended. Others are
// read, and the one re-authorized is written through its own guard in the
// admission's commit (the writes returned), so that an end landing in
// between (by a clock that still saw the lease) fails one of the two:
// ended as replaced when its lease lapsed (LeaseRequest.ReplacesLapsed),
// as read otherwise. The ended sessions followed on the way need no guard: an end
// is final (EndSession returns an ended session as it is, the renewals
// refuse it), ReplacedBy with it.
func (s *Store) checkReplaces(ctx context.Context, req playback.LeaseRequest, active []playback.Session) (playback.Session, []write, error) {
	type readSession struct {
		st   stored
		slot int
	}
	read := map[string]readSession{}
	play, err := req.FollowReplaces(func(id string) (playback.Session, bool, error) {
		if i := slices.IndexFunc(active, func(x playback.Session) bool { return x.ID == id }); i >= 0 {
			return active[i], true, nil
		}
		st, sess, k, err := s.readSession(ctx, "AcquireLease", id)
		switch {
		case playback.IsCode(err, playback.CodeNotFound):
			return sess, false, nil
		case err != nil:
			return sess, false, err
		}
		read[id] = readSession{st, k}
		return sess, true, nil
	})
	if err != nil || play.ID == "" {
		return play, nil, err
	}
	r, ok := read[play.ID]
	if !ok {
		return play, nil, nil // active: its slot's guard stands for it
	}
	if !req.ReplacesLapsed(play) {
		return play, s.replace(r.st, maps.Clone(r.st.data)), nil
	}
	ended, err := s.sessionFields(req.Replace(play, play.ID), r.slot)
	if err != nil {
		return play, nil, fail("AcquireLease", err)
	}
	return play, s.replace(r.st, ended), nil
}

// admissionGuard is ReadAdmission's read: the account document, whose
// guard the admission takes, and the slots and device locks read beside it.
type admissionGuard struct {
	account stored
	slots   []slot
	locks   map[string]stored
}

// ReadAdmission reads the account document and the account's slots side
// by side: one round trip of latency.
func (s *Store) ReadAdmission(ctx context.Context, accountID string, now time.Time) (playback.AdmissionRead, error) {
	if err := s.open(ctx); err != nil {
		return playback.AdmissionRead{}, err
	}
	const op = "ReadAdmission"
	if !validID(accountID) {
		return playback.AdmissionRead{}, playback.NotFound("account", accountID)
	}
	var (
		slots   slotsRead
		slotErr error
		wg      sync.WaitGroup
	)
	wg.Go(func() { slots, slotErr = s.querySlots(ctx, accountID) })
	st, err := s.read(ctx, s.col(colAccounts).Doc(accountID))
	wg.Wait()
	switch {
	case err != nil:
		return playback.AdmissionRead{}, fail(op, err)
	case slotErr != nil:
		return playback.AdmissionRead{}, fail(op, slotErr)
	}
	return s.admissionRead(ctx, st, slots, now)
}

// admissionRead is ReadAdmission's answer on the account document and
// the slots it read, the slots as of the account read.
//
// The admission on the answer commits as a batched write, outside any
// transaction (commitTimes), so no read of it is checked at commit by
// Firestore's serializable isolation ("Transaction serializability and
// isolation", https://firebase.google.com/docs/firestore/transaction-data-contention:
// it covers the reads of a read-write transaction): the guards of the
// documents it writes are its checks. That of the account stands for every
// slot: each admission on a ReadAdmission (every one authorize play makes)
// rewrites the account through its guard, so none commits between the
// account read and this one's commit. But the two
// reads run side by side, and the query can have read before an admission
// that the account read shows, one that created a slot the query does not
// show (a slot it shows is written through its guard if the admission
// takes or frees it, and it frees every lapsed one): the admission on
// that read would count without that slot's session, over the limit where
// sessions admitted under a higher one hold slots at or above it (a plan
// lowered meanwhile), and the guard would not tell. So when the account
// was written at or after the query's read time, the slots are read again
// at the account's read time (RunQueryRequest.read_time: the query reads
// the documents as of then, within the past hour), a snapshot that the
// account's guard checks from there on. (The emulator ignores read_time
// and reads the documents as they are: later still, which the guard
// checks as well.) The account is seldom written
// between two reads sent together, so this costs a round trip seldom.
// A query that found nothing tells no read time, and needs none: an
// admission on it creates slot 0, as did the first admission committed
// since (the lowest free slot, all absent), so its commit fails and its
// next round reads again after the account's check (AcquireLease).
func (s *Store) admissionRead(ctx context.Context, st stored, slots slotsRead, now time.Time) (playback.AdmissionRead, error) {
	const op = "ReadAdmission"
	accountID := st.ref.ID
	if !st.live {
		return playback.AdmissionRead{}, playback.NotFound("account", accountID)
	}
	acct, err := decode[playback.Account](st, "account", accountID)
	if err != nil {
		return playback.AdmissionRead{}, fail(op, err)
	}
	if !slots.at.IsZero() && !st.updated.Before(slots.at) {
		var opts []firestore.ReadOption
		if !st.readAt.IsZero() {
			opts = append(opts, firestore.ReadTime(st.readAt))
		}
		if slots, err = s.querySlots(ctx, accountID, opts...); err != nil {
			return playback.AdmissionRead{}, fail(op, err)
		}
	}
	g := admissionGuard{account: st, slots: slots.slots, locks: slots.locks}
	return playback.AdmissionRead{Account: acct, Active: activeSessions(g.slots, now), Guard: &g}, nil
}

// admitWrites are the writes of one admission: the device lock moves to the
// new session, the session takes a slot — the first replaced session's, or
// free slot target — and is created, the replaced sessions end (play, the
// one it re-authorizes, naming it its successor) and any further slots
// they held are freed. Every slot and the lock are written
// through their guards (or created), so the commit fails if any of them
// moved since the read; the session is changed only by writers holding its
// slot's guard, so ending a replaced session needs no guard of its own.
// Lock first, session create after the slot: on the emulator a commit that
// fails part-way leaves only the lock or the slot claim, and the caller
// releases the latter. The slots of leases lapsed by now are freed. It
// returns the slot as claimed (its new revision).
func (s *Store) admitWrites(req playback.LeaseRequest, play string, sess playback.Session, slots []slot, locks map[string]stored,
	replaced []playback.Session, target int) (writes []write, claimed stored, err error) {
	lock, ok := locks[req.DeviceID]
	if !ok {
		lock = stored{ref: s.deviceLockRef(req.AccountID, req.DeviceID)}
	}
	if req.DeviceID != "" {
		writes = s.replace(lock, map[string]any{fieldSession: sess.ID, fieldExpireAt: s.ttlAfter(sess.ExpiresAt)})
	}
	slotOf := func(id string) slot {
		return slots[slices.IndexFunc(slots, func(sl slot) bool { return sl.holder == id })]
	}
	claimed = stored{ref: s.slotRef(req.AccountID, target)}
	if len(replaced) > 0 {
		claimed, target = slotOf(replaced[0].ID).st, slotOf(replaced[0].ID).index
	} else if i := slices.IndexFunc(slots, func(sl slot) bool { return sl.index == target }); i >= 0 {
		claimed = slots[i].st
	}
	held, err := s.heldSlotFields(sess)
	if err != nil {
		return nil, claimed, err
	}
	writes = append(writes, s.replace(claimed, held)...)
	claimed.rev = held[fieldRev].(string)
	sessFields, err := s.sessionFields(sess, target)
	if err != nil {
		return nil, claimed, err
	}
	writes = append(writes, write{ref: s.sessionRef(sess.ID), create: true, fields: sessFields})
	for i, r := range replaced {
		sl := slotOf(r.ID)
		ended, err := s.sessionFields(req.Replace(r, play), sl.index)
		if err != nil {
			return nil, claimed, err
		}
		writes = append(writes, write{ref: s.sessionRef(r.ID), fields: ended})
		if i > 0 {
			writes = append(writes, s.replace(sl.st, s.freeSlotFields())...)
		}
	}
	// The leases that lapsed by now are counted out of this admission, so
	// they are lost to it: their slots are freed through their guards. A
	// slot left to a lapsed lease would let a renewal that read it a moment
	// before its expiry (an earlier clock, a commit that lands after this
	// one) bring it back, over the limit when sessions admitted under a
	// higher one still hold slots at or above it.
	for _, sl := range slots {
		if sl.holder != "" && !sl.activeAt(req.Now) && sl.index != target {
			writes = append(writes, s.replace(sl.st, s.freeSlotFields())...)
		}
	}
	return writes, claimed, nil
}

// lowestFree returns the lowest slot index below limit that holds no
// active lease at now, or -1. Racing acquisitions that saw the same slots
// pick the same slot, so only one of them wins it: the lowest free slot,
// not a random one, is what keeps sessions still holding slots at or above
// a lowered limit from letting two racers in on two different free slots.
func lowestFree(slots []slot, limit int, now time.Time) int {
	for k := range limit {
		if !slices.ContainsFunc(slots, func(sl slot) bool { return sl.index == k && sl.activeAt(now) }) {
			return k
		}
	}
	return -1
}

// releaseIfClaimedBy frees the slot at ref if it still holds revision rev,
// the one a failed admission wrote. Best effort: if it fails, the slot is
// held until the lease copy in it expires.
func (s *Store) releaseIfClaimedBy(ctx context.Context, ref *firestore.DocumentRef, rev string) {
	st, err := s.read(ctx, ref)
	if err != nil || st.rev != rev {
		return
	}
	_ = s.commit(ctx, s.replace(st, s.freeSlotFields()))
}

func (s *Store) GetSession(ctx context.Context, id string) (playback.Session, error) {
	if err := s.open(ctx); err != nil {
		return playback.Session{}, err
	}
	_, sess, _, err := s.readSession(ctx, "GetSession", id)
	return sess, err
}

func (s *Store) ListActiveSessions(ctx context.Context, accountID string, now time.Time) ([]playback.Session, error) {
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	if !validID(accountID) {
		return nil, nil
	}
	slots, _, err := s.readSlots(ctx, accountID)
	if err != nil {
		return nil, fail("ListActiveSessions", err)
	}
	return activeSessions(slots, now), nil
}

// ListRenewableSessions lists the sessions holding the account's slots,
// lapsed or not: a renewal commits through the guard of the slot that
// holds the session, and every end or replacement frees or takes the slot
// in its own commit.
func (s *Store) ListRenewableSessions(ctx context.Context, accountID string) ([]playback.Session, error) {
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	if !validID(accountID) {
		return nil, nil
	}
	slots, _, err := s.readSlots(ctx, accountID)
	if err != nil {
		return nil, fail("ListRenewableSessions", err)
	}
	return slotSessions(slots, func(sl slot) bool { return sl.holder != "" && sl.session.EndedAt.IsZero() }), nil
}

// decodeSession decodes a session document, with the slot it was
// admitted to as its Lease.
func decodeSession(st stored, id string) (playback.Session, error) {
	sess, err := decode[playback.Session](st, "session", id)
	k, _ := st.data[fieldSlot].(int64)
	sess.Lease = strconv.FormatInt(k, 10)
	return sess, err
}

// readSession reads a live session with the slot it was admitted to.
func (s *Store) readSession(ctx context.Context, op, id string) (stored, playback.Session, int, error) {
	if !validID(id) {
		return stored{}, playback.Session{}, 0, playback.NotFound("session", id)
	}
	st, err := s.read(ctx, s.sessionRef(id))
	if err != nil {
		return st, playback.Session{}, 0, fail(op, err)
	}
	if !st.live {
		return st, playback.Session{}, 0, playback.NotFound("session", id)
	}
	sess, err := decodeSession(st, id)
	k, _ := st.data[fieldSlot].(int64)
	return st, sess, int(k), fail(op, err)
}

// readHolder reads slot k of the account and reports whether session id
// holds it.
func (s *Store) readHolder(ctx context.Context, accountID string, k int, id string) (slot, bool, error) {
	st, err := s.read(ctx, s.slotRef(accountID, k))
	if err != nil {
		return slot{}, false, err
	}
	sl, err := s.toSlot(k, st)
	return sl, err == nil && sl.holder == id, err
}

func (s *Store) ExtendLease(ctx context.Context, id string, expiresAt, now time.Time) (playback.Session, error) {
	if err := s.open(ctx); err != nil {
		return playback.Session{}, err
	}
	return s.extendLease(ctx, "ExtendLease", id, expiresAt, now, nil)
}

// RenewHeldLease reads the session and the slot held.Lease names side by
// side (one BatchGetDocuments) instead of one after the other, then
// commits as RenewLease does: two round trips where RenewLease on an
// instance without the lease memo takes three. Not one: a Firestore
// write's only preconditions are existence and update time, and the
// emulator enforces neither update times nor anything short of a document
// Create (see the package comment), so no write can be conditioned on the
// slot still holding held.ID at an expiry after now without first reading
// the revision whose guard is that condition. A held that does not match
// what is stored, or a lost race, falls back to RenewLease.
func (s *Store) RenewHeldLease(ctx context.Context, held playback.Session, ttl, slack time.Duration, now time.Time) (playback.Session, error) {
	if err := s.open(ctx); err != nil {
		return playback.Session{}, err
	}
	const op = "RenewHeldLease"
	k, err := strconv.Atoi(held.Lease)
	if _, memo := s.leases.Get(held.ID); memo || err != nil || k < 0 || k >= maxLeaseLimit || !validID(held.ID) || !validID(held.AccountID) {
		// The memo renews in one round trip; a malformed held reads.
		return s.RenewLease(ctx, held.ID, ttl, slack, now)
	}
	snaps, err := s.client.GetAll(ctx, []*firestore.DocumentRef{s.sessionRef(held.ID), s.slotRef(held.AccountID, k)})
	if err != nil {
		return playback.Session{}, fail(op, err)
	}
	st, slotSt := s.fromSnapshot(snaps[0]), s.fromSnapshot(snaps[1])
	if !st.live {
		return s.RenewLease(ctx, held.ID, ttl, slack, now)
	}
	sess, err := decodeSession(st, held.ID)
	if err != nil {
		return playback.Session{}, fail(op, err)
	}
	if !sess.Active(now) {
		return playback.Session{}, playback.SessionEnded(held.ID)
	}
	if sess.LeaseFresh(now, ttl, slack) {
		return sess, nil
	}
	sl, err := s.toSlot(k, slotSt)
	if err != nil {
		return playback.Session{}, fail(op, err)
	}
	if sess.Lease != held.Lease || sess.AccountID != held.AccountID || sl.holder != held.ID {
		return s.RenewLease(ctx, held.ID, ttl, slack, now) // held is not what is stored, or the slot moved
	}
	if !sess.Extend(now.Add(ttl), now) {
		return sess, nil
	}
	heldFields, err := s.heldSlotFields(sess)
	if err != nil {
		return playback.Session{}, fail(op, err)
	}
	sessFields, err := s.sessionFields(sess, k)
	if err != nil {
		return playback.Session{}, fail(op, err)
	}
	// Whoever holds the slot's guard owns the session too.
	writes := append(s.replace(sl.st, heldFields), write{ref: st.ref, since: st.updated, fields: sessFields})
	times, err := s.commitTimes(ctx, writes)
	if err != nil {
		if conflict(err) {
			return s.RenewLease(ctx, held.ID, ttl, slack, now)
		}
		return playback.Session{}, fail(op, err)
	}
	s.leases.Put(sess.ID, memoLease{sess: sess,
		session: stored{ref: st.ref, exists: true, live: true, updated: times[st.ref.Path], rev: sessFields[fieldRev].(string), data: sessFields},
		slot: slot{index: k, holder: held.ID, session: sess,
			st: stored{ref: sl.st.ref, exists: true, live: true, updated: times[sl.st.ref.Path], rev: heldFields[fieldRev].(string), data: heldFields}}}, nil)
	return sess, nil
}

func (s *Store) RenewLease(ctx context.Context, id string, ttl, slack time.Duration, now time.Time) (playback.Session, error) {
	if err := s.open(ctx); err != nil {
		return playback.Session{}, err
	}
	return s.extendLease(ctx, "RenewLease", id, now.Add(ttl), now, func(sess playback.Session) bool { return sess.LeaseFresh(now, ttl, slack) })
}

// extendLease is ExtendLease, writing nothing when fresh (if set) says the
// session read needs no renewal.
func (s *Store) extendLease(ctx context.Context, op, id string, expiresAt, now time.Time, fresh func(playback.Session) bool) (playback.Session, error) {
	for attempt := 0; ; attempt++ {
		// A lease this store wrote last is written on at once through the
		// revisions it wrote (see memoLease), unless the copy would answer
		// without a write: that answer comes from a read.
		m, memo := s.leases.Get(id)
		memo = memo && attempt == 0 && m.sess.Active(now) && (fresh == nil || !fresh(m.sess))
		st, sess, k, sl := m.session, m.sess, m.slot.index, m.slot
		if !memo {
			var err error
			if st, sess, k, err = s.readSession(ctx, op, id); err != nil {
				if playback.IsCode(err, playback.CodeNotFound) {
					s.leases.Delete(id)
				}
				return playback.Session{}, err
			}
		}
		if !sess.Active(now) {
			s.leases.Delete(id)
			return playback.Session{}, playback.SessionEnded(id)
		}
		if fresh != nil && fresh(sess) {
			return sess, nil
		}
		if !sess.Extend(expiresAt, now) {
			if memo {
				continue // answers come from a read
			}
			return sess, nil
		}
		if !memo {
			var holds bool
			var err error
			sl, holds, err = s.readHolder(ctx, sess.AccountID, k, id)
			if err != nil {
				return playback.Session{}, fail(op, err)
			}
			if !holds {
				// The lease expired by another clock and its slot went to
				// another session.
				s.leases.Delete(id)
				return playback.Session{}, playback.SessionEnded(id)
			}
		}
		held, err := s.heldSlotFields(sess)
		if err != nil {
			return playback.Session{}, fail(op, err)
		}
		sessFields, err := s.sessionFields(sess, k)
		if err != nil {
			return playback.Session{}, fail(op, err)
		}
		// Whoever holds the slot's guard owns the session too.
		writes := append(s.replace(sl.st, held), write{ref: st.ref, since: st.updated, fields: sessFields})
		times, err := s.commitTimes(ctx, writes)
		if err == nil {
			s.leases.Put(sess.ID, memoLease{sess: sess,
				session: stored{ref: st.ref, exists: true, live: true, updated: times[st.ref.Path], rev: sessFields[fieldRev].(string), data: sessFields},
				slot: slot{index: k, holder: id, session: sess,
					st: stored{ref: sl.st.ref, exists: true, live: true, updated: times[sl.st.ref.Path], rev: held[fieldRev].(string), data: held}}}, nil)
			return sess, nil
		}
		s.leases.Delete(id)
		if memo && conflict(err) {
			continue // the memo was stale: read, without a backoff
		}
		if err := retryLost(ctx, op, "session", id, attempt, err); err != nil {
			return playback.Session{}, err
		}
	}
}

func (s *Store) EndSession(ctx context.Context, id, reason string, now time.Time) (playback.Session, error) {
	if err := s.open(ctx); err != nil {
		return playback.Session{}, err
	}
	const op = "EndSession"
	for attempt := 0; ; attempt++ {
		st, sess, k, err := s.readSession(ctx, op, id)
		if err != nil || !sess.EndedAt.IsZero() {
			return sess, err
		}
		sl, holds, err := s.readHolder(ctx, sess.AccountID, k, id)
		if err != nil {
			return playback.Session{}, fail(op, err)
		}
		var writes []write
		if holds {
			sess.EndedAt, sess.EndReason = now, reason
			sessFields, err := s.sessionFields(sess, k)
			if err != nil {
				return playback.Session{}, fail(op, err)
			}
			writes = append(s.replace(sl.st, s.freeSlotFields()), write{ref: st.ref, since: st.updated, fields: sessFields})
		} else {
			// The session lost its slot (it expired and another took it),
			// or another EndSession freed it since the first read: read the
			// session again, so that its own guard decides between this
			// and any other EndSession.
			if st, sess, k, err = s.readSession(ctx, op, id); err != nil || !sess.EndedAt.IsZero() {
				return sess, err
			}
			sess.EndedAt, sess.EndReason = now, reason
			sessFields, err := s.sessionFields(sess, k)
			if err != nil {
				return playback.Session{}, fail(op, err)
			}
			writes = s.replace(st, sessFields)
		}
		err = s.commit(ctx, writes)
		if err == nil {
			return sess, nil
		}
		if err := retryLost(ctx, op, "session", id, attempt, err); err != nil {
			return playback.Session{}, err
		}
	}
}
