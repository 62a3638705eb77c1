package admin_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/playplane/playplane/shared/auth"
)

// TestCreateLocationNamesTheRecord: the Location of a created record is
// the URL its GET answers at, whatever printable characters its id holds
// ('%' would start an escape, '[' is not allowed in a path as it is).
func TestCreateLocationNamesTheRecord(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, id, want string
	}{
		{name: "brackets", id: "a[b]", want: "/v1/admin/plans/a%5Bb%5D"},
		{name: "percent", id: "x%41", want: "/v1/admin/plans/x%2541"},
		{name: "plain", id: "bbb", want: "/v1/admin/plans/bbb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, auth.DefaultAdminClaim)
			// A plan: a title's id must also end its signable asset path.
			body := `{"id":` + strconv.Quote(tc.id) + `,"name":"P","max_streams":1,"max_devices":5,"max_quality":"HD"}`
			created := h.mustDo("POST", "/v1/admin/plans", "", body, http.StatusCreated)
			loc := created.header.Get("Location")
			if loc != tc.want {
				t.Fatalf("Location %q, want %q", loc, tc.want)
			}
			got := h.mustDo("GET", loc, "", "", http.StatusOK)
			var plan struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(got.body, &plan); err != nil || plan.ID != tc.id {
				t.Fatalf("GET %s answered id %q (%v), want %q", loc, plan.ID, err, tc.id)
			}
		})
	}
}
