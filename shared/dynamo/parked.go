package dynamo

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/playplane/playplane/shared/playback"
)

// A parked event leaves the sparse "pending" index (its pending_pk and
// pending_sk go) and carries parked_key and parked_at; a pointer item
// PARK#<source>#<key> / <parked_at>#<id> lists it under its key. The event
// and its pointer change together in one transaction, conditioned on the
// event's parked state as read, so a key's partition holds exactly the
// events parked under it. The pointer carries a copy of the event's doc
// (immutable once recorded), so listing reads nothing else (and needs no
// BatchGetItem grant). Queried on the table itself, the listing is
// strongly consistent: a wake that follows a park sees it. A park with an
// expiry puts it, and its TTL, on both: TTL deletes each, and until it does
// reads skip them (live).
//
// The pointer is also keyed in the sparse "pending" index, under
// parkedIndexPK(source) and its key before its place under it
// (parkedIndexSK), so that CountParkedEvents counts a key prefix's events
// across keys in one Query, where each key is a partition of its own. The
// index holds the unprocessed inbox events: pending ones under their
// source, parked ones there. Pointers written before carry no such keys
// and are not counted until parked again.

func parkPK(source, key string) string { return "PARK#" + source + "#" + key }

// parkedIndexPK is the "pending" index partition of source's park
// pointers; a source's pending events are under the source itself.
func parkedIndexPK(source string) string { return "PARK#" + source }

// parkedIndexSK sorts a pointer in the index by key, then as under it;
// keys have no '|' (playback.ValidParkKey).
func parkedIndexSK(key string, at time.Time, id string) string {
	return key + "|" + pendingSortKey(at, id)
}

func parkPointerKey(source, key string, at time.Time, id string) item {
	return keyOf(parkPK(source, key), pendingSortKey(at, id))
}

// parkedState is what an inbox item says about its parking.
type parkedState struct {
	exists, processed bool
	key               string
	at, since         time.Time
	doc               types.AttributeValue
}

func (s *Store) readParked(ctx context.Context, source, id string) (parkedState, error) {
	it, err := s.get(ctx, "EVT#"+source, id, "event", id)
	if playback.IsCode(err, playback.CodeNotFound) {
		return parkedState{}, nil
	}
	if err != nil {
		return parkedState{}, err
	}
	return parkedState{exists: true, processed: it[attrProcessed] != nil,
		key: strAttr(it, attrParkedKey), at: timeOf(it, attrParkedAt), since: timeOf(it, attrParkedSince), doc: it[attrDoc]}, nil
}

// parkedCondition holds while the event is unprocessed and parked as st
// says, adding its names and values.
func parkedCondition(st parkedState, names map[string]string, values item) string {
	names["#pk"], names["#processed"], names["#pkey"], names["#pat"] = attrPK, attrProcessed, attrParkedKey, attrParkedAt
	cond := "attribute_exists(#pk) AND attribute_not_exists(#processed) AND "
	if st.key == "" {
		return cond + "attribute_not_exists(#pkey)"
	}
	values[":oldkey"], values[":oldat"] = str(st.key), num(nanos(st.at))
	return cond + "#pkey = :oldkey AND #pat = :oldat"
}

func (s *Store) ParkEvent(ctx context.Context, source, id, key string, at, expiresAt time.Time) error {
	const op = "ParkEvent"
	if !playback.ValidParkKey(key) {
		return playback.Errorf(playback.CodeInvalid, "park_key_invalid", "dynamo.%s: key %q", op, key)
	}
	if source == "" || id == "" {
		return playback.NotFound("event", id)
	}
	for attempt := 0; ; attempt++ {
		st, err := s.readParked(ctx, source, id)
		if err != nil {
			return s.fail(op, err)
		}
		if !st.exists {
			return playback.NotFound("event", id)
		}
		if st.processed {
			return nil
		}
		// The rule is playback.InboxEvent.Park's, on the parked state
		// read: one parked under key no earlier is left, and the streak
		// under key goes on.
		ev := playback.InboxEvent{ParkedKey: st.key, ParkedAt: st.at, ParkedSince: st.since}
		if !ev.Park(key, at, expiresAt) {
			return nil
		}
		since := ev.ParkedSince
		names := map[string]string{"#ppk": attrPendingPK, "#psk": attrPendingSK, "#exp": attrExpiresAt, "#ttl": attrTTL,
			"#psince": attrParkedSince}
		values := item{":key": str(key), ":at": num(nanos(at)), ":since": num(nanos(since))}
		cond := parkedCondition(st, names, values)
		pointer := mergeItems(parkPointerKey(source, key, at, id), item{attrEventID: str(id), attrDoc: st.doc,
			attrParkedKey: str(key), attrParkedAt: num(nanos(at)), attrParkedSince: num(nanos(since)),
			attrPendingPK: str(parkedIndexPK(source)), attrPendingSK: str(parkedIndexSK(key, at, id))})
		set, remove := "SET #pkey = :key, #pat = :at, #psince = :since", " REMOVE #ppk, #psk"
		if expiresAt.IsZero() {
			remove += ", #exp, #ttl"
		} else {
			values[":exp"], values[":ttl"] = num(nanos(expiresAt)), ttlAt(expiresAt)
			pointer[attrExpiresAt], pointer[attrTTL] = values[":exp"], values[":ttl"]
			set += ", #exp = :exp, #ttl = :ttl"
		}
		items := []types.TransactWriteItem{
			{Update: &types.Update{
				TableName:                 aws.String(s.table),
				Key:                       inboxKey(source, id),
				UpdateExpression:          aws.String(set + remove),
				ConditionExpression:       aws.String(cond),
				ExpressionAttributeNames:  names,
				ExpressionAttributeValues: values,
			}},
			{Put: &types.Put{TableName: aws.String(s.table), Item: pointer}},
		}
		if st.key != "" {
			items = append(items, types.TransactWriteItem{Delete: &types.Delete{
				TableName: aws.String(s.table), Key: parkPointerKey(source, st.key, st.at, id)}})
		}
		_, err = s.db().TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err := s.retryParkTx(ctx, op, id, attempt, err); err != errRetry {
			return err
		}
	}
}

// errRetry tells a loop to read again and retry.
var errRetry = playback.Errorf(playback.CodeUnavailable, "retry", "retry")

// retryParkTx classifies the outcome of a transaction conditioned on the
// event's state as read: nil on success, errRetry when the event moved
// meanwhile (or the transaction met another), the failure otherwise.
func (s *Store) retryParkTx(ctx context.Context, op, id string, attempt int, err error) error {
	if err == nil {
		return nil
	}
	codes := transactionCodes(err)
	if codes == nil && !retryable(err) {
		return s.fail(op, err)
	}
	if attempt+1 >= maxCASAttempts {
		return playback.Unavailable(err, "dynamo.%s: event %q is contended", op, id)
	}
	if err := backoff(ctx, attempt); err != nil {
		return s.fail(op, err)
	}
	return errRetry
}

// markParkedProcessed marks a parked event processed and removes its
// pointer in one transaction.
func (s *Store) markParkedProcessed(ctx context.Context, source, id string, st parkedState, set string,
	names map[string]string, values item) error {
	cond := parkedCondition(st, names, values)
	names["#psince"] = attrParkedSince
	remove := " REMOVE #ppk, #psk, #pkey, #pat, #psince"
	if _, ok := names["#ttl"]; !ok {
		// No expiry of its own: nor the park's.
		names["#exp"], names["#ttl"] = attrExpiresAt, attrTTL
		remove += ", #exp, #ttl"
	}
	_, err := s.db().TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName:                 aws.String(s.table),
			Key:                       inboxKey(source, id),
			UpdateExpression:          aws.String(set + remove),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}},
		{Delete: &types.Delete{TableName: aws.String(s.table), Key: parkPointerKey(source, st.key, st.at, id)}},
	}})
	return err
}

func (s *Store) ListParkedEvents(ctx context.Context, source, key string, after playback.ParkCursor, limit int) ([]playback.InboxEvent, error) {
	const op = "ListParkedEvents"
	if limit <= 0 || source == "" || !playback.ValidParkKey(key) {
		return nil, nil
	}
	cond := "#pk = :pk"
	names := map[string]string{"#pk": attrPK}
	values := item{":pk": str(parkPK(source, key))}
	if after != (playback.ParkCursor{}) {
		cond += " AND #sk > :after"
		names["#sk"] = attrSK
		values[":after"] = str(pendingSortKey(after.At, after.ID))
	}
	return s.collectEvents(ctx, op, dynamodb.NewQueryPaginator(s.db(), &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ConsistentRead:            aws.Bool(true),
		Limit:                     aws.Int32(int32(min(limit, 100))),
	}), limit, attrEventID, func(it item) bool { return !s.live(it) })
}

// CountParkedEvents counts the pointers under prefix in the "pending"
// index (eventually consistent) with Select=COUNT, those whose TTL has
// passed filtered out, a page of limit at a time until limit are counted.
func (s *Store) CountParkedEvents(ctx context.Context, source, prefix string, limit int) (int, error) {
	const op = "CountParkedEvents"
	if limit <= 0 || source == "" {
		return 0, nil
	}
	cond := "#ppk = :ppk"
	names := map[string]string{"#ppk": attrPendingPK, "#ttl": attrTTL}
	values := item{":ppk": str(parkedIndexPK(source)), ":now": num(s.now().Unix())}
	if prefix != "" {
		cond += " AND begins_with(#psk, :prefix)"
		names["#psk"], values[":prefix"] = attrPendingSK, str(prefix)
	}
	pages := dynamodb.NewQueryPaginator(s.db(), &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(indexPending),
		KeyConditionExpression:    aws.String(cond),
		FilterExpression:          aws.String("attribute_not_exists(#ttl) OR #ttl > :now"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		Select:                    types.SelectCount,
		Limit:                     aws.Int32(int32(min(limit, 1000))),
	})
	n := 0
	for n < limit && pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return 0, s.fail(op, err)
		}
		n += int(page.Count)
	}
	return min(n, limit), nil
}

// ListParkedKeys queries the "pending" index (eventually consistent) as
// CountParkedEvents does, from after on: a pointer's sort key there is its
// key, '|' and its place (parkedIndexSK), so a key's pointers sit together
// in playback.CompareParkKeys order. Once a key is found live, the next
// query starts past its pointers (the key and '}', the byte after '|'),
// however many wait under it.
func (s *Store) ListParkedKeys(ctx context.Context, source, prefix, after string, limit int) ([]string, error) {
	const op = "ListParkedKeys"
	if limit <= 0 || source == "" {
		return nil, nil
	}
	from := playback.ParkKeysStart(prefix, after)
	var keys []string
	var start map[string]types.AttributeValue
	for len(keys) < limit {
		cond, names, values := "#ppk = :ppk", map[string]string{"#ppk": attrPendingPK}, item{":ppk": str(parkedIndexPK(source))}
		if from != "" { // a key condition takes no empty string
			cond += " AND #psk >= :from"
			names["#psk"], values[":from"] = attrPendingSK, str(from)
		}
		out, err := s.db().Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.table),
			IndexName:                 aws.String(indexPending),
			KeyConditionExpression:    aws.String(cond),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
			ExclusiveStartKey:         start,
			Limit:                     aws.Int32(25),
		})
		if err != nil {
			return nil, s.fail(op, err)
		}
		found := ""
		for _, it := range out.Items {
			key, _, _ := strings.Cut(strAttr(it, attrPendingSK), "|")
			if !strings.HasPrefix(key, prefix) {
				return keys, nil // past the prefix's keys
			}
			if s.live(it) {
				found = key
				break
			}
		}
		switch {
		case found != "":
			keys, from, start = append(keys, found), playback.PastParkKey(found), nil
		case out.LastEvaluatedKey == nil:
			return keys, nil
		default:
			start = out.LastEvaluatedKey
		}
	}
	return keys, nil
}

// A walk of ListParkedKeys (ParkedKeysWalk) is an item of its own, its
// after stored behind '>' so that the first page's "" is a value too,
// written only on the value read (a condition): a few writes a minute.
const attrWalkAfter = "after"

func parkWalkKey(source, prefix string) item { return keyOf("PARKWALK#"+source, "WALK#"+prefix) }

func (s *Store) ParkedKeysWalk(ctx context.Context, source, prefix string) (string, error) {
	if source == "" {
		return "", nil
	}
	out, err := s.db().GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: parkWalkKey(source, prefix), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", s.fail("ParkedKeysWalk", err)
	}
	return strings.TrimPrefix(strAttr(out.Item, attrWalkAfter), ">"), nil
}

func (s *Store) MoveParkedKeysWalk(ctx context.Context, source, prefix, from, to string) (bool, error) {
	if source == "" {
		return false, playback.Errorf(playback.CodeInvalid, "id_invalid", "dynamo.MoveParkedKeysWalk: source id is empty")
	}
	cond := "#after = :from"
	if from == "" {
		cond = "attribute_not_exists(#after) OR #after = :from"
	}
	_, err := s.db().UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       parkWalkKey(source, prefix),
		UpdateExpression:          aws.String("SET #after = :to"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#after": attrWalkAfter},
		ExpressionAttributeValues: item{":from": str(">" + from), ":to": str(">" + to)},
	})
	switch {
	case conditionFailed(err):
		return false, nil
	case err != nil:
		return false, s.fail("MoveParkedKeysWalk", err)
	}
	return true, nil
}
