package admin_test

import (
	"net/http"
	"testing"

	"github.com/playplane/playplane/shared/auth"
)

// TestWindowBeyondYear9999InUTC: a licence window whose time is within
// RFC 3339's years as written but not in UTC (9999-12-31T23:00:00-05:00
// is 10000-01-01T04:00:00Z) cannot be stored as RFC 3339 UTC: it is a
// validation problem (422), not a 500.
func TestWindowBeyondYear9999InUTC(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, start, end string
	}{
		{name: "end after 9999 in UTC", start: "2024-01-01T00:00:00Z", end: "9999-12-31T23:00:00-05:00"},
		{name: "start before year 0 in UTC", start: "0000-01-01T00:00:00+01:00", end: "2030-01-01T00:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, auth.DefaultAdminClaim)
			body := `{"id":"bbb","name":"T","rating":0,"asset_path":"/titles/bbb/","manifest":"master.m3u8","windows":[{"territory":"DE","start":"` +
				tc.start + `","end":"` + tc.end + `"}]}`
			r := h.do("POST", "/v1/admin/titles", h.admin, "", body)
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422: %s", r.status, r.body)
			}
		})
	}
}
