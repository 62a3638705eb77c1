package dynamo

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/playplane/playplane/shared/playback"
)

// countTransactions makes s count its TransactWriteItems calls and their
// cancellations.
func countTransactions(s *Store) (calls, cancelled *atomic.Int64) {
	calls, cancelled = new(atomic.Int64), new(atomic.Int64)
	s.useClient(dynamodb.New(s.db().Options(), func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("countTransactions",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleInitialize(ctx, in)
					if middleware.GetOperationName(ctx) == "TransactWriteItems" {
						calls.Add(1)
						if transactionCodes(err) != nil {
							cancelled.Add(1)
						}
					}
					return out, md, err
				}), middleware.After)
		})
	}))
	return calls, cancelled
}

// BenchmarkPutItem is the floor: one unconditional write round trip.
func BenchmarkPutItem(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	for b.Loop() {
		_, err := s.db().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table),
			Item: keyOf(playback.NewID("x"), "X")})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAcquireLease is an uncontended admission: one slot query and
// one transaction.
func BenchmarkAcquireLease(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	now := time.Now()
	for b.Loop() {
		_, err := s.AcquireLease(ctx, playback.LeaseRequest{SessionID: playback.NewID("ses"), AccountID: playback.NewID("acct"),
			Limit: 2, TTL: time.Minute, Now: now})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLeaseRace100 fires 100 concurrent acquisitions at an account
// limited to two streams, per iteration, and reports the transactions the
// race took.
func BenchmarkLeaseRace100(b *testing.B) {
	s := newStore(b)
	calls, cancelled := countTransactions(s)
	ctx := context.Background()
	var races, admittedTotal int64
	for b.Loop() {
		acct := playback.NewID("acct")
		now := time.Now()
		var (
			wg       sync.WaitGroup
			admitted atomic.Int64
		)
		start := make(chan struct{})
		for range 100 {
			wg.Go(func() {
				<-start
				_, err := s.AcquireLease(ctx, playback.LeaseRequest{SessionID: playback.NewID("ses"), AccountID: acct,
					Limit: 2, TTL: time.Minute, Now: now})
				switch {
				case err == nil:
					admitted.Add(1)
				case !playback.IsCode(err, playback.CodeConflict):
					b.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		if admitted.Load() != 2 {
			b.Fatalf("race admitted %d, want 2", admitted.Load())
		}
		races++
		admittedTotal += admitted.Load()
	}
	b.ReportMetric(float64(calls.Load())/float64(races), "tx/race")
	b.ReportMetric(float64(cancelled.Load())/float64(races), "cancelled-tx/race")
	b.ReportMetric(float64(admittedTotal)/float64(races), "admitted/race")
}
