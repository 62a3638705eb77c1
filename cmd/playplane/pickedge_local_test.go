package main

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/playback"
)

func TestLocalPickEdge(t *testing.T) {
	run := startLocal(t, t.TempDir())
	tok := run.token(demo.AccountFamily)
	var play struct {
		SessionID     string `json:"session_id"`
		PlaybackToken string `json:"playback_token"`
	}
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"sintel","device_id":"tv"}`, &play); code != 201 {
		t.Fatalf("play: %d", code)
	}
	var edges pickedge.EdgesResponse
	if code := run.call("POST", "/v1/playback/"+play.SessionID+"/edges", play.PlaybackToken, "", &edges); code != 200 || len(edges.Edges) == 0 {
		t.Fatalf("edges: %d %+v", code, edges)
	}
	t.Logf("%+v", edges)
	var m map[string]any
	path, ok := strings.CutPrefix(edges.SteeringURI, run.srv.URL)
	if !ok {
		t.Fatalf("steering_uri %q is not absolute on the runner %s", edges.SteeringURI, run.srv.URL)
	}
	if code := run.call("GET", path, "", "", &m); code != 200 || m["VERSION"] != 1.0 {
		t.Fatalf("steering: %d %v", code, m)
	}
	if err := run.app.reportDemoEdges(context.Background(), mustKeys(t, run.app.secrets.EdgeKeys)); err != nil {
		t.Fatal(err)
	}
	keys := mustKeys(t, run.app.secrets.EdgeKeys)
	req, _ := pickedge.NewReportRequest(context.Background(), run.srv.URL+"/v1/edges/health", keys["fra-1"][0],
		playback.EdgeReport{EdgeID: "fra-1", Load: 1, Capacity: 100, Healthy: false, ReportedAt: time.Now()}, time.Now())
	resp, err := run.api.Do(req)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
}

func mustKeys(t *testing.T, spec string) pickedge.EdgeKeys {
	k, err := pickedge.ParseEdgeKeys(spec)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestLocalSteeringNamesManifestPathways: the steering manifest a
// personalized manifest points to ranks exactly the pathways that manifest
// offers (HLS PATHWAY-ID, DASH BaseURL@serviceLocation), and drops a CDN
// once all its edges report unhealthy. A priority naming no offered
// pathway is ignored by players, so this is what makes steering steer.
func TestLocalSteeringNamesManifestPathways(t *testing.T) {
	run := startLocal(t, t.TempDir())
	tok := run.token(demo.AccountKids)
	var play struct {
		SessionID     string `json:"session_id"`
		PlaybackToken string `json:"playback_token"`
	}
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"big-buck-bunny","device_id":"`+playback.NewID("dev")+`"}`, &play); code != 201 {
		t.Fatalf("play: %d", code)
	}
	var urls struct {
		Manifests map[string]string `json:"manifests"`
	}
	if code := run.call("POST", "/v1/playback/"+play.SessionID+"/urls", play.PlaybackToken, `{"grant":"cookie"}`, &urls); code != 200 {
		t.Fatalf("urls: %d", code)
	}
	get := func(u string) string {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", u, resp.StatusCode, body)
		}
		return string(body)
	}
	attrs := func(re *regexp.Regexp, s string) []string {
		var out []string
		for _, m := range re.FindAllStringSubmatch(s, -1) {
			if !slices.Contains(out, html.UnescapeString(m[1])) {
				out = append(out, html.UnescapeString(m[1]))
			}
		}
		slices.Sort(out)
		return out
	}
	priority := func(steeringURI, key string) []string {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(get(steeringURI)), &m); err != nil {
			t.Fatal(err)
		}
		var out []string
		list, _ := m[key].([]any)
		for _, p := range list {
			out = append(out, p.(string))
		}
		return out
	}
	want := []string{localCloudCDN, localCloudFront}

	hls := get(urls.Manifests["hls"])
	offered := attrs(regexp.MustCompile(`PATHWAY-ID="([^"]+)"`), strings.ReplaceAll(hls, "#EXT-X-CONTENT-STEERING", "#STEERING"))
	steering := regexp.MustCompile(`#EXT-X-CONTENT-STEERING:SERVER-URI="([^"]+)"`).FindStringSubmatch(hls)
	if !slices.Equal(offered, want) || steering == nil {
		t.Fatalf("HLS offers pathways %v (want %v), steering %v:\n%s", offered, want, steering, hls)
	}
	if p := priority(steering[1], "PATHWAY-PRIORITY"); !slices.Equal(slices.Sorted(slices.Values(p)), want) {
		t.Errorf("HLS steering PATHWAY-PRIORITY %v, want the offered pathways %v", p, offered)
	}

	mpd := get(urls.Manifests["dash"])
	locations := attrs(regexp.MustCompile(`serviceLocation="([^"]+)"`), mpd)
	dashSteering := regexp.MustCompile(`<ContentSteering[^>]*>([^<]+)</ContentSteering>`).FindStringSubmatch(mpd)
	if !slices.Equal(locations, want) || dashSteering == nil {
		t.Fatalf("MPD offers service locations %v (want %v), steering %v:\n%s", locations, want, dashSteering, mpd)
	}
	dashURI := html.UnescapeString(dashSteering[1])
	if p := priority(dashURI, "SERVICE-LOCATION-PRIORITY"); !slices.Equal(slices.Sorted(slices.Values(p)), want) {
		t.Errorf("DASH steering SERVICE-LOCATION-PRIORITY %v, want the offered locations %v", p, locations)
	}

	// Every edge of local-cloudfront reports unhealthy: it leaves the
	// priority, and the player would move to local-cloudcdn. The reports
	// repeat, since the runner's demo health agents report every edge
	// healthy every 10 s.
	keys := mustKeys(t, run.app.secrets.EdgeKeys)
	failCloudFront := func() {
		now := time.Now()
		for _, e := range demo.EdgesOn(run.app.cdnBases, now) {
			if e.CDN != localCloudFront {
				continue
			}
			req, _ := pickedge.NewReportRequest(context.Background(), run.srv.URL+"/v1/edges/health", keys[e.ID][0],
				playback.EdgeReport{EdgeID: e.ID, Load: 1, Capacity: 100, Healthy: false, ReportedAt: now}, now)
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusAccepted {
				t.Fatalf("health report of %s: %v %v", e.ID, resp, err)
			}
			resp.Body.Close()
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		failCloudFront()
		p := priority(steering[1], "PATHWAY-PRIORITY")
		d := priority(dashURI, "SERVICE-LOCATION-PRIORITY")
		if slices.Equal(p, []string{localCloudCDN}) && slices.Equal(d, []string{localCloudCDN}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s's edges failed: HLS priority %v, DASH %v, want [%s]", localCloudFront, p, d, localCloudCDN)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLocalOperatorEdgeCapacityOutlastsReports is the walkthrough's case:
// an operator lowers an edge's capacity by the admin API, and the edge's
// next health report (the demo edges report 100) must not undo it: the
// stored edge keeps the operator's capacity beside the reported one and
// steering holds the edge to the operator's, here under its load of 10.
func TestLocalOperatorEdgeCapacityOutlastsReports(t *testing.T) {
	run := startLocal(t, t.TempDir())
	adminTok := run.adminToken()
	keys := mustKeys(t, run.app.secrets.EdgeKeys)
	var play struct {
		SessionID     string `json:"session_id"`
		PlaybackToken string `json:"playback_token"`
	}
	if code := run.call("POST", "/v1/play", run.token(demo.AccountKids), `{"title_id":"big-buck-bunny","device_id":"`+playback.NewID("dev")+`"}`, &play); code != 201 {
		t.Fatalf("play: %d", code)
	}
	picked := func() []string {
		t.Helper()
		var edges pickedge.EdgesResponse
		if code := run.call("POST", "/v1/playback/"+play.SessionID+"/edges", play.PlaybackToken, "", &edges); code != 200 {
			t.Fatalf("edges: %d %+v", code, edges)
		}
		var ids []string
		for _, e := range edges.Edges {
			ids = append(ids, e.ID)
		}
		return ids
	}
	if err := run.app.reportDemoEdges(context.Background(), keys); err != nil {
		t.Fatal(err)
	}
	if ids := picked(); !slices.Contains(ids, "fra-1") {
		t.Fatalf("before the operator's change fra-1 is not picked: %v", ids)
	}

	// The edge's reports land through the bus (202), so one may change
	// the edge between the GET and the PUT: the PUT is then 412, and the
	// operator reads again, as any client of If-Match does.
	for attempt := 1; ; attempt++ {
		got := run.mustAPI("GET", "/v1/admin/edges/fra-1", adminTok, "", "", http.StatusOK)
		var e map[string]any
		if err := json.Unmarshal(got.body, &e); err != nil {
			t.Fatal(err)
		}
		e["capacity"] = 5
		for _, health := range []string{"load", "healthy", "hot_titles", "reported_at", "received_at", "reported_capacity", "ipv4_down", "ipv6_down", "rebuffer_ratio", "throughput_kbps"} {
			delete(e, health)
		}
		body, _ := json.Marshal(e)
		put := run.adminCall("PUT", "/v1/admin/edges/fra-1", adminTok, got.etag, string(body))
		if put.status == http.StatusOK {
			break
		}
		if put.status != http.StatusPreconditionFailed || attempt == 10 {
			t.Fatalf("PUT /v1/admin/edges/fra-1 (attempt %d): %d, want 200: %s", attempt, put.status, put.body)
		}
	}
	if err := run.app.reportDemoEdges(context.Background(), keys); err != nil {
		t.Fatal(err)
	}
	// The report is answered 202 and lands through the bus: read the edge
	// once the consumer has written it, or the read below sees the
	// operator's capacity whatever the report does to it.
	run.idle()

	after := run.mustAPI("GET", "/v1/admin/edges/fra-1", adminTok, "", "", http.StatusOK)
	var stored playback.Edge
	if err := json.Unmarshal(after.body, &stored); err != nil {
		t.Fatal(err)
	}
	if stored.Capacity != 5 || !stored.ReportedAt.After(time.Now().Add(-time.Minute)) {
		t.Fatalf("after the edge's report the operator's capacity 5 is gone: %s", after.body)
	}
	// Pick edge ranks from its copy of the edge table, reloaded every
	// PICKEDGE_REFRESH: the change shows once the copy has it.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ids := picked()
		if !slices.Contains(ids, "fra-1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fra-1, load 10 against the operator's capacity 5, is still picked: %v", ids)
		}
	}
}
