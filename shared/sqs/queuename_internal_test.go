package sqs

import (
	"regexp"
	"strings"
	"testing"

	"github.com/playplane/playplane/functions/catalog"
)

// TestValidQueueName holds the loop to SQS's documented rule, written as
// the regexp it replaced.
func TestValidQueueName(t *testing.T) {
	t.Parallel()
	rule := regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)
	for _, tc := range []struct{ name, in string }{
		{name: "empty", in: ""},
		{name: "one", in: "q"},
		{name: "typical", in: "playplane-heartbeats_dlq"},
		{name: "80", in: strings.Repeat("a", 80)},
		{name: "81", in: strings.Repeat("a", 81)},
		{name: "dot", in: "a.fifo"},
		{name: "space", in: "a b"},
		{name: "non-ASCII", in: "héartbeats"},
		{name: "digits first", in: "0-q"},
		{name: "slash", in: "a/b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got, want := validQueueName(tc.in), rule.MatchString(tc.in); got != want {
				t.Errorf("validQueueName(%q) = %v, want %v", tc.in, got, want)
			}
		})
	}
}

// TestDeadLetterQueueIsTheStacks: EnsureQueues names a queue's dead-letter
// queue what the stacks and template.yaml name it (catalog.DeadLetterName,
// held to it there), so that a local run lays out what a deployed stack
// has, and Subscribe(ctx, T+catalog.DeadLetterSuffix, h) consumes T's dead
// letters on both.
func TestDeadLetterQueueIsTheStacks(t *testing.T) {
	t.Parallel()
	const queue = "pp-heartbeats"
	if got, want := queue+dlqSuffix, catalog.DeadLetterName(queue); got != want {
		t.Errorf("EnsureQueues names the dead-letter queue of %s %s, the stacks %s", queue, got, want)
	}
}
