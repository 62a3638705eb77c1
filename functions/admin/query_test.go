package admin_test

import (
	"net/http"
	"testing"
)

// TestUnknownQueryParameterRefused: a query parameter a route does not
// document is refused 400 unknown_parameter, naming it in details.field,
// and nothing is written. Before, it was ignored: a misspelt filter
// (dimenson=title) answered the default breakdown, a misspelt page size
// the default page, and a write carrying a parameter it cannot honour
// went ahead. Documented parameters still pass.
func TestUnknownQueryParameterRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "playplane_admin")
	etag := h.mustDo("POST", "/v1/admin/plans", "", planStd, http.StatusCreated).header.Get("ETag")
	for _, tc := range []struct {
		name, method, path, ifMatch, body, field string
	}{
		{name: "qoe filter misspelt", method: "GET", path: "/v1/admin/qoe?dimenson=title", field: "dimenson"},
		{name: "qoe beside documented ones", method: "GET", path: "/v1/admin/qoe?dimension=title&cdn=a", field: "cdn"},
		{name: "list page size misspelt", method: "GET", path: "/v1/admin/plans?limt=1", field: "limt"},
		{name: "audit filter", method: "GET", path: "/v1/admin/audit?actor=ops-alice", field: "actor"},
		{name: "record read", method: "GET", path: "/v1/admin/plans/std?fields=name", field: "fields"},
		{name: "unknown edges", method: "GET", path: "/v1/admin/unknown-edges?limit=5", field: "limit"},
		{name: "replace with a flag", method: "PUT", path: "/v1/admin/plans/std?dry_run=true", ifMatch: etag,
			body: `{"id":"std","name":"Renamed","max_streams":2,"max_devices":5,"max_quality":"HD"}`, field: "dry_run"},
		{name: "delete with a flag", method: "DELETE", path: "/v1/admin/plans/std?cascade=true", ifMatch: etag, field: "cascade"},
		{name: "create with a flag", method: "POST", path: "/v1/admin/plans?upsert=1",
			body: `{"id":"lite","name":"Lite","max_streams":1,"max_devices":2,"max_quality":"SD"}`, field: "upsert"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(tc.method, tc.path, h.admin, tc.ifMatch, tc.body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("%s %s: %d %s, want 400 unknown_parameter", tc.method, tc.path, r.status, r.body)
			}
			e := r.errBody(t)
			if e.Reason != "unknown_parameter" {
				t.Fatalf("reason %q, want unknown_parameter: %s", e.Reason, r.body)
			}
			if d, ok := e.Details.(map[string]any); !ok || d["field"] != tc.field {
				t.Fatalf("details %v, want field %q", e.Details, tc.field)
			}
		})
	}
	// Nothing was written: the plan keeps its version, lite was not made.
	if got := h.mustDo("GET", "/v1/admin/plans/std", "", "", http.StatusOK).header.Get("ETag"); got != etag {
		t.Fatalf("plan std's ETag after the refusals %s, want %s", got, etag)
	}
	h.mustDo("GET", "/v1/admin/plans/lite", "", "", http.StatusNotFound)
	// The documented ones pass.
	h.mustDo("GET", "/v1/admin/plans?limit=1&cursor=", "", "", http.StatusOK)
	h.mustDo("GET", "/v1/admin/qoe?dimension=title", "", "", http.StatusOK)
}
