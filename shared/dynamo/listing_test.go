package dynamo

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/storetest"
)

// putOldLayout writes a record as the store wrote it before the "list"
// index: no listing attributes on the record, a LIST#<kind> item beside it.
func putOldLayout(t *testing.T, s *Store, kind playback.Kind, id, doc string, entry bool) {
	t.Helper()
	ctx := context.Background()
	if doc != "" {
		pk, sk, _ := recordKey(kind, id)
		if _, err := s.db().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table),
			Item: mergeItems(keyOf(pk, sk), item{attrDoc: str(doc), attrVersion: num(7)})}); err != nil {
			t.Fatal(err)
		}
	}
	if entry {
		if _, err := s.db().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table),
			Item: keyOf(oldListPrefix+string(kind), id)}); err != nil {
			t.Fatal(err)
		}
	}
}

// listIDs lists every record of kind, two a page so paging is exercised.
func listIDs(t *testing.T, s *Store, kind playback.Kind) map[string]playback.Record {
	t.Helper()
	return listAll(t, s, kind, 2)
}

// listAll lists every record of kind by id, page records a page.
func listAll(t *testing.T, s *Store, kind playback.Kind, page int) map[string]playback.Record {
	t.Helper()
	out := map[string]playback.Record{}
	for after := ""; ; {
		p, err := s.ListRecords(context.Background(), kind, after, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			out[r.ID] = r
		}
		if after = p.Next; after == "" {
			return out
		}
	}
}

// A table of the old layout is listed once MigrateListing has run, with
// its documents and versions as they were, and its old items gone.
func TestMigrateListingMovesTheOldLayout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	title := storetest.Create(t, playback.KindTitle, playback.Title{ID: "old-t", Name: "Old", AssetPath: "/o/", Manifest: "m"})
	edge := storetest.Create(t, playback.KindEdge, playback.Edge{ID: "old-e", CDN: "c", BaseURL: "https://e.example", Weight: 1, Healthy: true})
	putOldLayout(t, s, playback.KindTitle, title.ID, string(title.Doc), true)
	putOldLayout(t, s, playback.KindEdge, edge.ID, string(edge.Doc), true)
	putOldLayout(t, s, playback.KindTitle, "gone", "", true) // an entry whose record was deleted
	if err := s.PutTitle(ctx, playback.Title{ID: "new-t", Name: "New", AssetPath: "/n/", Manifest: "m"}); err != nil {
		t.Fatal(err)
	}
	if got := listIDs(t, s, playback.KindTitle); len(got) != 1 || got["new-t"].ID == "" {
		t.Fatalf("before the migration the titles listed are %v, want only new-t", got)
	}
	n, err := s.MigrateListing(ctx)
	if err != nil || n != 3 {
		t.Fatalf("MigrateListing = %d, %v; want 3 moved", n, err)
	}
	titles, edges := listIDs(t, s, playback.KindTitle), listIDs(t, s, playback.KindEdge)
	if len(titles) != 2 || string(titles["old-t"].Doc) != string(title.Doc) || titles["old-t"].Version != "7" || titles["new-t"].ID == "" {
		t.Fatalf("titles after the migration: %+v", titles)
	}
	if len(edges) != 1 || string(edges["old-e"].Doc) != string(edge.Doc) {
		t.Fatalf("edges after the migration: %+v", edges)
	}
	if _, err := s.GetRecord(ctx, playback.KindTitle, "gone"); !playback.IsCode(err, playback.CodeNotFound) {
		t.Fatalf("the migration made the deleted title again: %v", err)
	}
	for _, kind := range playback.Kinds {
		out, err := s.db().Query(ctx, &dynamodb.QueryInput{TableName: aws.String(s.table), KeyConditionExpression: aws.String("pk = :pk"),
			ExpressionAttributeValues: item{":pk": str(oldListPrefix + string(kind))}, ConsistentRead: aws.Bool(true)})
		if err != nil || len(out.Items) != 0 {
			t.Fatalf("old %s items left: %v, %v", kind, out.Items, err)
		}
	}
	if n, err := s.MigrateListing(ctx); err != nil || n != 0 {
		t.Fatalf("second MigrateListing = %d, %v; want nothing left", n, err)
	}
}

// CreateRecords decides on the record, not on the (lagging) list: a
// record the list does not show that exists with the same document is
// left as it is and listed, one with another document refuses the set
// before anything is written.
func TestCreateRecordsReadsTheRecordsNotTheList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	same := storetest.Create(t, playback.KindTitle, playback.Title{ID: "same", Name: "Same", AssetPath: "/s/", Manifest: "m"})
	putOldLayout(t, s, playback.KindTitle, same.ID, string(same.Doc), false)
	fresh := storetest.Create(t, playback.KindTitle, playback.Title{ID: "fresh", Name: "Fresh", AssetPath: "/f/", Manifest: "m"})
	rec, err := s.CreateRecords(ctx, playback.ChangeSet{Actor: "test", At: time.Now(), Changes: []playback.Change{same, fresh}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Changes) != 1 || rec.Changes[0].ID != "fresh" {
		t.Fatalf("audited %+v, want only the create of fresh", rec.Changes)
	}
	titles := listIDs(t, s, playback.KindTitle)
	if len(titles) != 2 || titles["same"].Version != "7" || string(titles["same"].Doc) != string(same.Doc) {
		t.Fatalf("titles %+v: want same listed, unchanged at version 7, and fresh", titles)
	}

	other := storetest.Create(t, playback.KindTitle, playback.Title{ID: "same", Name: "Other", AssetPath: "/s/", Manifest: "m"})
	third := storetest.Create(t, playback.KindTitle, playback.Title{ID: "third", Name: "Third", AssetPath: "/t/", Manifest: "m"})
	_, err = s.CreateRecords(ctx, playback.ChangeSet{Actor: "test", At: time.Now(), Changes: []playback.Change{third, other}})
	if !playback.IsCode(err, playback.CodePrecondition) {
		t.Fatalf("creating a title that exists with another document: %v, want precondition failed", err)
	}
	if _, err := s.GetRecord(ctx, playback.KindTitle, "third"); !playback.IsCode(err, playback.CodeNotFound) {
		t.Fatalf("the refused set wrote third: %v", err)
	}
	if r, _ := s.GetRecord(ctx, playback.KindTitle, "same"); string(r.Doc) != string(same.Doc) {
		t.Fatalf("the refused set overwrote same: %s", r.Doc)
	}
}
