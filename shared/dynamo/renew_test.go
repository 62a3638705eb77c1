package dynamo

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/playplane/playplane/shared/playback"
)

// TestRenewHeldLeaseIndexesAnOlderSlot: a slot last written before the
// sparse "leases" index (no lease_pk, no lease_sk) counts again once a
// held renewal wrote it, as after any other slot write.
func TestRenewHeldLeaseIndexesAnOlderSlot(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	sess, err := s.AcquireLease(ctx, playback.LeaseRequest{SessionID: playback.NewID("ses"), AccountID: playback.NewID("acct"),
		Limit: 1, TTL: 2 * time.Minute, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	k, err := strconv.Atoi(sess.Lease)
	if err != nil {
		t.Fatalf("lease locator %q: %v", sess.Lease, err)
	}
	if _, err := s.db().UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(s.table), Key: slotKey(sess.AccountID, k),
		UpdateExpression: aws.String("REMOVE #lpk, #lsk"), ExpressionAttributeNames: names("#lpk", "#lsk")}); err != nil {
		t.Fatal(err)
	}
	count := func(at time.Time, want int, what string) {
		t.Helper()
		if got, err := s.CountActiveLeases(ctx, at); err != nil || got != want {
			t.Fatalf("%s: CountActiveLeases = %d, %v; want %d", what, got, err, want)
		}
	}
	count(t0, 0, "a slot written before the index")

	renewed, err := s.RenewHeldLease(ctx, sess, 2*time.Minute, 20*time.Second, t0.Add(90*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(210 * time.Second); !renewed.ExpiresAt.Equal(want) {
		t.Fatalf("renewed to %v, want %v", renewed.ExpiresAt, want)
	}
	count(t0.Add(150*time.Second), 1, "past the first expiry, renewed on the held lease")
}
