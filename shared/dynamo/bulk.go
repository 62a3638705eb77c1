package dynamo

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/playplane/playplane/shared/gzipdoc"
	"github.com/playplane/playplane/shared/playback"
)

// Bulk creates: a transaction costs DynamoDB (and DynamoDB Local far more)
// about twice a plain write per item, and holds at most 100 items, so a
// catalogue of ten thousand titles took over four hundred transactions.
// CreateRecords reads the records of the set first (BatchGetItem, strongly
// consistent), writes its audit record, then the records with
// BatchWriteItem, 25 a request: one item per record, its listing
// included, as a raw batch put of the same records would write. Not
// atomic, but resumable. Every record that lands is listed in an audit
// record written before it; a failure part way leaves some records (each
// whole: a record is one item) and a rerun of the import, which diffs
// first, creates the rest.
//
// The read is what makes a create a create without the list: the diff
// reads lists, which lag creations (admin.go), so a record it missed may
// exist. One that exists with the document being written (the rest of
// an interrupted import, or a record of an old-format table) is left as
// it is, given its listing attributes if it lacks them, and is not in
// the audit record; one that exists with another document refuses the
// whole set with CodePrecondition before anything is written. Only a
// record someone creates between that read and the batch write (a few
// milliseconds) is overwritten; both writes are audited.

// bulkChanges bounds one CreateRecords: its audit record, gzipped, stays
// far under the 400 KB item limit.
const bulkChanges, bulkBytes = 1000, 1 << 20

// batchItems is BatchWriteItem's cap on one request, batchKeys
// BatchGetItem's.
const batchItems, batchKeys = 25, 100

var _ playback.BulkCreator = (*Store)(nil)

func (s *Store) BulkLimits() (changes, bytes int) { return bulkChanges, bulkBytes }

func (s *Store) CreateRecords(ctx context.Context, cs playback.ChangeSet) (playback.AuditRecord, error) {
	const op = "CreateRecords"
	cs, err := cs.Prepare(s.BulkLimits())
	if err != nil {
		return playback.AuditRecord{}, err
	}
	if err := playback.CheckBulkCreates(cs); err != nil {
		return playback.AuditRecord{}, err
	}
	keys := make([]item, len(cs.Changes))
	for i, c := range cs.Changes {
		pk, sk, _ := recordKey(c.Kind, c.ID)
		keys[i] = keyOf(pk, sk)
	}
	stored, err := s.batchGet(ctx, keys)
	if err != nil {
		return playback.AuditRecord{}, s.fail(op, err)
	}
	rec := playback.AuditRecord{ID: playback.AuditID(cs.At), Actor: cs.Actor, At: cs.At,
		Changes: make([]playback.AuditChange, 0, len(cs.Changes))}
	version := cs.At.UnixNano()
	reqs := make([]types.WriteRequest, 0, len(cs.Changes))
	var unlisted []playback.Change
	for i, c := range cs.Changes {
		if it := stored[i]; it != nil {
			if strAttr(it, attrDoc) != string(c.Doc) {
				return playback.AuditRecord{}, playback.ErrPrecondition(c.Kind, c.ID, versionString(it))
			}
			if strAttr(it, attrListPK) == "" {
				unlisted = append(unlisted, c)
			}
			continue
		}
		it, err := recordItem(c.Kind, c.ID, string(c.Doc), version)
		if err != nil {
			return playback.AuditRecord{}, err
		}
		rec.Changes = append(rec.Changes, playback.AuditChange{Kind: c.Kind, ID: c.ID, Op: playback.OpCreate, After: c.Doc,
			Version: strconv.FormatInt(version, 10)})
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
	}
	for _, c := range unlisted {
		if err := s.addListing(ctx, c.Kind, c.ID); err != nil {
			return playback.AuditRecord{}, s.fail(op, err)
		}
	}
	if len(reqs) == 0 {
		return rec, nil
	}
	raw, err := rec.AppendJSON(nil)
	if err != nil {
		return rec, err
	}
	data, err := gzipdoc.Compress(raw)
	if err != nil {
		return rec, err
	}
	// The audit record first: no record lands unaudited.
	if _, err := s.db().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table),
		Item:                mergeItems(keyOf(pkAudit, rec.ID), item{attrData: &types.AttributeValueMemberB{Value: data}}),
		ConditionExpression: aws.String("attribute_not_exists(#pk)"), ExpressionAttributeNames: map[string]string{"#pk": attrPK}}); err != nil {
		return rec, s.fail(op, err)
	}
	for len(reqs) > 0 {
		n := min(batchItems, len(reqs))
		if err := s.batchWrite(ctx, reqs[:n]); err != nil {
			return rec, s.fail(op, err)
		}
		reqs = reqs[n:]
	}
	return rec, nil
}

// addListing gives an existing record its listing attributes, leaving its
// document and version as they are (a record that is gone stays gone).
func (s *Store) addListing(ctx context.Context, kind playback.Kind, id string) error {
	pk, sk, err := recordKey(kind, id)
	if err != nil {
		return err
	}
	names, values := map[string]string{"#pk": attrPK}, item{}
	listed(kind, id, names, values)
	_, err = s.db().UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       keyOf(pk, sk),
		UpdateExpression:          aws.String("SET " + setListed),
		ConditionExpression:       aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if conditionFailed(err) {
		return nil
	}
	return err
}

// batchGet reads the items at keys with strongly consistent reads (nil
// where there is none), 100 keys a request and up to batchReaders
// requests at once, resending what DynamoDB leaves unprocessed after a
// backoff. Only the attributes CreateRecords compares are read.
func (s *Store) batchGet(ctx context.Context, keys []item) ([]item, error) {
	at := make(map[[2]string]int, len(keys))
	for i, k := range keys {
		at[[2]string{strAttr(k, attrPK), strAttr(k, attrSK)}] = i
	}
	out := make([]item, len(keys))
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	sem := make(chan struct{}, batchReaders)
	for start := 0; start < len(keys); start += batchKeys {
		pending := keys[start:min(start+batchKeys, len(keys))]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			got, err := s.batchGetOnce(ctx, pending)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			for _, it := range got {
				out[at[[2]string{strAttr(it, attrPK), strAttr(it, attrSK)}]] = it
			}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// batchReaders bounds the BatchGetItem requests of one batchGet in flight.
const batchReaders = 4

func (s *Store) batchGetOnce(ctx context.Context, pending []item) ([]item, error) {
	var out []item
	for attempt := 0; ; attempt++ {
		res, err := s.db().BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{s.table: {
			Keys: pending, ConsistentRead: aws.Bool(true),
			ProjectionExpression:     aws.String("#pk, #sk, #doc, #version, #lpk"),
			ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#sk": attrSK, "#doc": attrDoc, "#version": attrVersion, "#lpk": attrListPK},
		}}})
		if err != nil {
			return nil, err
		}
		out = append(out, res.Responses[s.table]...)
		if pending = res.UnprocessedKeys[s.table].Keys; len(pending) == 0 {
			return out, nil
		}
		if attempt+1 >= maxCASAttempts {
			return nil, playback.Unavailable(nil, "dynamo.CreateRecords: %d keys left unread", len(pending))
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

// batchWrite writes reqs, resending what DynamoDB leaves unprocessed
// after a backoff.
func (s *Store) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	for attempt := 0; ; attempt++ {
		out, err := s.db().BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{s.table: reqs}})
		if err != nil {
			return err
		}
		if reqs = out.UnprocessedItems[s.table]; len(reqs) == 0 {
			return nil
		}
		if attempt+1 >= maxCASAttempts {
			return playback.Unavailable(nil, "dynamo.CreateRecords: %d items left unprocessed", len(reqs))
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}
