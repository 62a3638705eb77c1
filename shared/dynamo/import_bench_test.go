package dynamo

import (
	"context"
	"encoding/json"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/playplane/playplane/shared/catalogfile"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/storetest"
)

// BenchmarkImportCatalogue imports a catalogue of BenchTitles titles
// (PLAYPLANE_BENCH_TITLES) into an empty table of DynamoDB Local: parse and
// check the file, list what the table holds, and write the new records
// with CreateRecords (read them consistently, their audit record, then the
// records, listing attributes included, with BatchWriteItem). floor writes
// the same plan and title items (doc and version, as the store keeps them)
// with BatchWriteItem, 25 a request, the least any import can send. paired
// runs one import and one floor in turn on fresh tables each iteration
// and reports the median of their ratios, which a loaded machine moves
// less than it moves two runs minutes apart.
func BenchmarkImportCatalogue(b *testing.B) {
	data := storetest.CatalogueFile(storetest.BenchTitles())
	f, err := catalogfile.Parse("bench.json", data)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	endpoint := localEndpoint(b)
	fresh := func(b *testing.B) *Store {
		s, err := New(ctx, Config{Table: playback.NewID("bench")}, client(endpoint, 0))
		if err != nil {
			b.Fatal(err)
		}
		if err := s.CreateTable(ctx); err != nil {
			b.Fatal(err)
		}
		return s
	}
	drop := func(s *Store) {
		_, _ = s.db().DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(s.table)})
	}
	importFile := func(b *testing.B, s *Store) {
		f, err := catalogfile.Parse("bench.json", data)
		if err != nil {
			b.Fatal(err)
		}
		plan, err := catalogfile.Diff(ctx, s, f)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := catalogfile.Apply(ctx, s, plan, "bench", time.Now); err != nil {
			b.Fatal(err)
		}
	}
	floor := func(b *testing.B, s *Store) {
		var reqs []types.WriteRequest
		put := func(pk, sk string, v any) {
			raw, _ := json.Marshal(v)
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{
				Item: mergeItems(keyOf(pk, sk), item{attrDoc: str(string(raw)), attrVersion: num(1)})}})
		}
		for _, p := range f.Plans {
			put("PLAN#"+p.ID, "PLAN", p)
		}
		for _, t := range f.Titles {
			put("TITLE#"+t.ID, "TITLE", t)
		}
		for len(reqs) > 0 {
			n := min(25, len(reqs))
			out, err := s.db().BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{s.table: reqs[:n]}})
			if err != nil {
				b.Fatal(err)
			}
			reqs = append(reqs[n:], out.UnprocessedItems[s.table]...)
		}
	}
	b.Run("import", func(b *testing.B) {
		var txns, cancelled, batches, reads int64
		for b.Loop() {
			b.StopTimer()
			s := fresh(b)
			calls, lost := countTransactions(s)
			writes, gets := countBatches(s)
			b.StartTimer()
			importFile(b, s)
			b.StopTimer()
			txns, cancelled, batches, reads = txns+calls.Load(), cancelled+lost.Load(), batches+writes.Load(), reads+gets.Load()
			drop(s)
			b.StartTimer()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(f.Titles)), "ns/title")
		b.ReportMetric(float64(txns)/float64(b.N), "txns/op")
		b.ReportMetric(float64(cancelled)/float64(b.N), "cancelled/op")
		b.ReportMetric(float64(batches)/float64(b.N), "batches/op")
		b.ReportMetric(float64(reads)/float64(b.N), "batchgets/op")
	})
	b.Run("floor", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			s := fresh(b)
			b.StartTimer()
			floor(b, s)
			b.StopTimer()
			drop(s)
			b.StartTimer()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(f.Titles)), "ns/title")
	})
	b.Run("paired", func(b *testing.B) {
		var ratios []float64
		timed := func(run func(*testing.B, *Store)) time.Duration {
			s := fresh(b)
			defer drop(s)
			start := time.Now()
			run(b, s)
			return time.Since(start)
		}
		for b.Loop() {
			ratios = append(ratios, float64(timed(importFile))/float64(timed(floor)))
		}
		slices.Sort(ratios)
		b.ReportMetric(ratios[len(ratios)/2], "import/floor")
	})
}

// countBatches makes s count its BatchWriteItem and BatchGetItem calls.
func countBatches(s *Store) (writes, gets *atomic.Int64) {
	writes, gets = new(atomic.Int64), new(atomic.Int64)
	s.useClient(dynamodb.New(s.db().Options(), func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("countBatches",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					switch middleware.GetOperationName(ctx) {
					case "BatchWriteItem":
						writes.Add(1)
					case "BatchGetItem":
						gets.Add(1)
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.After)
		})
	}))
	return writes, gets
}
