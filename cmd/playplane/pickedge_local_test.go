package main

import (
	"context"
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
