package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/playplane/playplane/shared/gzipdoc"
	"github.com/playplane/playplane/shared/playback"
)

// putAudits writes n audit records, each an item of about pad bytes more,
// and returns their ids newest first.
func putAudits(t *testing.T, s *Store, n, pad int) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for i := n; i >= 1; i-- {
		at := time.UnixMilli(int64(i)).UTC()
		rec := playback.AuditRecord{ID: playback.AuditID(at), Actor: "test", At: at}
		raw, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		data, err := gzipdoc.Compress(raw)
		if err != nil {
			t.Fatal(err)
		}
		// Random bytes, as a change set's documents gzipped: they count in
		// the item's size.
		filler := make([]byte, pad)
		_, _ = rand.Read(filler)
		if _, err := s.db().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table),
			Item: mergeItems(keyOf(pkAudit, rec.ID), item{attrData: &types.AttributeValueMemberB{Value: data},
				"pad": &types.AttributeValueMemberB{Value: filler}})}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.ID)
	}
	return ids
}

// listAudit pages through every audit record, limit a page, failing on an
// empty page.
func listAudit(t *testing.T, s *Store, limit int) []string {
	t.Helper()
	var got []string
	for before, pages := "", 1; ; pages++ {
		p, err := s.ListAudit(context.Background(), before, limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Records) == 0 {
			t.Errorf("page %d (before %q) is empty", pages, before)
		}
		for _, r := range p.Records {
			got = append(got, r.ID)
		}
		if before = p.Next; before == "" {
			return got
		}
	}
}

// TestAuditPagesCutByTheReadLimit: a Query stops once it has read 1 MB,
// short of its Limit; audit items are up to 400 KB, so a page of a few
// of them is cut, and the next page goes on from it.
func TestAuditPagesCutByTheReadLimit(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ids := putAudits(t, s, 6, 350<<10) // DynamoDB Local cuts after 3
	if got := listAudit(t, s, 10); !slices.Equal(got, ids) {
		t.Errorf("listed %q, want %q", got, ids)
	}
}

// TestAuditLastPageCutByTheReadLimit: a Query that stops at its 1 MB read
// has a LastEvaluatedKey even when no item follows ("If LastEvaluatedKey
// is not empty, it does not necessarily mean that there is more data in
// the result set", AWS Query.Pagination). DynamoDB Local leaves it out
// when nothing follows, so the client here adds it to every answer that
// has items and none, as DynamoDB may: the last page still has Next "".
func TestAuditLastPageCutByTheReadLimit(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ids := putAudits(t, s, 3, 0)
	s.useClient(dynamodb.New(s.db().Options(), func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("lastEvaluatedKeyAlways",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleInitialize(ctx, in)
					if q, ok := out.Result.(*dynamodb.QueryOutput); ok && len(q.Items) > 0 && len(q.LastEvaluatedKey) == 0 {
						last := q.Items[len(q.Items)-1]
						q.LastEvaluatedKey = keyOf(strAttr(last, attrPK), strAttr(last, attrSK))
					}
					return out, md, err
				}), middleware.After)
		})
	}))
	for _, limit := range []int{3, 10} {
		if got := listAudit(t, s, limit); !slices.Equal(got, ids) {
			t.Errorf("limit %d: listed %q, want %q", limit, got, ids)
		}
	}
}
