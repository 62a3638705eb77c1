package model_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"

	"github.com/playplane/playplane/cmd/scalemodel/model"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/firestore"
	"github.com/playplane/playplane/shared/playback"
)

// billed counts what Firestore bills from the RPCs a client sends: a
// document read per document a BatchGetDocuments or RunQuery answers with,
// a write per Write of a Commit (a delete per Delete), and the RPCs.
type billed struct {
	mu                           sync.Mutex
	rpcs, reads, writes, deletes int
}

func (b *billed) reset() (rpcs, reads, writes, deletes int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rpcs, reads, writes, deletes = b.rpcs, b.reads, b.writes, b.deletes
	b.rpcs, b.reads, b.writes, b.deletes = 0, 0, 0, 0
	return
}

func (b *billed) add(f func()) { b.mu.Lock(); defer b.mu.Unlock(); f() }

func (b *billed) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	b.add(func() {
		b.rpcs++
		if c, ok := req.(*firestorepb.CommitRequest); ok {
			for _, w := range c.Writes {
				if w.GetDelete() != "" {
					b.deletes++
				} else {
					b.writes++
				}
			}
		}
	})
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (b *billed) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	b.add(func() { b.rpcs++ })
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return s, err
	}
	return &countingStream{ClientStream: s, b: b}, nil
}

type countingStream struct {
	grpc.ClientStream
	b         *billed
	query     bool // a RunQuery
	queryDocs int
}

func (s *countingStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	switch r := m.(type) {
	case *firestorepb.BatchGetDocumentsResponse:
		if err == nil {
			// A missing document is billed as a read too.
			s.b.add(func() { s.b.reads++ })
		}
	case *firestorepb.RunQueryResponse:
		s.query = true
		if err == nil && r.Document != nil {
			s.queryDocs++
			s.b.add(func() { s.b.reads++ })
		}
		if errors.Is(err, io.EOF) && s.queryDocs == 0 {
			// A query that returns nothing is billed one read.
			s.b.add(func() { s.b.reads++ })
		}
	}
	return err
}

// TestFirestoreUnitsOnTheEmulator runs one session's store methods on
// shared/firestore over the Firestore emulator and counts, from the
// requests and answers, the document reads, writes and deletes and the
// RPCs of each: the unit table must price what the adapter does.
func TestFirestoreUnitsOnTheEmulator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	hostPort := emulators.Firestore(t)
	b := &billed{}
	opts := append(gcpemu.FirestoreClientOptions(hostPort),
		option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(b.unary)),
		option.WithGRPCDialOption(grpc.WithChainStreamInterceptor(b.stream)))
	s, err := firestore.New(ctx, firestore.Config{ProjectID: "playplane-test", CollectionPrefix: playback.NewID("scale") + "_"}, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	now := time.Now()
	if err := demo.Seed(ctx, s, "https://cdn.example", now); err != nil {
		t.Fatal(err)
	}
	units := model.StoreUnits(model.Sizes())
	b.reset()
	steps, steady := steadySteps(s, now)
	for i, st := range steps {
		if err := st.call(ctx); err != nil {
			t.Fatalf("%s: %v", st.method, err)
		}
		rpcs, reads, writes, deletes := b.reset()
		if !steady[i] || laterSame(steps, steady, i) {
			continue
		}
		u := units[st.unitKey()]
		t.Logf("%-20s rpcs %d reads %d writes %d deletes %d", st.unitKey(), rpcs, reads, writes, deletes)
		if float64(reads) != u.Reads || float64(writes) != u.Writes || float64(deletes) != u.Deletes {
			t.Errorf("%s: read %d, wrote %d, deleted %d documents; the model prices %g reads, %g writes, %g deletes",
				st.unitKey(), reads, writes, deletes, u.Reads, u.Writes, u.Deletes)
		}
		if float64(rpcs) != u.FirestoreTrips {
			t.Errorf("%s: %d RPCs, the model prices %g round trips", st.unitKey(), rpcs, u.FirestoreTrips)
		}
	}
}
