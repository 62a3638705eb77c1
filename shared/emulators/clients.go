package emulators

import (
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

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

func emulatorClientOptions(hostPort string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(hostPort),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		option.WithTelemetryDisabled(),
	}
}
