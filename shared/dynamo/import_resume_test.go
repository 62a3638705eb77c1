package dynamo

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/playplane/playplane/shared/catalogfile"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/storetest"
)

// failBatchesAfter makes s's BatchWriteItem calls fail after the first n,
// as a killed or disconnected import would stop.
func failBatchesAfter(s *Store, n int64) *Store {
	cp := *s
	var calls atomic.Int64
	cp.useClient(dynamodb.New(s.db().Options(), func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("failBatches",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if middleware.GetOperationName(ctx) == "BatchWriteItem" && calls.Add(1) > n {
						return middleware.InitializeOutput{}, middleware.Metadata{}, errors.New("injected: connection lost")
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	}))
	return &cp
}

// An import's creates on DynamoDB are resumable: one that fails part way
// leaves some titles, every one of them audited; a dry run then shows
// only the rest and writes nothing; importing again creates the rest,
// and after that the file imports as no change.
func TestImportFailedPartWayConverges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	f, err := catalogfile.Parse("c.json", storetest.CatalogueFile(100))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := catalogfile.Diff(ctx, s, f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := catalogfile.Apply(ctx, failBatchesAfter(s, 2), plan, "cli:test", time.Now); err == nil {
		t.Fatal("the import with its connection lost succeeded")
	}
	titles := func() map[string]playback.Record { t.Helper(); return listAll(t, s, playback.KindTitle, 1000) }
	audited := func() map[string]bool {
		t.Helper()
		out := map[string]bool{}
		for before := ""; ; {
			p, err := s.ListAudit(ctx, before, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Records {
				for _, c := range r.Changes {
					out[string(c.Kind)+"/"+c.ID] = true
				}
			}
			if before = p.Next; before == "" {
				return out
			}
		}
	}
	partial := titles()
	if len(partial) == 0 || len(partial) >= len(f.Titles) {
		t.Fatalf("%d of %d titles after the failure, want some", len(partial), len(f.Titles))
	}
	aud := audited()
	for id := range partial {
		if !aud["title/"+id] {
			t.Fatalf("title %s was written without an audit record", id)
		}
	}

	// A dry run plans the rest and writes nothing.
	rest, err := catalogfile.Diff(ctx, s, f)
	if err != nil {
		t.Fatal(err)
	}
	if n := rest.Counts()[playback.KindTitle][playback.OpCreate]; n != len(f.Titles)-len(partial) || rest.Unchanged[playback.KindTitle] != len(partial) {
		t.Fatalf("rerun plans %d title creates, %d unchanged; want %d and %d", n, rest.Unchanged[playback.KindTitle],
			len(f.Titles)-len(partial), len(partial))
	}
	var out bytes.Buffer
	if err := catalogfile.PrintDiff(&out, rest); err != nil {
		t.Fatal(err)
	}
	if got := titles(); len(got) != len(partial) {
		t.Fatalf("the dry run wrote: %d titles, was %d", len(got), len(partial))
	}

	if _, err := catalogfile.Apply(ctx, s, rest, "cli:test", time.Now); err != nil {
		t.Fatal(err)
	}
	done := titles()
	if len(done) != len(f.Titles) {
		t.Fatalf("%d titles after the rerun, want %d", len(done), len(f.Titles))
	}
	for id, r := range partial {
		if done[id].Version != r.Version {
			t.Fatalf("the rerun rewrote title %s, which the failed run had written", id)
		}
	}
	again, err := catalogfile.Diff(ctx, s, f)
	if err != nil || !again.Empty() {
		t.Fatalf("after the rerun the file plans %v (%v), want no change", again.Counts(), err)
	}
	exp, err := catalogfile.Export(ctx, s, false)
	if err != nil {
		t.Fatal(err)
	}
	// Export lists by id.
	plans := slices.SortedFunc(slices.Values(f.Plans), func(a, b playback.Plan) int { return strings.Compare(a.ID, b.ID) })
	var a, b bytes.Buffer
	_ = catalogfile.Encode(&a, catalogfile.File{Titles: exp.Titles, Plans: exp.Plans})
	_ = catalogfile.Encode(&b, catalogfile.File{Titles: f.Titles, Plans: plans})
	if a.String() != b.String() {
		t.Fatal("the store's catalogue differs from the file after the rerun")
	}
}
