package dynamo

import (
	"context"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/playplane/playplane/shared/playback"
)

const slotPrefix = "SLOT#"

// deviceLockPrefix sorts device locks among the slots, so the one query
// that reads the slots reads them too.
const deviceLockPrefix = slotPrefix + "DEVICE#"

// maxLeaseAttempts bounds the read-and-claim rounds of one acquisition. A
// round fails only when another acquisition claimed the same slot first (or
// DynamoDB cancelled both for touching it at once), after which the fresh
// read usually shows the account full: few rounds are ever needed.
const maxLeaseAttempts = 16

func sessionKey(id string) item { return keyOf("SES#"+id, "SESSION") }

func slotKey(accountID string, k int) item {
	return keyOf("ACCT#"+accountID, slotPrefix+strconv.Itoa(k))
}

func deviceLockKey(accountID, deviceID string) item {
	return keyOf("ACCT#"+accountID, deviceLockPrefix+deviceID)
}

// Expression names shared by the lease operations; several of the
// attribute names (ttl, session) are DynamoDB reserved words.
var leaseNames = map[string]string{
	"#pk": attrPK, "#doc": attrDoc, "#exp": attrExpiresAt, "#ttl": attrTTL, "#version": attrVersion,
	"#session": attrSession, "#slot": attrSlot, "#seen": attrSeenAt, "#lpk": attrLeasePK, "#lsk": attrLeaseSK,
}

func names(keys ...string) map[string]string {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[k] = leaseNames[k]
	}
	return m
}

// slot is one stream slot of an account, carrying a copy of the session
// that holds it (kept in step by the same transactions).
type slot struct {
	index   int
	expires int64 // unix nanoseconds
	session playback.Session
}

func (sl slot) activeAt(now time.Time) bool { return sl.expires > nanos(now) }

// deviceLock is a device lock as read: the last session admitted on the
// device and the slot that admission claimed for it (hasSlot false on a
// lock written before locks carried their slot).
type deviceLock struct {
	session string
	slot    int
	hasSlot bool
}

// readSlots reads the account's stream slots and device locks in one query.
// A device lock names the last session admitted on the device; admissions
// condition on it, so racing plays from one device serialize. Locks are
// read as stored, TTL or not: a condition compares what is there.
func (s *Store) readSlots(ctx context.Context, accountID string) (slots []slot, locks map[string]deviceLock, err error) {
	p := dynamodb.NewQueryPaginator(s.db(), &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		ConsistentRead:            aws.Bool(true),
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :prefix)"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: item{":pk": str("ACCT#" + accountID), ":prefix": str(slotPrefix)},
	})
	locks = map[string]deviceLock{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, err
		}
		for _, it := range page.Items {
			sk := strAttr(it, attrSK)
			if device, ok := strings.CutPrefix(sk, deviceLockPrefix); ok {
				k, ok := numAttr(it, attrSlot)
				locks[device] = deviceLock{session: strAttr(it, attrSession), slot: int(k), hasSlot: ok}
				continue
			}
			k, err := strconv.Atoi(strings.TrimPrefix(sk, slotPrefix))
			if err != nil {
				continue // not a slot of ours
			}
			exp, _ := numAttr(it, attrExpiresAt)
			sess, err := decodeSession(it, "slot", sk, k)
			if err != nil {
				return nil, nil, err
			}
			slots = append(slots, slot{index: k, expires: exp, session: sess})
		}
	}
	return slots, locks, nil
}

func activeSessions(slots []slot, now time.Time) []playback.Session {
	var active []playback.Session
	for _, sl := range slots {
		if sl.activeAt(now) {
			active = append(active, sl.session)
		}
	}
	playback.SortOldestFirst(active)
	return active
}

func (s *Store) AcquireLease(ctx context.Context, req playback.LeaseRequest) (playback.Session, error) {
	const op = "AcquireLease"
	switch {
	case req.SessionID == "" || req.AccountID == "":
		return playback.Session{}, playback.Errorf(playback.CodeInvalid, "lease_invalid", "dynamo.%s: session and account ids are required", op)
	case req.TTL <= 0:
		return playback.Session{}, playback.Errorf(playback.CodeInvalid, "lease_invalid", "dynamo.%s: lease ttl %v must be positive", op, req.TTL)
	case req.Limit > maxLeaseLimit:
		return playback.Session{}, playback.Errorf(playback.CodeInvalid, "lease_invalid", "dynamo.%s: stream limit %d exceeds %d", op, req.Limit, maxLeaseLimit)
	}
	if err := req.CheckSaveAccount(); err != nil {
		return playback.Session{}, err
	}
	guard, err := playback.OnGuard[*admissionGuard](req, "dynamo")
	if err != nil {
		return playback.Session{}, err
	}
	for attempt := 0; ; attempt++ {
		var slots []slot
		var locks map[string]deviceLock
		var err error
		if attempt == 0 && guard != nil {
			slots, locks = guard.slots, guard.locks // read side by side with the account
		} else if slots, locks, err = s.readSlots(ctx, req.AccountID); err != nil {
			return playback.Session{}, s.fail(op, err)
		}
		active := activeSessions(slots, req.Now)
		if i := slices.IndexFunc(active, func(x playback.Session) bool { return x.ID == req.SessionID }); i >= 0 {
			return active[i], nil
		}
		play, prevChecks, unseen, err := s.checkReplaces(ctx, req, active)
		if err != nil {
			return playback.Session{}, err
		}
		if held, ok, err := s.lockHolder(ctx, req, locks, active); err != nil {
			return playback.Session{}, err
		} else if ok {
			unseen = append(unseen, held)
		}
		replaced, refusal := req.Admit(active)
		if refusal != nil {
			// An ended or expired session asking again must hear gone, not
			// stream_limit, so look it up before refusing.
			if existing, err := s.GetSession(ctx, req.SessionID); err == nil {
				return playback.ExistingLease(existing, req.Now)
			} else if !playback.IsCode(err, playback.CodeNotFound) {
				return playback.Session{}, err
			}
			return playback.Session{}, refusal
		}
		sess := req.NewSession()
		in, err := s.admitTx(req, play.ID, sess, slots, replaced, locks)
		if err != nil {
			return playback.Session{}, s.fail(op, err)
		}
		for _, c := range append(prevChecks, s.unseenChecks(req, unseen)...) {
			// A slot the admission writes it takes from whoever holds
			// it, on the condition that it is free (absent, or lapsed by
			// now) or holds a session read live: the unseen one keeps
			// no slot the admission writes. A slot it only checks (one
			// that must stay free) is no such write: "lapsed by now"
			// leaves it to the unseen session, so both conditions stand.
			switch i := slices.IndexFunc(in.TransactItems, func(it types.TransactWriteItem) bool { return sameItem(it, c) }); {
			case i < 0:
				in.TransactItems = append(in.TransactItems, c)
			case in.TransactItems[i].ConditionCheck != nil:
				in.TransactItems[i].ConditionCheck = bothChecks(in.TransactItems[i].ConditionCheck, c.ConditionCheck)
			}
		}
		if guard != nil {
			// Last, so that its cancellation reason is the last one.
			check, err := guard.check(s.table, req.AccountID, req.SaveAccount)
			if err != nil {
				return playback.Session{}, s.fail(op, err)
			}
			in.TransactItems = append(in.TransactItems, check)
		}
		_, err = s.db().TransactWriteItems(ctx, in)
		if err == nil {
			k, _ := numAttr(in.TransactItems[0].Put.Item, attrSlot)
			sess.Lease = strconv.FormatInt(k, 10)
			return sess, nil
		}
		codes := transactionCodes(err)
		if codes == nil {
			return playback.Session{}, s.fail(op, err)
		}
		if guard != nil && len(codes) == len(in.TransactItems) && codes[len(codes)-1] == "ConditionalCheckFailed" {
			return playback.Session{}, playback.ErrAccountChanged(req.AccountID)
		}
		if codes[0] == "ConditionalCheckFailed" {
			// The session already exists: a retry of an admitted request
			// whose answer was lost, or a session that has ended.
			existing, err := s.GetSession(ctx, req.SessionID)
			if err != nil {
				return playback.Session{}, err
			}
			return playback.ExistingLease(existing, req.Now)
		}
		// Another acquisition took the slot or the device, or a heartbeat
		// moved a replaced session: read the account again.
		if attempt+1 >= maxLeaseAttempts {
			return playback.Session{}, playback.Unavailable(err, "dynamo.%s: account %q is contended", op, req.AccountID)
		}
		if err := backoff(ctx, attempt); err != nil {
			return playback.Session{}, s.fail(op, err)
		}
	}
}

// checkReplaces applies req.FollowReplaces to the sessions of the play
// req.Replaces names, and returns the session it re-authorizes with the
// items the admission's transaction must add for it and, if it is live but
// not among the active leases read, where it is held. A session among the
// active leases read is one of the device's, which the admission replaces
// on the condition that its slot still holds it as read: an end since
// frees the slot and cancels the transaction, and the next round reads it
// ended. Others are read; the admission writes the one it re-authorizes on
// the condition that its version is as read: ended as replaced when its
// lease lapsed (LeaseRequest.ReplacesLapsed), unchanged otherwise. A live
// one the slots read did not show was admitted after them, or the read
// missed it: a Query is no snapshot (read-committed, item by item), and
// the slots sort before the device locks, so a read can show the slots
// from before a racing admission (a re-authorization's first try, whose
// answer the retry here follows) and the lock it left. Unreplaced, it
// would play on beside the new session, out of reach of the walk from the
// session named, so the admission also requires its slot not to hold it
// (unseenChecks): the transaction is cancelled and the next round reads it
// there and replaces it. (The device lock alone does not tell:
// it may have been read after that admission.)
// The ended sessions followed on the way need no condition: an end is
// final (EndSession returns an ended session as it is, the renewals
// refuse it), ReplacedBy with it.
func (s *Store) checkReplaces(ctx context.Context, req playback.LeaseRequest, active []playback.Session) (playback.Session, []types.TransactWriteItem, []heldAt, error) {
	type readSession struct {
		version int64
		slot    int
	}
	read := map[string]readSession{}
	play, err := req.FollowReplaces(func(id string) (playback.Session, bool, error) {
		if i := slices.IndexFunc(active, func(x playback.Session) bool { return x.ID == id }); i >= 0 {
			return active[i], true, nil
		}
		sess, version, k, err := s.readSession(ctx, id)
		switch {
		case playback.IsCode(err, playback.CodeNotFound):
			return sess, false, nil
		case err != nil:
			return sess, false, s.fail("AcquireLease", err)
		}
		read[id] = readSession{version, k}
		return sess, true, nil
	})
	if err != nil || play.ID == "" {
		return play, nil, nil, err
	}
	r, ok := read[play.ID]
	if !ok {
		return play, nil, nil, nil // active: its slot's condition stands for it
	}
	if req.ReplacesLapsed(play) {
		upd, err := s.sessionUpdate(req.Replace(play, play.ID), r.version)
		if err != nil {
			return play, nil, nil, s.fail("AcquireLease", err)
		}
		return play, []types.TransactWriteItem{{Update: upd}}, nil, nil
	}
	return play, []types.TransactWriteItem{{ConditionCheck: &types.ConditionCheck{
		TableName: aws.String(s.table), Key: sessionKey(play.ID),
		ConditionExpression: aws.String("#version = :v"), ExpressionAttributeNames: names("#version"),
		ExpressionAttributeValues: item{":v": num(r.version)},
	}}}, []heldAt{{play.ID, r.slot}}, nil
}

// heldAt is a session and the slot it was admitted to.
type heldAt struct {
	session string
	slot    int
}

// lockHolder returns the session the device's lock names, and its slot,
// when the active leases read do not show it. It was admitted after the
// slots were read, or the read missed it: a Query is no snapshot
// (read-committed, item by item), and the slots sort before the device
// locks, so a read can show the slots from before a racing play from the
// device committed and the lock it left. The admission conditions the lock
// on naming that session, which holds; unreplaced, the session would play
// on beside the new one, the device's second stream. So the admission also
// requires its slot not to hold it (unseenChecks), and the next round
// reads it there and replaces it (or, lapsed, takes its slot). Most often
// it has simply ended, and the check holds. A lock written before locks carried their slot has its
// session read for it (an ended one is over for good: no check).
func (s *Store) lockHolder(ctx context.Context, req playback.LeaseRequest, locks map[string]deviceLock, active []playback.Session) (heldAt, bool, error) {
	lock, ok := locks[req.DeviceID]
	if req.DeviceID == "" || !ok || slices.ContainsFunc(active, func(x playback.Session) bool { return x.ID == lock.session }) {
		return heldAt{}, false, nil
	}
	if lock.hasSlot {
		return heldAt{lock.session, lock.slot}, true, nil
	}
	sess, _, k, err := s.readSession(ctx, lock.session)
	switch {
	case playback.IsCode(err, playback.CodeNotFound):
		return heldAt{}, false, nil
	case err != nil:
		return heldAt{}, false, s.fail("AcquireLease", err)
	}
	return heldAt{lock.session, k}, sess.EndedAt.IsZero(), nil
}

// unseenChecks are the admission's conditions that live sessions its slots
// read did not show are not held in the slots they were admitted to: one
// check per slot, the sessions named there together.
//
// Not held at all, lapsed or not: a slot the admission leaves holding a
// session it counted out lapsed by its own clock can be renewed by a
// writer whose clock is earlier (RenewHeldLease and RenewLease require
// the slot to name the session and its lease to run past their own now),
// which brings the session back beside the new one when the clocks
// disagree by more than a lease's TTL. A session lapsed by this clock
// whose slot was read is never checked here: its slot is deleted or
// claimed on the condition that it is still lapsed (admitTx), and a
// renewal after that fails on the slot. So the check failing sends the
// admission round again, whose read shows the slot, and it converges in
// that round.
func (s *Store) unseenChecks(req playback.LeaseRequest, unseen []heldAt) []types.TransactWriteItem {
	bySlot := map[int][]string{}
	for _, h := range unseen {
		if !slices.Contains(bySlot[h.slot], h.session) {
			bySlot[h.slot] = append(bySlot[h.slot], h.session)
		}
	}
	var checks []types.TransactWriteItem
	for _, k := range slices.Sorted(maps.Keys(bySlot)) {
		values := item{}
		var others []string
		for i, id := range bySlot[k] {
			v := ":id" + strconv.Itoa(i)
			values[v] = str(id)
			others = append(others, "#session <> "+v)
		}
		checks = append(checks, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName: aws.String(s.table), Key: slotKey(req.AccountID, k),
			ConditionExpression:       aws.String("attribute_not_exists(#pk) OR (" + strings.Join(others, " AND ") + ")"),
			ExpressionAttributeNames:  names("#pk", "#session"),
			ExpressionAttributeValues: values,
		}})
	}
	return checks
}

// bothChecks is one condition check requiring those of a and b, two
// checks of one item (a transaction names an item once). Their
// placeholders are those of leaseNames and of distinct values.
func bothChecks(a, b *types.ConditionCheck) *types.ConditionCheck {
	c := *a
	c.ConditionExpression = aws.String("(" + aws.ToString(a.ConditionExpression) + ") AND (" + aws.ToString(b.ConditionExpression) + ")")
	c.ExpressionAttributeNames = map[string]string{}
	maps.Copy(c.ExpressionAttributeNames, a.ExpressionAttributeNames)
	maps.Copy(c.ExpressionAttributeNames, b.ExpressionAttributeNames)
	if values := mergeItems(item{}, a.ExpressionAttributeValues, b.ExpressionAttributeValues); len(values) > 0 {
		c.ExpressionAttributeValues = values // DynamoDB refuses an empty map
	}
	return &c
}

// sameItem reports whether two items of a transaction name the same key,
// which DynamoDB refuses.
func sameItem(a, b types.TransactWriteItem) bool {
	ka, kb := itemKey(a), itemKey(b)
	return ka != nil && kb != nil && strAttr(ka, attrPK) == strAttr(kb, attrPK) && strAttr(ka, attrSK) == strAttr(kb, attrSK)
}

func itemKey(it types.TransactWriteItem) item {
	switch {
	case it.Put != nil:
		return it.Put.Item
	case it.Update != nil:
		return it.Update.Key
	case it.Delete != nil:
		return it.Delete.Key
	case it.ConditionCheck != nil:
		return it.ConditionCheck.Key
	}
	return nil
}

// admissionGuard is ReadAdmission's read: the account's version and
// document, which the admission's condition check compares, and the slots
// and device locks read beside it.
type admissionGuard struct {
	version    int64
	hasVersion bool
	doc        types.AttributeValue
	slots      []slot
	locks      map[string]deviceLock
}

// check is the admission's condition that the account is as read: its
// version (every write adds one) and its document (a deleted and recreated
// account restarts its version). With save it writes save on that
// condition instead, adding one to the version as every write does.
func (g *admissionGuard) check(table, accountID string, save *playback.Account) (types.TransactWriteItem, error) {
	cond, values := "attribute_not_exists(#version) AND #doc = :doc", item{":doc": g.doc}
	if g.hasVersion {
		cond = "#version = :v AND #doc = :doc"
		values[":v"] = num(g.version)
	}
	key := keyOf("ACCT#"+accountID, "ACCOUNT")
	if save == nil {
		return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(table), Key: key,
			ConditionExpression: aws.String(cond), ExpressionAttributeNames: names("#version", "#doc"), ExpressionAttributeValues: values}}, nil
	}
	doc, err := docAttr(*save)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	values[":new"], values[":one"] = doc, num(1)
	ns := names("#version", "#doc")
	set, remove := graceSet(save.GraceKey(), ns, values)
	return types.TransactWriteItem{Update: &types.Update{TableName: aws.String(table), Key: key,
		UpdateExpression:    aws.String("SET #doc = :new" + set + remove + " ADD #version :one"),
		ConditionExpression: aws.String(cond), ExpressionAttributeNames: ns, ExpressionAttributeValues: values}}, nil
}

// ReadAdmission reads the account item and queries its slots side by side:
// one round trip of latency.
func (s *Store) ReadAdmission(ctx context.Context, accountID string, now time.Time) (playback.AdmissionRead, error) {
	const op = "ReadAdmission"
	var (
		g       admissionGuard
		slotErr error
		wg      sync.WaitGroup
	)
	wg.Go(func() { g.slots, g.locks, slotErr = s.readSlots(ctx, accountID) })
	it, err := s.get(ctx, "ACCT#"+accountID, "ACCOUNT", "account", accountID)
	wg.Wait()
	if err != nil {
		return playback.AdmissionRead{}, s.fail(op, err)
	}
	if slotErr != nil {
		return playback.AdmissionRead{}, s.fail(op, slotErr)
	}
	acct, err := decode[playback.Account](it, "account", accountID)
	if err != nil {
		return playback.AdmissionRead{}, s.fail(op, err)
	}
	g.version, g.hasVersion = numAttr(it, attrVersion)
	g.doc = it[attrDoc]
	return playback.AdmissionRead{Account: acct, Active: activeSessions(g.slots, now), Guard: &g}, nil
}

// admitTx builds the admission transaction: create the session (always the
// first item, so a cancellation naming it means the session exists), take a
// slot for it, end the sessions it replaces (play, the one it
// re-authorizes, naming it its successor) and move the device lock.
//
// The slot is the first replaced session's, on the condition that it still
// holds that session at the expiry read (every write of a session moves its
// slot copy in the same transaction, so an unchanged slot means an unchanged
// session); the other replaced sessions' slots are freed on the same
// condition. With nothing to replace it is a free slot below the limit,
// claimable when absent or expired; the claim condition re-checks that at
// commit, so two acquisitions never both win a slot. When sessions admitted
// under a higher limit still hold slots at or above the current limit,
// counting slots below it is not enough, so the transaction also requires
// every other free slot to stay free: then only one acquisition per observed
// state can commit. The slots of leases lapsed by now are deleted. The
// device lock must still name the session it named when read, so of racing
// plays from one device one commits and the others read again and replace
// it; a lock read naming a session the slots read did not show live gets
// the condition lockHolder explains.
func (s *Store) admitTx(req playback.LeaseRequest, play string, sess playback.Session, slots []slot, replaced []playback.Session, locks map[string]deviceLock) (*dynamodb.TransactWriteItemsInput, error) {
	doc, err := docAttr(sess)
	if err != nil {
		return nil, err
	}
	exp := num(nanos(sess.ExpiresAt))
	ttl := s.ttlAfter(sess.ExpiresAt)
	free := condition{cond: aws.String("attribute_not_exists(#pk) OR #exp <= :now"),
		names: names("#pk", "#exp"), values: item{":now": num(nanos(req.Now))}}
	var claim int
	var claimCond condition
	var rest, stayFree []types.TransactWriteItem
	if len(replaced) == 0 {
		var others []int
		claim, others = pickFreeSlot(req, slots)
		claimCond = free
		for _, k := range others {
			if i := slices.IndexFunc(slots, func(sl slot) bool { return sl.index == k }); i >= 0 {
				continue // a lapsed lease's slot: deleted below, on the same condition
			}
			stayFree = append(stayFree, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
				TableName: aws.String(s.table), Key: slotKey(req.AccountID, k),
				ConditionExpression: free.cond, ExpressionAttributeNames: free.names, ExpressionAttributeValues: free.values,
			}})
		}
	}
	for i, r := range replaced {
		held := slots[slices.IndexFunc(slots, func(sl slot) bool { return sl.session.ID == r.ID })]
		unchanged := condition{cond: aws.String("#session = :id AND #exp = :exp"), names: names("#session", "#exp"),
			values: item{":id": str(r.ID), ":exp": num(held.expires)}}
		ended, err := s.endedUpdate(req.Replace(r, play))
		if err != nil {
			return nil, err
		}
		rest = append(rest, types.TransactWriteItem{Update: ended})
		if i == 0 {
			claim, claimCond = held.index, unchanged
			continue
		}
		rest = append(rest, types.TransactWriteItem{Delete: &types.Delete{
			TableName: aws.String(s.table), Key: slotKey(req.AccountID, held.index),
			ConditionExpression: unchanged.cond, ExpressionAttributeNames: unchanged.names, ExpressionAttributeValues: unchanged.values,
		}})
	}
	// The leases that lapsed by now are counted out of this admission, so
	// they are lost to it: their slots go, on the condition that they are
	// still lapsed. A slot left to a lapsed lease would let a renewal that
	// read it a moment before its expiry (an earlier clock, a write that
	// lands after this one) bring it back, over the limit when sessions
	// admitted under a higher one still hold slots at or above it.
	for _, sl := range slots {
		if sl.activeAt(req.Now) || sl.index == claim {
			continue
		}
		rest = append(rest, types.TransactWriteItem{Delete: &types.Delete{
			TableName: aws.String(s.table), Key: slotKey(req.AccountID, sl.index),
			ConditionExpression: free.cond, ExpressionAttributeNames: free.names, ExpressionAttributeValues: free.values,
		}})
	}
	rest = append(rest, stayFree...)
	items := []types.TransactWriteItem{
		{Put: &types.Put{
			TableName: aws.String(s.table),
			Item: mergeItems(sessionKey(sess.ID), item{
				attrDoc: doc, attrVersion: num(1), attrSlot: num(int64(claim)), attrExpiresAt: exp, attrTTL: ttl,
				attrSeenAt: num(nanos(sess.LastSeenAt)),
			}),
			ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames: names("#pk"),
		}},
		{Put: &types.Put{
			TableName: aws.String(s.table),
			Item: mergeItems(slotKey(req.AccountID, claim), leaseAttrs(req.AccountID, sess.ExpiresAt), item{
				attrSession: str(sess.ID), attrDoc: doc, attrExpiresAt: exp, attrTTL: ttl,
				attrSeenAt: num(nanos(sess.LastSeenAt)),
			}),
			ConditionExpression: claimCond.cond, ExpressionAttributeNames: claimCond.names, ExpressionAttributeValues: claimCond.values,
		}},
	}
	items = append(items, rest...)
	if req.DeviceID != "" {
		lock := condition{cond: aws.String("attribute_not_exists(#pk)"), names: names("#pk")}
		if held, ok := locks[req.DeviceID]; ok {
			lock = condition{cond: aws.String("#session = :held"), names: names("#session"), values: item{":held": str(held.session)}}
		}
		// With the slot, which lockHolder checks when a later read of
		// the slots does not show the session live.
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(s.table),
			Item: mergeItems(deviceLockKey(req.AccountID, req.DeviceID), item{
				attrSession: str(sess.ID), attrSlot: num(int64(claim)), attrTTL: ttl,
			}),
			ConditionExpression: lock.cond, ExpressionAttributeNames: lock.names, ExpressionAttributeValues: lock.values,
		}})
	}
	return &dynamodb.TransactWriteItemsInput{TransactItems: items}, nil
}

// condition is a condition expression with its names and values.
type condition struct {
	cond   *string
	names  map[string]string
	values item
}

// pickFreeSlot chooses a free slot below the limit for an admission that
// replaces nothing (Admit left room, so there is one), and lists the other
// free slots that must stay free when sessions hold slots above the limit.
func pickFreeSlot(req playback.LeaseRequest, slots []slot) (claim int, mustStayFree []int) {
	occupied := map[int]bool{}
	overLimit := false
	for _, sl := range slots {
		if sl.activeAt(req.Now) {
			occupied[sl.index] = true
			overLimit = overLimit || sl.index >= req.Limit
		}
	}
	var free []int
	for k := range req.Limit {
		if !occupied[k] {
			free = append(free, k)
		}
	}
	// Racing acquisitions spread over the free slots instead of all
	// queueing on the lowest one.
	claim = free[rand.N(len(free))]
	if overLimit {
		for _, k := range free {
			if k != claim {
				mustStayFree = append(mustStayFree, k)
			}
		}
	}
	return claim, mustStayFree
}

// endedUpdate writes a session that a new admission on its device ends.
// It carries no condition of its own: the transaction's condition on the
// session's slot copy stands for it.
func (s *Store) endedUpdate(sess playback.Session) (*types.Update, error) {
	doc, err := docAttr(sess)
	if err != nil {
		return nil, err
	}
	return &types.Update{
		TableName:                aws.String(s.table),
		Key:                      sessionKey(sess.ID),
		UpdateExpression:         aws.String("SET #doc = :doc, #exp = :exp, #seen = :seen, #ttl = :ttl ADD #version :one"),
		ConditionExpression:      aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames: names("#pk", "#doc", "#exp", "#seen", "#ttl", "#version"),
		ExpressionAttributeValues: item{":doc": doc, ":one": num(1), ":exp": num(nanos(sess.ExpiresAt)),
			":seen": num(nanos(sess.LastSeenAt)), ":ttl": s.ttlAfter(sess.RetainedFrom())},
	}, nil
}

func mergeItems(a item, more ...item) item {
	for _, b := range more {
		maps.Copy(a, b)
	}
	return a
}

func (s *Store) GetSession(ctx context.Context, id string) (playback.Session, error) {
	it, err := s.get(ctx, "SES#"+id, "SESSION", "session", id)
	if err != nil {
		return playback.Session{}, s.fail("GetSession", err)
	}
	k, _ := numAttr(it, attrSlot)
	sess, err := decodeSession(it, "session", id, int(k))
	return sess, s.fail("GetSession", err)
}

func (s *Store) ListActiveSessions(ctx context.Context, accountID string, now time.Time) ([]playback.Session, error) {
	slots, _, err := s.readSlots(ctx, accountID)
	if err != nil {
		return nil, s.fail("ListActiveSessions", err)
	}
	return activeSessions(slots, now), nil
}

// ListRenewableSessions lists the sessions holding the account's slots,
// lapsed or not: a renewal writes on the condition that the slot still
// names the session, and every end or replacement deletes or takes the
// slot in its own transaction.
func (s *Store) ListRenewableSessions(ctx context.Context, accountID string) ([]playback.Session, error) {
	slots, _, err := s.readSlots(ctx, accountID)
	if err != nil {
		return nil, s.fail("ListRenewableSessions", err)
	}
	var held []playback.Session
	for _, sl := range slots {
		if sl.session.EndedAt.IsZero() {
			held = append(held, sl.session)
		}
	}
	playback.SortOldestFirst(held)
	return held, nil
}

// readSession reads a session with the attributes its writes compare.
func (s *Store) readSession(ctx context.Context, id string) (sess playback.Session, version int64, slotIndex int, err error) {
	it, err := s.get(ctx, "SES#"+id, "SESSION", "session", id)
	if err != nil {
		return sess, 0, 0, err
	}
	version, _ = numAttr(it, attrVersion)
	k, _ := numAttr(it, attrSlot)
	sess, err = decodeSession(it, "session", id, int(k))
	return sess, version, int(k), err
}

// sessionUpdate rewrites a session read at version, failing if it moved.
func (s *Store) sessionUpdate(sess playback.Session, version int64) (*types.Update, error) {
	doc, err := docAttr(sess)
	if err != nil {
		return nil, err
	}
	values := item{":doc": doc, ":v": num(version), ":one": num(1), ":exp": num(nanos(sess.ExpiresAt)),
		":seen": num(nanos(sess.LastSeenAt)), ":ttl": s.ttlAfter(sess.RetainedFrom())}
	return &types.Update{
		TableName:                 aws.String(s.table),
		Key:                       sessionKey(sess.ID),
		UpdateExpression:          aws.String("SET #doc = :doc, #exp = :exp, #seen = :seen, #ttl = :ttl ADD #version :one"),
		ConditionExpression:       aws.String("#version = :v"),
		ExpressionAttributeNames:  names("#doc", "#exp", "#seen", "#ttl", "#version"),
		ExpressionAttributeValues: values,
	}, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (s *Store) ExtendLease(ctx context.Context, id string, expiresAt, now time.Time) (playback.Session, error) {
	return s.extendLease(ctx, "ExtendLease", id, expiresAt, now, nil)
}

func (s *Store) RenewLease(ctx context.Context, id string, ttl, slack time.Duration, now time.Time) (playback.Session, error) {
	return s.extendLease(ctx, "RenewLease", id, now.Add(ttl), now, func(sess playback.Session) bool { return sess.LeaseFresh(now, ttl, slack) })
}

// extendLease is ExtendLease, writing nothing when fresh (if set) says the
// session read needs no renewal.
func (s *Store) extendLease(ctx context.Context, op, id string, expiresAt, now time.Time, fresh func(playback.Session) bool) (playback.Session, error) {
	for attempt := 0; ; attempt++ {
		// A lease this store read or wrote last is written on at once, on the
		// condition that its version has not moved (see memoLease), unless
		// the copy would answer without a write: that answer comes from a
		// read.
		m, memo := s.leases.Get(id)
		memo = memo && attempt == 0 && m.sess.Active(now) && (fresh == nil || !fresh(m.sess))
		sess, version, k := m.sess, m.version, m.slot
		if !memo {
			var err error
			if sess, version, k, err = s.readSession(ctx, id); err != nil {
				if playback.IsCode(err, playback.CodeNotFound) {
					s.leases.Delete(id)
				}
				return playback.Session{}, s.fail(op, err)
			}
			s.leases.Put(sess.ID, memoLease{sess: sess, version: version, slot: k}, nil)
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
		upd, err := s.sessionUpdate(sess, version)
		if err != nil {
			return playback.Session{}, s.fail(op, err)
		}
		// The slot's copy moves with the session; it must still be this
		// session's, or the lease was lost to another after it expired.
		slotItem := mergeItems(slotKey(sess.AccountID, k), leaseAttrs(sess.AccountID, sess.ExpiresAt), item{
			attrSession: str(id), attrDoc: upd.ExpressionAttributeValues[":doc"],
			attrExpiresAt: num(nanos(sess.ExpiresAt)), attrTTL: s.ttlAfter(sess.ExpiresAt), attrSeenAt: num(nanos(sess.LastSeenAt)),
		})
		_, err = s.db().TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: upd},
			{Put: &types.Put{
				TableName: aws.String(s.table), Item: slotItem,
				ConditionExpression:       aws.String("#session = :id"),
				ExpressionAttributeNames:  names("#session"),
				ExpressionAttributeValues: item{":id": str(id)},
			}},
		}})
		if err == nil {
			s.leases.Put(sess.ID, memoLease{sess: sess, version: version + 1, slot: k}, nil)
			return sess, nil
		}
		s.leases.Delete(id)
		codes := transactionCodes(err)
		switch {
		case codes == nil:
			return playback.Session{}, s.fail(op, err)
		case codes[0] == "ConditionalCheckFailed":
			// A concurrent heartbeat or end moved the session (or the
			// memo was stale): read again.
			if memo {
				continue // no backoff: this was no race lost
			}
		case len(codes) > 1 && codes[1] == "ConditionalCheckFailed":
			return playback.Session{}, playback.SessionEnded(id)
		}
		if attempt+1 >= maxCASAttempts {
			return playback.Session{}, playback.Unavailable(err, "dynamo.%s: session %q is contended", op, id)
		}
		if err := backoff(ctx, attempt); err != nil {
			return playback.Session{}, s.fail(op, err)
		}
	}
}

func (s *Store) EndSession(ctx context.Context, id, reason string, now time.Time) (playback.Session, error) {
	const op = "EndSession"
	for attempt := 0; ; attempt++ {
		sess, version, k, err := s.readSession(ctx, id)
		if err != nil {
			return playback.Session{}, s.fail(op, err)
		}
		if !sess.EndedAt.IsZero() {
			return sess, nil
		}
		sess.EndedAt, sess.EndReason = now, reason
		upd, err := s.sessionUpdate(sess, version)
		if err != nil {
			return playback.Session{}, s.fail(op, err)
		}
		_, err = s.db().TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: upd},
			{Delete: &types.Delete{
				TableName: aws.String(s.table), Key: slotKey(sess.AccountID, k),
				ConditionExpression:       aws.String("#session = :id"),
				ExpressionAttributeNames:  names("#session"),
				ExpressionAttributeValues: item{":id": str(id)},
			}},
		}})
		codes := transactionCodes(err)
		switch {
		case err == nil:
			return sess, nil
		case codes == nil:
			return playback.Session{}, s.fail(op, err)
		case codes[0] == "ConditionalCheckFailed":
			// Moved since the read: read again.
		case len(codes) > 1 && codes[1] == "ConditionalCheckFailed":
			// The lease expired and its slot went to another session: end
			// this one alone, leaving the slot to its new holder.
			_, err = s.db().UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName: upd.TableName, Key: upd.Key, UpdateExpression: upd.UpdateExpression,
				ConditionExpression: upd.ConditionExpression, ExpressionAttributeNames: upd.ExpressionAttributeNames,
				ExpressionAttributeValues: upd.ExpressionAttributeValues,
			})
			if err == nil {
				return sess, nil
			}
			if !conditionFailed(err) {
				return playback.Session{}, s.fail(op, err)
			}
		}
		if attempt+1 >= maxCASAttempts {
			return playback.Session{}, playback.Unavailable(err, "dynamo.%s: session %q is contended", op, id)
		}
		if err := backoff(ctx, attempt); err != nil {
			return playback.Session{}, s.fail(op, err)
		}
	}
}
