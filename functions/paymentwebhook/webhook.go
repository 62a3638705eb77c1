package paymentwebhook

import (
	"context"
	"net/http"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// Stripe event types the consumer acts on. Others are acknowledged unread.
const (
	typeCheckoutCompleted    = "checkout.session.completed"
	typeSubscriptionCreated  = "customer.subscription.created"
	typeSubscriptionUpdated  = "customer.subscription.updated"
	typeSubscriptionDeleted  = "customer.subscription.deleted"
	typeSubscriptionPaused   = "customer.subscription.paused"
	typeSubscriptionResumed  = "customer.subscription.resumed"
	typeInvoicePaid          = "invoice.paid"
	typeInvoicePaymentFailed = "invoice.payment_failed"
	typeCustomerDeleted      = "customer.deleted"
)

var handledTypes = map[string]bool{
	typeCheckoutCompleted: true, typeSubscriptionCreated: true, typeSubscriptionUpdated: true,
	typeSubscriptionDeleted: true, typeSubscriptionPaused: true, typeSubscriptionResumed: true,
	typeInvoicePaid: true, typeInvoicePaymentFailed: true, typeCustomerDeleted: true,
}

// WebhookResponse is the 2xx body. Stripe only reads the status.
type WebhookResponse struct {
	Received bool   `json:"received"`
	EventID  string `json:"event_id"`
	// Outcome is "recorded" (new), "republished" (seen, not yet processed),
	// "duplicate" (already processed) or "ignored" (a type not acted on).
	Outcome string `json:"outcome"`
}

// webhook acknowledges only what is durable: a 2xx means the event is in
// the inbox and announced on the bus; anything short of that is a 5xx so
// that Stripe retries. Nothing is written for a request that fails
// verification or decoding.
func (s *Server) webhook(w http.ResponseWriter, r *http.Request) error {
	body, err := httpx.ReadBody(r, s.cfg.MaxBody)
	if err != nil {
		return err
	}
	now := s.deps.Now()
	if err := s.verifier.verify(body, r.Header.Get("Stripe-Signature"), now); err != nil {
		return err
	}
	env, err := decodeEnvelope(body)
	if err != nil {
		return err
	}
	if !handledTypes[env.Type] {
		httpx.Logger(r.Context()).DebugContext(r.Context(), "stripe event ignored", "event_id", env.ID, "type", env.Type)
		httpx.WriteJSON(w, http.StatusOK, WebhookResponse{Received: true, EventID: env.ID, Outcome: "ignored"})
		return nil
	}
	if err := checkHandled(env); err != nil {
		return err
	}
	outcome, err := s.record(r.Context(), env, body, now)
	if err != nil {
		return err
	}
	httpx.Logger(r.Context()).InfoContext(r.Context(), "stripe event accepted", "event_id", env.ID,
		"type", env.Type, "outcome", outcome)
	httpx.WriteJSON(w, http.StatusOK, WebhookResponse{Received: true, EventID: env.ID, Outcome: outcome})
	return nil
}

// checkHandled refuses events the consumer could never use, before they
// are recorded.
func checkHandled(env envelope) error {
	switch {
	case !playback.ValidRecordID(env.ID):
		// The id keys the inbox record in every store: an id one store
		// cannot key would be a 400 there, which record answers as a 503.
		return playback.Errorf(playback.CodeInvalid, "event_id", "event id %q %s", env.ID, playback.RecordIDRule)
	case env.Created <= 0:
		return playback.Errorf(playback.CodeInvalid, "event_created", "event has no created time")
	case env.Data == nil || env.Data.Object != '{':
		return playback.Errorf(playback.CodeInvalid, "event_object", "%s event has no data.object", env.Type)
	}
	return nil
}

// record stores the event once and announces it. A duplicate delivery of
// an event already processed has nothing left to do; one not yet processed
// is announced again (the consumer is idempotent), which also recovers an
// earlier delivery whose publish failed after the record.
func (s *Server) record(ctx context.Context, env envelope, body []byte, now time.Time) (string, error) {
	stored, created, err := s.deps.Store.RecordEvent(ctx, playback.InboxEvent{
		Source: Source, ID: env.ID, Type: env.Type, Created: time.Unix(env.Created, 0).UTC(),
		Payload: body, ReceivedAt: now,
	})
	if err != nil {
		return "", retryable(err, "recording stripe event %s", env.ID)
	}
	outcome := "recorded"
	if !created {
		if !stored.ProcessedAt.IsZero() {
			return "duplicate", nil
		}
		outcome = "republished"
	}
	if err := s.announce(ctx, stored); err != nil {
		return "", retryable(err, "publishing stripe event %s", env.ID)
	}
	return outcome, nil
}

// announce publishes a pointer to a recorded event.
func (s *Server) announce(ctx context.Context, ev playback.InboxEvent) error {
	return events.AnnounceStripeEvent(ctx, s.deps.Bus, ev)
}

// retryable makes a dependency failure a 5xx whatever its class: the
// request itself was good, so a later attempt can succeed.
func retryable(err error, format string, args ...any) error {
	if playback.IsCode(err, playback.CodeUnavailable) {
		return err
	}
	return playback.Unavailable(err, format, args...)
}
