// Package gcpemu is the part of package emulators that needs Google's client
// libraries: the in-process Pub/Sub fake (pstest) and the client options
// that point the Firestore and Pub/Sub clients at the local stand-ins.
//
// It is kept apart because every test binary links what its helpers import:
// in package emulators, pstest, gRPC and google.golang.org/api were linked
// into each AWS-only test binary (the Lambda handlers', DynamoDB's, SQS's),
// about 140 packages none of them use.
package gcpemu

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/playplane/playplane/shared/emulators"
)

// Start is emulators.Start that also serves emulators.PubSubService: every
// caller gets a Pub/Sub fake of its own, in this process, at the returned
// host:port (the PUBSUB_EMULATOR_HOST form).
func Start(ctx context.Context, name string) (endpoint string, stop func(), err error) {
	if name != emulators.PubSubService {
		return emulators.Start(ctx, name)
	}
	srv, err := newPubSubServer()
	if err != nil {
		return "", nil, err
	}
	var once sync.Once
	return srv.Addr, func() { once.Do(func() { srv.Close() }) }, nil
}

// PubSub returns the host:port of a Pub/Sub fake (pstest) of this test's
// own, closed when the test ends. See PubSubClientOptions.
func PubSub(t testing.TB) string {
	t.Helper()
	return PubSubServer(t).Addr
}

// PubSubServer is PubSub for tests that also inspect the fake, e.g. its
// Messages.
func PubSubServer(t testing.TB) *pstest.Server {
	t.Helper()
	srv, err := newPubSubServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// newPubSubServer starts the official in-process Pub/Sub fake on loopback.
// pstest panics when it cannot listen; that becomes an error here.
func newPubSubServer() (srv *pstest.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			srv, err = nil, fmt.Errorf("emulators.Start %s: %v", emulators.PubSubService, r)
		}
	}()
	return pstest.NewServerWithAddress("127.0.0.1:0", pstest.ServerReactorOption{FuncName: "Publish", Reactor: oneOrderingKey{}}), nil
}

// oneOrderingKey refuses a publish request whose messages do not all have
// the same ordering key (or all none), as Pub/Sub does and pstest does
// not: a client that mixes keys in a request must fail here too.
type oneOrderingKey struct{}

func (oneOrderingKey) React(req any) (handled bool, ret any, err error) {
	pr, ok := req.(*pubsubpb.PublishRequest)
	if !ok {
		return false, nil, nil
	}
	for _, m := range pr.Messages {
		if m.OrderingKey != pr.Messages[0].OrderingKey {
			return true, nil, status.Error(codes.FailedPrecondition,
				"In a single publish request, all messages must have no ordering key or they must all have the same ordering key.")
		}
	}
	return false, nil, nil
}

// FirestoreClientOptions connects cloud.google.com/go/firestore.NewClient to
// the emulator at hostPort (plain gRPC, no credentials) without setting
// FIRESTORE_EMULATOR_HOST, which would keep tests from running in parallel.
func FirestoreClientOptions(hostPort string) []option.ClientOption {
	return emulatorClientOptions(hostPort)
}

// PubSubClientOptions connects cloud.google.com/go/pubsub/v2.NewClient to the
// fake at hostPort without setting PUBSUB_EMULATOR_HOST.
func PubSubClientOptions(hostPort string) []option.ClientOption {
	return emulatorClientOptions(hostPort)
}

// DeployedClientOptions connect a Firestore or Pub/Sub client to the
// emulator or fake at hostPort as FirestoreClientOptions and
// PubSubClientOptions do, but keep the gRPC transport's telemetry, as a
// deployed client has it: otelgrpc's stats handler, a span and the
// duration of every RPC through the OpenTelemetry globals
// (google.golang.org/api/transport/grpc). Only the endpoint and the
// credentials then differ from a deployed client's: for benchmarks of a
// function as deployed (shared/deployedtest).
func DeployedClientOptions(hostPort string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(hostPort),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// emulatorClientOptions leave the transport's telemetry out: a test's
// spans and metrics are its own.
func emulatorClientOptions(hostPort string) []option.ClientOption {
	return append(DeployedClientOptions(hostPort), option.WithTelemetryDisabled())
}
