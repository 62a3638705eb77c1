package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/playback"
)

// countingViews is the embedded store, counting the views its QoE
// listing (playback.QoEStore's only one) hands out: the most in one
// answer is the most the route can hold of them at once, bar the plays it
// keeps open.
type countingViews struct {
	*bolt.Store
	mu         sync.Mutex
	most, read int
}

func (c *countingViews) count(views []playback.QoEView, err error) ([]playback.QoEView, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.most, c.read = max(c.most, len(views)), c.read+len(views)
	return views, err
}

func (c *countingViews) QoEViewPage(ctx context.Context, from, to time.Time, after playback.QoEViewMark, limit int) ([]playback.QoEView, error) {
	return c.count(c.Store.QoEViewPage(ctx, from, to, after, limit))
}

// TestQoEReadsAMonthAPageAtATime: for a month GET /v1/admin/qoe read the
// sessions of 32 days into memory in one answer (every view of the
// range and a day either side); a streaming start-up's month of views
// does not fit a Lambda. It now takes them from the store a page at a
// time (playback.StreamQoEPlays, playback.QoEPageViews), and answers what
// QoEPlays and AggregateQoE answer over all of them at once: 34 days of
// 2 sessions an hour, a third of them re-authorizations of a play begun
// up to 30 hours before, asked for 30 days.
func TestQoEReadsAMonthAPageAtATime(t *testing.T) {
	t.Parallel()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	counted := &countingViews{Store: store}
	h := newHarnessOn(t, "playplane_admin", counted)
	end := h.now.Truncate(time.Hour).Add(time.Hour)
	start := end.Add(-34 * 24 * time.Hour)
	var reports []playback.QoEReport
	var firsts []string
	for i := range 34 * 24 * 2 {
		started := start.Add(time.Duration(i)*30*time.Minute + time.Duration(i%7)*time.Minute)
		id := "s" + strconv.Itoa(i)
		q := playback.QoE{StartupMS: 500 + i%900, PlayedMS: int64(10_000 + i), BitrateKbps: 1_000 + i%3*1_000, CDN: []string{"a", "b"}[i%2]}
		if i%3 == 2 {
			q = playback.QoE{Continued: true, View: firsts[len(firsts)-1-i%len(firsts)%60], PlayedMS: int64(5_000 + i), CDN: "b"}
		} else {
			firsts = append(firsts, id)
		}
		reports = append(reports, playback.QoEReport{SessionID: id, AccountID: "acct_a", TitleID: "live", Country: "DE",
			SessionStartedAt: started, ReceivedAt: started.Add(time.Minute), DeviceTime: started.Add(time.Minute), QoE: q})
	}
	if err := store.ApplyQoEReports(t.Context(), reports); err != nil {
		t.Fatal(err)
	}
	from, to := end.Add(-30*24*time.Hour), end
	r := h.mustDo("GET", "/v1/admin/qoe?"+url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)},
		"dimension": {"cdn"}}.Encode(), "", "", http.StatusOK)
	var got admin.QoEResponse
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if counted.most > playback.QoEPageViews || counted.read <= playback.QoEPageViews {
		t.Fatalf("the route had %d views from the store in one answer, of %d read; want a page (%d) at most",
			counted.most, counted.read, playback.QoEPageViews)
	}

	sessions, err := store.QoEViews(t.Context(), from.Add(-playback.QoEPlaySlack), to.Add(playback.QoEPlaySlack))
	if err != nil {
		t.Fatal(err)
	}
	plays := playback.QoEPlays(sessions, from, to)
	// No view has a lease to time out by, so the clock does not count.
	want := admin.QoEResponse{Dimension: playback.QoEByCDN, From: from, To: to, Views: len(plays),
		Aggregates: playback.AggregateQoE(plays, playback.QoEByCDN, h.now)}
	for i := range plays {
		plays[i].Hour = from
	}
	want.Totals = playback.AggregateQoE(plays, playback.QoEByCDN, h.now)
	if want.Views >= len(sessions) || !reflect.DeepEqual(jsonOf(t, got), jsonOf(t, want)) {
		t.Fatalf("answered %d views, %d hours; QoEPlays over all %d sessions: %d views, %d hours", got.Views, len(got.Aggregates),
			len(sessions), want.Views, len(want.Aggregates))
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
