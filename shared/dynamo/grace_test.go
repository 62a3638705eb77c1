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
