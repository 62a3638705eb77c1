package emulators

import (
	"os"
	"testing"
)

// TestMain keeps this package's own tests on servers they start: they check
// the start path (install, launch, readiness, sharing within a process),
// which a server handed in by PLAYPLANE_EMULATOR_<SERVICE> would bypass.
func TestMain(m *testing.M) {
	for _, name := range []string{DynamoDBService, SQSService, FirestoreService, StripeService} {
		os.Unsetenv(SharedEnv(name))
	}
	os.Exit(m.Run())
}

// The helpers use a server another process runs when its variable names
// one, and start none of their own.
func TestHelpersUseTheSharedServer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		service string
		helper  func(testing.TB) string
		value   string
	}{
		{name: "dynamodb", service: DynamoDBService, helper: DynamoDB, value: "http://127.0.0.1:1"},
		{name: "sqs", service: SQSService, helper: SQS, value: "http://127.0.0.1:2"},
		{name: "firestore", service: FirestoreService, helper: Firestore, value: "127.0.0.1:3"},
		{name: "stripe", service: StripeService, helper: StripeMock, value: "http://127.0.0.1:4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SharedEnv(tc.service); got != "PLAYPLANE_EMULATOR_"+map[string]string{
				"dynamodb": "DYNAMODB", "sqs": "SQS", "firestore": "FIRESTORE", "stripe": "STRIPE"}[tc.name] {
				t.Fatalf("SharedEnv(%q) = %q", tc.service, got)
			}
			t.Setenv(SharedEnv(tc.service), tc.value)
			// A server this process started for an earlier test may still
			// linger (-count, -shuffle): the helper must neither replace it
			// nor join it.
			before, beforeRefs := registered(tc.service)
			if got := tc.helper(t); got != tc.value {
				t.Errorf("helper returned %q, want the shared %q", got, tc.value)
			}
			if s, refs := registered(tc.service); s != before || refs != beforeRefs {
				t.Errorf("a %s server was started or joined beside the shared one", tc.service)
			}
		})
	}
}

// registered is the server this process runs for service, if any, and how
// many users hold it.
func registered(service string) (*sharedServer, int) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	s := registry.servers[service]
	if s == nil {
		return nil, 0
	}
	return s, s.refs
}
