package firestore

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/playback"
)

// rpcCounter counts the Firestore RPCs a store makes, by method, and the
// commits that failed.
type rpcCounter struct {
	mu            sync.Mutex
	calls         map[string]int
	failedCommits int
}

func (c *rpcCounter) add(method string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	name := method[strings.LastIndex(method, "/")+1:]
	c.calls[name]++
	if name == "Commit" && status.Code(err) != 0 {
		c.failedCommits++
	}
}

func (c *rpcCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.calls {
		n += v
	}
	return n
}

// newCountingStore is newStore with every RPC counted.
func newCountingStore(b testing.TB) (*Store, *rpcCounter) {
	b.Helper()
	c := &rpcCounter{calls: map[string]int{}}
	opts := append(gcpemu.FirestoreClientOptions(emulators.Firestore(b)),
		option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			err := invoker(ctx, method, req, reply, cc, opts...)
			c.add(method, err)
			return err
		})), option.WithGRPCDialOption(grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			c.add(method, nil)
			return streamer(ctx, desc, cc, method, opts...)
		})))
	s, err := New(context.Background(), Config{ProjectID: testProject, CollectionPrefix: playback.NewID("b") + "_"}, nil, opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s, c
}

// BenchmarkSet is the floor: one unconditional write round trip.
func BenchmarkSet(b *testing.B) {
	s, _ := newCountingStore(b)
	ctx := context.Background()
	ref := s.col("floor").Doc("x")
	for b.Loop() {
		if _, err := ref.Set(ctx, map[string]any{fieldDoc: "{}"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAcquireLease is an uncontended admission: a slot query and a
// two-write commit.
func BenchmarkAcquireLease(b *testing.B) {
	s, c := newCountingStore(b)
	ctx := context.Background()
	now := time.Now()
	for b.Loop() {
		_, err := s.AcquireLease(ctx, playback.LeaseRequest{SessionID: playback.NewID("ses"), AccountID: playback.NewID("acct"),
			Limit: 2, TTL: time.Minute, Now: now})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(c.total())/float64(b.N), "rpcs/op")
}

// BenchmarkUpdateAccount is one uncontended guarded update.
func BenchmarkUpdateAccount(b *testing.B) {
	s, c := newCountingStore(b)
	ctx := context.Background()
	id := playback.NewID("acct")
	if err := s.PutAccount(ctx, playback.Account{ID: id}); err != nil {
		b.Fatal(err)
	}
	base := c.total()
	for b.Loop() {
		if _, err := s.UpdateAccount(ctx, id, func(a *playback.Account) error { a.ParentalCap++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(c.total()-base)/float64(b.N), "rpcs/op")
}

// BenchmarkLeaseRace100 fires 100 concurrent acquisitions at an account
// limited to two streams, per iteration, and reports the RPCs the race
// took.
func BenchmarkLeaseRace100(b *testing.B) {
	s, c := newCountingStore(b)
	ctx := context.Background()
	var races, admittedTotal int64
	for b.Loop() {
		acct := playback.NewID("acct")
		now := time.Now()
		var wg sync.WaitGroup
		var admitted atomic.Int64
		start := make(chan struct{})
		for range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := s.AcquireLease(ctx, playback.LeaseRequest{SessionID: playback.NewID("ses"), AccountID: acct,
					Limit: 2, TTL: time.Minute, Now: now})
				switch {
				case err == nil:
					admitted.Add(1)
				case !playback.IsCode(err, playback.CodeConflict):
					b.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		races++
		admittedTotal += admitted.Load()
	}
	if admittedTotal != 2*races {
		b.Fatalf("admitted %d in %d races, want exactly 2 each", admittedTotal, races)
	}
	b.ReportMetric(float64(c.total())/float64(races), "rpcs/race")
	c.mu.Lock()
	b.ReportMetric(float64(c.failedCommits)/float64(races), "failed-commits/race")
	b.Log(fmt.Sprintf("RPCs by method over %d races: %v", races, c.calls))
	c.mu.Unlock()
}
