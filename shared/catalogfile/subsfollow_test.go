package catalogfile

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/playplane/playplane/shared/dynamo"
	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/firestore"
	"github.com/playplane/playplane/shared/playback"
)

// TestImportMoveTakesTheCustomersSubscriptions: a file moving a Stripe
// customer from one account to another (acct_a given another customer,
// acct_b given acct_a's) moves the customer's subscriptions with it, on
// every store: acct_a, which no longer names the customer, is entitled by
// none of its subscriptions (status none, whatever status the file
// carried over), and acct_b adopts them and is entitled as the
// customer's events left them. Before, acct_a stayed active on a
// customer nobody paid it through and acct_b was linked with status none
// and no subscription until the subscription's next event.
func TestImportMoveTakesTheCustomersSubscriptions(t *testing.T) {
	t.Parallel()
	for _, st := range []struct {
		name string
		open func(t *testing.T) playback.Store
	}{
		{name: "bolt", open: func(t *testing.T) playback.Store { return openBolt(t) }},
		{name: "dynamodb local", open: openDynamoStore},
		{name: "firestore emulator", open: openFirestoreStore},
	} {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := st.open(t)
			const stored = `{"id": "acct_a", "plan_id": "basic", "territory": "DE", "status": "active", "customer_id": "cus_a"}`
			file := func(accts ...string) File {
				f, err := Parse("c.json", []byte(strings.Replace(goodJSON, stored, strings.Join(accts, ", "), 1)))
				if err != nil {
					t.Fatal(err)
				}
				return f
			}
			acct := func(id, cus string) string {
				return fmt.Sprintf(`{"id": %q, "plan_id": "basic", "territory": "DE", "customer_id": %q}`, id, cus)
			}
			importFile(t, s, file(stored, `{"id": "acct_b", "plan_id": "basic", "territory": "DE"}`))
			now := time.Now().UTC().Truncate(time.Second)
			sub := playback.Subscription{ID: "sub_a", Status: playback.StatusActive, PlanID: "basic", Customer: "cus_a",
				Clock: now.Unix() - 60, CurrentPeriodEnd: now.Add(30 * 24 * time.Hour)}
			if _, err := s.UpdateAccount(ctx, "acct_a", func(a *playback.Account) error {
				a.PutSubscription(sub) // as the customer's events leave it
				return nil
			}); err != nil {
				t.Fatal(err)
			}

			importFile(t, s, file(strings.Replace(acct("acct_a", "cus_a2"), `"DE"`, `"DE", "status": "active"`, 1), acct("acct_b", "cus_a")))
			a, errA := s.GetAccount(ctx, "acct_a")
			b, errB := s.GetAccount(ctx, "acct_b")
			owner, errL := s.AccountIDByCustomer(ctx, "cus_a")
			held := len(b.Subscriptions) == 1 && b.Subscriptions[0].ID == sub.ID && b.Subscriptions[0].Clock == sub.Clock
			if errA != nil || errB != nil || errL != nil || owner != "acct_b" ||
				a.Entitled(now, time.Hour) || a.Status != playback.StatusNone ||
				!b.Entitled(now, time.Hour) || b.Status != playback.StatusActive || !held {
				t.Fatalf("cus_a moved from acct_a to acct_b by an import: cus_a resolves to %q (%v); acct_a is %s (entitled %v, %v); "+
					"acct_b is %s/%q (entitled %v, %v) holding %+v; want acct_b's, acct_a none, acct_b active holding %s",
					owner, errL, a.Status, a.Entitled(now, time.Hour), errA, b.Status, b.PlanID, b.Entitled(now, time.Hour), errB,
					b.Subscriptions, sub.ID)
			}

			// Swapped back in one file (a cycle, written in one set): the
			// subscription follows the customer again.
			importFile(t, s, file(acct("acct_a", "cus_a"), acct("acct_b", "cus_a2")))
			a, errA = s.GetAccount(ctx, "acct_a")
			b, errB = s.GetAccount(ctx, "acct_b")
			if errA != nil || errB != nil || !a.Entitled(now, time.Hour) || a.Status != playback.StatusActive ||
				b.Entitled(now, time.Hour) || b.Status != playback.StatusNone {
				t.Fatalf("cus_a swapped back to acct_a: acct_a is %s (%v) holding %+v, acct_b is %s (%v); want acct_a active, acct_b none",
					a.Status, errA, a.Subscriptions, b.Status, errB)
			}
		})
	}
}

// openDynamoStore is a store on a fresh table of DynamoDB Local
// (shared/emulators).
func openDynamoStore(t *testing.T) playback.Store {
	t.Helper()
	ctx := context.Background()
	db := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(emulators.DynamoDB(t)),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	table := playback.NewID("catalogfile")
	s, err := dynamo.New(ctx, dynamo.Config{Table: table}, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	return s
}

// openFirestoreStore is a store under a fresh collection prefix of the
// Firestore emulator (shared/emulators).
func openFirestoreStore(t *testing.T) playback.Store {
	t.Helper()
	s, err := firestore.New(context.Background(), firestore.Config{ProjectID: "playplane-test",
		CollectionPrefix: playback.NewID("t") + "_"}, nil, gcpemu.FirestoreClientOptions(emulators.Firestore(t))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
