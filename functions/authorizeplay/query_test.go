package authorizeplay_test

import (
	"net/http"
	"testing"

	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// TestUnknownQueryParameterRefused: the play and session routes refuse a
// query parameter they do not document (400 unknown_parameter, the name
// in details.field) and write nothing; before, GET /v1/sessions?device_id=
// answered every session as if unfiltered, and a play or an end went
// ahead whatever the query said.
func TestUnknownQueryParameterRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	first, _ := h.admitted(t, h.play(demo.AccountFamily, "sintel", "tv-1"))
	for _, tc := range []struct {
		name, method, path, body, field string
	}{
		{"play with a parameter", "POST", "/v1/play?device_id=tv-9", `{"title_id":"sintel","device_id":"tv-9"}`, "device_id"},
		{"sessions filtered", "GET", "/v1/sessions?device_id=tv-2", "", "device_id"},
		{"end with a reason", "DELETE", "/v1/sessions/" + first.SessionID + "?end_reason=stopped", "", "end_reason"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := h.do(tc.method, tc.path, h.token(demo.AccountFamily), tc.body)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("%s %s: %d %s, want 400", tc.method, tc.path, rec.Code, rec.Body)
			}
			e := errorOf(t, rec)
			if d, ok := e.Details.(map[string]any); e.Reason != playback.ReasonUnknownParameter || !ok || d["field"] != tc.field {
				t.Fatalf("error %+v, want %s naming %q", e, playback.ReasonUnknownParameter, tc.field)
			}
		})
	}
	if s := h.activeOn(t, demo.AccountFamily, "tv-9"); len(s) != 0 {
		t.Fatalf("a refused play admitted %+v", s)
	}
	if s := h.activeOn(t, demo.AccountFamily, "tv-1"); len(s) != 1 || s[0].ID != first.SessionID {
		t.Fatalf("after a refused end, tv-1 plays %+v, want session %s", s, first.SessionID)
	}
}
