package admin_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/shared/auth"
)

// TestDateTimesTheDocumentAccepts: every date-time member the API takes
// is RFC 3339's (OpenAPI's format date-time): the lowercase t and z RFC
// 3339 allows read as their instant, and what Go's time cannot hold (a
// leap second) or reads as no date (a past_due_since of Go's zero time)
// is a 422 whose problem names the member. Before, the first two were 422
// problems without a pointer, and the zero date read as absent: the grace
// started at the write.
func TestDateTimesTheDocumentAccepts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, auth.DefaultAdminClaim)
	h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated)
	since := h.now.Add(-time.Hour)
	lower := strings.ToLower(since.Format(time.RFC3339))
	acct := h.mustDo("POST", "/v1/admin/accounts", "", `{"id":"acct_d","plan_id":"std","territory":"DE","status":"past_due","past_due_since":"`+lower+`"}`, http.StatusCreated)
	var got struct {
		PastDueSince time.Time `json:"past_due_since"`
	}
	if err := json.Unmarshal(acct.body, &got); err != nil || !got.PastDueSince.Equal(since) {
		t.Fatalf("past_due_since %s read as %v (%v), want %v", lower, got.PastDueSince, err, since)
	}
	h.mustDo("POST", "/v1/admin/titles", "", strings.Replace(titleBBB, `"2024-01-01T00:00:00Z"`, `"2024-01-01t00:00:00z"`, 1), http.StatusCreated)

	etag := acct.header.Get("ETag")
	for _, tc := range []struct {
		name, method, path, body, pointer string
	}{
		{name: "leap second in past_due_since", method: "PUT", path: "/v1/admin/accounts/acct_d",
			body: `{"id":"acct_d","plan_id":"std","territory":"DE","status":"past_due","past_due_since":"2016-12-31T23:59:60Z"}`, pointer: "/past_due_since"},
		{name: "zero past_due_since", method: "PUT", path: "/v1/admin/accounts/acct_d",
			body: `{"id":"acct_d","plan_id":"std","territory":"DE","status":"past_due","past_due_since":"0001-01-01T00:00:00Z"}`, pointer: "/past_due_since"},
		{name: "zero past_due_since patched", method: "PATCH", path: "/v1/admin/accounts/acct_d",
			body: `{"past_due_since":"0001-01-01T00:00:00Z"}`, pointer: "/past_due_since"},
		{name: "leap second in a window", method: "POST", path: "/v1/admin/titles",
			body: strings.Replace(strings.Replace(titleBBB, `"bbb"`, `"bbb2"`, 1), `"2035-01-01T00:00:00Z"`, `"2016-12-31T23:59:60Z"`, 1), pointer: "/windows/0/end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r resp
			if tc.method == "PATCH" {
				r = h.patch(tc.path, etag, admin.MergePatchType, tc.body)
			} else {
				r = h.do(tc.method, tc.path, h.admin, etag, tc.body)
			}
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422: %s", r.status, r.body)
			}
			var e struct {
				Error struct {
					Reason  string         `json:"reason"`
					Details admin.Problems `json:"details"`
				} `json:"error"`
			}
			if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Reason != admin.ReasonValidation ||
				len(e.Error.Details.Problems) != 1 || e.Error.Details.Problems[0].Pointer != tc.pointer {
				t.Fatalf("%s, want one problem at %s", r.body, tc.pointer)
			}
		})
	}
	if now := h.mustDo("GET", "/v1/admin/accounts/acct_d", "", "", http.StatusOK); now.header.Get("ETag") != etag {
		t.Fatalf("a refused write changed the account: %s", now.body)
	}

	// The QoE range's query parameters are date-times too.
	from := strings.ToLower(h.now.Add(-2 * time.Hour).Format(time.RFC3339))
	to := strings.ToLower(h.now.Format(time.RFC3339))
	h.mustDo("GET", "/v1/admin/qoe?from="+from+"&to="+to, "", "", http.StatusOK)
	if r := h.mustDo("GET", "/v1/admin/qoe?to=2016-12-31T23:59:60Z", "", "", http.StatusBadRequest); r.errBody(t).Reason != "to_invalid" {
		t.Fatalf("leap second in to: %s", r.body)
	}
}
