package paymentwebhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

// TestCheckoutOutlivingItsClaimNamesNoTakenCustomer: a checkout claims
// cus_slow for acct_a, then stalls before its write of acct_a for
// playback.PendingClaimAge (a Cloud Run instance goes on with a request
// it has timed out, CPU-throttled until its next request). Meanwhile an
// operator links cus_slow to acct_b, taking the stale claim as one whose
// writer died. The checkout's write, conditioned only on acct_a's
// version, which nothing changed, landed all the same: two accounts
// named one customer. A writer sends no write for a claim past
// playback.PendingClaimWrite: the event is retried, claims again, is
// refused and waits parked.
func TestCheckoutOutlivingItsClaimNamesNoTakenCustomer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const cus = "cus_slow"
	var h *harness
	db, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.WithoutSync(), bolt.WithClock(func() time.Time {
		if h == nil {
			return base
		}
		return h.clock.Now()
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := &atClaim{Store: db, account: "acct_a"}
	h = newHarness(t, withStore(store))
	ops, err := admin.New(admin.Config{AdminClaim: "playplane_admin", MaxBody: 1 << 16},
		admin.Deps{Store: store, Identity: anOperator{}, Bus: h.bus, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	mux := httpx.NewServeMux()
	ops.Register(mux)
	h.account("acct_a")
	h.account("acct_b")

	operator := 0
	store.meanwhile = func() {
		h.clock.Set(h.clock.Now().Add(playback.PendingClaimAge))
		r := httptest.NewRequest("PUT", "/v1/admin/accounts/acct_b/customer", strings.NewReader(`{"customer_id":"`+cus+`"}`))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		operator = w.Code
	}
	const id = "evt_checkout_slow"
	h.run(stripeEvent(id, typeCheckoutCompleted, at(time.Minute), checkoutObj("cs_slow", "acct_a", cus, "")))

	var namers []string
	for _, acct := range []string{"acct_a", "acct_b"} {
		if h.getAccount(acct).CustomerID == cus {
			namers = append(namers, acct)
		}
	}
	link, err := db.CustomerLink(ctx, cus)
	ev, evErr := h.inboxEvent(id)
	if operator != http.StatusOK || len(namers) != 1 || namers[0] != "acct_b" || err != nil || link.AccountID != "acct_b" ||
		!ev.ProcessedAt.IsZero() || ev.ParkedKey != parkHeld(cus) {
		t.Fatalf("checkout of %s for acct_a stalled %v after its claim, an operator linking it to acct_b meanwhile (%d): "+
			"accounts naming it %v; its link %+v (%v); the event processed at %v, parked under %q (%v); "+
			"want 200, only acct_b naming it and linked, the event unprocessed under %q",
			cus, playback.PendingClaimAge, operator, namers, link, err, ev.ProcessedAt, ev.ParkedKey, evErr, parkHeld(cus))
	}
}
