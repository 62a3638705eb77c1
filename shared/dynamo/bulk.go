package dynamo

import (
	"context"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/playplane/playplane/shared/gzipdoc"
	"github.com/playplane/playplane/shared/playback"
)

// Bulk creates: a transaction costs DynamoDB (and DynamoDB Local far more)
// about twice a plain write per item, and holds at most 100 items, so a
// catalogue of ten thousand titles took over four hundred transactions.
// CreateRecords writes the audit record first, then the records and their
// listing entries with BatchWriteItem, 25 items a request: not atomic, but
// resumable. Every record that lands is listed in an audit record written
// before it; a failure part way leaves some records (each whole: a record
// is one item) and a rerun of the import, which diffs first, creates the
// rest. A listing entry left without its record is skipped by ListRecords,
// and a record left without its entry is not listed, so the rerun creates
// it again, entry and all.

// bulkChanges bounds one CreateRecords: its audit record, gzipped, stays
// far under the 400 KB item limit.
const bulkChanges, bulkBytes = 1000, 1 << 20

// batchItems is BatchWriteItem's cap on one request.
const batchItems = 25

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
	rec := playback.AuditRecord{ID: playback.AuditID(cs.At), Actor: cs.Actor, At: cs.At,
		Changes: make([]playback.AuditChange, 0, len(cs.Changes))}
	version := cs.At.UnixNano()
	reqs := make([]types.WriteRequest, 0, 2*len(cs.Changes))
	for _, c := range cs.Changes {
		pk, sk, _ := recordKey(c.Kind, c.ID)
		rec.Changes = append(rec.Changes, playback.AuditChange{Kind: c.Kind, ID: c.ID, Op: playback.OpCreate, After: c.Doc,
			Version: strconv.FormatInt(version, 10)})
		reqs = append(reqs,
			types.WriteRequest{PutRequest: &types.PutRequest{Item: mergeItems(keyOf(pk, sk), item{attrDoc: str(string(c.Doc)), attrVersion: num(version)})}},
			types.WriteRequest{PutRequest: &types.PutRequest{Item: listKey(c.Kind, c.ID)}})
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
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table),
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

// batchWrite writes reqs, resending what DynamoDB leaves unprocessed
// after a backoff.
func (s *Store) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	for attempt := 0; ; attempt++ {
		out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{s.table: reqs}})
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
