package paymentwebhook

import (
	"bytes"
	"encoding/json"
	"errors"
)

// The Stripe objects below hold only what the entitlement rules read. The
// consumer decodes them from the recorded payload, the API reader from
// Stripe's responses, so one decoder serves webhooks, refetch and
// reconciliation alike.

// stripeID is an expandable reference: Stripe sends an id string, the
// expanded object (with an "id"), or null.
type stripeID string

func (x *stripeID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return errors.New("empty reference")
	case b[0] == 'n':
		*x = ""
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*x = stripeID(s)
		return nil
	case b[0] == '{':
		var obj struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		*x = stripeID(obj.ID)
		return nil
	default:
		return errors.New("reference must be an id, an object or null")
	}
}

// stripeSubscription is a Stripe subscription object.
type stripeSubscription struct {
	ID                 string            `json:"id"`
	Object             string            `json:"object"`
	Customer           stripeID          `json:"customer"`
	Status             string            `json:"status"`
	Created            int64             `json:"created"` // orders metadata links (namesCustomer)
	CurrentPeriodStart int64             `json:"current_period_start"`
	CurrentPeriodEnd   int64             `json:"current_period_end"`
	Metadata           map[string]string `json:"metadata"`
	Items              struct {
		Data []subscriptionItem `json:"data"`
	} `json:"items"`
	// The attributes below only order snapshots of one second (see
	// attrsOf): Stripe names their earlier values in previous_attributes.
	CancelAtPeriodEnd *bool           `json:"cancel_at_period_end"`
	CancelAt          *int64          `json:"cancel_at"`
	CanceledAt        *int64          `json:"canceled_at"`
	EndedAt           *int64          `json:"ended_at"`
	TrialEnd          *int64          `json:"trial_end"`
	LatestInvoice     stripeID        `json:"latest_invoice"`
	PauseCollection   json.RawMessage `json:"pause_collection"`
	PendingUpdate     json.RawMessage `json:"pending_update"`
}

type subscriptionItem struct {
	Price *stripePrice `json:"price"`
	// API versions after 2023-10-16 (and stripe-mock's fixtures) carry the
	// period on the items instead of the subscription.
	CurrentPeriodStart int64 `json:"current_period_start"`
	CurrentPeriodEnd   int64 `json:"current_period_end"`
}

// period returns the current billing period, from the subscription or,
// failing that, from its items.
func (s stripeSubscription) period() (start, end int64) {
	if s.CurrentPeriodEnd != 0 {
		return s.CurrentPeriodStart, s.CurrentPeriodEnd
	}
	for _, it := range s.Items.Data {
		if it.CurrentPeriodEnd > end {
			start, end = it.CurrentPeriodStart, it.CurrentPeriodEnd
		}
	}
	return start, end
}

// stripePrice is a price as items and lines carry it. Product is an
// expandable reference (an id, or the product object when expanded).
type stripePrice struct {
	ID      string   `json:"id"`
	Product stripeID `json:"product"`
}

// productIDs are the products of the subscription's items' prices.
func (s stripeSubscription) productIDs() []string {
	var ids []string
	for _, it := range s.Items.Data {
		if it.Price != nil && it.Price.Product != "" {
			ids = append(ids, string(it.Price.Product))
		}
	}
	return ids
}

func (s stripeSubscription) priceIDs() []string {
	var ids []string
	for _, it := range s.Items.Data {
		if it.Price != nil && it.Price.ID != "" {
			ids = append(ids, it.Price.ID)
		}
	}
	return ids
}

// stripeInvoice is a Stripe invoice object (API 2023-10-16 shape).
type stripeInvoice struct {
	ID            string   `json:"id"`
	Object        string   `json:"object"`
	Customer      stripeID `json:"customer"`
	Subscription  stripeID `json:"subscription"`
	BillingReason string   `json:"billing_reason"`
	AmountPaid    int64    `json:"amount_paid"`
	Lines         struct {
		Data []invoiceLine `json:"data"`
	} `json:"lines"`
	SubscriptionDetails *struct {
		Metadata map[string]string `json:"metadata"`
	} `json:"subscription_details"`
}

type invoiceLine struct {
	Type      string       `json:"type"`
	Proration bool         `json:"proration"`
	Price     *stripePrice `json:"price"`
	Period    struct {
		Start int64 `json:"start"`
		End   int64 `json:"end"`
	} `json:"period"`
	Subscription stripeID `json:"subscription"`
}

// subscriptionLines are the invoice's regular (non-proration) charges for
// subscription sub: for a renewal these carry the new period and price.
func (inv stripeInvoice) subscriptionLines(sub string) []invoiceLine {
	var out []invoiceLine
	for _, l := range inv.Lines.Data {
		if l.Type == "subscription" && !l.Proration && (l.Subscription == "" || string(l.Subscription) == sub) {
			out = append(out, l)
		}
	}
	return out
}

// stripeCheckoutSession is a Stripe Checkout Session object.
type stripeCheckoutSession struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	ClientReferenceID string            `json:"client_reference_id"`
	Customer          stripeID          `json:"customer"`
	Subscription      stripeID          `json:"subscription"`
	Mode              string            `json:"mode"`
	Metadata          map[string]string `json:"metadata"`
	// CustomerDetails is what the customer entered in the session: the
	// billing address (its country at least when Checkout collects one)
	// and email. A new subscriber's account takes its territory from it.
	CustomerDetails *struct {
		Email   string         `json:"email"`
		Address *stripeAddress `json:"address"`
	} `json:"customer_details"`
	CustomerEmail string `json:"customer_email"`
	// LineItems is only present when the session was read with
	// expand[]=line_items; webhooks leave it out.
	LineItems *struct {
		Data []struct {
			Price *stripePrice `json:"price"`
		} `json:"data"`
	} `json:"line_items"`
}

// stripeAddress is a Stripe address; only the country matters here.
type stripeAddress struct {
	Country string `json:"country"`
}

// country is the session's billing country, "" if it has none.
func (cs stripeCheckoutSession) country() string {
	if cs.CustomerDetails == nil || cs.CustomerDetails.Address == nil {
		return ""
	}
	return cs.CustomerDetails.Address.Country
}

// email is the customer's email as the session knows it.
func (cs stripeCheckoutSession) email() string {
	if cs.CustomerDetails != nil && cs.CustomerDetails.Email != "" {
		return cs.CustomerDetails.Email
	}
	return cs.CustomerEmail
}

func (cs stripeCheckoutSession) priceIDs() []string {
	var ids []string
	if cs.LineItems != nil {
		for _, it := range cs.LineItems.Data {
			if it.Price != nil && it.Price.ID != "" {
				ids = append(ids, it.Price.ID)
			}
		}
	}
	return ids
}

// productIDs are the products of the session's line items' prices; none
// unless the session was read with its line items.
func (cs stripeCheckoutSession) productIDs() []string {
	var ids []string
	if cs.LineItems != nil {
		for _, it := range cs.LineItems.Data {
			if it.Price != nil && it.Price.Product != "" {
				ids = append(ids, string(it.Price.Product))
			}
		}
	}
	return ids
}

// productIDs are the products of the invoice's regular charges for
// subscription sub.
func (inv stripeInvoice) productIDs(sub string) []string {
	var ids []string
	for _, l := range inv.subscriptionLines(sub) {
		if l.Price != nil && l.Price.Product != "" {
			ids = append(ids, string(l.Price.Product))
		}
	}
	return ids
}

// stripeCustomer is a Stripe customer object.
type stripeCustomer struct {
	ID       string            `json:"id"`
	Object   string            `json:"object"`
	Metadata map[string]string `json:"metadata"`
	Address  *stripeAddress    `json:"address"`
}
