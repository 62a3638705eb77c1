package events

import "time"

// StripeSource is the inbox source of Stripe events.
const StripeSource = "stripe"

// StripeEventRecorded is the message on TopicStripeEvents
// (schemas/stripe-event-recorded.json): a Stripe event whose signature was
// verified and whose raw body is stored in the inbox under (StripeSource,
// EventID). It is a pointer, not a copy, because a Stripe event may be
// larger than an SQS message; consumers read the payload from the inbox
// and skip events it marks processed. The same event may be announced more
// than once (redelivery, the sweeper): consumers are idempotent.
type StripeEventRecorded struct {
	EventID    string    `json:"event_id"`
	Type       string    `json:"type"`
	Created    time.Time `json:"created"`     // Stripe's event.created
	ReceivedAt time.Time `json:"received_at"` // when the webhook first recorded it
}
