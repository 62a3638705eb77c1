// Package events holds the bus topics, the event payloads carried on them,
// their JSON schemas and sample payloads (testdata and per-function samples
// usable with `sam local invoke -e`).
package events

// Topics of the bus. On AWS each is an SQS queue, on GCP a Pub/Sub topic.
const (
	// TopicStripeEvents carries verified, recorded Stripe events (StripeEventRecorded).
	TopicStripeEvents = "stripe-events"
	// TopicEntitlementChanged carries EntitlementChanged.
	TopicEntitlementChanged = "entitlement-changed"
	// TopicHeartbeats carries playback heartbeats.
	TopicHeartbeats = "heartbeats"
	// TopicEdgeHealth carries edge health reports.
	TopicEdgeHealth = "edge-health"
)

// Topics lists every topic, for adapters that create queues or topics.
var Topics = []string{TopicStripeEvents, TopicEntitlementChanged, TopicHeartbeats, TopicEdgeHealth}
