// Package events holds the bus topics, the event payloads carried on them,
// their JSON schemas and sample payloads (testdata and per-function samples
// usable with `sam local invoke -e`).
package events

import "github.com/playplane/playplane/functions/catalog"

// Topics of the bus. On AWS each is an SQS queue, on GCP a Pub/Sub topic.
// The names are the catalogue's, which deploys them.
const (
	// TopicStripeEvents carries verified, recorded Stripe events (StripeEventRecorded).
	TopicStripeEvents = catalog.TopicStripeEvents
	// TopicEntitlementChanged carries EntitlementChanged.
	TopicEntitlementChanged = catalog.TopicEntitlementChanged
	// TopicHeartbeats carries playback heartbeats.
	TopicHeartbeats = catalog.TopicHeartbeats
	// TopicEdgeHealth carries edge health reports.
	TopicEdgeHealth = catalog.TopicEdgeHealth
)

// Topics lists every topic, for adapters that create queues or topics.
var Topics = func() []string {
	out := make([]string, len(catalog.Topics))
	for i, t := range catalog.Topics {
		out[i] = t.Name
	}
	return out
}()
