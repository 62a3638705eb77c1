package paymentwebhook

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/shared/playback"
)

// listingAPI is Stripe's GET /v1/subscriptions answering one page, with
// the Date header the test sets: Stripe writes Date when it answers, so a
// page read late in one second may be dated the next. Loopback only.
type listingAPI struct {
	mu   sync.Mutex
	page []obj
	date time.Time
}

func (s *listingAPI) set(date time.Time, subs ...obj) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.page, s.date = subs, date
}

func (s *listingAPI) option(t *testing.T) harnessOption {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		page, date := s.page, s.date
		s.mu.Unlock()
		if r.Method != http.MethodGet || r.URL.Path != "/v1/subscriptions" {
			http.Error(w, `{"error":{"type":"invalid_request_error","message":"unexpected request"}}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Date", date.UTC().Format(http.TimeFormat))
		if err := json.NewEncoder(w).Encode(obj{"object": "list", "url": "/v1/subscriptions", "has_more": false, "data": page}); err != nil {
			t.Error(err)
		}
	}))
	t.Cleanup(srv.Close)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("listing API not on loopback: %s", srv.URL)
	}
	return func(c *Config, _ *Deps) { c.APIKey, c.APIURL = "sk_test_listing", srv.URL }
}

// TestListingDoesNotUndoAChangeOfTheSecondBeforeItsDate: a listing page is
// dated (Date header) when Stripe answered, at or after the read, so it
// may hold the state of the second before its Date. A past_due subscriber
// out of grace pays: Stripe moves the subscription to active in second
// T-1, just after the hourly reconciliation read it past_due, and the
// page is dated T. Whether the payment's update is applied before the
// page or after it (the account missed the move into past_due, which the
// page repairs), the subscriber must end active and entitled: the page
// must not put the account back to past_due (ending its sessions), nor
// refuse the payment as older than itself, for the hour until the next
// run.
func TestListingDoesNotUndoAChangeOfTheSecondBeforeItsDate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		listingFirst bool
	}{
		{name: "payment applied, then the page", listingFirst: false},
		{name: "move into past_due missed, page applied, then the payment", listingFirst: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := &listingAPI{}
			h := newHarness(t, api.option(t))
			l := newLifecycle(t, "listedlate", docWebhooks, docSmartRetries)
			s := l.sub("", stdP, base, month)
			s.status = "active"
			l.created(s, base)
			due := with(s, func(x *subState) { x.status = "past_due" })
			l.update(s, due, base.Add(time.Hour))
			date := base.Add(10 * day) // the grace (72 h) long over
			paid := with(due, func(x *subState) { x.status = "active" })
			l.update(due, paid, date.Add(-time.Second))
			payment := l.events[len(l.events)-1].payload

			h.linked(l.account, l.customer)
			h.clock.Set(date.Add(2 * time.Second))
			h.run(l.events[0].payload)
			if !tc.listingFirst {
				h.run(l.events[1].payload)
			}
			api.set(date, due.obj(t))
			reconcile := func() {
				t.Helper()
				if rep, err := h.srv.Reconcile(t.Context()); err != nil || rep.Failed != 0 {
					t.Fatalf("reconcile: %+v %v", rep, err)
				}
				h.settle()
			}
			if tc.listingFirst {
				reconcile()
				h.run(payment)
			} else {
				h.run(payment)
				reconcile()
			}
			a := h.getAccount(l.account)
			wantState(t, a, playback.StatusActive, "standard")
			if !a.Entitled(h.clock.Now(), testConfig().PastDueGrace) {
				t.Fatalf("paid subscriber not entitled: %+v", a.Subscriptions)
			}
			evs := h.entitlementEvents()
			if last := evs[len(evs)-1]; !last.Entitled {
				t.Fatalf("last entitlement announced %+v, want entitled", last)
			}
		})
	}
}
