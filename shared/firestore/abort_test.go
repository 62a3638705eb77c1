package firestore

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/emulators/gcpemu"
	"github.com/playplane/playplane/shared/playback"
)

// TestCoverageZonesAbortIsNoPrecondition: a commit ABORTED for contention
// (Cloud Firestore; the emulator never aborts, so the test injects it) says
// nothing about the version the caller named: it is retried, never answered
// with 412. Before the fix PutCoverageZones with IfVersion answered
// precondition_failed though the latest version was still the one named.
func TestCoverageZonesAbortIsNoPrecondition(t *testing.T) {
	t.Parallel()
	var abort atomic.Int32
	opts := append(gcpemu.FirestoreClientOptions(emulators.Firestore(t)),
		option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			if method == "/google.firestore.v1.Firestore/Commit" && abort.Add(-1) >= 0 {
				return status.Error(codes.Aborted, "Too much contention on these documents. Please try again.")
			}
			return invoker(ctx, method, req, reply, cc, opts...)
		})))
	s, err := New(context.Background(), Config{ProjectID: testProject, CollectionPrefix: playback.NewID("t") + "_"}, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	at := time.Date(2026, 12, 6, 16, 0, 0, 0, time.UTC)
	first, err := s.PutCoverageZones(ctx, playback.CoverageZonesUpload{Data: []byte(`{"coverageZones":{}}`), Actor: "op", At: at})
	if err != nil {
		t.Fatal(err)
	}
	abort.Store(1)
	got, err := s.PutCoverageZones(ctx, playback.CoverageZonesUpload{Data: []byte(`{"coverageZones":{}}`), Actor: "op",
		At: at.Add(time.Second), IfVersion: first.Version})
	if err != nil {
		t.Fatalf("PutCoverageZones(IfVersion %d) after an ABORTED commit = %v (code %q), want a retry that succeeds",
			first.Version, err, playback.ErrorCode(err))
	}
	if got.Version != first.Version+1 {
		t.Fatalf("version = %d, want %d", got.Version, first.Version+1)
	}
}
