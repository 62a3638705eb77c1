package emulators

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// DynamoDB returns the endpoint URL of the DynamoDB Local server this test
// binary shares, starting it if needed. Clients need a region and any static
// credentials; every credential and region sees the same tables.
func DynamoDB(t testing.TB) string {
	t.Helper()
	return startForTest(t, DynamoDBService)
}

// SQS returns the endpoint URL of the shared fauxqs server (SQS JSON protocol).
func SQS(t testing.TB) string {
	t.Helper()
	return startForTest(t, SQSService)
}

// Firestore returns the host:port of the shared Firestore emulator, the form
// FIRESTORE_EMULATOR_HOST takes. See FirestoreClientOptions.
func Firestore(t testing.TB) string {
	t.Helper()
	return startForTest(t, FirestoreService)
}

// StripeMock returns the base URL of the shared stripe-mock server. Any key
// of the form sk_test_... is accepted.
func StripeMock(t testing.TB) string {
	t.Helper()
	return startForTest(t, StripeService)
}

// SharedEnv names the variable that hands the test helpers the endpoint of
// a server of service name that another process runs for them (see the
// package comment): PLAYPLANE_EMULATOR_DYNAMODB for "dynamodb". Whoever
// sets it owns that server; the helpers neither start nor stop it.
func SharedEnv(name string) string {
	return "PLAYPLANE_EMULATOR_" + strings.ToUpper(name)
}

// testStartTimeout bounds install plus start; a cold install of stripe-mock
// compiles it.
const testStartTimeout = 10 * time.Minute

func startForTest(t testing.TB, name string) string {
	t.Helper()
	if os.Getenv(SkipEnv) == "1" {
		t.Skipf("%s=1: skipping a test that needs the %s emulator", SkipEnv, name)
	}
	if endpoint := os.Getenv(SharedEnv(name)); endpoint != "" {
		return endpoint
	}
	ctx, cancel := context.WithTimeout(context.Background(), testStartTimeout)
	defer cancel()
	h, err := acquire(ctx, name)
	if err != nil {
		t.Fatalf("%v\n(set %s=1 to skip tests that need local emulators)", err, SkipEnv)
	}
	t.Cleanup(func() { h.release(testLinger()) })
	return h.endpoint
}

func testLinger() time.Duration {
	def := time.Duration(0)
	if parentDeathSignal {
		def = 3 * time.Second
	}
	return envDuration("PLAYPLANE_EMULATOR_LINGER", def)
}
