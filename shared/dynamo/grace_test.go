package dynamo

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/playplane/playplane/shared/playback"
)

// TestMigrateGraceIndexesOldAccounts: accounts a release before the
// "grace" index wrote (listed, without its attributes) are not listed by
// ListGracePending until MigrateGrace has run; then the past_due ones
// are, with documents and versions as they were, and a second run moves
// nothing.
func TestMigrateGraceIndexesOldAccounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	old := func(a playback.Account, version int64) {
		t.Helper()
		raw, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		it, err := recordItem(playback.KindAccount, a.ID, string(raw), version)
		if err != nil {
			t.Fatal(err)
		}
		delete(it, attrGracePK)
		delete(it, attrGraceSK)
		if _, err := s.db().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	old(playback.Account{ID: "acct_due", PlanID: "standard", Status: playback.StatusPastDue, PastDueSince: since, Territory: "DE"}, 4)
	old(playback.Account{ID: "acct_undated", PlanID: "standard", Status: playback.StatusPastDue, Territory: "DE"}, 2)
	old(playback.Account{ID: "acct_active", PlanID: "standard", Status: playback.StatusActive, Territory: "DE"}, 9)
	listed := func() []string {
		t.Helper()
		p, err := s.ListGracePending(ctx, since, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range p.Records {
			ids = append(ids, r.ID+"@"+r.Version)
		}
		return ids
	}
	if got := listed(); len(got) != 0 {
		t.Fatalf("listed before the migration: %v", got)
	}
	for _, want := range []int{2, 0} {
		if n, err := s.MigrateGrace(ctx); err != nil || n != want {
			t.Fatalf("MigrateGrace = %d, %v; want %d", n, err, want)
		}
	}
	if got, want := listed(), []string{"acct_undated@2", "acct_due@4"}; !slices.Equal(got, want) {
		t.Fatalf("listed after the migration: %v, want %v", got, want)
	}
}

// TestMigrateGraceCreatesNoAccount: an account MigrateGrace listed
// (without a version, as a release before versions wrote it) and that is
// deleted before it writes is left deleted: the write is on the document
// read, so it cannot create an item of grace attributes alone, which
// GetAccount could not decode.
func TestMigrateGraceCreatesNoAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	raw, err := json.Marshal(playback.Account{ID: "acct_gone", PlanID: "standard", Status: playback.StatusPastDue, Territory: "DE"})
	if err != nil {
		t.Fatal(err)
	}
	// As listed a moment before its deletion.
	r := playback.Record{Kind: playback.KindAccount, ID: "acct_gone", Version: "0", Doc: raw}
	if indexed, err := s.migrateGraceOf(ctx, r, ""); err != nil || indexed {
		t.Fatalf("migrateGraceOf on a deleted account = %v, %v; want false, nil", indexed, err)
	}
	out, err := s.db().GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: keyOf("ACCT#acct_gone", "ACCOUNT"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Item != nil {
		t.Fatalf("a deleted account's migration left the item %v", out.Item)
	}
}

// TestGraceAfterARollback: a release before the "grace" index writes an
// account's document without its grace attributes, so an account paid
// meanwhile keeps them; the listing skips it (it checks each document)
// and MigrateGrace removes them, so such accounts stop heading the
// index.
func TestGraceAfterARollback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, id := range []string{"acct_paid1", "acct_paid2", "acct_due"} {
		a := playback.Account{ID: id, PlanID: "standard", Status: playback.StatusPastDue, PastDueSince: since.Add(time.Duration(i-2) * time.Hour), Territory: "DE"}
		if err := s.PutAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"acct_paid1", "acct_paid2"} {
		raw, err := json.Marshal(playback.Account{ID: id, PlanID: "standard", Status: playback.StatusActive, Territory: "DE"})
		if err != nil {
			t.Fatal(err)
		}
		// The older release's update: the document and its version only.
		_, err = s.db().UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.table),
			Key:                       keyOf("ACCT#"+id, "ACCOUNT"),
			UpdateExpression:          aws.String("SET #doc = :doc ADD #version :one"),
			ExpressionAttributeNames:  map[string]string{"#doc": attrDoc, "#version": attrVersion},
			ExpressionAttributeValues: item{":doc": str(string(raw)), ":one": num(1)},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []int{2, 0} {
		if n, err := s.MigrateGrace(ctx); err != nil || n != want {
			t.Fatalf("MigrateGrace = %d, %v; want %d", n, err, want)
		}
	}
	// The index itself, not the listing (which skips stale entries).
	var got []string
	for try := 0; try < 50; try++ {
		out, err := s.db().Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.table),
			IndexName:                 aws.String(indexGrace),
			KeyConditionExpression:    aws.String("#gpk = :gpk AND #gsk < :bound"),
			ExpressionAttributeNames:  map[string]string{"#gpk": attrGracePK, "#gsk": attrGraceSK},
			ExpressionAttributeValues: item{":gpk": str(gracePK), ":bound": str(playback.GraceKeyBefore(since))},
		})
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, it := range out.Items {
			got = append(got, strAttr(it, attrPK))
		}
		if slices.Equal(got, []string{"ACCT#acct_due"}) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !slices.Equal(got, []string{"ACCT#acct_due"}) {
		t.Fatalf("the grace index holds %v after the migration, want [ACCT#acct_due]", got)
	}
}

// TestGraceAttributesLeaveWithPastDue: an account that leaves the
// listing (paid by UpdateAccount, paid by PutAccount, its grace end
// announced) loses its grace attributes in the same write, so the index
// itself no longer holds it: the listing's check of each document is
// not what keeps it out.
func TestGraceAttributesLeaveWithPastDue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ids := []string{"acct_updated", "acct_put", "acct_told"}
	for _, id := range ids {
		if err := s.PutAccount(ctx, playback.Account{ID: id, PlanID: "standard", Status: playback.StatusPastDue, PastDueSince: since, Territory: "DE"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.UpdateAccount(ctx, "acct_updated", func(a *playback.Account) error {
		a.Status, a.PastDueSince = playback.StatusActive, time.Time{}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAccount(ctx, playback.Account{ID: "acct_put", PlanID: "standard", Status: playback.StatusActive, Territory: "DE"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateAccount(ctx, "acct_told", func(a *playback.Account) error {
		told := a.PastDueSince
		a.GraceAnnounced = &told
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		out, err := s.db().GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: keyOf("ACCT#"+id, "ACCOUNT"), ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Item == nil {
			t.Fatalf("%s: no item", id)
		}
		for _, name := range []string{attrGracePK, attrGraceSK} {
			if v, ok := out.Item[name]; ok {
				t.Errorf("%s keeps %s = %v out of the listing", id, name, v)
			}
		}
	}
	for try := 0; ; try++ {
		out, err := s.db().Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.table),
			IndexName:                 aws.String(indexGrace),
			KeyConditionExpression:    aws.String("#gpk = :gpk"), // a table of its own
			ExpressionAttributeNames:  map[string]string{"#gpk": attrGracePK},
			ExpressionAttributeValues: item{":gpk": str(gracePK)},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Items) == 0 {
			break
		}
		if try == 50 {
			t.Fatalf("the grace index still holds %v", out.Items)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
