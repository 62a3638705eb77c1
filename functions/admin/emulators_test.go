package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/dynamo"
	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/firestore"
	"github.com/playplane/playplane/shared/playback"
)

// The admin API over the cloud stores, on their emulators: the store
// methods have the contract suite (shared/storetest); these run the HTTP
// flow an operator runs over them, ETags and audit included.

// everyStore is the embedded store and the two emulators', for the
// operator flows that must hold on each.
var everyStore = []struct {
	name  string
	store func(t *testing.T) playback.Store
}{
	{name: "bolt", store: boltStore},
	{name: "firestore emulator", store: firestoreStore},
	{name: "dynamodb local", store: dynamoStore},
}

// boltStore is the embedded store in a file of the test's own, beside the
// emulators' in the tests that run on every store.
func boltStore(t *testing.T) playback.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func firestoreStore(t *testing.T) playback.Store {
	t.Helper()
	s, err := firestore.New(context.Background(), firestore.Config{ProjectID: "playplane-test",
		CollectionPrefix: playback.NewID("t") + "_"}, nil, gcpemu.FirestoreClientOptions(emulators.Firestore(t))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func dynamoStore(t *testing.T) playback.Store {
	t.Helper()
	ctx := context.Background()
	db := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(emulators.DynamoDB(t)),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	table := playback.NewID("playplane")
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

func TestAdminAPIOnTheCloudStores(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) playback.Store
	}{
		{name: "firestore emulator", store: firestoreStore},
		{name: "dynamodb local", store: dynamoStore},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			t.Run("operator flow", func(t *testing.T) {
				t.Parallel()
				operatorFlow(t, newHarnessOn(t, auth.DefaultAdminClaim, tc.store(t)))
			})
			t.Run("customer link wakes parked events", func(t *testing.T) {
				t.Parallel()
				testCustomerLinkWakes(t, newHarnessOn(t, auth.DefaultAdminClaim, tc.store(t)))
			})
		})
	}
}

// operatorFlow: create a plan, title, edge and account; a stale If-Match
// is 412 and writes nothing; a fresh one writes; a plan in use is 409;
// the audit log lists every change newest first; a coverage zone file
// uploads, a bad one is 422 with the good one still latest.
func operatorFlow(t *testing.T, h *harness) {
	t.Helper()
	plan := h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
	h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusConflict)
	h.mustDo("POST", "/v1/admin/titles", "", titleBBB, http.StatusCreated)
	h.mustDo("POST", "/v1/admin/edges", "", edgeFra, http.StatusCreated)
	acct := h.mustDo("POST", "/v1/admin/accounts", "", acctA, http.StatusCreated)

	got := h.mustDo("GET", "/v1/admin/accounts/acct_a", "", "", http.StatusOK)
	if got.header.Get("ETag") != acct.header.Get("ETag") {
		t.Fatalf("GET ETag %s, POST ETag %s", got.header.Get("ETag"), acct.header.Get("ETag"))
	}
	moved := h.mustDo("PUT", "/v1/admin/accounts/acct_a", acct.header.Get("ETag"),
		`{"id":"acct_a","plan_id":"std","territory":"FR","status":"active"}`, http.StatusOK)
	if moved.header.Get("ETag") == acct.header.Get("ETag") {
		t.Fatal("a write kept the version")
	}
	stale := h.do("PUT", "/v1/admin/accounts/acct_a", h.admin, acct.header.Get("ETag"),
		`{"id":"acct_a","plan_id":"std","territory":"US","status":"active"}`)
	if stale.status != http.StatusPreconditionFailed || stale.errBody(t).Reason != "version_mismatch" {
		t.Fatalf("stale If-Match: %d %s", stale.status, stale.body)
	}
	var a playback.Account
	if err := json.Unmarshal(h.mustDo("GET", "/v1/admin/accounts/acct_a", "", "", http.StatusOK).body, &a); err != nil || a.Territory != "FR" {
		t.Fatalf("account after a refused write: %+v %v", a, err)
	}
	if r := h.do("DELETE", "/v1/admin/plans/std", h.admin, plan.header.Get("ETag"), ""); r.status != http.StatusConflict || r.errBody(t).Reason != "plan_in_use" {
		t.Fatalf("delete a plan in use: %d %s", r.status, r.body)
	}
	h.mustDo("GET", "/v1/admin/plans/std", "", "", http.StatusOK)

	var audit playback.AuditPage
	if err := json.Unmarshal(h.mustDo("GET", "/v1/admin/audit?limit=10", "", "", http.StatusOK).body, &audit); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, r := range audit.Records {
		if r.Actor != "admin:ops-alice" || len(r.Changes) != 1 {
			t.Fatalf("audit record %+v", r)
		}
		ops = append(ops, string(r.Changes[0].Kind)+"/"+r.Changes[0].ID)
	}
	want := []string{"account/acct_a", "account/acct_a", "edge/fra-1", "title/bbb", "plan/std"}
	if len(ops) != len(want) {
		t.Fatalf("audit %v, want %v", ops, want)
	}
	for i := range want {
		if ops[i] != want[i] {
			t.Fatalf("audit %v, want %v (newest first)", ops, want)
		}
	}
	// Paged to their end, a page at a time or all in one, the records
	// leave no cursor to an empty page.
	for _, limit := range []int{1, len(want)} {
		listed := 0
		for page, cursor := 1, ""; ; page++ {
			var p playback.AuditPage
			path := fmt.Sprintf("/v1/admin/audit?limit=%d&cursor=%s", limit, url.QueryEscape(cursor))
			if err := json.Unmarshal(h.mustDo("GET", path, "", "", http.StatusOK).body, &p); err != nil {
				t.Fatal(err)
			}
			if len(p.Records) == 0 {
				t.Fatalf("audit limit %d: page %d (cursor %q) is empty", limit, page, cursor)
			}
			if listed += len(p.Records); p.Next == "" {
				break
			}
			cursor = p.Next
		}
		if listed != len(want) {
			t.Fatalf("audit limit %d: %d records listed, want %d", limit, listed, len(want))
		}
	}

	h.mustDo("PUT", "/v1/admin/coverage-zones", "", zonesGood, http.StatusCreated)
	h.mustDo("PUT", "/v1/admin/coverage-zones", "", zonesBad, http.StatusUnprocessableEntity)
	h.mustDo("PUT", "/v1/admin/coverage-zones", `"7"`, zonesGood2, http.StatusPreconditionFailed)
	if latest := h.mustDo("GET", "/v1/admin/coverage-zones", "", "", http.StatusOK); string(latest.body) != zonesGood || latest.header.Get("ETag") != `"1"` {
		t.Fatalf("latest zones %s %s", latest.header.Get("ETag"), latest.body)
	}
}
