package paymentwebhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/form"

	"github.com/playplane/playplane/shared/playback"
)

// StripeAPI reads subscriptions through stripe-go's backend (auth, the
// pinned Stripe-Version header, network retries with idempotent GETs) into
// the same small objects the webhook decodes.
type StripeAPI struct {
	backend stripe.Backend
	key     string
	now     func() time.Time
}

// NewStripeAPI returns a client for the API at url (empty: api.stripe.com).
// It makes no network call.
func NewStripeAPI(key, url string) (*StripeAPI, error) {
	if key == "" {
		return nil, errors.New("paymentwebhook.NewStripeAPI: an API key is required")
	}
	cfg := &stripe.BackendConfig{
		HTTPClient:        &http.Client{Timeout: 20 * time.Second},
		MaxNetworkRetries: stripe.Int64(2),
		LeveledLogger:     slogLeveled{},
	}
	if url != "" {
		cfg.URL = stripe.String(strings.TrimRight(url, "/"))
	}
	return &StripeAPI{backend: stripe.GetBackendWithConfig(stripe.APIBackend, cfg), key: key, now: time.Now}, nil
}

type subscriptionResponse struct {
	stripe.APIResource
	stripeSubscription
}

type subscriptionPage struct {
	stripe.APIResource
	Data    []stripeSubscription `json:"data"`
	HasMore bool                 `json:"has_more"`
}

// subscription reads one subscription.
func (a *StripeAPI) subscription(ctx context.Context, id string) (stripeSubscription, error) {
	if !validStripeID(id) {
		return stripeSubscription{}, playback.Errorf(playback.CodeInvalid, "subscription_id",
			"subscription id %q is not a Stripe id", id)
	}
	var out subscriptionResponse
	params := &stripe.SubscriptionParams{Params: stripe.Params{Context: ctx}}
	if err := a.backend.Call(http.MethodGet, "/v1/subscriptions/"+id, a.key, params, &out); err != nil {
		return stripeSubscription{}, apiError("GET /v1/subscriptions/"+id, err)
	}
	return out.stripeSubscription, nil
}

type customerResponse struct {
	stripe.APIResource
	stripeCustomer
}

// customer reads one customer.
func (a *StripeAPI) customer(ctx context.Context, id string) (stripeCustomer, error) {
	if !validStripeID(id) {
		return stripeCustomer{}, playback.Errorf(playback.CodeInvalid, "customer_id", "customer id %q is not a Stripe id", id)
	}
	var out customerResponse
	params := &stripe.CustomerParams{Params: stripe.Params{Context: ctx}}
	if err := a.backend.Call(http.MethodGet, "/v1/customers/"+id, a.key, params, &out); err != nil {
		return stripeCustomer{}, apiError("GET /v1/customers/"+id, err)
	}
	return out.stripeCustomer, nil
}

// listSubscriptions calls fn with every subscription of every status, page
// by page, with the second Stripe answered the page in (its Date header),
// which is at or after the read.
func (a *StripeAPI) listSubscriptions(ctx context.Context, fn func(sub stripeSubscription, asOf time.Time) error) error {
	var after string
	for {
		params := &stripe.SubscriptionListParams{
			ListParams: stripe.ListParams{Context: ctx, Limit: stripe.Int64(100)},
			Status:     stripe.String("all"),
		}
		if after != "" {
			params.StartingAfter = stripe.String(after)
		}
		// List params have no Metadata field, which Backend.Call insists
		// on; encode them as stripe-go's own iterators do.
		query := &form.Values{}
		form.AppendTo(query, params)
		var page subscriptionPage
		if err := a.backend.CallRaw(http.MethodGet, "/v1/subscriptions", a.key, query, params.GetParams(), &page); err != nil {
			return apiError("GET /v1/subscriptions", err)
		}
		asOf := a.asOf(page.LastResponse)
		for _, sub := range page.Data {
			if err := fn(sub, asOf); err != nil {
				return err
			}
		}
		if !page.HasMore || len(page.Data) == 0 {
			return nil
		}
		after = page.Data[len(page.Data)-1].ID
	}
}

func (a *StripeAPI) asOf(resp *stripe.APIResponse) time.Time {
	if resp != nil {
		if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			return t
		}
	}
	return a.now().Truncate(time.Second)
}

// apiError keeps Stripe's verdict on requests that can never succeed (a
// missing or invalid object) and marks everything else retryable.
func apiError(op string, err error) error {
	var se *stripe.Error
	if errors.As(err, &se) {
		switch se.HTTPStatusCode {
		case http.StatusNotFound:
			return &playback.Error{Code: playback.CodeNotFound, Reason: "stripe_object_missing",
				Message: fmt.Sprintf("stripe %s: %s", op, se.Msg), Err: err}
		case http.StatusBadRequest:
			return &playback.Error{Code: playback.CodeInvalid, Reason: "stripe_request_invalid",
				Message: fmt.Sprintf("stripe %s: %s", op, se.Msg), Err: err}
		}
	}
	return playback.Unavailable(err, "stripe %s", op)
}

// slogLeveled routes stripe-go's own logging to slog, warnings and up.
type slogLeveled struct{}

func (slogLeveled) Debugf(string, ...any) {}
func (slogLeveled) Infof(string, ...any)  {}
func (slogLeveled) Warnf(format string, v ...any) {
	slog.Warn("stripe-go", "msg", fmt.Sprintf(format, v...))
}
func (slogLeveled) Errorf(format string, v ...any) {
	slog.Error("stripe-go", "msg", fmt.Sprintf(format, v...))
}

// validStripeID keeps ids that reach a request path to Stripe's alphabet.
func validStripeID(id string) bool {
	if id == "" || len(id) > 255 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
