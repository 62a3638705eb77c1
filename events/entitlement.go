package events

import "time"

// EntitlementChanged says an account's entitlement moved. Consumers end the
// account's active sessions when Entitled turned false.
type EntitlementChanged struct {
	AccountID string    `json:"account_id"`
	Status    string    `json:"status"`
	PlanID    string    `json:"plan_id"`
	Entitled  bool      `json:"entitled"`
	Cause     string    `json:"cause"` // e.g. the Stripe event id
	At        time.Time `json:"at"`
}
