package admin_test

import (
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
)

func TestQoE(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "playplane_admin")
	hour := h.now.Truncate(time.Hour)
	rep := func(id, cdn string, started time.Time, q playback.QoE) playback.QoEReport {
		q.CDN = cdn
		return playback.QoEReport{SessionID: id, TitleID: "bbb", SessionStartedAt: started, ReceivedAt: started.Add(time.Minute),
			DeviceTime: started.Add(time.Minute), QoE: q}
	}
	err := h.store.(playback.QoEStore).ApplyQoEReports(t.Context(), []playback.QoEReport{
		rep("s1", "a", hour.Add(-2*time.Hour), playback.QoE{StartupMS: 1000, PlayedMS: 50_000}),
		rep("s2", "a", hour.Add(-2*time.Hour), playback.QoE{StartupMS: 3000, PlayedMS: 50_000, RebufferCount: 1, RebufferMS: 5_000}),
		rep("s3", "b", hour.Add(-time.Hour), playback.QoE{StartupMS: 2000, PlayedMS: 50_000}),
		rep("old", "a", hour.Add(-48*time.Hour), playback.QoE{StartupMS: 9000, PlayedMS: 50_000}),
	})
	if err != nil {
		t.Fatal(err)
	}
	get := func(t *testing.T, q url.Values) admin.QoEResponse {
		t.Helper()
		r := h.mustDo("GET", "/v1/admin/qoe?"+q.Encode(), "", "", http.StatusOK)
		var out admin.QoEResponse
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Run("last day by cdn", func(t *testing.T) {
		t.Parallel()
		out := get(t, nil)
		if out.Dimension != playback.QoEByCDN || out.Views != 3 || len(out.Aggregates) != 2 || len(out.Totals) != 2 {
			t.Fatalf("response %+v", out)
		}
		a := out.Aggregates[0]
		if a.Value != "a" || a.Views != 2 || a.StartupMS.P50 != 1000 || a.StartupMS.P95 != 3000 || !a.Hour.Equal(hour.Add(-2*time.Hour)) {
			t.Fatalf("hour of cdn a %+v", a)
		}
		if tot := out.Totals[0]; tot.Value != "a" || tot.Views != 2 || !tot.Hour.Equal(out.From) {
			t.Fatalf("totals %+v", out.Totals)
		}
	})
	t.Run("range and dimension", func(t *testing.T) {
		t.Parallel()
		out := get(t, url.Values{"from": {hour.Add(-49 * time.Hour).Format(time.RFC3339)},
			"to": {hour.Add(-90 * time.Minute).Format(time.RFC3339)}, "dimension": {"title"}})
		if out.Views != 3 || len(out.Totals) != 1 || out.Totals[0].Value != "bbb" || out.Totals[0].StartupMS.P95 != 9000 ||
			!out.To.Equal(hour.Add(-time.Hour)) {
			t.Fatalf("response %+v", out)
		}
	})
	for _, tc := range []struct {
		name, query, reason string
	}{
		{"unknown dimension", "dimension=isp", "dimension_invalid"},
		{"from not a time", "from=yesterday", "from_invalid"},
		{"to not a time", "to=1700000000", "to_invalid"},
		{"from after to", "from=2026-12-04T10:00:00Z&to=2026-12-04T09:00:00Z", "from_invalid"},
		{"range beyond a month", "from=2026-01-01T00:00:00Z&to=2026-12-01T00:00:00Z", "from_invalid"},
		{"to rounds past year 9999", "to=9999-12-31T23:30:00Z", "to_invalid"},
		// from, a day before to by default, would be before year 0, which
		// RFC 3339 (and so the answer's JSON) cannot write: it was a 200
		// with no body.
		{"default from before year 0", "to=0000-01-01T05:00:00Z", "to_invalid"},
		// An offset ahead of UTC takes a time in year 0 into year -1.
		{"from before year 0 in UTC", "from=0000-01-01T00:00:00%2B01:00&to=0000-01-01T05:00:00Z", "from_invalid"},
		{"to before year 0 in UTC", "from=0000-01-01T00:00:00%2B02:00&to=0000-01-01T00:00:00%2B01:00", "to_invalid"},
		// Which one is meant is anyone's guess; the first was taken.
		{"dimension twice", "dimension=title&dimension=cdn", "dimension_invalid"},
		{"from twice", "from=2026-12-04T00:00:00Z&from=2026-12-03T00:00:00Z", "from_invalid"},
		{"to twice", "to=2026-12-04T10:00:00Z&to=2026-12-04T11:00:00Z", "to_invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := h.mustDo("GET", "/v1/admin/qoe?"+tc.query, "", "", http.StatusBadRequest)
			if e := r.errBody(t); e.Reason != tc.reason {
				t.Fatalf("reason %q, want %q", e.Reason, tc.reason)
			}
		})
	}
	t.Run("subscriber is refused", func(t *testing.T) {
		t.Parallel()
		if r := h.do("GET", "/v1/admin/qoe", h.subscriberToken("acct_a"), "", ""); r.status != http.StatusForbidden {
			t.Fatalf("status %d", r.status)
		}
	})
}

// TestQoEInTheWarehouse: without a QoE store (AWS, GCP) the route says
// where the views are instead.
func TestQoEInTheWarehouse(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "playplane_admin")
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Issuer: issuer, Audience: audience,
		HS256Keys: kid + ":" + base64.StdEncoding.EncodeToString(jwtKey), Leeway: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := admin.New(admin.Config{AdminClaim: "playplane_admin", MaxBody: 1 << 16}, admin.Deps{Store: h.store, Identity: verifier, Bus: h.bus})
	if err != nil {
		t.Fatal(err)
	}
	mux := httpx.NewServeMux()
	srv.Register(mux)
	req := httptest.NewRequest("GET", "/v1/admin/qoe", nil)
	req.Header.Set("Authorization", "Bearer "+h.admin)
	rec := httptest.NewRecorder()
	httpx.Middleware(slog.New(slog.DiscardHandler), mux).ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var e httpx.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Reason != "qoe_not_kept_here" {
		t.Fatalf("body %s: %v", rec.Body, err)
	}
}

// TestQoECountsAReauthorizedPlayOnce: a play that went on across a
// re-authorization is one view (Mux Data's playback attempt), counted in
// the hour its first session started: its second session, which started
// in the next hour and names the play (qoe.view), is no view of its own
// there, and its play time is the play's.
func TestQoECountsAReauthorizedPlayOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "playplane_admin")
	hour := h.now.Truncate(time.Hour)
	rep := func(id string, started time.Time, q playback.QoE) playback.QoEReport {
		return playback.QoEReport{SessionID: id, AccountID: "acct_a", TitleID: "bbb", SessionStartedAt: started,
			ReceivedAt: started.Add(time.Minute), DeviceTime: started.Add(time.Minute), QoE: q}
	}
	err := h.store.(playback.QoEStore).ApplyQoEReports(t.Context(), []playback.QoEReport{
		rep("s1", hour.Add(-2*time.Hour+50*time.Minute), playback.QoE{StartupMS: 1000, PlayedMS: 50_000}),
		rep("s2", hour.Add(-time.Hour+5*time.Minute), playback.QoE{Continued: true, View: "s1", PlayedMS: 40_000}),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, from    string
		views         int
		played        int64
		wantFirstHour bool
	}{
		{name: "both hours", from: hour.Add(-2 * time.Hour).Format(time.RFC3339), views: 1, played: 90_000, wantFirstHour: true},
		{name: "the second session's hour", from: hour.Add(-time.Hour).Format(time.RFC3339)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := h.mustDo("GET", "/v1/admin/qoe?"+url.Values{"from": {tc.from}, "dimension": {"title"}}.Encode(), "", "", http.StatusOK)
			var out admin.QoEResponse
			if err := json.Unmarshal(r.body, &out); err != nil {
				t.Fatal(err)
			}
			if out.Views != tc.views || len(out.Aggregates) != tc.views {
				t.Fatalf("%d views, aggregates %+v; want %d", out.Views, out.Aggregates, tc.views)
			}
			if tc.views == 1 {
				if a := out.Aggregates[0]; a.Views != 1 || a.Started != 1 || a.PlayedMS != tc.played || !a.Hour.Equal(hour.Add(-2*time.Hour)) {
					t.Fatalf("aggregate %+v, want the play: one started view of %d ms in the first session's hour", a, tc.played)
				}
			}
		})
	}
}

// TestQoEAtTheEpoch: the views of a range starting in the first day after
// Unix 0 are answered. Read with QoEPlaySlack before it, the store's range
// crossed Unix 0, where bolt's hour keys (unsigned Unix hours) put the
// times before it after every time since: the route answered no view
// there, where it answered them before it read a day around its range.
func TestQoEAtTheEpoch(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "playplane_admin")
	epoch := time.Unix(0, 0).UTC()
	err := h.store.(playback.QoEStore).ApplyQoEReports(t.Context(), []playback.QoEReport{{SessionID: "s1", AccountID: "acct_a",
		TitleID: "bbb", SessionStartedAt: epoch.Add(10 * time.Minute), ReceivedAt: epoch.Add(11 * time.Minute),
		DeviceTime: epoch.Add(11 * time.Minute), QoE: playback.QoE{StartupMS: 1000, PlayedMS: 50_000}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, from, to string }{
		{name: "from the epoch", from: "1970-01-01T00:00:00Z", to: "1970-01-01T05:00:00Z"},
		{name: "from before the epoch", from: "1969-12-31T22:00:00Z", to: "1970-01-01T01:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := h.mustDo("GET", "/v1/admin/qoe?"+url.Values{"from": {tc.from}, "to": {tc.to}, "dimension": {"title"}}.Encode(), "", "", http.StatusOK)
			var out admin.QoEResponse
			if err := json.Unmarshal(r.body, &out); err != nil {
				t.Fatal(err)
			}
			if out.Views != 1 || len(out.Aggregates) != 1 || out.Aggregates[0].PlayedMS != 50_000 {
				t.Fatalf("%d views, aggregates %+v; want the one that started at 00:10 1970-01-01", out.Views, out.Aggregates)
			}
		})
	}
}

// TestQoEOfALongPlayDoesNotDependOnTheRange: a play left on for three
// days (a live channel, re-authorized every 8 hours, then after 26 hours
// of pause; each session naming the play's first) answers the same in
// each of its sessions' hours whether the hour is asked alone or within
// three days: a session is the play's only within QoEPlaySlack of the
// play's first, and a view of its own after. The route took into a play
// every session it read, up to QoEPlaySlack past the range's end: the
// first hour alone answered the play time of 4 sessions, within three
// days that of 7, and the last session was a view in its hour alone (the
// play's others were not read), none within three days.
func TestQoEOfALongPlayDoesNotDependOnTheRange(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "playplane_admin")
	first := h.now.Truncate(time.Hour).Add(-3 * 24 * time.Hour)
	var reports []playback.QoEReport
	at := []time.Duration{0, 8 * time.Hour, 16 * time.Hour, 24 * time.Hour, 32 * time.Hour, 40 * time.Hour, 66 * time.Hour}
	for i := range at {
		q := playback.QoE{StartupMS: 1000, PlayedMS: 60_000}
		if i > 0 {
			q = playback.QoE{Continued: true, View: "s0", PlayedMS: 60_000}
		}
		started := first.Add(at[i])
		reports = append(reports, playback.QoEReport{SessionID: "s" + strconv.Itoa(i), AccountID: "acct_a", TitleID: "live",
			SessionStartedAt: started, ReceivedAt: started.Add(2 * time.Minute), DeviceTime: started.Add(2 * time.Minute), QoE: q})
	}
	if err := h.store.(playback.QoEStore).ApplyQoEReports(t.Context(), reports); err != nil {
		t.Fatal(err)
	}
	ask := func(t *testing.T, from, to time.Time) map[time.Time]playback.QoEAggregate {
		t.Helper()
		r := h.mustDo("GET", "/v1/admin/qoe?"+url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)},
			"dimension": {"title"}}.Encode(), "", "", http.StatusOK)
		var out admin.QoEResponse
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatal(err)
		}
		byHour := map[time.Time]playback.QoEAggregate{}
		for _, a := range out.Aggregates {
			byHour[a.Hour] = a
		}
		return byHour
	}
	wide := ask(t, first.Add(-time.Hour), first.Add(3*24*time.Hour))
	for i, want := range []struct {
		views  int
		played int64
	}{
		{views: 1, played: 3 * 60_000}, // s0, s1 and s2: s3 is QoEPlaySlack after s0, no more its
		{}, {},
		{views: 1, played: 60_000}, {views: 1, played: 60_000}, {views: 1, played: 60_000}, {views: 1, played: 60_000},
	} {
		hour := first.Add(at[i])
		alone := ask(t, hour, hour.Add(time.Hour))[hour]
		if alone != wide[hour] {
			t.Errorf("session s%d's hour %s asked alone %+v, in three days %+v", i, hour.Format(time.RFC3339), alone, wide[hour])
		}
		if alone.Views != want.views || alone.PlayedMS != want.played {
			t.Errorf("session s%d's hour %s: %d views, %d ms played; want %d, %d", i, hour.Format(time.RFC3339), alone.Views, alone.PlayedMS,
				want.views, want.played)
		}
	}
}
