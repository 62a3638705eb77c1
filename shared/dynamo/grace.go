package dynamo

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/playplane/playplane/shared/playback"
)

// The accounts whose grace end is yet to be announced
// (playback.Account.GracePending) carry grace_pk=GRACE and
// grace_sk=<GraceKey>, the keys of the sparse keys-only GSI "grace" that
// ListGracePending queries; every write of an account's document sets or
// removes them in the same request (graceSet). One partition: an account
// enters it once a past_due episode and leaves it once, and the hourly
// job reads it, far below a partition's 1,000 writes/s.
const (
	attrGracePK = "grace_pk"
	attrGraceSK = "grace_sk"
	indexGrace  = "grace"
	gracePK     = "GRACE"
)

// graceSet are the clauses of an update of an account to one of GraceKey
// key that keep its grace attributes: set, to follow "SET #doc = …",
// sets them while the account is pending, remove, a REMOVE clause,
// removes them when it is not (key ""); names and values gain what they
// use.
func graceSet(key string, names map[string]string, values item) (set, remove string) {
	names["#gpk"], names["#gsk"] = attrGracePK, attrGraceSK
	if key == "" {
		return "", " REMOVE #gpk, #gsk"
	}
	values[":gpk"], values[":gsk"] = str(gracePK), str(key)
	return ", #gpk = :gpk, #gsk = :gsk", ""
}

// graceItem adds to it, the whole item of an account of GraceKey key,
// the grace attributes while the account is pending.
func graceItem(it item, key string) item {
	if key != "" {
		it[attrGracePK], it[attrGraceSK] = str(gracePK), str(key)
	}
	return it
}

func (s *Store) ListGracePending(ctx context.Context, until time.Time, after string, limit int) (playback.RecordPage, error) {
	const op = "ListGracePending"
	if limit <= 0 {
		return playback.RecordPage{}, nil
	}
	bound := playback.GraceKeyBefore(until)
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(indexGrace),
		KeyConditionExpression:    aws.String("#gpk = :gpk AND #gsk < :bound"),
		ExpressionAttributeNames:  map[string]string{"#gpk": attrGracePK, "#gsk": attrGraceSK},
		ExpressionAttributeValues: item{":gpk": str(gracePK), ":bound": str(bound)},
	}
	if after != "" {
		// A GSI query resumes from the index keys and the table keys of
		// the last item; the key names its account.
		id := playback.GraceKeyID(after)
		in.ExclusiveStartKey = item{attrGracePK: str(gracePK), attrGraceSK: str(after),
			attrPK: str("ACCT#" + id), attrSK: str("ACCOUNT")}
	}
	// As ListRecords: one key more than the page says whether more follow.
	n := min(limit, 1000)
	in.Limit = aws.Int32(int32(n + 1))
	out, err := s.db().Query(ctx, in)
	if err != nil {
		return playback.RecordPage{}, s.fail(op, err)
	}
	listed, its, more, err := s.indexPage(ctx, out, n)
	if err != nil {
		return playback.RecordPage{}, s.fail(op, err)
	}
	var page playback.RecordPage
	for i, it := range its {
		// The index lags: the account may be gone, or announced or
		// paid since, a moment ago.
		doc := strAttr(it, attrDoc)
		if key := playback.GraceKeyOf(json.RawMessage(doc)); it == nil || key == "" || key >= bound {
			continue
		}
		page.Records = append(page.Records, playback.Record{Kind: playback.KindAccount,
			ID: strings.TrimPrefix(strAttr(listed[i], attrPK), "ACCT#"), Version: versionString(it), Doc: json.RawMessage(doc)})
	}
	if more && len(listed) > 0 {
		page.Next = strAttr(listed[len(listed)-1], attrGraceSK)
	}
	return page, nil
}

// MigrateGrace gives the accounts a release before the "grace" index
// wrote, past_due with their grace end unannounced, its attributes (run
// after MigrateListing, whose listing it walks; `playplane migrate`), and
// removes them from the accounts that release wrote out of the listing
// (it writes the document and leaves them as they were), which would
// otherwise head the index for good. It touches no document, and writes
// an account only on the document it read, so a write racing it (which
// sets the attributes itself) wins. It can run while the functions
// serve, is idempotent, and returns how many accounts it indexed or
// unlisted. Until it has run such an account is not announced by the
// grace job.
func (s *Store) MigrateGrace(ctx context.Context) (int, error) {
	const op = "MigrateGrace"
	moved := 0
	for after := ""; ; {
		page, err := s.ListRecords(ctx, playback.KindAccount, after, 1000)
		if err != nil {
			return moved, s.fail(op, err)
		}
		for _, r := range page.Records {
			indexed, err := s.migrateGraceOf(ctx, r, "")
			if err != nil {
				return moved, s.fail(op, err)
			}
			if indexed {
				moved++
			}
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	// Every account the index holds, pending or not: the ones not pending
	// are what an older release left.
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(indexGrace),
		KeyConditionExpression:    aws.String("#gpk = :gpk"),
		ExpressionAttributeNames:  map[string]string{"#gpk": attrGracePK},
		ExpressionAttributeValues: item{":gpk": str(gracePK)},
	}
	for {
		out, err := s.db().Query(ctx, in)
		if err != nil {
			return moved, s.fail(op, err)
		}
		_, its, _, err := s.indexPage(ctx, out, len(out.Items))
		if err != nil {
			return moved, s.fail(op, err)
		}
		for i, it := range its {
			doc := strAttr(it, attrDoc)
			if it == nil || playback.GraceKeyOf(json.RawMessage(doc)) != "" {
				continue // gone, or pending: indexed by the walk above
			}
			r := playback.Record{Kind: playback.KindAccount, ID: strings.TrimPrefix(strAttr(out.Items[i], attrPK), "ACCT#"), Doc: json.RawMessage(doc)}
			unlisted, err := s.migrateGraceOf(ctx, r, strAttr(it, attrGraceSK))
			if err != nil {
				return moved, s.fail(op, err)
			}
			if unlisted {
				moved++
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return moved, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// migrateGraceOf gives the account r, as MigrateGrace read it, the grace
// attributes its document calls for, on the condition that its document
// is still the one read (so never to an account deleted since, which it
// would create), and says whether it wrote. stale is the grace_sk it
// holds though not pending ("" if none was read): removed, on condition
// it is still that.
func (s *Store) migrateGraceOf(ctx context.Context, r playback.Record, stale string) (bool, error) {
	key := playback.GraceKeyOf(r.Doc)
	if key == "" && stale == "" {
		return false, nil
	}
	names := map[string]string{"#pk": attrPK, "#doc": attrDoc}
	values := item{":doc": str(string(r.Doc))}
	set, remove := graceSet(key, names, values)
	update, cond := "SET "+strings.TrimPrefix(set, ", "), " AND (attribute_not_exists(#gsk) OR #gsk <> :gsk)"
	if key == "" {
		update, cond, values[":stale"] = strings.TrimPrefix(remove, " "), " AND #gsk = :stale", str(stale)
	}
	_, err := s.db().UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       keyOf("ACCT#"+r.ID, "ACCOUNT"),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("attribute_exists(#pk) AND #doc = :doc" + cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	switch {
	case err == nil:
		return true, nil
	case conditionFailed(err):
		return false, nil
	}
	return false, err
}
