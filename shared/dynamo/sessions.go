package dynamo

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/playplane/playplane/shared/playback"
)

const slotPrefix = "SLOT#"

// maxLeaseAttempts bounds the read-and-claim rounds of one acquisition. A
// round fails only when another acquisition claimed the same slot first (or
// DynamoDB cancelled both for touching it at once), after which the fresh
// read usually shows the account full: few rounds are ever needed.
const maxLeaseAttempts = 16

func sessionKey(id string) item { return keyOf("SES#"+id, "SESSION") }

func slotKey(accountID string, k int) item {
	return keyOf("ACCT#"+accountID, slotPrefix+strconv.Itoa(k))
}

// Expression names shared by the lease operations; several of the
// attribute names (ttl, session) are DynamoDB reserved words.
var leaseNames = map[string]string{
	"#pk": attrPK, "#doc": attrDoc, "#exp": attrExpiresAt, "#ttl": attrTTL, "#version": attrVersion,
	"#session": attrSession,
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

func (s *Store) readSlots(ctx context.Context, accountID string) ([]slot, error) {
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		ConsistentRead:            aws.Bool(true),
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :prefix)"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: item{":pk": str("ACCT#" + accountID), ":prefix": str(slotPrefix)},
	})
	var slots []slot
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			k, err := strconv.Atoi(strings.TrimPrefix(strAttr(it, attrSK), slotPrefix))
			if err != nil {
				continue // not a slot of ours
			}
			exp, _ := numAttr(it, attrExpiresAt)
			sess, err := decode[playback.Session](it, "slot", strAttr(it, attrSK))
			if err != nil {
				return nil, err
			}
			slots = append(slots, slot{index: k, expires: exp, session: sess})
		}
	}
	return slots, nil
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
	for attempt := 0; ; attempt++ {
		slots, err := s.readSlots(ctx, req.AccountID)
		if err != nil {
			return playback.Session{}, s.fail(op, err)
		}
		active := activeSessions(slots, req.Now)
		if i := slices.IndexFunc(active, func(x playback.Session) bool { return x.ID == req.SessionID }); i >= 0 {
			return active[i], nil
		}
		if len(active) >= req.Limit {
			// An ended or expired session asking again must hear gone, not
			// stream_limit, so look it up before refusing.
			if existing, err := s.GetSession(ctx, req.SessionID); err == nil {
				return playback.ExistingLease(existing, req.Now)
			} else if !playback.IsCode(err, playback.CodeNotFound) {
				return playback.Session{}, err
			}
			return playback.Session{}, playback.StreamLimit(req.Limit, active)
		}
		sess := req.NewSession()
		in, err := s.claimTx(req, sess, slots)
		if err != nil {
			return playback.Session{}, s.fail(op, err)
		}
		_, err = s.db.TransactWriteItems(ctx, in)
		if err == nil {
			return sess, nil
		}
		codes := transactionCodes(err)
		if codes == nil {
			return playback.Session{}, s.fail(op, err)
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
		// Another acquisition took the slot (or collided with this one):
		// read the account again.
		if attempt+1 >= maxLeaseAttempts {
			return playback.Session{}, playback.Unavailable(err, "dynamo.%s: account %q is contended", op, req.AccountID)
		}
		if err := backoff(ctx, attempt); err != nil {
			return playback.Session{}, s.fail(op, err)
		}
	}
}

// claimTx builds the admission transaction: create the session and claim a
// free slot below the limit. Slots are claimable when absent or expired;
// the claim condition re-checks that at commit, so two acquisitions never
// both win a slot. When sessions admitted under a higher limit still hold
// slots at or above the current limit, counting slots below it is not
// enough, so the transaction also requires every other free slot to stay
// free: then only one acquisition per observed state can commit.
func (s *Store) claimTx(req playback.LeaseRequest, sess playback.Session, slots []slot) (*dynamodb.TransactWriteItemsInput, error) {
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
	claim := free[rand.N(len(free))]
	doc, err := docAttr(sess)
	if err != nil {
		return nil, err
	}
	exp := num(nanos(sess.ExpiresAt))
	ttl := s.ttlAfter(sess.ExpiresAt)
	freeCond := aws.String("attribute_not_exists(#pk) OR #exp <= :now")
	items := []types.TransactWriteItem{
		{Put: &types.Put{
			TableName: aws.String(s.table),
			Item: mergeItems(sessionKey(sess.ID), item{
				attrDoc: doc, attrVersion: num(1), attrSlot: num(int64(claim)), attrExpiresAt: exp, attrTTL: ttl,
			}),
			ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames: names("#pk"),
		}},
		{Put: &types.Put{
			TableName: aws.String(s.table),
			Item: mergeItems(slotKey(req.AccountID, claim), item{
				attrSession: str(sess.ID), attrDoc: doc, attrExpiresAt: exp, attrTTL: ttl,
			}),
			ConditionExpression:       freeCond,
			ExpressionAttributeNames:  names("#pk", "#exp"),
			ExpressionAttributeValues: item{":now": num(nanos(req.Now))},
		}},
	}
	if overLimit {
		for _, k := range free {
			if k == claim {
				continue
			}
			items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
				TableName:                 aws.String(s.table),
				Key:                       slotKey(req.AccountID, k),
				ConditionExpression:       freeCond,
				ExpressionAttributeNames:  names("#pk", "#exp"),
				ExpressionAttributeValues: item{":now": num(nanos(req.Now))},
			}})
		}
	}
	return &dynamodb.TransactWriteItemsInput{TransactItems: items}, nil
}

func mergeItems(a, b item) item {
	for k, v := range b {
		a[k] = v
	}
	return a
}

func (s *Store) GetSession(ctx context.Context, id string) (playback.Session, error) {
	return getDoc[playback.Session](ctx, s, "GetSession", "SES#"+id, "SESSION", "session", id)
}

func (s *Store) ListActiveSessions(ctx context.Context, accountID string, now time.Time) ([]playback.Session, error) {
	slots, err := s.readSlots(ctx, accountID)
	if err != nil {
		return nil, s.fail("ListActiveSessions", err)
	}
	return activeSessions(slots, now), nil
}

// readSession reads a session with the attributes its writes compare.
func (s *Store) readSession(ctx context.Context, id string) (sess playback.Session, version int64, slotIndex int, err error) {
	it, err := s.get(ctx, "SES#"+id, "SESSION", "session", id)
	if err != nil {
		return sess, 0, 0, err
	}
	sess, err = decode[playback.Session](it, "session", id)
	version, _ = numAttr(it, attrVersion)
	k, _ := numAttr(it, attrSlot)
	return sess, version, int(k), err
}

// sessionUpdate rewrites a session read at version, failing if it moved.
func (s *Store) sessionUpdate(sess playback.Session, version int64) (*types.Update, error) {
	doc, err := docAttr(sess)
	if err != nil {
		return nil, err
	}
	values := item{":doc": doc, ":v": num(version), ":one": num(1),
		":exp": num(nanos(sess.ExpiresAt)), ":ttl": s.ttlAfter(maxTime(sess.ExpiresAt, sess.EndedAt))}
	return &types.Update{
		TableName:                 aws.String(s.table),
		Key:                       sessionKey(sess.ID),
		UpdateExpression:          aws.String("SET #doc = :doc, #exp = :exp, #ttl = :ttl ADD #version :one"),
		ConditionExpression:       aws.String("#version = :v"),
		ExpressionAttributeNames:  names("#doc", "#exp", "#ttl", "#version"),
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
	const op = "ExtendLease"
	for attempt := 0; ; attempt++ {
		sess, version, k, err := s.readSession(ctx, id)
		if err != nil {
			return playback.Session{}, s.fail(op, err)
		}
		if !sess.Active(now) {
			return playback.Session{}, playback.SessionEnded(id)
		}
		if !sess.Extend(expiresAt, now) {
			return sess, nil
		}
		upd, err := s.sessionUpdate(sess, version)
		if err != nil {
			return playback.Session{}, s.fail(op, err)
		}
		// The slot's copy moves with the session; it must still be this
		// session's, or the lease was lost to another after it expired.
		slotItem := mergeItems(slotKey(sess.AccountID, k), item{
			attrSession: str(id), attrDoc: upd.ExpressionAttributeValues[":doc"],
			attrExpiresAt: num(nanos(sess.ExpiresAt)), attrTTL: s.ttlAfter(sess.ExpiresAt),
		})
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: upd},
			{Put: &types.Put{
				TableName: aws.String(s.table), Item: slotItem,
				ConditionExpression:       aws.String("#session = :id"),
				ExpressionAttributeNames:  names("#session"),
				ExpressionAttributeValues: item{":id": str(id)},
			}},
		}})
		if err == nil {
			return sess, nil
		}
		codes := transactionCodes(err)
		switch {
		case codes == nil:
			return playback.Session{}, s.fail(op, err)
		case codes[0] == "ConditionalCheckFailed":
			// A concurrent heartbeat or end moved the session: read again.
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
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
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
			_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
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
