package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

// qoeView is one driven view: what its heartbeats claim, and how it ends.
type qoeView struct {
	cdn, edge string
	qoe       playback.QoE
	end       string // stop or error
}

// driveViews plays each view on the runner through the real API: authorize
// play, a start heartbeat, one carrying the view's QoE, and its end.
func driveViews(t *testing.T, run *localRun, views []qoeView) {
	t.Helper()
	tok := run.token(demo.AccountFamily)
	// One device: each view ends before the next starts, and the plan
	// bounds the devices an account registers.
	device := playback.NewID("dev")
	t0 := time.Now()
	for i, v := range views {
		var play struct {
			SessionID     string `json:"session_id"`
			PlaybackToken string `json:"playback_token"`
		}
		body := fmt.Sprintf(`{"title_id":"sintel","device_id":%q}`, device)
		if code := run.call("POST", "/v1/play", tok, body, &play); code != http.StatusCreated {
			t.Fatalf("view %d: play: %d", i, code)
		}
		beat := func(n int, event string, q playback.QoE) {
			req := events.HeartbeatRequest{Event: event, PositionMS: q.PlayedMS, DurationMS: 888_000,
				DeviceTime: t0.Add(time.Duration(i*10+n) * time.Millisecond).UTC(), QoE: q}
			raw, err := json.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			if code := run.call("POST", "/v1/playback/"+play.SessionID+"/heartbeat", play.PlaybackToken, string(raw), nil); code != http.StatusOK {
				t.Fatalf("view %d: heartbeat %s: %d", i, event, code)
			}
		}
		q := v.qoe
		q.CDN, q.EdgeID = v.cdn, v.edge
		beat(0, events.HeartbeatStart, playback.QoE{CDN: v.cdn, EdgeID: v.edge})
		beat(1, events.HeartbeatProgress, q)
		beat(2, v.end, playback.QoE{})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run.app.bus.Idle(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestDashboardRendersAggregates drives views through the runner's API,
// reads their aggregates from GET /v1/admin/qoe, and checks that the
// dashboard page in headless Chromium draws exactly those: every breakdown
// table cell and the per-CDN and per-edge series. It keeps a screenshot
// (artifactDir). One view claims an hour of startup a second into its
// session: the bounds refuse that figure, so it is in no percentile.
func TestDashboardRendersAggregates(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	t.Parallel()
	tools := browserTools(t)
	dir := t.TempDir()
	run := startLocal(t, dir)
	driveViews(t, run, []qoeView{
		{cdn: "cdn-a", edge: "edge-a1", qoe: playback.QoE{StartupMS: 800, PlayedMS: 6_000, RebufferCount: 1, RebufferMS: 200, BitrateKbps: 3000}, end: events.HeartbeatStop},
		{cdn: "cdn-a", edge: "edge-a2", qoe: playback.QoE{StartupMS: 1_500, PlayedMS: 5_000, RebufferCount: 1, RebufferMS: 1_000, BitrateKbps: 1500}, end: events.HeartbeatStop},
		{cdn: "cdn-b", edge: "edge-b1", qoe: playback.QoE{StartupMS: 2_500, PlayedMS: 4_000, BitrateKbps: 2000}, end: events.HeartbeatStop},
		{cdn: "cdn-b", edge: "edge-b1", end: events.HeartbeatStop}, // gave up before the first frame
		{cdn: "cdn-b", edge: "edge-b2", qoe: playback.QoE{StartupMS: 900, PlayedMS: 1_000, BitrateKbps: 800}, end: events.HeartbeatError},
		{cdn: "cdn-b", edge: "edge-b2", qoe: playback.QoE{StartupMS: 3_600_000, PlayedMS: 2_000, BitrateKbps: 800}, end: events.HeartbeatStop},
	})

	adminTok := run.adminToken()
	byDim := map[string]admin.QoEResponse{}
	for _, d := range playback.QoEDimensions {
		resp := run.mustAPI("GET", "/v1/admin/qoe?dimension="+string(d), adminTok, "", "", http.StatusOK)
		var out admin.QoEResponse
		if err := json.Unmarshal(resp.body, &out); err != nil {
			t.Fatal(err)
		}
		byDim[string(d)] = out
	}
	// The API's figures, checked against the views driven above.
	cdn := byDim["cdn"].Totals
	if len(cdn) != 2 || cdn[0].Value != "cdn-b" || cdn[1].Value != "cdn-a" {
		t.Fatalf("totals by cdn %+v", cdn)
	}
	b, a := cdn[0], cdn[1]
	if a.Views != 2 || a.Started != 2 || a.StartupMS != (playback.Quantiles{P50: 800, P95: 1500, N: 2}) ||
		a.PeakBitrateKbps.P95 != 3000 || a.Failures != 0 || a.ExitsBeforeStart != 0 {
		t.Fatalf("cdn-a %+v", a)
	}
	if b.Views != 4 || b.Started != 3 || b.ExitsBeforeStart != 1 || b.Failures != 1 ||
		b.StartupMS != (playback.Quantiles{P50: 900, P95: 2500, N: 2}) {
		t.Fatalf("cdn-b %+v: want the hour-long startup kept out", b)
	}

	browser := startChromium(t, tools.chromium)
	shot := filepath.Join(artifactDir(t), "qoe-dashboard.png")
	var seen dashboardSeen
	driveDashboard(t, tools, map[string]any{"cdp": browser, "url": run.srv.URL + "/dashboard/#token=" + adminTok, "screenshot": shot}, &seen)
	if seen.Phase != "ready" || seen.TokenInURL || len(seen.Console) != 0 {
		t.Fatalf("dashboard %s (%s), token left in URL %v, console %q", seen.Phase, seen.Error, seen.TokenInURL, seen.Console)
	}
	for dim, resp := range byDim {
		rows := seen.Tables[dim]
		if len(rows) != len(resp.Totals) {
			t.Fatalf("table %s has %d rows, the API %d", dim, len(rows), len(resp.Totals))
		}
		for i, agg := range resp.Totals {
			row := rows[i]
			want := map[string]float64{"views": float64(agg.Views), "started": float64(agg.Started),
				"startup_p50": agg.StartupMS.P50, "startup_p95": agg.StartupMS.P95,
				"rebuffer_p95": agg.RebufferPercent.P95, "peak_p95": agg.PeakBitrateKbps.P95, "bitrate_p50": agg.AvgBitrateKbps.P50}
			if row.Value != agg.Value {
				t.Fatalf("table %s row %d is %q, the API's %q", dim, i, row.Value, agg.Value)
			}
			for col, w := range want {
				c := row.Cells[col]
				if c.Raw == "" {
					if w != 0 { // an empty cell is a metric no view has a value for
						t.Fatalf("table %s %q %s empty, want %v", dim, row.Value, col, w)
					}
					continue
				}
				if got, err := strconv.ParseFloat(c.Raw, 64); err != nil || got != w || c.Text == "" || c.Text == "–" {
					t.Fatalf("table %s %q %s shows %q (raw %s), want %v", dim, row.Value, col, c.Text, c.Raw, w)
				}
			}
		}
	}
	// The charts: one series per CDN and per edge, each a point in this
	// hour at the startup p95 the API reports.
	for _, dim := range []string{"cdn", "edge"} {
		chart := seen.Charts[dim]
		resp := byDim[dim]
		if chart.Metric != "startup_p95" || len(chart.Series) != len(resp.Aggregates) {
			t.Fatalf("chart %s %+v, aggregates %+v", dim, chart, resp.Aggregates)
		}
		for i, s := range chart.Series {
			agg := resp.Aggregates[i]
			for _, cand := range resp.Aggregates {
				if cand.Value == s.Value {
					agg = cand
				}
			}
			if len(s.Points) != 1 || s.Circles != 1 || s.Points[0].value() != agg.StartupMS.P95 || !s.Points[0].hour().Equal(agg.Hour) {
				t.Fatalf("chart %s series %q %+v, aggregate %+v", dim, s.Value, s, agg)
			}
		}
	}
	if st, err := os.Stat(shot); err != nil || st.Size() < 10_000 {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
}

// TestDashboardBreaksLinesAtHoursWithoutViews: a value of the dimension
// with views in two hours and none in the hour between. Its views chart
// draws that hour as the zero it is, on one line across the range, with a
// point to hover only where the API has an aggregate, and an axis of whole
// views; its startup chart, which has no figure for the hour, gets a point
// in each of the other hours and no line across the one between. Before,
// the views chart drew the same gap, a missing figure where there was a
// count of none, on an axis of 0.3, 0.6 and 0.8 views.
func TestDashboardBreaksLinesAtHoursWithoutViews(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	t.Parallel()
	tools := browserTools(t)
	dir := t.TempDir()
	run := startLocal(t, dir)
	now := time.Now()
	if err := run.app.store.ApplyQoEReports(t.Context(), qoeHourReports(now, 4, 3, 1)); err != nil { // none 2 hours ago
		t.Fatal(err)
	}
	adminTok := run.adminToken()
	browser := startChromium(t, tools.chromium)
	var seen dashboardSeen
	driveDashboard(t, tools, map[string]any{"cdp": browser, "url": run.srv.URL + "/dashboard/#metric=views&token=" + adminTok,
		"screenshot": filepath.Join(artifactDir(t), "qoe-dashboard-gap.png")}, &seen)
	var seenStartup dashboardSeen
	driveDashboard(t, tools, map[string]any{"cdp": browser, "url": run.srv.URL + "/dashboard/#metric=startup_p50&token=" + adminTok,
		"screenshot": filepath.Join(artifactDir(t), "qoe-dashboard-gap-startup.png")}, &seenStartup)
	for _, seen := range []dashboardSeen{seen, seenStartup} {
		if seen.Phase != "ready" || len(seen.Console) != 0 {
			t.Fatalf("dashboard %s (%s), console %q", seen.Phase, seen.Error, seen.Console)
		}
	}
	views := seen.Charts["cdn"]
	if views.Metric != "views" || len(views.Series) != 1 {
		t.Fatalf("chart %+v", views)
	}
	s := views.Series[0]
	from, _ := time.Parse(time.RFC3339, views.From)
	current := now.UTC().Truncate(time.Hour)
	hours := 24
	if len(s.Points) != hours || s.Circles != 3 || !slices.Equal(s.Lines, []int{hours}) {
		t.Fatalf("views of %q: points %v, %d circles, polylines of %v points; want one line of %d points, 3 of them hovered", s.Value, s.Points, s.Circles, s.Lines, hours)
	}
	for _, p := range s.Points {
		want := 0.0
		if ago := int(current.Sub(p.hour()) / time.Hour); ago == 4 || ago == 3 || ago == 1 {
			want = 1
		}
		if p.value() != want || p.hour().Before(from) {
			t.Fatalf("views of %q at %v: %v, want %v (points %v)", s.Value, p.hour(), p.value(), want, s.Points)
		}
	}
	if len(views.Ticks) < 2 {
		t.Fatalf("views axis %q", views.Ticks)
	}
	for _, tick := range views.Ticks {
		if _, err := strconv.Atoi(tick); err != nil {
			t.Fatalf("views axis %q: %q is no whole number of views", views.Ticks, tick)
		}
	}
	startup := seenStartup.Charts["cdn"]
	if startup.Metric != "startup_p50" || len(startup.Series) != 1 {
		t.Fatalf("chart %+v", startup)
	}
	s = startup.Series[0]
	if len(s.Points) != 3 || s.Circles != 3 || !slices.Equal(s.Lines, []int{2, 1}) {
		t.Fatalf("startup of %q: points %v, %d circles, polylines of %v points; want lines of 2 and 1 points", s.Value, s.Points, s.Circles, s.Lines)
	}
}

// TestDashboardChartsTheMostViewedInDistinctColours: a chart has a colour
// for each of eight lines. With more values than that, it draws the eight
// with the most views over the range, each its own colour, and says the
// table lists the rest. Before, the ninth value took the first one's
// colour and the two lines could not be told apart.
func TestDashboardChartsTheMostViewedInDistinctColours(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	t.Parallel()
	tools := browserTools(t)
	dir := t.TempDir()
	run := startLocal(t, dir)
	hour := time.Now().UTC().Truncate(time.Hour)
	var reports []playback.QoEReport
	const cdns = 10
	for c := range cdns { // cdn-00 has 1 view, cdn-09 10
		for v := range c + 1 {
			started := hour.Add(-time.Hour + time.Duration(v)*time.Minute)
			reports = append(reports, playback.QoEReport{SessionID: fmt.Sprintf("ses_c%02d_%d", c, v), TitleID: "sintel",
				SessionStartedAt: started, ReceivedAt: started.Add(time.Minute), DeviceTime: started.Add(time.Minute),
				QoE: playback.QoE{StartupMS: 900, PlayedMS: 50_000, CDN: fmt.Sprintf("cdn-%02d", c), EdgeID: "edge-a1"}})
		}
	}
	if err := run.app.store.ApplyQoEReports(t.Context(), reports); err != nil {
		t.Fatal(err)
	}
	adminTok := run.adminToken()
	browser := startChromium(t, tools.chromium)
	var seen dashboardSeen
	driveDashboard(t, tools, map[string]any{"cdp": browser, "url": run.srv.URL + "/dashboard/#metric=views&token=" + adminTok,
		"screenshot": filepath.Join(artifactDir(t), "qoe-dashboard-most-viewed.png")}, &seen)
	if seen.Phase != "ready" || len(seen.Console) != 0 {
		t.Fatalf("dashboard %s (%s), console %q", seen.Phase, seen.Error, seen.Console)
	}
	if rows := seen.Tables["cdn"]; len(rows) != cdns {
		t.Fatalf("cdn table lists %d values, want all %d", len(rows), cdns)
	}
	chart := seen.Charts["cdn"]
	colours := map[string]string{}
	var drawn []string
	for _, s := range chart.Series {
		if other, ok := colours[s.Color]; ok || s.Color == "" {
			t.Fatalf("%q and %q are both drawn in %q", other, s.Value, s.Color)
		}
		colours[s.Color] = s.Value
		drawn = append(drawn, s.Value)
	}
	slices.Sort(drawn)
	if want := []string{"cdn-02", "cdn-03", "cdn-04", "cdn-05", "cdn-06", "cdn-07", "cdn-08", "cdn-09"}; !slices.Equal(drawn, want) {
		t.Fatalf("chart draws %q, want the 8 with the most views %q", drawn, want)
	}
	if !strings.Contains(chart.More, "8") || !strings.Contains(chart.More, "10") {
		t.Fatalf("chart note %q, want it to say it draws 8 of 10", chart.More)
	}
}

// TestDashboardSendsNoTokenToAnotherAPI: the dashboard keeps the admin
// token an operator pasted for the tab (sessionStorage) and loads at once
// when it has one. A link that takes the same tab to the dashboard with
// ?api= naming another server must not send that server the token: the
// token is kept for the API it was pasted for.
func TestDashboardSendsNoTokenToAnotherAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	t.Parallel()
	tools := browserTools(t)
	dir := t.TempDir()
	run := startLocal(t, dir)
	adminTok := run.adminToken()
	// other is a server a link names as ?api=: it lets any page call it,
	// as one that wants the token would, and keeps what it was sent.
	var mu sync.Mutex
	var sent []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Headers", "Authorization")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		mu.Lock()
		sent = append(sent, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(other.Close)

	browser := startChromium(t, tools.chromium)
	var seen dashboardSeen
	driveDashboard(t, tools, map[string]any{"cdp": browser, "url": run.srv.URL + "/dashboard/#token=" + adminTok,
		"then":       run.srv.URL + "/dashboard/?" + url.Values{"api": {other.URL}}.Encode(),
		"screenshot": filepath.Join(artifactDir(t), "qoe-dashboard-other-api.png")}, &seen)
	mu.Lock()
	defer mu.Unlock()
	for _, header := range sent {
		if header != "" {
			t.Fatalf("the dashboard sent %s its token (%d requests, phase %s)", other.URL, len(sent), seen.Phase)
		}
	}
	if seen.Phase != "idle" {
		t.Fatalf("dashboard on another API: phase %s (%s), want idle until a token is pasted", seen.Phase, seen.Error)
	}
}

// qoeHourReports are views of cdn-a, one started in each of hours ago
// before the current hour.
func qoeHourReports(now time.Time, hoursAgo ...int) []playback.QoEReport {
	hour := now.UTC().Truncate(time.Hour)
	var reports []playback.QoEReport
	for i, ago := range hoursAgo {
		started := hour.Add(time.Duration(-ago)*time.Hour + 5*time.Minute)
		reports = append(reports, playback.QoEReport{SessionID: fmt.Sprint("ses_hour", i), TitleID: "sintel",
			SessionStartedAt: started, ReceivedAt: started.Add(time.Minute), DeviceTime: started.Add(time.Minute),
			QoE: playback.QoE{StartupMS: 900, PlayedMS: 50_000, CDN: "cdn-a", EdgeID: "edge-a1"}})
	}
	return reports
}

// TestDashboardLabelsItsHoursUTCAndTheirDays: the charts' hours are UTC
// hours (the API's), so the axis must say so, and over the 7 days the page
// offers an hour alone names no day: each tick's day must be on the axis,
// and each point's tooltip must name its hour. Before, the axis showed
// bare HH:MM, which an operator outside UTC reads as local time, with no
// day, and a tooltip only the value.
func TestDashboardLabelsItsHoursUTCAndTheirDays(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	t.Parallel()
	tools := browserTools(t)
	run := startLocal(t, t.TempDir())
	if err := run.app.store.ApplyQoEReports(t.Context(), qoeHourReports(time.Now(), 100, 50, 1)); err != nil {
		t.Fatal(err)
	}
	browser := startChromium(t, tools.chromium)
	var seen dashboardSeen
	driveDashboard(t, tools, map[string]any{"cdp": browser, "url": run.srv.URL + "/dashboard/#metric=startup_p50&token=" + run.adminToken(),
		"actions":    []map[string]string{{"select": "#hours", "value": "168"}, {"click": "#load"}},
		"screenshot": filepath.Join(artifactDir(t), "qoe-dashboard-week.png")}, &seen)
	if seen.Phase != "ready" || len(seen.Console) != 0 {
		t.Fatalf("dashboard %s (%s), console %q", seen.Phase, seen.Error, seen.Console)
	}
	chart := seen.Charts["cdn"]
	from, err := time.Parse(time.RFC3339, chart.From)
	if err != nil || len(chart.Series) != 1 || len(chart.Series[0].Points) != 3 {
		t.Fatalf("chart from %q (%v), series %+v", chart.From, err, chart.Series)
	}
	texts := strings.Join(chart.Texts, "|")
	if !strings.Contains(texts, "UTC") {
		t.Errorf("the chart's texts %q do not say its hours are UTC", chart.Texts)
	}
	const hours, step = 168, 21 // the page's ticks: at most 8
	for h := 0; h < hours; h += step {
		tick := from.Add(time.Duration(h) * time.Hour)
		if clock, day := tick.Format("15:04"), tick.Format("Jan 2"); !strings.Contains(texts, clock) || !strings.Contains(texts, day) {
			t.Fatalf("no tick %s (%s on %s) on the axis: %q", tick.Format(time.RFC3339), clock, day, chart.Texts)
		}
	}
	s := chart.Series[0]
	for i, p := range s.Points {
		if want := p.hour().Format("Jan 2 15:04") + " UTC"; i >= len(s.Tips) || !strings.Contains(s.Tips[i], want) {
			t.Fatalf("point %v: tooltips %q, want %q in it", p, s.Tips, want)
		}
	}
}

// TestDashboardDropsFiguresWhenTheTokenIsRefused: an operator whose admin
// token expired while the page was open loads again. The API refuses it
// (401); the page must not go on showing the figures of the load before as
// if they were the answer, and must not keep the refused token to send
// again on the next visit. Before, the tables and charts of the last load
// stayed beside the error, and the token stayed in the tab's storage, so
// reopening the page loaded with it again.
func TestDashboardDropsFiguresWhenTheTokenIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	t.Parallel()
	tools := browserTools(t)
	run := startLocal(t, t.TempDir())
	if err := run.app.store.ApplyQoEReports(t.Context(), qoeHourReports(time.Now(), 2, 1)); err != nil {
		t.Fatal(err)
	}
	secrets, err := loadSecrets(filepath.Join(run.app.cfg.DataDir, "dev-secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := base64.StdEncoding.DecodeString(secrets.JWTKey)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := auth.MintAdminHS256(devKeyID, key, run.app.cfg.Issuer, run.app.cfg.Audience, "ops", auth.DefaultAdminClaim,
		time.Hour, time.Now().Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	browser := startChromium(t, tools.chromium)
	var seen dashboardSeen
	driveDashboard(t, tools, map[string]any{"cdp": browser, "url": run.srv.URL + "/dashboard/#token=" + run.adminToken(),
		"actions": []map[string]string{{"fill": "#token", "value": expired}, {"click": "#load"}},
		"then":    run.srv.URL + "/dashboard/", "screenshot": filepath.Join(artifactDir(t), "qoe-dashboard-expired.png")}, &seen)
	acted := seen.Acted
	if acted == nil || acted.Phase != "error" || !strings.Contains(acted.Status, "401") {
		t.Fatalf("after loading with an expired token: %+v, want phase error naming 401", acted)
	}
	if len(acted.Tables) != 0 || len(acted.Charts["cdn"].Series) != 0 || len(acted.Charts["edge"].Series) != 0 {
		t.Fatalf("after the 401 the page still shows %d tables, %d and %d series (status %q)", len(acted.Tables),
			len(acted.Charts["cdn"].Series), len(acted.Charts["edge"].Series), acted.Status)
	}
	if seen.Phase != "idle" {
		t.Fatalf("reopened after the 401: phase %s (%s), want idle: the refused token was kept and sent again", seen.Phase, seen.Error)
	}
}

// TestDashboardSaysWhenViewsHaveNoFigure: when every view of a range
// ended before its first frame (a CDN that serves nothing), the startup
// chart has no point to draw, but there were views: it must not say there
// were none. Before, it said "no views in this range" while the tables
// below counted them.
func TestDashboardSaysWhenViewsHaveNoFigure(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	t.Parallel()
	tools := browserTools(t)
	run := startLocal(t, t.TempDir())
	reports := qoeHourReports(time.Now(), 1, 1)
	for i := range reports {
		reports[i].QoE = playback.QoE{CDN: "cdn-a", EdgeID: "edge-a1"}
		reports[i].Stopped = true
	}
	if err := run.app.store.ApplyQoEReports(t.Context(), reports); err != nil {
		t.Fatal(err)
	}
	browser := startChromium(t, tools.chromium)
	var seen dashboardSeen
	driveDashboard(t, tools, map[string]any{"cdp": browser, "url": run.srv.URL + "/dashboard/#token=" + run.adminToken(),
		"screenshot": filepath.Join(artifactDir(t), "qoe-dashboard-no-startup.png")}, &seen)
	if seen.Phase != "ready" || len(seen.Console) != 0 {
		t.Fatalf("dashboard %s (%s), console %q", seen.Phase, seen.Error, seen.Console)
	}
	if rows := seen.Tables["cdn"]; len(rows) != 1 || rows[0].Cells["views"].Raw != "2" {
		t.Fatalf("table by cdn %+v, want cdn-a's 2 views", rows)
	}
	for _, dim := range []string{"cdn", "edge"} {
		c := seen.Charts[dim]
		if c.Metric != "startup_p95" || len(c.Series) != 0 || strings.Contains(c.Empty, "no views") || !strings.Contains(c.Empty, "2 views") {
			t.Fatalf("chart %s of %s with %d series says %q; want it to say none of the 2 views has a figure", dim, c.Metric, len(c.Series), c.Empty)
		}
	}
}

// TestDashboardShowsTheLastLoadAsked: an operator loads 7 days, and
// before they arrive changes the range to 6 hours and loads again. The
// page must show the 6 hours it was last asked for, however late the
// week's answers come. Before, whichever load finished last was drawn:
// the week's late answers replaced the 6 hours under a range selector
// that said 6 hours.
func TestDashboardShowsTheLastLoadAsked(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	t.Parallel()
	tools := browserTools(t)
	run := startLocal(t, t.TempDir())
	// api answers each range at once but the week's by CDN, which it holds
	// until /release, and answers before /release answers (one request: a
	// browser opens at most 6 connections to a host, and the week's six
	// held would leave none for the next load). Its figures are the
	// range's hours: views = hours.
	const week = 168
	release := make(chan struct{})
	var held sync.WaitGroup
	held.Add(1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		switch {
		case r.Method == http.MethodOptions:
			w.Header().Set("Access-Control-Allow-Headers", "Authorization")
			w.WriteHeader(http.StatusNoContent)
			return
		case r.URL.Path == "/release":
			close(release)
			held.Wait()
			return
		}
		q := r.URL.Query()
		from, err1 := time.Parse(time.RFC3339, q.Get("from"))
		to, err2 := time.Parse(time.RFC3339, q.Get("to"))
		if err1 != nil || err2 != nil {
			http.Error(w, "bad range", http.StatusBadRequest)
			return
		}
		hours := int(to.Sub(from) / time.Hour)
		agg := playback.QoEAggregate{Hour: from, Value: "cdn-a", Views: hours}
		out := admin.QoEResponse{Dimension: playback.QoEDimension(q.Get("dimension")), From: from, To: to, Views: hours,
			Aggregates: []playback.QoEAggregate{agg}, Totals: []playback.QoEAggregate{agg}}
		if hours == week && out.Dimension == playback.QoEByCDN {
			<-release
			defer held.Done()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(api.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release) // a failure before /release: let the held answers go
		}
	})

	browser := startChromium(t, tools.chromium)
	var seen dashboardSeen
	driveDashboard(t, tools, map[string]any{"cdp": browser,
		"url": run.srv.URL + "/dashboard/?" + url.Values{"api": {api.URL}}.Encode() + "#metric=views&token=any",
		"actions": []map[string]any{
			{"select": "#hours", "value": "168"}, {"click": "#load", "nowait": true},
			{"select": "#hours", "value": "6"}, {"click": "#load"},
			{"get": api.URL + "/release"},
			// the week's answers arrived: drawn (the fault), or dropped
			// (counted in loads)
			{"waitFor": "window.qoeDashboard.loads >= 3 || window.qoeDashboard.responses.cdn.views === 168"},
		},
		"screenshot": filepath.Join(artifactDir(t), "qoe-dashboard-last-load.png")}, &seen)
	if seen.Phase != "ready" || len(seen.Console) != 0 {
		t.Fatalf("dashboard %s (%s), console %q", seen.Phase, seen.Error, seen.Console)
	}
	rows := seen.Tables["cdn"]
	if len(rows) != 1 || rows[0].Cells["views"].Raw != "6" || !strings.Contains(seen.Status, "6 views") {
		t.Fatalf("range 6 hours asked last, but the page shows %+v (status %q)", rows, seen.Status)
	}
}

type dashboardSeen struct {
	dashboardPage
	Console []string
	// Acted is the page once the scenario's actions were done.
	Acted *dashboardPage
}

// dashboardPage is what the page shows.
type dashboardPage struct {
	Phase, Error, Status string
	TokenInURL           bool
	Tables               map[string][]struct {
		Value string
		Cells map[string]struct{ Text, Raw string }
	}
	Charts map[string]struct {
		Metric string
		From   string   // the API's from, which the chart starts at
		Texts  []string // the texts the chart draws: its axes' labels
		Empty  string   // its note where it has nothing to draw
		More   string   // its note where it leaves values out
		Ticks  []string // its y axis' labels
		Series []struct {
			Value   string
			Color   string
			Points  []chartPoint
			Circles int
			Tips    []string // each point's tooltip
			Lines   []int    // the points of each polyline
		}
	}
}

// chartPoint is [hour, value] as the page drew it.
type chartPoint []any

func (p chartPoint) hour() time.Time {
	s, _ := p[0].(string)
	t, _ := time.Parse(time.RFC3339, s)
	return t
}

func (p chartPoint) value() float64 { v, _ := p[1].(float64); return v }

// driveDashboard runs web/browsertest/dashboard.cjs on a scenario.
func driveDashboard(t *testing.T, tools browserToolPaths, scenario map[string]any, out *dashboardSeen) {
	t.Helper()
	raw, _ := json.Marshal(scenario)
	dir := t.TempDir()
	file := filepath.Join(dir, "scenario.json")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(repoRoot(t), "web", "browsertest", "dashboard.cjs"), file)
	// TMPDIR: the playwright-artifacts-* directory playwright-core makes
	// there is removed with dir (the script never closes the browser).
	cmd.Env = append(os.Environ(), "PLAYWRIGHT_CORE_DIR="+tools.playwright, "TMPDIR="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node dashboard.cjs: %v\n%s", err, stderr.String())
	}
	var probe struct {
		ScriptError string `json:"scriptError"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &probe); err != nil || probe.ScriptError != "" {
		t.Fatalf("dashboard.cjs printed %q (%v): %s\n%s", stdout.String(), err, probe.ScriptError, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("dashboard.cjs output: %v", err)
	}
}
