package dynamo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/playplane/playplane/shared/playback"
)

func inboxKey(source, id string) item { return keyOf("EVT#"+source, id) }

// pendingSortKey orders the pending index by receipt time, then id; the
// fixed width makes string order numeric order.
func pendingSortKey(receivedAt time.Time, id string) string {
	return fmt.Sprintf("%020d#%s", nanos(receivedAt), id)
}

func timeOf(it item, name string) time.Time {
	n, ok := numAttr(it, name)
	if !ok || n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// ttlAt is the TTL attribute of a record that may go at t.
func ttlAt(t time.Time) types.AttributeValue { return num(t.Add(time.Second - 1).Unix()) }

// Inbox items keep ProcessedAt and ExpiresAt as attributes beside the doc,
// so that marking an event is one conditional update without a read.
func decodeEvent(it item, id string) (playback.InboxEvent, error) {
	ev, err := decode[playback.InboxEvent](it, "event", id)
	ev.ProcessedAt, ev.ExpiresAt = timeOf(it, attrProcessed), timeOf(it, attrExpiresAt)
	ev.ParkedKey, ev.ParkedAt = strAttr(it, attrParkedKey), timeOf(it, attrParkedAt)
	ev.ParkedSince = timeOf(it, attrParkedSince)
	return ev, err
}

func (s *Store) RecordEvent(ctx context.Context, ev playback.InboxEvent) (playback.InboxEvent, bool, error) {
	const op = "RecordEvent"
	if ev.Source == "" || ev.ID == "" {
		return ev, false, playback.Errorf(playback.CodeInvalid, "event_invalid", "dynamo.%s: source and id are required", op)
	}
	body := ev
	body.ProcessedAt, body.ExpiresAt = time.Time{}, time.Time{}
	// Events are recorded unparked: parking is ParkEvent's, with its pointer.
	body.Unpark()
	doc, err := docAttr(body)
	if err != nil {
		return ev, false, s.fail(op, err)
	}
	it := mergeItems(inboxKey(ev.Source, ev.ID), item{attrDoc: doc})
	if ev.ProcessedAt.IsZero() {
		it[attrPendingPK], it[attrPendingSK] = str(ev.Source), str(pendingSortKey(ev.ReceivedAt, ev.ID))
	} else {
		it[attrProcessed] = num(nanos(ev.ProcessedAt))
	}
	if !ev.ExpiresAt.IsZero() {
		it[attrExpiresAt], it[attrTTL] = num(nanos(ev.ExpiresAt)), ttlAt(ev.ExpiresAt)
	}
	_, err = s.db().PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item:      it,
		// An expired record TTL has not deleted yet counts as absent.
		ConditionExpression:                 aws.String("attribute_not_exists(#pk) OR #ttl <= :now"),
		ExpressionAttributeNames:            map[string]string{"#pk": attrPK, "#ttl": attrTTL},
		ExpressionAttributeValues:           item{":now": num(s.now().Unix())},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return ev, true, nil
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return ev, false, s.fail(op, err)
	}
	old := ccf.Item
	if len(old) == 0 {
		if old, err = s.get(ctx, "EVT#"+ev.Source, ev.ID, "event", ev.ID); err != nil {
			return ev, false, s.fail(op, err)
		}
	}
	stored, err := decodeEvent(old, ev.ID)
	return stored, false, s.fail(op, err)
}

func (s *Store) GetEvent(ctx context.Context, source, id string) (playback.InboxEvent, error) {
	it, err := s.get(ctx, "EVT#"+source, id, "event", id)
	if err != nil {
		return playback.InboxEvent{}, s.fail("GetEvent", err)
	}
	ev, err := decodeEvent(it, id)
	return ev, s.fail("GetEvent", err)
}

func (s *Store) MarkEventProcessed(ctx context.Context, source, id string, at, expiresAt time.Time) error {
	const op = "MarkEventProcessed"
	if source == "" || id == "" {
		return playback.NotFound("event", id)
	}
	update := func() (string, map[string]string, item) {
		set := "SET #processed = :at"
		names := map[string]string{"#pk": attrPK, "#processed": attrProcessed, "#ppk": attrPendingPK, "#psk": attrPendingSK,
			"#pkey": attrParkedKey}
		values := item{":at": num(nanos(at))}
		if !expiresAt.IsZero() {
			set += ", #exp = :exp, #ttl = :ttl"
			names["#exp"], names["#ttl"] = attrExpiresAt, attrTTL
			values[":exp"], values[":ttl"] = num(nanos(expiresAt)), ttlAt(expiresAt)
		}
		return set, names, values
	}
	for attempt := 0; ; attempt++ {
		// An unparked event is one conditional update without a read.
		set, names, values := update()
		_, err := s.db().UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.table),
			Key:                       inboxKey(source, id),
			UpdateExpression:          aws.String(set + " REMOVE #ppk, #psk"),
			ConditionExpression:       aws.String("attribute_exists(#pk) AND attribute_not_exists(#processed) AND attribute_not_exists(#pkey)"),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		})
		if !conditionFailed(err) {
			return s.fail(op, err)
		}
		// An earlier mark won (fine: the first call wins), there is no such
		// event, or it is parked: then its pointer goes with the mark.
		st, err := s.readParked(ctx, source, id)
		switch {
		case err != nil:
			return s.fail(op, err)
		case !st.exists:
			return playback.NotFound("event", id)
		case st.processed:
			return nil
		case st.key != "":
			set, names, values = update()
			names["#pat"] = attrParkedAt
			err = s.markParkedProcessed(ctx, source, id, st, set, names, values)
			if err := s.retryParkTx(ctx, op, id, attempt, err); err != errRetry {
				return err
			}
		default:
			// Parked a moment ago and processed since: read again.
			if attempt+1 >= maxCASAttempts {
				return playback.Unavailable(nil, "dynamo.%s: event %q is contended", op, id)
			}
			if err := backoff(ctx, attempt); err != nil {
				return s.fail(op, err)
			}
		}
	}
}

func (s *Store) ListPendingEvents(ctx context.Context, source string, receivedBefore time.Time, limit int) ([]playback.InboxEvent, error) {
	const op = "ListPendingEvents"
	if limit <= 0 || source == "" {
		return nil, nil
	}
	// The index is eventually consistent: an event marked a moment ago may
	// still show. The sweeper republishes it and its consumers find it
	// processed in the inbox, so that costs a message, never a double apply.
	return s.collectEvents(ctx, op, dynamodb.NewQueryPaginator(s.db(), &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(indexPending),
		KeyConditionExpression:    aws.String("#ppk = :source AND #psk < :before"),
		ExpressionAttributeNames:  map[string]string{"#ppk": attrPendingPK, "#psk": attrPendingSK},
		ExpressionAttributeValues: item{":source": str(source), ":before": str(fmt.Sprintf("%020d", nanos(receivedBefore)))},
		Limit:                     aws.Int32(int32(min(limit, 1000))),
	}), limit, attrSK, func(it item) bool {
		// The index lags: skip what was processed or parked since.
		return !s.live(it) || it[attrProcessed] != nil || it[attrParkedKey] != nil
	})
}

// collectEvents pages through a query of inbox event items (the event's
// id in attribute idAttr) until limit events, leaving out those skip names.
// Callers build the query where they state it, so that reading the code
// shows which query (and which index) each one makes.
func (s *Store) collectEvents(ctx context.Context, op string, p *dynamodb.QueryPaginator, limit int, idAttr string,
	skip func(item) bool) ([]playback.InboxEvent, error) {
	var out []playback.InboxEvent
	for p.HasMorePages() && len(out) < limit {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.fail(op, err)
		}
		for _, it := range page.Items {
			if skip != nil && skip(it) {
				continue
			}
			ev, err := decodeEvent(it, strAttr(it, idAttr))
			if err != nil {
				return nil, s.fail(op, err)
			}
			if out = append(out, ev); len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

func (s *Store) PutEdge(ctx context.Context, e playback.Edge) error {
	return s.putCatalogDoc(ctx, "PutEdge", playback.KindEdge, e.ID, e)
}

func (s *Store) GetEdge(ctx context.Context, id string) (playback.Edge, error) {
	pk, sk := edgeKey(id)
	return getDoc[playback.Edge](ctx, s, "GetEdge", pk, sk, "edge", id)
}

func (s *Store) UpdateEdge(ctx context.Context, id string, fn func(*playback.Edge) error) (playback.Edge, error) {
	pk, sk := edgeKey(id)
	return update(ctx, s, "UpdateEdge", pk, sk, "edge", id, func(e *playback.Edge) { e.ID = id }, fn, nil)
}

// ListEdges reads the edge shards in parallel, sorted by id.
func (s *Store) ListEdges(ctx context.Context) ([]playback.Edge, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		out   []playback.Edge
		first error
	)
	for shard := range edgeShards {
		wg.Go(func() {
			edges, err := s.edgeShard(ctx, shard)
			mu.Lock()
			defer mu.Unlock()
			out = append(out, edges...)
			if err != nil && first == nil {
				first = err
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, s.fail("ListEdges", first)
	}
	slices.SortFunc(out, func(a, b playback.Edge) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func (s *Store) edgeShard(ctx context.Context, shard int) ([]playback.Edge, error) {
	p := dynamodb.NewQueryPaginator(s.db(), &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: item{":pk": str("EDGES#" + strconv.Itoa(shard))},
	})
	var out []playback.Edge
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			e, err := decode[playback.Edge](it, "edge", strAttr(it, attrSK))
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// putIfNewer writes it unless the stored record's device time is not older.
// It returns whether it wrote, and the record it replaced or kept (nil if
// there was none).
func (s *Store) putIfNewer(ctx context.Context, it item, deviceTime time.Time) (applied bool, prev item, err error) {
	it[attrDevice] = num(nanos(deviceTime))
	// A record past its TTL that DynamoDB has not deleted yet is absent.
	return s.putWhere(ctx, it, "attribute_not_exists(#pk) OR #dt < :dt OR #ttl <= :now",
		map[string]string{"#pk": attrPK, "#dt": attrDevice, "#ttl": attrTTL}, item{":dt": it[attrDevice], ":now": num(s.now().Unix())})
}

// putWhere writes it on the condition cond. It returns whether it wrote,
// and the record it replaced or kept (nil if there was none).
func (s *Store) putWhere(ctx context.Context, it item, cond string, names map[string]string, values item) (applied bool, prev item, err error) {
	out, err := s.db().PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.table),
		Item:                                it,
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValues:                        types.ReturnValueAllOld,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return true, out.Attributes, nil
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return false, nil, err
	}
	if len(ccf.Item) > 0 {
		return false, ccf.Item, nil
	}
	out2, err := s.db().GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		Key: keyOf(strAttr(it, attrPK), strAttr(it, attrSK)),
	})
	if err != nil {
		return false, nil, err
	}
	return false, out2.Item, nil
}

func (s *Store) SaveProgress(ctx context.Context, p playback.Progress) (bool, error) {
	const op = "SaveProgress"
	if p.AccountID == "" || p.TitleID == "" {
		return false, playback.Errorf(playback.CodeInvalid, "progress_invalid", "dynamo.%s: account and title ids are required", op)
	}
	doc, err := docAttr(p)
	if err != nil {
		return false, s.fail(op, err)
	}
	applied, _, err := s.putIfNewer(ctx, mergeItems(keyOf("ACCT#"+p.AccountID, "PROG#"+p.TitleID), item{attrDoc: doc}), p.DeviceTime)
	return applied, s.fail(op, err)
}

func (s *Store) GetProgress(ctx context.Context, accountID, titleID string) (playback.Progress, error) {
	if accountID == "" {
		return playback.Progress{}, playback.NotFound("progress", titleID)
	}
	return getDoc[playback.Progress](ctx, s, "GetProgress", "ACCT#"+accountID, "PROG#"+titleID, "progress", titleID)
}

func (s *Store) SaveSessionQoE(ctx context.Context, q playback.SessionQoE, on time.Time) (playback.SessionQoE, bool, error) {
	const op = "SaveSessionQoE"
	if q.SessionID == "" {
		return playback.SessionQoE{}, false, playback.Errorf(playback.CodeInvalid, "qoe_invalid", "dynamo.%s: session id is required", op)
	}
	doc, err := docAttr(q)
	if err != nil {
		return playback.SessionQoE{}, false, s.fail(op, err)
	}
	// QoE lives as long as the session record it describes.
	it := mergeItems(keyOf("SES#"+q.SessionID, "QOE"), item{attrDoc: doc, attrTTL: s.ttlAfter(maxTime(q.UpdatedAt, s.now())),
		attrDevice: num(nanos(q.DeviceTime))})
	// Over the state read, in the write: none (or one past its TTL) when on
	// is zero, else the one of device time on, which q must be newer than.
	cond, names, values := "attribute_not_exists(#pk) OR #ttl <= :now", map[string]string{"#pk": attrPK, "#ttl": attrTTL},
		item{":now": num(s.now().Unix())}
	if !on.IsZero() {
		cond, names = "#dt = :on AND #dt < :dt AND #ttl > :now", map[string]string{"#dt": attrDevice, "#ttl": attrTTL}
		values[":on"], values[":dt"] = num(nanos(on)), it[attrDevice]
	}
	applied, old, err := s.putWhere(ctx, it, cond, names, values)
	if err != nil {
		return playback.SessionQoE{}, false, s.fail(op, err)
	}
	var prev playback.SessionQoE
	if s.live(old) {
		if prev, err = decode[playback.SessionQoE](old, "session_qoe", q.SessionID); err != nil {
			return playback.SessionQoE{}, false, s.fail(op, err)
		}
	}
	if !applied && !prev.DeviceTime.Equal(on) {
		return prev, false, playback.ErrQoEMoved(q.SessionID, prev.DeviceTime, on)
	}
	return prev, applied, nil
}

func (s *Store) GetSessionQoE(ctx context.Context, sessionID string) (playback.SessionQoE, error) {
	return getDoc[playback.SessionQoE](ctx, s, "GetSessionQoE", "SES#"+sessionID, "QOE", "session_qoe", sessionID)
}

// The whole bounded list of unknown edges is one item, read and replaced
// whole on its version: a few notes a minute at most (one per edge per
// consumer batch).
const unknownEdgesPK, unknownEdgesSK = "UNKNOWN_EDGES", "ALL"

func (s *Store) NoteUnknownEdge(ctx context.Context, id string, at time.Time, reports int64) error {
	const op = "NoteUnknownEdge"
	for attempt := 0; ; attempt++ {
		it, err := s.get(ctx, unknownEdgesPK, unknownEdgesSK, "unknown edges", "all")
		if err != nil && !playback.IsCode(err, playback.CodeNotFound) {
			return s.fail(op, err)
		}
		var list []playback.UnknownEdge
		if it != nil {
			if list, err = decode[[]playback.UnknownEdge](it, "unknown edges", "all"); err != nil {
				return s.fail(op, err)
			}
		}
		doc, err := docAttr(playback.NoteUnknownEdge(list, id, at, reports))
		if err != nil {
			return s.fail(op, err)
		}
		in := &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.table),
			Key:                       keyOf(unknownEdgesPK, unknownEdgesSK),
			ExpressionAttributeNames:  map[string]string{"#doc": attrDoc, "#version": attrVersion},
			ExpressionAttributeValues: item{":doc": doc, ":one": num(1)},
			UpdateExpression:          aws.String("SET #doc = :doc ADD #version :one"),
			// Written on the version read, created only if still absent.
			ConditionExpression: aws.String("attribute_not_exists(#version)"),
		}
		if version, ok := numAttr(it, attrVersion); ok {
			in.ConditionExpression = aws.String("#version = :v")
			in.ExpressionAttributeValues[":v"] = num(version)
		}
		_, err = s.db().UpdateItem(ctx, in)
		if err == nil {
			return nil
		}
		if !conditionFailed(err) || attempt >= 20 {
			return s.fail(op, err)
		}
	}
}

func (s *Store) ListUnknownEdges(ctx context.Context) ([]playback.UnknownEdge, error) {
	list, err := getDoc[[]playback.UnknownEdge](ctx, s, "ListUnknownEdges", unknownEdgesPK, unknownEdgesSK, "unknown edges", "all")
	if playback.IsCode(err, playback.CodeNotFound) {
		return nil, nil
	}
	return list, err
}
