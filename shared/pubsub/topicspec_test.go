package pubsub_test

import (
	"strings"
	"testing"

	"github.com/playplane/playplane/shared/pubsub"
)

func TestParseTopicSpec(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, spec            string
		project, prefix, fail string
	}{
		{name: "stack value", spec: "stripe-events:projects/p1/topics/s-stripe-events,entitlement-changed:projects/p1/topics/s-entitlement-changed",
			project: "p1", prefix: "s-"},
		{name: "two projects", spec: "stripe-events:projects/p1/topics/s-stripe-events,entitlement-changed:projects/p2/topics/s-entitlement-changed",
			fail: "every topic"},
		{name: "id not ending in topic", spec: "stripe-events:projects/p1/topics/other", fail: "does not end"},
		{name: "not a resource name", spec: "stripe-events:p1/stripe-events", fail: "want topic:projects"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			project, prefix, err := pubsub.ParseTopicSpec(tc.spec)
			if tc.fail != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fail) {
					t.Fatalf("ParseTopicSpec: %v, want an error containing %q", err, tc.fail)
				}
				return
			}
			if err != nil || project != tc.project || prefix != tc.prefix {
				t.Fatalf("ParseTopicSpec = %q, %q, %v; want %q, %q", project, prefix, err, tc.project, tc.prefix)
			}
		})
	}
}
