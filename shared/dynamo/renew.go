package dynamo

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/playplane/playplane/shared/playback"
)

// decodeSession decodes a session item or a slot's copy of its session
// (held in slot k). A renewal on a held lease (RenewHeldLease) moves the
// lease's expiry and last-seen attributes without rewriting the JSON
// document, so those attributes, which every write sets, are the session's.
func decodeSession(it item, kind, id string, k int) (playback.Session, error) {
	sess, err := decode[playback.Session](it, kind, id)
	if err != nil {
		return sess, err
	}
	if n, ok := numAttr(it, attrExpiresAt); ok && n != nanos(sess.ExpiresAt) {
		sess.ExpiresAt = time.Unix(0, n).UTC()
	}
	if n, ok := numAttr(it, attrSeenAt); ok && n != nanos(sess.LastSeenAt) {
		sess.LastSeenAt = time.Unix(0, n).UTC()
	}
	sess.Lease = strconv.Itoa(k)
	return sess, nil
}

// RenewHeldLease renews in one round trip on any instance: a transaction
// that updates the lease's slot, named by held (its account and
// held.Lease, the slot index), on the condition that the slot still holds
// held.ID at an expiry after now — every write that ends, replaces or
// reassigns a session rewrites or deletes its slot in the same transaction,
// so that condition is the session being active and this one's — and
// moves the session item's expiry with it. No read comes first.
//
// The condition also says the lease is not fresh (Session.LeaseFresh) and
// that neither time would move back; when it fails, DynamoDB hands back
// the slot as it was, which answers a fresh lease (nothing written) and an
// expired one (gone) in the same round trip. Anything else (the slot
// freed or reassigned, held wrong, a race) is answered by RenewLease, from
// a read.
func (s *Store) RenewHeldLease(ctx context.Context, held playback.Session, ttl, slack time.Duration, now time.Time) (playback.Session, error) {
	k, err := strconv.Atoi(held.Lease)
	if err != nil || k < 0 || k >= maxLeaseLimit || held.AccountID == "" || held.ID == "" || ttl <= 0 {
		return s.RenewLease(ctx, held.ID, ttl, slack, now)
	}
	expires := now.Add(ttl)
	values := item{
		":id": str(held.ID), ":now": num(nanos(now)), ":exp": num(nanos(expires)), ":ttl": s.ttlAfter(expires),
		":fexp": num(nanos(now.Add(ttl - slack))), ":fseen": num(nanos(now.Add(-slack))),
	}
	// Both index keys, as every other slot write: a slot last written
	// before the "leases" index has no lease_pk, and renewing only here
	// would otherwise leave it out of the count for the session's life.
	lease := leaseAttrs(held.AccountID, expires)
	slotValues := mergeItems(item{":lpk": lease[attrLeasePK], ":lsk": lease[attrLeaseSK]}, values)
	_, err = s.db().TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(s.table), Key: slotKey(held.AccountID, k),
			UpdateExpression: aws.String("SET #exp = :exp, #seen = :now, #ttl = :ttl, #lpk = :lpk, #lsk = :lsk"),
			ConditionExpression: aws.String("#session = :id AND #exp > :now AND #exp <= :exp" +
				" AND (attribute_not_exists(#seen) OR #seen <= :now)" +
				" AND (#exp < :fexp OR attribute_not_exists(#seen) OR #seen < :fseen)"),
			ExpressionAttributeNames:            names("#session", "#exp", "#seen", "#ttl", "#lpk", "#lsk"),
			ExpressionAttributeValues:           slotValues,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		{Update: &types.Update{
			TableName: aws.String(s.table), Key: sessionKey(held.ID),
			UpdateExpression:          aws.String("SET #exp = :exp, #seen = :now, #ttl = :ttl ADD #version :one"),
			ConditionExpression:       aws.String("attribute_exists(#pk)"),
			ExpressionAttributeNames:  names("#pk", "#exp", "#seen", "#ttl", "#version"),
			ExpressionAttributeValues: item{":exp": values[":exp"], ":now": values[":now"], ":ttl": values[":ttl"], ":one": num(1)},
		}},
	}})
	if err == nil {
		// This instance's copy, if any, is a version behind now.
		s.leases.Delete(held.ID)
		sess := held
		sess.LastSeenAt, sess.ExpiresAt, sess.EndedAt, sess.EndReason = now, expires, time.Time{}, ""
		return sess, nil
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) && len(tce.CancellationReasons) > 0 && aws.ToString(tce.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
		if it := tce.CancellationReasons[0].Item; strAttr(it, attrSession) == held.ID {
			old, derr := decodeSession(it, "slot", held.ID, k)
			switch {
			case derr != nil:
			case !old.Active(now):
				return playback.Session{}, playback.SessionEnded(held.ID)
			case old.LeaseFresh(now, ttl, slack):
				return old, nil
			}
		}
	} else if transactionCodes(err) == nil {
		return playback.Session{}, s.fail("RenewHeldLease", err)
	}
	return s.RenewLease(ctx, held.ID, ttl, slack, now)
}
