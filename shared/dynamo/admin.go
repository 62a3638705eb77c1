package dynamo

// Admin port on DynamoDB:
//
//	<record key>     (store.go)    a plan, title, account or edge, with list_pk=<kind> and
//	                               list_sk=<id>: its entry in the sparse keys-only GSI "list"
//	                               (ListRecords pages there), part of the record's own item
//	PLAN#<id>        ACCOUNTS      "n": the accounts on the plan, moved in the same transaction
//	                               as every account write that changes an account's plan
//	AUDIT            <audit id>    audit record (gzipped JSON in "data"), written in the
//	                               transaction of the change it records; newest first by sk
//	CZF              <version>     coverage zone file version (gzipped in "data", meta in "doc")
//
// Lists: the listing is an attribute of the record, so a record and its
// listing entry are one item, written together by whatever writes the
// record: a create is one item (a bulk import writes one item per
// record, as a raw batch put would). The index is eventually consistent
// (DynamoDB propagates GSI writes asynchronously, usually well under a
// second): a record created moments ago may be missing from a list, and
// a deleted one still named by it. ListRecords reads every record the
// index names with a strongly consistent GetItem, so what it returns is
// current and a deleted record is left out; only a fresh creation can
// lag. No write depends on a list being complete: changes are
// conditioned on the record itself (version or absence), CreateRecords
// reads the records it creates consistently first (bulk.go), and the
// plan counters below count accounts. The index is keys only, so writes
// that keep a record's keys (edge health reports, plays, payments) write
// nothing to it.
//
// Tables written before the index (a "LIST#<kind>" / <id> item beside
// each record, no list attributes on the record) are brought over by
// MigrateListing (migrate.go; `playplane migrate`).
//
// Versions: every record carries the numeric "version" update already
// compares, bumped by every write path; its decimal form is the record's
// opaque version. Records created through ApplyChanges start at the
// creation's nanosecond time, so a record deleted and made again never
// repeats the versions of the one before.
//
// Deleting a plan deletes its counter in the same transaction on the
// condition that it is absent or zero, so no account write can slip in
// between the count and the delete. Accounts written before this counter
// existed are not counted: a deployment with such accounts rewrites them
// (an UpdateAccount that changes nothing but the plan back and forth, or a
// re-import) before it relies on the refusal.
//
// Hot partitions: the index partition of a kind, AUDIT and CZF take one
// write per change; DynamoDB's per-partition limit (1,000 writes/s)
// bounds bulk imports, never the playback paths, which write none of
// them.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/playplane/playplane/shared/gzipdoc"
	"github.com/playplane/playplane/shared/playback"
)

const (
	attrCount = "n"    // plan counter: accounts on the plan
	attrData  = "data" // audit and coverage zones: gzipped payload
	pkAudit   = "AUDIT"
	pkCZF     = "CZF"
	// maxTransactItems is DynamoDB's cap on one transaction.
	maxTransactItems = 100
	// readers bounds the GetItem calls one listing or change set runs at once.
	readers = 16
)

// recordKey is where a managed record lives.
func recordKey(kind playback.Kind, id string) (pk, sk string, err error) {
	switch kind {
	case playback.KindPlan:
		return "PLAN#" + id, "PLAN", nil
	case playback.KindTitle:
		return "TITLE#" + id, "TITLE", nil
	case playback.KindAccount:
		return "ACCT#" + id, "ACCOUNT", nil
	case playback.KindEdge:
		pk, sk := edgeKey(id)
		return pk, sk, nil
	}
	return "", "", playback.Errorf(playback.CodeInvalid, "kind_invalid", "kind %q", kind)
}

func counterKey(planID string) item { return keyOf("PLAN#"+planID, "ACCOUNTS") }

// recordItem is the whole item of a managed record: key, document,
// version, listing attributes and an account's grace attributes.
func recordItem(kind playback.Kind, id string, doc string, version int64) (item, error) {
	pk, sk, err := recordKey(kind, id)
	if err != nil {
		return nil, err
	}
	it := item{attrPK: str(pk), attrSK: str(sk), attrDoc: str(doc), attrVersion: num(version),
		attrListPK: str(string(kind)), attrListSK: str(id)}
	if kind == playback.KindAccount {
		graceItem(it, playback.GraceKeyOf(json.RawMessage(doc)))
	}
	return it, nil
}

// listed are the expression names and values that set a record's listing
// attributes ("#lpk = :lpk, #lsk = :lsk"), added to names and values.
func listed(kind playback.Kind, id string, names map[string]string, values item) {
	names["#lpk"], names["#lsk"] = attrListPK, attrListSK
	values[":lpk"], values[":lsk"] = str(string(kind)), str(id)
}

const setListed = "#lpk = :lpk, #lsk = :lsk"

func versionString(it item) string {
	v, _ := numAttr(it, attrVersion)
	return strconv.FormatInt(v, 10)
}

// counterDelta moves the account count of planID by d.
func (s *Store) counterDelta(planID string, d int64) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(s.table),
		Key:                       counterKey(planID),
		UpdateExpression:          aws.String("ADD #n :d"),
		ExpressionAttributeNames:  map[string]string{"#n": attrCount},
		ExpressionAttributeValues: item{":d": num(d)},
	}}
}

// planCounters are the counter moves of an account going from before to
// after (none when its plan stays).
func (s *Store) planCounters(before, after *playback.Account) []types.TransactWriteItem {
	deltas := map[string]int64{}
	deltas[before.PlanID]--
	deltas[after.PlanID]++
	return s.planMoves(deltas)
}

func (s *Store) planMoves(deltas map[string]int64) []types.TransactWriteItem {
	var out []types.TransactWriteItem
	for _, plan := range slices.Sorted(maps.Keys(deltas)) {
		if d := deltas[plan]; plan != "" && d != 0 {
			out = append(out, s.counterDelta(plan, d))
		}
	}
	return out
}

// putCatalogDoc is PutPlan, PutTitle and PutEdge: the record, listed, its
// version bumped so that concurrent compare-and-swaps re-read.
func (s *Store) putCatalogDoc(ctx context.Context, op string, kind playback.Kind, id string, v any) error {
	if id == "" {
		return playback.Errorf(playback.CodeInvalid, "id_required", "dynamo.%s: id is required", op)
	}
	pk, sk, err := recordKey(kind, id)
	if err != nil {
		return err
	}
	doc, err := docAttr(v)
	if err != nil {
		return s.fail(op, err)
	}
	names, values := map[string]string{"#doc": attrDoc, "#version": attrVersion}, item{":doc": doc, ":one": num(1)}
	listed(kind, id, names, values)
	_, err = s.db().UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       keyOf(pk, sk),
		UpdateExpression:          aws.String("SET #doc = :doc, " + setListed + " ADD #version :one"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	return s.fail(op, err)
}

// putAccount is PutAccount: it replaces the account, listed, on the
// condition that the version read did not move, with the counters of the
// plan it leaves and the plan it joins.
func (s *Store) putAccount(ctx context.Context, a playback.Account) error {
	const op = "PutAccount"
	if a.ID == "" {
		return playback.Errorf(playback.CodeInvalid, "id_required", "dynamo.%s: id is required", op)
	}
	doc, err := docAttr(a)
	if err != nil {
		return s.fail(op, err)
	}
	for attempt := 0; ; attempt++ {
		it, err := s.get(ctx, "ACCT#"+a.ID, "ACCOUNT", "account", a.ID)
		if err != nil && !playback.IsCode(err, playback.CodeNotFound) {
			return s.fail(op, err)
		}
		names, values := map[string]string{"#doc": attrDoc, "#version": attrVersion}, item{":doc": doc, ":one": num(1)}
		listed(playback.KindAccount, a.ID, names, values)
		set, remove := graceSet(a.GraceKey(), names, values)
		// DynamoDB refuses a request naming an attribute or value that no
		// expression uses: each condition adds only its own.
		cond, deltas := "attribute_not_exists(#pk)", map[string]int64{a.PlanID: 1}
		if it == nil {
			names["#pk"] = attrPK
		} else {
			cond, values[":v"] = "#version = :v", num(mustNum(it, attrVersion))
			deltas[playback.PlanOf(json.RawMessage(strAttr(it, attrDoc)))]--
		}
		update := &types.Update{
			TableName:                 aws.String(s.table),
			Key:                       keyOf("ACCT#"+a.ID, "ACCOUNT"),
			UpdateExpression:          aws.String("SET #doc = :doc" + set + ", " + setListed + remove + " ADD #version :one"),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}
		items := append([]types.TransactWriteItem{{Update: update}}, s.planMoves(deltas)...)
		_, err = s.db().TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		codes := transactionCodes(err)
		if err == nil || codes == nil || !slices.ContainsFunc(codes, retryCode) {
			return s.fail(op, err)
		}
		if attempt+1 >= maxCASAttempts {
			return playback.Unavailable(err, "dynamo.%s: account %q is contended", op, a.ID)
		}
		if err := backoff(ctx, attempt); err != nil {
			return s.fail(op, err)
		}
	}
}

func mustNum(it item, name string) int64 { n, _ := numAttr(it, name); return n }

func retryCode(code string) bool {
	return code == "ConditionalCheckFailed" || code == "TransactionConflict"
}

func (s *Store) GetRecord(ctx context.Context, kind playback.Kind, id string) (playback.Record, error) {
	pk, sk, err := recordKey(kind, id)
	if err != nil {
		return playback.Record{}, err
	}
	it, err := s.get(ctx, pk, sk, string(kind), id)
	if err != nil {
		return playback.Record{}, s.fail("GetRecord", err)
	}
	return playback.Record{Kind: kind, ID: id, Version: versionString(it), Doc: json.RawMessage(strAttr(it, attrDoc))}, nil
}

// getItems reads the items at keys (nil where there is none), a few at a
// time: the policies grant no BatchGetItem.
func (s *Store) getItems(ctx context.Context, keys []item) ([]item, error) {
	out := make([]item, len(keys))
	errs := make([]error, len(keys))
	sem := make(chan struct{}, readers)
	var wg sync.WaitGroup
	for i, k := range keys {
		if k == nil {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			res, err := s.db().GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: k, ConsistentRead: aws.Bool(true)})
			if err != nil {
				errs[i] = err
				return
			}
			if s.live(res.Item) {
				out[i] = res.Item
			}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func (s *Store) ListRecords(ctx context.Context, kind playback.Kind, after string, limit int) (playback.RecordPage, error) {
	const op = "ListRecords"
	if !kind.Valid() {
		return playback.RecordPage{}, playback.Errorf(playback.CodeInvalid, "kind_invalid", "kind %q", kind)
	}
	if limit <= 0 {
		return playback.RecordPage{}, nil
	}
	cond, names, values := "#lpk = :kind", map[string]string{"#lpk": attrListPK}, item{":kind": str(string(kind))}
	if after != "" {
		cond, names["#lsk"], values[":after"] = cond+" AND #lsk > :after", attrListSK, str(after)
	}
	// A query that stops at Limit has a LastEvaluatedKey whether or not
	// more items follow: one key more than the page says whether they do.
	n := min(limit, 1000)
	// The index is eventually consistent (no ConsistentRead on a GSI): it
	// names the records, which are then read consistently.
	out, err := s.db().Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(indexList),
		KeyConditionExpression:    aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		Limit:                     aws.Int32(int32(n + 1)),
	})
	if err != nil {
		return playback.RecordPage{}, s.fail(op, err)
	}
	listed, its, more, err := s.indexPage(ctx, out, n)
	if err != nil {
		return playback.RecordPage{}, s.fail(op, err)
	}
	var page playback.RecordPage
	for i, it := range its {
		// The index may still name a record deleted a moment ago.
		if it != nil {
			page.Records = append(page.Records, playback.Record{Kind: kind, ID: strAttr(listed[i], attrListSK),
				Version: versionString(it), Doc: json.RawMessage(strAttr(it, attrDoc))})
		}
	}
	if more && len(listed) > 0 {
		page.Next = strAttr(listed[len(listed)-1], attrListSK)
	}
	return page, nil
}

// indexPage reads the records behind out, a query of n+1 keys of a
// keys-only index: its first n keys (listed), their items (its, nil where
// the index names a record gone a moment ago), and whether more follow.
// Short of n+1 keys, a LastEvaluatedKey means the query stopped at its
// 1 MB read, and more may follow.
func (s *Store) indexPage(ctx context.Context, out *dynamodb.QueryOutput, n int) (listed, its []item, more bool, err error) {
	listed = out.Items[:min(len(out.Items), n)]
	more = len(out.Items) > n || len(out.LastEvaluatedKey) > 0
	keys := make([]item, len(listed))
	for i, it := range listed {
		keys[i] = keyOf(strAttr(it, attrPK), strAttr(it, attrSK))
	}
	its, err = s.getItems(ctx, keys)
	return listed, its, more, err
}

// ChangeSetLimits: each change is one item (its record, listing included)
// and each account change up to two plan counters more; with the audit
// record MaxChangeSetChanges keeps a transaction within DynamoDB's 100
// items.
func (s *Store) ChangeSetLimits() (changes, bytes int) {
	return playback.MaxChangeSetChanges, playback.MaxChangeSetBytes
}

// itemRole says what a transaction item was for, to read its cancellation.
type itemRole struct {
	change  int    // index of the change, -1 for others
	counter string // plan whose counter this item deletes, for a plan delete
}

func (s *Store) ApplyChanges(ctx context.Context, cs playback.ChangeSet) (playback.AuditRecord, error) {
	const op = "ApplyChanges"
	cs, err := cs.Prepare(s.ChangeSetLimits())
	if err != nil {
		return playback.AuditRecord{}, err
	}
	keys := make([]item, len(cs.Changes))
	for i, c := range cs.Changes {
		// A create's condition (absent) is checked by the transaction;
		// nothing to read before.
		if !c.IfAbsent {
			pk, sk, _ := recordKey(c.Kind, c.ID)
			keys[i] = keyOf(pk, sk)
		}
	}
	for attempt := 0; ; attempt++ {
		current, err := s.getItems(ctx, keys)
		if err != nil {
			return playback.AuditRecord{}, s.fail(op, err)
		}
		rec, items, roles, err := s.changeItems(cs, current)
		if err != nil {
			return playback.AuditRecord{}, err
		}
		_, err = s.db().TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return rec, nil
		}
		codes := transactionCodes(err)
		if codes == nil {
			return playback.AuditRecord{}, s.fail(op, err)
		}
		for i, code := range codes {
			if code != "ConditionalCheckFailed" || i >= len(roles) {
				continue
			}
			r := roles[i]
			switch {
			case r.counter != "":
				n, err := s.accountsOnPlan(ctx, r.counter)
				if err != nil {
					return playback.AuditRecord{}, s.fail(op, err)
				}
				if n > 0 {
					return playback.AuditRecord{}, playback.ErrPlanInUse(r.counter, int(n))
				}
			case r.change >= 0:
				c := cs.Changes[r.change]
				if c.IfAbsent || c.IfMatch != "" {
					// The record moved since the caller read it: say what it is now.
					now, err := s.GetRecord(ctx, c.Kind, c.ID)
					if err != nil && !playback.IsCode(err, playback.CodeNotFound) {
						return playback.AuditRecord{}, err
					}
					if err := c.CheckPrecondition(now.Version); err != nil {
						return playback.AuditRecord{}, err
					}
				}
			}
		}
		if !slices.ContainsFunc(codes, retryCode) {
			return playback.AuditRecord{}, s.fail(op, err)
		}
		if attempt+1 >= maxCASAttempts {
			return playback.AuditRecord{}, playback.Unavailable(err, "dynamo.%s: records are contended", op)
		}
		if err := backoff(ctx, attempt); err != nil {
			return playback.AuditRecord{}, s.fail(op, err)
		}
	}
}

func (s *Store) accountsOnPlan(ctx context.Context, planID string) (int64, error) {
	out, err := s.db().GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: counterKey(planID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, err
	}
	n, _ := numAttr(out.Item, attrCount)
	return n, nil
}

// changeItems builds the transaction of cs given the records as read
// (nil: absent, or not read for a create).
func (s *Store) changeItems(cs playback.ChangeSet, current []item) (playback.AuditRecord, []types.TransactWriteItem, []itemRole, error) {
	rec := playback.AuditRecord{ID: playback.AuditID(cs.At), Actor: cs.Actor, At: cs.At,
		Changes: make([]playback.AuditChange, 0, len(cs.Changes))}
	var items []types.TransactWriteItem
	var roles []itemRole
	add := func(r itemRole, it types.TransactWriteItem) { items, roles = append(items, it), append(roles, r) }
	deltas := map[string]int64{}
	var deletedPlans []string
	for i, c := range cs.Changes {
		cur := current[i]
		version := ""
		ac := playback.AuditChange{Kind: c.Kind, ID: c.ID}
		if cur != nil {
			version = versionString(cur)
			ac.Before = json.RawMessage(strAttr(cur, attrDoc))
		}
		if err := c.CheckPrecondition(version); err != nil {
			return rec, nil, nil, err
		}
		pk, sk, _ := recordKey(c.Kind, c.ID)
		names, values := map[string]string{"#pk": attrPK}, item(nil)
		cond := "attribute_not_exists(#pk)"
		if cur != nil {
			names = map[string]string{"#version": attrVersion}
			cond, values = "#version = :v", item{":v": num(mustNum(cur, attrVersion))}
		}
		if c.Kind == playback.KindAccount && cur != nil {
			deltas[playback.PlanOf(ac.Before)]--
		}
		if c.Delete() {
			if cur == nil {
				return rec, nil, nil, playback.NotFound(string(c.Kind), c.ID)
			}
			ac.Op = playback.OpDelete
			add(itemRole{change: i}, types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.table),
				Key: keyOf(pk, sk), ConditionExpression: aws.String(cond), ExpressionAttributeNames: names, ExpressionAttributeValues: values}})
			if c.Kind == playback.KindPlan {
				deletedPlans = append(deletedPlans, c.ID)
			}
			rec.Changes = append(rec.Changes, ac)
			continue
		}
		newVersion := cs.At.UnixNano()
		ac.Op = playback.OpCreate
		if cur != nil {
			ac.Op, newVersion = playback.OpUpdate, mustNum(cur, attrVersion)+1
		}
		if c.Kind == playback.KindAccount {
			deltas[playback.PlanOf(c.Doc)]++
		}
		ac.After, ac.Version = c.Doc, strconv.FormatInt(newVersion, 10)
		it, err := recordItem(c.Kind, c.ID, string(c.Doc), newVersion)
		if err != nil {
			return rec, nil, nil, err
		}
		add(itemRole{change: i}, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: it,
			ConditionExpression: aws.String(cond), ExpressionAttributeNames: names, ExpressionAttributeValues: values}})
		rec.Changes = append(rec.Changes, ac)
	}
	for _, plan := range deletedPlans {
		if deltas[plan] != 0 {
			return rec, nil, nil, playback.Errorf(playback.CodeInvalid, "plan_delete_with_accounts",
				"plan %q is deleted in the change set that moves accounts on or off it: delete it in a set of its own", plan)
		}
		delete(deltas, plan)
		add(itemRole{change: -1, counter: plan}, types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.table),
			Key: counterKey(plan), ConditionExpression: aws.String("attribute_not_exists(#n) OR #n <= :zero"),
			ExpressionAttributeNames: map[string]string{"#n": attrCount}, ExpressionAttributeValues: item{":zero": num(0)}}})
	}
	for _, it := range s.planMoves(deltas) {
		add(itemRole{change: -1}, it)
	}
	// The documents are the prepared set's: appended as they are.
	raw, err := rec.AppendJSON(nil)
	if err != nil {
		return rec, nil, nil, err
	}
	data, err := gzipdoc.Compress(raw)
	if err != nil {
		return rec, nil, nil, err
	}
	add(itemRole{change: -1}, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table),
		Item:                mergeItems(keyOf(pkAudit, rec.ID), item{attrData: &types.AttributeValueMemberB{Value: data}}),
		ConditionExpression: aws.String("attribute_not_exists(#pk)"), ExpressionAttributeNames: map[string]string{"#pk": attrPK}}})
	if len(items) > maxTransactItems {
		return rec, nil, nil, playback.Errorf(playback.CodeInvalid, "changes_too_many",
			"the change set needs %d DynamoDB items, at most %d: split it", len(items), maxTransactItems)
	}
	return rec, items, roles, nil
}

func gunzipAttr(it item, name string) ([]byte, error) {
	b, ok := it[name].(*types.AttributeValueMemberB)
	if !ok {
		return nil, fmt.Errorf("no %s attribute", name)
	}
	return gzipdoc.Decompress(b.Value)
}

func (s *Store) ListAudit(ctx context.Context, before string, limit int) (playback.AuditPage, error) {
	const op = "ListAudit"
	if limit <= 0 {
		return playback.AuditPage{}, nil
	}
	cond, names, values := "#pk = :pk", map[string]string{"#pk": attrPK}, item{":pk": str(pkAudit)}
	if before != "" {
		cond, names["#sk"], values[":before"] = cond+" AND #sk < :before", attrSK, str(before)
	}
	query := func(limit int, start item) (*dynamodb.QueryOutput, error) {
		return s.db().Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.table),
			KeyConditionExpression:    aws.String(cond),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
			ConsistentRead:            aws.Bool(true),
			ScanIndexForward:          aws.Bool(false),
			Limit:                     aws.Int32(int32(limit)),
			ExclusiveStartKey:         start,
		})
	}
	// A query that stops at Limit has a LastEvaluatedKey whether or not
	// more items follow: one item more than the page says whether they do.
	n := min(limit, 1000)
	out, err := query(n+1, nil)
	if err != nil {
		return playback.AuditPage{}, s.fail(op, err)
	}
	listed := out.Items[:min(len(out.Items), n)]
	more := len(out.Items) > n
	if !more && len(out.LastEvaluatedKey) > 0 {
		// Short of n+1 items the query stopped at its 1 MB read (audit
		// items are up to 400 KB), which leaves a LastEvaluatedKey even
		// after the last item: one item past it says whether more follow.
		after, err := query(1, out.LastEvaluatedKey)
		if err != nil {
			return playback.AuditPage{}, s.fail(op, err)
		}
		more = len(after.Items) > 0
	}
	var page playback.AuditPage
	for _, it := range listed {
		raw, err := gunzipAttr(it, attrData)
		var r playback.AuditRecord
		if err == nil {
			err = json.Unmarshal(raw, &r)
		}
		if err != nil {
			return playback.AuditPage{}, s.fail(op, fmt.Errorf("audit %q: %w", strAttr(it, attrSK), err))
		}
		page.Records = append(page.Records, r)
	}
	if more && len(listed) > 0 {
		page.Next = strAttr(listed[len(listed)-1], attrSK)
	}
	return page, nil
}

func czfSortKey(v int64) string { return fmt.Sprintf("%020d", v) }

func (s *Store) PutCoverageZones(ctx context.Context, up playback.CoverageZonesUpload) (playback.CoverageZones, error) {
	const op = "PutCoverageZones"
	if err := up.Validate(); err != nil {
		return playback.CoverageZones{}, err
	}
	data, err := gzipdoc.Compress(up.Data)
	if err != nil {
		return playback.CoverageZones{}, s.fail(op, err)
	}
	sum := sha256.Sum256(up.Data)
	for attempt := 0; ; attempt++ {
		latest, err := s.latestCoverageZones(ctx)
		if err != nil && !playback.IsCode(err, playback.CodeNotFound) {
			return playback.CoverageZones{}, s.fail(op, err)
		}
		if up.IfVersion != 0 && up.IfVersion != latest.Version {
			return playback.CoverageZones{}, playback.ErrPrecondition(playback.KindCoverageZones, "latest", strconv.FormatInt(latest.Version, 10))
		}
		cz := playback.CoverageZones{Version: latest.Version + 1, SHA256: hex.EncodeToString(sum[:]), Size: len(up.Data),
			UploadedAt: up.At, UploadedBy: up.Actor}
		meta, err := docAttr(cz)
		if err != nil {
			return playback.CoverageZones{}, s.fail(op, err)
		}
		rec := playback.AuditRecord{ID: playback.AuditID(up.At), Actor: up.Actor, At: up.At,
			Changes: []playback.AuditChange{playback.CoverageZonesAudit(cz)}}
		audit, err := gzipdoc.Marshal(rec)
		if err != nil {
			return playback.CoverageZones{}, s.fail(op, err)
		}
		_, err = s.db().TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String(s.table),
				Item:                mergeItems(keyOf(pkCZF, czfSortKey(cz.Version)), item{attrDoc: meta, attrData: &types.AttributeValueMemberB{Value: data}}),
				ConditionExpression: aws.String("attribute_not_exists(#pk)"), ExpressionAttributeNames: map[string]string{"#pk": attrPK}}},
			{Put: &types.Put{TableName: aws.String(s.table),
				Item:                mergeItems(keyOf(pkAudit, rec.ID), item{attrData: &types.AttributeValueMemberB{Value: audit}}),
				ConditionExpression: aws.String("attribute_not_exists(#pk)"), ExpressionAttributeNames: map[string]string{"#pk": attrPK}}},
		}})
		if err == nil {
			cz.Data = up.Data
			return cz, nil
		}
		codes := transactionCodes(err)
		if codes == nil || !slices.ContainsFunc(codes, retryCode) {
			return playback.CoverageZones{}, s.fail(op, err)
		}
		if up.IfVersion != 0 && codes[0] == "ConditionalCheckFailed" {
			// Another upload took the version this one was conditioned on
			// (a TransactionConflict alone proves no such thing: retry).
			return playback.CoverageZones{}, playback.ErrPrecondition(playback.KindCoverageZones, "latest", strconv.FormatInt(cz.Version, 10))
		}
		if attempt+1 >= maxCASAttempts {
			return playback.CoverageZones{}, playback.Unavailable(err, "dynamo.%s: coverage zones are contended", op)
		}
		if err := backoff(ctx, attempt); err != nil {
			return playback.CoverageZones{}, s.fail(op, err)
		}
	}
}

func decodeCoverageZones(it item) (playback.CoverageZones, error) {
	cz, err := decode[playback.CoverageZones](it, "coverage_zones", strAttr(it, attrSK))
	if err != nil {
		return cz, err
	}
	cz.Data, err = gunzipAttr(it, attrData)
	return cz, err
}

func (s *Store) latestCoverageZones(ctx context.Context) (playback.CoverageZones, error) {
	out, err := s.db().Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: item{":pk": str(pkCZF)},
		ConsistentRead:            aws.Bool(true),
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(1),
	})
	if err != nil {
		return playback.CoverageZones{}, err
	}
	if len(out.Items) == 0 {
		return playback.CoverageZones{}, playback.NotFound("coverage_zones", "latest")
	}
	return decodeCoverageZones(out.Items[0])
}

func (s *Store) GetCoverageZones(ctx context.Context, v int64) (playback.CoverageZones, error) {
	const op = "GetCoverageZones"
	if v == 0 {
		cz, err := s.latestCoverageZones(ctx)
		return cz, s.fail(op, err)
	}
	it, err := s.get(ctx, pkCZF, czfSortKey(v), "coverage_zones", strconv.FormatInt(v, 10))
	if err != nil {
		return playback.CoverageZones{}, s.fail(op, err)
	}
	cz, err := decodeCoverageZones(it)
	return cz, s.fail(op, err)
}
