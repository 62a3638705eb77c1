package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/httpload"
	"github.com/playplane/playplane/shared/playback"
)

type runnerLoadSpec struct {
	heartbeats, sessions int
	conns, pipeline      int
	logLevel             slog.Level // the access log is formatted, then discarded
	// noLimits serves app.Handler on a bare server, without App.Server's
	// timeouts and caps: the floor the limits are measured against.
	noLimits bool
	noSync   bool // SYNC=false: no fsyncs, what is answered survives a killed process only
}

// runnerLoad starts the local runner as `make run` wires it (durable bolt
// file, the runner's bus batching, every function on one mux) on a loopback
// listener, admits spec.sessions sessions through POST /v1/play, fires
// spec.heartbeats heartbeats and waits for the bus to drain. Every
// heartbeat must be answered 200 and counted exactly once in its session's
// QoE, and each resume position must be its session's last heartbeat's.
func runnerLoad(tb testing.TB, spec runnerLoadSpec) (ingest, total time.Duration) {
	tb.Helper()
	spec.sessions = max(1, min(spec.sessions, spec.heartbeats))
	spec.conns = max(1, min(spec.conns, spec.sessions))
	srv := httptest.NewUnstartedServer(nil)
	host := srv.Listener.Addr().String()
	// The server limits are main's defaults: the load goes through them.
	var cfg Config
	if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{Target: &cfg, Lookuper: envconfig.MapLookuper(nil)}); err != nil {
		tb.Fatal(err)
	}
	cfg.DataDir, cfg.PublicURL, cfg.Sync, cfg.LogLevel = tb.TempDir(), "http://"+host, !spec.noSync, spec.logLevel
	app, err := NewApp(context.Background(), cfg, slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: spec.logLevel})))
	if err != nil {
		tb.Fatal(err)
	}
	if spec.noLimits {
		srv.Config.Handler = app.Handler()
	} else {
		server, limited, err := app.Server(srv.Listener)
		if err != nil {
			tb.Fatal(err)
		}
		srv.Config, srv.Listener = server, limited
	}
	srv.Start()
	defer app.Close()
	defer srv.Close()

	type session struct{ account, id, token string }
	sessions := make([]session, spec.sessions)
	for i := range sessions {
		s := &sessions[i]
		s.account = fmt.Sprintf("acct_load_%d", i)
		if err := app.store.PutAccount(context.Background(), playback.Account{ID: s.account, PlanID: "premium",
			Status: playback.StatusActive, Territory: "DE"}); err != nil {
			tb.Fatal(err)
		}
		s.id, s.token = playThrough(tb, srv.URL, app, s.account)
	}
	t0 := time.Now().Add(-time.Minute)
	conns := make([][][]byte, spec.conns)
	last := make([]int64, spec.sessions)
	for k := range spec.heartbeats {
		i := k % spec.sessions
		last[i] = int64(k)
		body := fmt.Appendf(nil, `{"event":"progress","position_ms":%d,"duration_ms":5400000,"device_time":"%s",`+
			`"qoe":{"br":5800,"bl":21000,"mtp":48000,"played_ms":%d,"cdn":"local","edge":"fra-1"}}`,
			k, t0.Add(time.Duration(k)*100*time.Microsecond).Format(time.RFC3339Nano), k)
		c := i % spec.conns
		conns[c] = append(conns[c], httpload.PostJSON(host, "/v1/playback/"+sessions[i].id+"/heartbeat", sessions[i].token, body))
	}

	b, isBenchmark := tb.(*testing.B)
	if isBenchmark {
		b.ResetTimer()
	}
	start := time.Now()
	deadline := start.Add(5 * time.Minute)
	ingest, err = httpload.Run(host, conns, spec.pipeline, http.StatusOK, deadline)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := app.bus.Idle(ctx); err != nil {
		tb.Fatal(err)
	}
	total = time.Since(start)
	if isBenchmark {
		b.StopTimer()
	}

	counted := 0
	for i, s := range sessions {
		q, err := app.store.GetSessionQoE(context.Background(), s.id)
		if err != nil {
			tb.Fatalf("session %d: %v", i, err)
		}
		counted += q.Heartbeats
		p, err := app.store.GetProgress(context.Background(), s.account, "big-buck-bunny")
		if err != nil || p.PositionMS != last[i] {
			tb.Fatalf("session %d: progress %+v, %v; want position %d", i, p, err, last[i])
		}
	}
	if counted != spec.heartbeats {
		tb.Fatalf("sessions counted %d heartbeats, %d were sent", counted, spec.heartbeats)
	}
	return ingest, total
}

// playThrough admits one session the way an app does.
func playThrough(tb testing.TB, baseURL string, app *App, account string) (id, token string) {
	tb.Helper()
	caller, err := app.DevToken(account, time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, baseURL+"/v1/play",
		strings.NewReader(`{"title_id":"big-buck-bunny","device_id":"load-tv"}`))
	req.Header.Set("Authorization", "Bearer "+caller)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var play struct {
		SessionID     string `json:"session_id"`
		PlaybackToken string `json:"playback_token"`
	}
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(bytes.NewReader(raw)).Decode(&play) != nil {
		tb.Fatalf("play for %s: %d %s", account, resp.StatusCode, raw)
	}
	return play.SessionID, play.PlaybackToken
}

// TestRunnerHeartbeatLoadSmall is the always-on version of the runner's
// load test: the accounting, without the numbers.
func TestRunnerHeartbeatLoadSmall(t *testing.T) {
	t.Parallel()
	ingest, total := runnerLoad(t, runnerLoadSpec{heartbeats: 2000, sessions: 20, conns: 4, pipeline: 8, logLevel: slog.LevelInfo})
	t.Logf("2000 heartbeats through the local runner: answered in %s, written in %s", ingest, total)
}

// BenchmarkRunnerHeartbeatLoad is the heartbeat load test of the local
// runner on loopback (go test -run X -bench RunnerHeartbeatLoad
// -benchtime=200000x ./cmd/playplane): b.N heartbeats in, every one
// accounted for; req/s is the rate they were answered at, e2e/s the rate
// until all were written. The load generator shares the machine's cores.
// The no-limits variants serve without App.Server's timeouts and caps, the
// floor for what the limits cost.
func BenchmarkRunnerHeartbeatLoad(b *testing.B) {
	for _, bc := range []struct {
		name string
		spec runnerLoadSpec
	}{
		{"pipelined/warn-logs", runnerLoadSpec{sessions: 256, conns: 8, pipeline: 16, logLevel: slog.LevelWarn}},
		{"pipelined/access-logs", runnerLoadSpec{sessions: 256, conns: 8, pipeline: 16, logLevel: slog.LevelInfo}},
		{"keepalive/warn-logs", runnerLoadSpec{sessions: 256, conns: 32, pipeline: 1, logLevel: slog.LevelWarn}},
		{"pipelined/warn-logs/no-limits", runnerLoadSpec{sessions: 256, conns: 8, pipeline: 16, logLevel: slog.LevelWarn, noLimits: true}},
		{"keepalive/warn-logs/no-limits", runnerLoadSpec{sessions: 256, conns: 32, pipeline: 1, logLevel: slog.LevelWarn, noLimits: true}},
		// A heartbeat is answered after its journal commit, and net/http
		// serves a connection's requests one at a time: the connections are
		// what one commit can carry. Players are one connection each.
		{"players/warn-logs", runnerLoadSpec{sessions: 256, conns: 256, pipeline: 1, logLevel: slog.LevelWarn}},
		{"pipelined/warn-logs/nosync", runnerLoadSpec{sessions: 256, conns: 8, pipeline: 16, logLevel: slog.LevelWarn, noSync: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bc.spec.heartbeats = b.N
			ingest, total := runnerLoad(b, bc.spec)
			b.ReportMetric(float64(b.N)/ingest.Seconds(), "req/s")
			b.ReportMetric(float64(b.N)/total.Seconds(), "e2e/s")
		})
	}
}
