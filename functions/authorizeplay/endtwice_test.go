package authorizeplay_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/shared/demo"
)

// TestEndSessionTwice: DELETE /v1/sessions/{id} sent twice at once, and
// once more after the freed stream went to another play, answers 200 with
// the same end each time (the document: ending an ended session returns
// it unchanged) and frees the account's one stream once: the play that
// took it keeps playing and a third is refused 409 stream_limit.
func TestEndSessionTwice(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	first, _ := h.admitted(t, h.play(demo.AccountSolo, "sintel", "tv"))
	tok := h.token(demo.AccountSolo)
	var wg sync.WaitGroup
	recs := make([]*httptest.ResponseRecorder, 2)
	for i := range recs {
		wg.Go(func() { recs[i] = h.do(http.MethodDelete, "/v1/sessions/"+first.SessionID, tok, "") })
	}
	wg.Wait()
	next, _ := h.admitted(t, h.play(demo.AccountSolo, "sintel", "phone"))
	recs = append(recs, h.do(http.MethodDelete, "/v1/sessions/"+first.SessionID, tok, ""))
	var views []authorizeplay.SessionView
	for i, rec := range recs {
		var v authorizeplay.SessionView
		if err := json.Unmarshal(rec.Body.Bytes(), &v); rec.Code != http.StatusOK || err != nil {
			t.Fatalf("DELETE %d: %d %s", i, rec.Code, rec.Body)
		}
		views = append(views, v)
	}
	for _, v := range views[1:] {
		if v.EndReason != views[0].EndReason || !v.EndedAt.Equal(views[0].EndedAt) || v.EndedAt.IsZero() {
			t.Fatalf("the DELETEs answered %+v and %+v, want one end", views[0], v)
		}
	}
	if s := h.activeOn(t, demo.AccountSolo, "phone"); len(s) != 1 || s[0].ID != next.SessionID {
		t.Fatalf("the play that took the freed stream: %+v, want session %s active", s, next.SessionID)
	}
	if rec := h.play(demo.AccountSolo, "sintel", "tv"); rec.Code != http.StatusConflict || errorOf(t, rec).Reason != "stream_limit" {
		t.Fatalf("a play over the one stream after the DELETEs: %d %s, want 409 stream_limit", rec.Code, rec.Body)
	}
}
