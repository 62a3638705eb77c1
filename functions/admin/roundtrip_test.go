package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/playback"
)

// serverOwned is what an account holds beyond its settings: the members
// playback, payments and the store write, which no admin write may change.
type serverOwned struct {
	CurrentPeriodEnd time.Time
	Devices          []playback.Device
	Subscriptions    []playback.Subscription
	UpdatedAt        time.Time
	Announced        playback.Entitlement
	CustomersDeleted []playback.CustomerDeletion
	OtherProducts    []playback.OtherProductMark
}

func serverOwnedOf(a playback.Account) serverOwned {
	return serverOwned{CurrentPeriodEnd: a.CurrentPeriodEnd, Devices: a.Devices, Subscriptions: a.Subscriptions, UpdatedAt: a.UpdatedAt,
		Announced: a.Announced, CustomersDeleted: a.CustomersDeleted, OtherProducts: a.OtherProducts}
}

// TestAccountGetPutRoundTrip: an account's GET body PUT back unchanged is
// 200, as an operator's client (or curl | jq | curl) does it. Before, any
// account holding devices, subscriptions or another member the server
// owns was refused 422 (the record schema had no such members), while
// PATCH took it. The server-owned members are readOnly: sent in a PUT or
// PATCH, changed or not, they are ignored, never written.
func TestAccountGetPutRoundTrip(t *testing.T) {
	t.Parallel()
	for _, st := range everyStore {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			h := newHarnessOn(t, auth.DefaultAdminClaim, st.store(t))
			ctx := context.Background()
			h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
			h.mustDo("POST", "/v1/admin/accounts", "", `{"id":"acct_rt","plan_id":"std","territory":"DE","status":"active","customer_id":"cus_rt"}`, http.StatusCreated)
			stripeEvent(t, h.store, "acct_rt", 100, playback.StatusActive, "std")
			if _, err := h.store.UpdateAccount(ctx, "acct_rt", func(a *playback.Account) error {
				a.Devices = append(a.Devices, playback.Device{ID: "tv", Name: "Living room", RegisteredAt: h.now.Add(-time.Hour), LastPlayedAt: h.now})
				a.OtherProducts = append(a.OtherProducts, playback.OtherProductMark{Subscription: "sub_other", Clock: 90, Event: "evt_other"})
				a.CustomersDeleted = append(a.CustomersDeleted, playback.CustomerDeletion{Customer: "cus_old", Clock: 50, Event: "evt_del"})
				a.Announced = playback.Entitlement{Entitled: true, Status: playback.StatusActive, PlanID: "std"}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			stored := func(t *testing.T) playback.Account {
				t.Helper()
				a, err := h.store.GetAccount(ctx, "acct_rt")
				if err != nil {
					t.Fatal(err)
				}
				return a
			}
			before := stored(t)
			if len(before.Devices) == 0 || len(before.Subscriptions) == 0 || len(before.OtherProducts) == 0 || len(before.CustomersDeleted) == 0 {
				t.Fatalf("fixture holds too little: %+v", before)
			}
			same := func(t *testing.T, what string) {
				t.Helper()
				after := stored(t)
				if got, want := serverOwnedOf(after), serverOwnedOf(before); !reflect.DeepEqual(
					got.Devices, want.Devices) || !reflect.DeepEqual(got.Subscriptions, want.Subscriptions) ||
					!reflect.DeepEqual(got.OtherProducts, want.OtherProducts) || !reflect.DeepEqual(got.CustomersDeleted, want.CustomersDeleted) ||
					got.Announced != want.Announced || !got.CurrentPeriodEnd.Equal(want.CurrentPeriodEnd) {
					t.Fatalf("%s changed server-owned members:\n got %+v\nwant %+v", what, got, want)
				}
				if after.Status != before.Status || after.PlanID != before.PlanID || after.CustomerID != before.CustomerID {
					t.Fatalf("%s changed the settings: %+v", what, after)
				}
			}

			get := h.mustDo("GET", "/v1/admin/accounts/acct_rt", "", "", http.StatusOK)
			put := h.mustDo("PUT", "/v1/admin/accounts/acct_rt", get.header.Get("ETag"), string(get.body), http.StatusOK)
			same(t, "the GET body PUT back")

			// The same members sent changed are ignored too.
			var doc map[string]any
			if err := json.Unmarshal(get.body, &doc); err != nil {
				t.Fatal(err)
			}
			doc["devices"] = []any{}
			doc["subscriptions"] = []any{map[string]any{"id": "sub_forged", "status": "active", "plan_id": "std", "current_period_end": "2099-01-01T00:00:00Z", "clock": 1 << 40}}
			doc["other_products"] = nil
			doc["customers_deleted"] = []any{map[string]any{"customer": "cus_rt", "clock": 1 << 40, "event": "evt_forged"}}
			doc["announced"] = map[string]any{"entitled": false, "status": "canceled", "plan_id": "std"}
			doc["current_period_end"] = "2099-01-01T00:00:00Z"
			doc["updated_at"] = "2000-01-01T00:00:00Z"
			doc["territory"] = "FR" // a setting, which the PUT writes
			forged, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			put = h.mustDo("PUT", "/v1/admin/accounts/acct_rt", put.header.Get("ETag"), string(forged), http.StatusOK)
			same(t, "a PUT of changed server-owned members")
			if a := stored(t); a.Territory != "FR" {
				t.Fatalf("the PUT's setting was not written: territory %q", a.Territory)
			}

			r := h.patch("/v1/admin/accounts/acct_rt", put.header.Get("ETag"), admin.MergePatchType,
				`{"devices":[],"subscriptions":null,"announced":{"entitled":false},"parental_cap":12}`)
			if r.status != http.StatusOK {
				t.Fatalf("PATCH of server-owned members: %d %s", r.status, r.body)
			}
			same(t, "a PATCH of server-owned members")
			if a := stored(t); a.ParentalCap != 12 {
				t.Fatalf("the PATCH's setting was not written: parental_cap %d", a.ParentalCap)
			}
		})
	}
}

// TestAccountWithoutAPlanGetPutRoundTrip: an account a checkout created
// before its subscription's events named a plan (plan_id "", linked to
// the customer) takes its GET body PUT back and an operator's PATCH of
// another setting, and a PATCH giving it a plan. Before, both were 422
// (plan_id: minLength). A plan-less account that no customer links is
// refused: nothing would ever give it a plan.
func TestAccountWithoutAPlanGetPutRoundTrip(t *testing.T) {
	t.Parallel()
	for _, st := range everyStore {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			h := newHarnessOn(t, auth.DefaultAdminClaim, st.store(t))
			ctx := context.Background()
			h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
			// As paymentwebhook's provision writes it, then links.
			doc, err := json.Marshal(playback.Account{ID: "acct_np", Email: "np@example.com", Status: playback.StatusNone,
				Territory: "FR", CustomerID: "cus_np", UpdatedAt: h.now})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.store.ApplyChanges(ctx, playback.ChangeSet{Actor: "checkout:cs_np", At: h.now,
				Changes: []playback.Change{{Kind: playback.KindAccount, ID: "acct_np", Doc: doc, IfAbsent: true}}}); err != nil {
				t.Fatal(err)
			}
			if err := h.store.LinkCustomer(ctx, "cus_np", "acct_np"); err != nil {
				t.Fatal(err)
			}
			refused := func(t *testing.T, r resp, pointer string) {
				t.Helper()
				var e struct {
					Error struct {
						Details admin.Problems `json:"details"`
					} `json:"error"`
				}
				if r.status != http.StatusUnprocessableEntity || json.Unmarshal(r.body, &e) != nil ||
					len(e.Error.Details.Problems) != 1 || e.Error.Details.Problems[0].Pointer != pointer {
					t.Fatalf("%d %s, want 422 with one problem at %s", r.status, r.body, pointer)
				}
			}

			get := h.mustDo("GET", "/v1/admin/accounts/acct_np", "", "", http.StatusOK)
			put := h.mustDo("PUT", "/v1/admin/accounts/acct_np", get.header.Get("ETag"), string(get.body), http.StatusOK)
			if a, err := h.store.GetAccount(ctx, "acct_np"); err != nil || a.PlanID != "" || a.CustomerID != "cus_np" {
				t.Fatalf("after the PUT: %+v, %v", a, err)
			}
			r := h.patch("/v1/admin/accounts/acct_np", put.header.Get("ETag"), admin.MergePatchType, `{"parental_cap":12}`)
			if r.status != http.StatusOK {
				t.Fatalf("PATCH of another setting: %d %s", r.status, r.body)
			}
			// Unlinked, it would wait for a plan forever.
			refused(t, h.patch("/v1/admin/accounts/acct_np", r.header.Get("ETag"), admin.MergePatchType, `{"customer_id":null}`), "/plan_id")
			refused(t, h.do("POST", "/v1/admin/accounts", h.admin, "", `{"id":"acct_hand","plan_id":"","territory":"DE"}`), "/plan_id")
			r = h.patch("/v1/admin/accounts/acct_np", r.header.Get("ETag"), admin.MergePatchType, `{"plan_id":"std"}`)
			if a, err := h.store.GetAccount(ctx, "acct_np"); r.status != http.StatusOK || err != nil || a.PlanID != "std" || a.ParentalCap != 12 {
				t.Fatalf("PATCH giving it a plan: %d %s; stored %+v, %v", r.status, r.body, a, err)
			}
		})
	}
}

// TestEdgeGetPutRoundTrip: an edge's GET body, health included, PUT back
// is 200 and keeps the health its reports gave it (before: 422, the
// record schema had no health members).
func TestEdgeGetPutRoundTrip(t *testing.T) {
	t.Parallel()
	h := newHarness(t, auth.DefaultAdminClaim)
	ctx := context.Background()
	h.mustDo("POST", "/v1/admin/edges", "", edgeFra, http.StatusCreated)
	before, err := h.store.UpdateEdge(ctx, "fra-1", func(e *playback.Edge) error {
		e.Healthy, e.Load, e.ReportedCapacity, e.HotTitles = true, 42, 80, []string{"bbb"}
		e.ReportedAt, e.ReceivedAt = h.now, h.now
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	get := h.mustDo("GET", "/v1/admin/edges/fra-1", "", "", http.StatusOK)
	forged := strings.Replace(string(get.body), `"load":42`, `"load":0`, 1)
	if forged == string(get.body) {
		t.Fatalf("GET body %s has no load 42", get.body)
	}
	put := h.mustDo("PUT", "/v1/admin/edges/fra-1", get.header.Get("ETag"), string(get.body), http.StatusOK)
	h.mustDo("PUT", "/v1/admin/edges/fra-1", put.header.Get("ETag"), forged, http.StatusOK)
	after, err := h.store.GetEdge(ctx, "fra-1")
	if err != nil {
		t.Fatal(err)
	}
	if after.Load != before.Load || after.Healthy != before.Healthy || after.ReportedCapacity != before.ReportedCapacity ||
		!reflect.DeepEqual(after.HotTitles, before.HotTitles) || !after.ReportedAt.Equal(before.ReportedAt) {
		t.Fatalf("health after the PUTs %+v, want %+v", after, before)
	}
}
