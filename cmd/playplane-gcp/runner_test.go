package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/shared/demo"
	"github.com/playplane/playplane/shared/emulators"
	"github.com/playplane/playplane/shared/firestore"
	"github.com/playplane/playplane/shared/openapi"
	"github.com/playplane/playplane/shared/openapi/openapitest"
	"github.com/playplane/playplane/shared/playback"
)

// runnerEnv makes the test binary act as the runner, so the end-to-end test
// runs the real main in a process of its own (the Functions Framework's
// server cannot be stopped in-process) without building another binary.
const runnerEnv = "PLAYPLANE_GCP_TEST_RUNNER"

func TestMain(m *testing.M) {
	if os.Getenv(runnerEnv) == "1" {
		os.Args = os.Args[:1] // drop the test flags
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// gcpRun is one runner process.
type gcpRun struct {
	t      *testing.T
	cfg    Config
	base   string
	cmd    *exec.Cmd
	output *lockedBuffer
	done   chan error
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startRunner starts the runner on a free port and waits until it serves;
// env is added to its environment (FIRESTORE_EMULATOR_HOST there runs it
// on that emulator).
func startRunner(t *testing.T, env ...string) *gcpRun {
	t.Helper()
	if os.Getenv(emulators.SkipEnv) == "1" {
		t.Skipf("%s=1: the runner needs the Firestore emulator", emulators.SkipEnv)
	}
	addr := freeAddr(t)
	r := &gcpRun{t: t, base: "http://" + addr, output: &lockedBuffer{}, done: make(chan error, 1),
		cfg: Config{Addr: addr, DataDir: t.TempDir(), Issuer: devJWTIssuer, Audience: devJWTAudience}}
	r.cmd = exec.Command(os.Args[0], "-test.run=^$")
	var inherited []string
	for _, kv := range os.Environ() {
		// The runner starts emulators of its own.
		if !strings.HasPrefix(kv, "FIRESTORE_EMULATOR_HOST=") && !strings.HasPrefix(kv, "PUBSUB_EMULATOR_HOST=") {
			inherited = append(inherited, kv)
		}
	}
	r.cmd.Env = append(append(inherited, runnerEnv+"=1", "ADDR="+addr, "DATA_DIR="+r.cfg.DataDir), env...)
	r.cmd.Stdout, r.cmd.Stderr = r.output, r.output
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(r.stop)
	deadline := time.Now().Add(5 * time.Minute) // a cold emulator install takes a while
	for {
		resp, err := http.Get(r.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("runner exited before serving: %v\n%s", err, r.output.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("runner not serving after 5m:\n%s", r.output.String())
		}
	}
}

// stop interrupts the runner, which stops its emulators, and waits for it.
func (r *gcpRun) stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Errorf("runner exited with %v\n%s", err, r.output.String())
		}
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
		r.t.Errorf("runner ignored the interrupt\n%s", r.output.String())
	}
	if r.t.Failed() {
		r.t.Logf("runner output:\n%s", r.output.String())
	}
	r.cmd = nil
}

func (r *gcpRun) call(method, path, token, body string, out any) int {
	r.t.Helper()
	return r.do(method, path, "Bearer "+token, body, nil, out)
}

func (r *gcpRun) do(method, path, authorization, body string, header http.Header, out any) int {
	r.t.Helper()
	req, err := http.NewRequest(method, r.base+path, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if authorization != "Bearer " {
		req.Header.Set("Authorization", authorization)
	}
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return r.send(req, out)
}

// undocumented sends a request no operation of the OpenAPI document takes;
// the answer must be the router's 404 or 405 envelope.
func (r *gcpRun) undocumented(method, path, token string, out any) int {
	r.t.Helper()
	req, err := http.NewRequest(method, r.base+path, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return r.send(openapitest.Undocumented(req), out)
}

// send checks the exchanges of the public paths against the OpenAPI
// document; the push endpoints and jobs entry points (what Pub/Sub and
// Cloud Scheduler call) are the platform's, not the API's.
func (r *gcpRun) send(req *http.Request, out any) int {
	r.t.Helper()
	spec, err := openapitest.Load()
	if err != nil {
		r.t.Fatal(err)
	}
	client := &http.Client{Transport: &openapitest.Transport{T: r.t, Spec: spec, Skip: func(req *http.Request) bool {
		return !strings.HasPrefix(req.URL.Path, "/v1/") && req.URL.Path != "/healthz" && req.URL.Path != openapi.Path
	}}}
	resp, err := client.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			r.t.Fatalf("%s %s: %d %q: %v", req.Method, req.URL.Path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

func (r *gcpRun) token(account string) string {
	r.t.Helper()
	tok, err := DevToken(r.cfg, account, time.Hour)
	if err != nil {
		r.t.Fatal(err)
	}
	return tok
}

// eventually retries check until it passes; consumers run asynchronously.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type playResponse struct {
	SessionID     string `json:"session_id"`
	PlaybackToken string `json:"playback_token"`
}

type sessionList struct {
	Sessions []struct {
		SessionID string `json:"session_id"`
	} `json:"sessions"`
}

type errorBody struct {
	Error struct {
		Code   string `json:"code"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// TestLocalFlowOnFunctionsFramework is the embedded runner's end-to-end
// flow (cmd/playplane) against the Functions Framework server, the
// Firestore emulator and the Pub/Sub fake, then the asynchronous paths that
// only exist here as on GCP: a heartbeat and a Stripe webhook travel
// through Pub/Sub to the CloudEvent consumers.
func TestLocalFlowOnFunctionsFramework(t *testing.T) {
	run := startRunner(t)
	tok := run.token(demo.AccountFamily)

	var play playResponse
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"big-buck-bunny","device_id":"tv"}`, &play); code != 201 {
		t.Fatalf("play: %d", code)
	}
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"sintel","device_id":"phone"}`, nil); code != 201 {
		t.Fatalf("second play: %d", code)
	}
	var conflict errorBody
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"sintel","device_id":"laptop"}`, &conflict); code != 409 || conflict.Error.Reason != "stream_limit" {
		t.Fatalf("third play: %d %+v", code, conflict)
	}
	var list sessionList
	if code := run.call("GET", "/v1/sessions", tok, "", &list); code != 200 || len(list.Sessions) != 2 {
		t.Fatalf("list: %d %+v", code, list)
	}
	if code := run.call("DELETE", "/v1/sessions/"+play.SessionID, tok, "", nil); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	var again playResponse
	if code := run.call("POST", "/v1/play", tok, `{"title_id":"sintel","device_id":"laptop"}`, &again); code != 201 {
		t.Fatalf("play after ending a session: %d", code)
	}
	if code := run.call("GET", "/healthz", "", "", nil); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	var missing errorBody
	if code := run.undocumented("GET", "/v1/no-such-route", tok, &missing); code != 404 || missing.Error.Reason != "route_not_found" {
		t.Fatalf("unknown route: %d %+v", code, missing)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
	}
	if code := run.call("GET", openapi.Path, "", "", &doc); code != 200 || doc.OpenAPI == "" {
		t.Fatalf("%s: %d %+v", openapi.Path, code, doc)
	}

	t.Run("heartbeat reaches its consumer through Pub/Sub", func(t *testing.T) {
		body := fmt.Sprintf(`{"event":"progress","position_ms":61000,"duration_ms":600000,"device_time":%q,"qoe":{}}`,
			time.Now().UTC().Format(time.RFC3339Nano))
		if code := run.call("POST", "/v1/playback/"+again.SessionID+"/heartbeat", again.PlaybackToken, body, nil); code != 200 {
			t.Fatalf("heartbeat: %d", code)
		}
		eventually(t, "progress saved by HeartbeatConsumer", func() error {
			var p struct {
				PositionMS int64 `json:"position_ms"`
			}
			if code := run.call("GET", "/v1/progress?title_id=sintel", tok, "", &p); code != 200 || p.PositionMS != 61000 {
				return fmt.Errorf("progress: %d %+v", code, p)
			}
			return nil
		})
	})

	t.Run("grants are scoped to the plan's renditions at the local Cloud CDN edge", func(t *testing.T) {
		var grant struct {
			ManifestURL string `json:"manifest_url"`
			QueryParams string `json:"query_params"`
			CDN         string `json:"cdn"`
			Cookies     []struct{ Name, Value, Path string }
			Manifests   struct{ HLS, DASH string }
		}
		if code := run.call("POST", "/v1/playback/"+again.SessionID+"/urls", again.PlaybackToken, "", &grant); code != 200 || grant.CDN != "cloudcdn" {
			t.Fatalf("sign: %d %+v", code, grant)
		}
		if grant.QueryParams != "" || grant.ManifestURL != grant.Manifests.HLS || !strings.Contains(grant.Manifests.DASH, "/v1/manifests/"+again.SessionID+"/dash?") {
			t.Fatalf("grant %+v: want personalized manifests and no title-wide query", grant)
		}
		// get sends the cookies whose path covers url (a browser), or all
		// of them (an attacker).
		get := func(url string, all bool) (int, string) {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			for _, c := range grant.Cookies {
				if all || strings.Contains(url, c.Path) {
					req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body)
		}
		// The family plan streams up to HD.
		if code, body := get(run.base+"/titles/sintel/hd/init.mp4", false); code != 200 {
			t.Fatalf("HD object with its grant: %d %.200s", code, body)
		}
		if code, _ := get(run.base+"/titles/sintel/uhd/init.mp4", true); code != 403 {
			t.Fatalf("UHD object with a standard plan's grants: %d, want 403", code)
		}
		if code, _ := get(run.base+"/titles/big-buck-bunny/sd/init.mp4", true); code != 403 {
			t.Fatalf("another title's object: %d, want 403", code)
		}
	})

	t.Run("edge health reaches its consumer through Pub/Sub", func(t *testing.T) {
		edges := func() []string {
			var resp struct {
				Edges []struct {
					ID string `json:"id"`
				} `json:"edges"`
			}
			if code := run.call("POST", "/v1/playback/"+again.SessionID+"/edges", again.PlaybackToken, "", &resp); code != 200 {
				t.Fatalf("edges: %d", code)
			}
			var ids []string
			for _, e := range resp.Edges {
				ids = append(ids, e.ID)
			}
			return ids
		}
		ranked := edges()
		if len(ranked) == 0 {
			t.Fatal("no edges ranked")
		}
		best := ranked[0]
		secrets, err := loadSecrets(run.cfg.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := pickedge.ParseEdgeKeys(secrets.EdgeKeys)
		if err != nil {
			t.Fatal(err)
		}
		// Stamped ahead of the demo agents' periodic healthy reports, so
		// theirs are older and ignored while the test looks.
		now := time.Now()
		report := playback.EdgeReport{EdgeID: best, Load: 10, Capacity: 100, Healthy: false, ReportedAt: now.Add(50 * time.Second)}
		req, err := pickedge.NewReportRequest(context.Background(), run.base+"/v1/edges/health", keys[best][0], report, now)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 202 {
			t.Fatalf("health report: %d", resp.StatusCode)
		}
		eventually(t, best+" taken out by PickEdgeConsumer", func() error {
			if ids := edges(); slices.Contains(ids, best) {
				return fmt.Errorf("still ranked: %v", ids)
			}
			return nil
		})
	})

	t.Run("cancellation ends sessions through two consumers", func(t *testing.T) {
		payload := stripeEvent(t, "customer.subscription.deleted.json")
		secrets, err := loadSecrets(run.cfg.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secrets.StripeWebhook, Timestamp: time.Now()})
		header := http.Header{"Stripe-Signature": {signed.Header}}
		if code := run.do("POST", "/v1/webhooks/stripe", "", string(payload), header, nil); code != 200 {
			t.Fatalf("webhook: %d", code)
		}
		// PaymentWebhookConsumer cancels the account and announces it;
		// AuthorizePlayConsumer ends its sessions.
		eventually(t, "sessions ended by AuthorizePlayConsumer", func() error {
			var list sessionList
			if code := run.call("GET", "/v1/sessions", tok, "", &list); code != 200 || len(list.Sessions) != 0 {
				return fmt.Errorf("sessions: %d %+v", code, list)
			}
			return nil
		})
		var refused errorBody
		if code := run.call("POST", "/v1/play", tok, `{"title_id":"sintel","device_id":"tv"}`, &refused); code != 403 || refused.Error.Reason != "subscription_inactive" {
			t.Fatalf("play after cancellation: %d %+v", code, refused)
		}
	})

	t.Run("sample deliveries are acked", func(t *testing.T) {
		var consumers []catalog.Consumer
		for _, fn := range catalog.Functions {
			consumers = append(consumers, fn.Consumes...)
		}
		for _, c := range consumers {
			s := struct{ entry, topic string }{c.GCPEntryPoint, c.Topic}
			for _, form := range []struct{ file, contentType string }{
				{s.topic + ".push.json", "application/json"},
				{s.topic + ".cloudevent.json", "application/cloudevents+json"},
			} {
				raw, err := os.ReadFile(filepath.Join("..", "..", "events", "gcp", form.file))
				if err != nil {
					t.Fatal(err)
				}
				header := http.Header{"Content-Type": {form.contentType}}
				if code := run.do("POST", "/"+s.entry, "", string(raw), header, nil); code/100 != 2 {
					t.Errorf("%s ← %s: %d", s.entry, form.file, code)
				}
			}
		}
	})
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// stripeEvent reads a Stripe test event and points it at the family demo
// account's customer.
func stripeEvent(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "testdata", "stripe", name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(raw, []byte(`"cus_PlayplaneFamily"`), []byte(`"cus_demo_family"`))
}

func TestTokenCommand(t *testing.T) {
	t.Setenv("DATA_DIR", t.TempDir())
	out := captureStdout(t, func() {
		if err := realMain(context.Background(), []string{"token", demo.AccountSolo}); err != nil {
			t.Fatal(err)
		}
	})
	if parts := strings.Split(strings.TrimSpace(out), "."); len(parts) != 3 {
		t.Fatalf("token command printed %q, want a JWT", out)
	}
	if err := realMain(context.Background(), []string{"bogus"}); err == nil {
		t.Fatal("an unknown command was accepted")
	}
}

func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	defer func() { os.Stdout = saved }()
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	f()
	w.Close()
	return <-done
}

// TestOwnCatalogueIsNotSeeded: on a Firestore emulator that holds a
// catalogue of the user's (FIRESTORE_EMULATOR_HOST, after playplane import
// --store=firestore), a start without SEED leaves it theirs, as make run
// leaves a data directory (demo.HoldsOwnRecords): no demo plans, titles,
// accounts or edges mixed in; SEED=true seeds it anyway. Not parallel: it
// sets the environment.
func TestOwnCatalogueIsNotSeeded(t *testing.T) {
	if os.Getenv(emulators.SkipEnv) == "1" {
		t.Skipf("%s=1: the runner needs the Firestore emulator", emulators.SkipEnv)
	}
	host := emulators.Firestore(t)
	t.Setenv("FIRESTORE_EMULATOR_HOST", host)
	fc := firestore.Config{ProjectID: "playplane-test", CollectionPrefix: playback.NewID("own") + "_"}
	store, err := firestore.New(context.Background(), fc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	mine := playback.Plan{ID: "family-max", Name: "Family Max", MaxStreams: 3, MaxDevices: 6, MaxQuality: playback.QualityHD}
	if err := store.PutPlan(context.Background(), mine); err != nil {
		t.Fatal(err)
	}
	run := startRunner(t, "FIRESTORE_EMULATOR_HOST="+host, "FIRESTORE_PROJECT_ID="+fc.ProjectID,
		"FIRESTORE_COLLECTION_PREFIX="+fc.CollectionPrefix)
	run.stop()
	if out := run.output.String(); !strings.Contains(out, "demo data not seeded") {
		t.Errorf("the runner did not say it left the catalogue unseeded:\n%s", out)
	}
	if _, err := store.GetPlan(context.Background(), demo.Plans[0].ID); !playback.IsCode(err, playback.CodeNotFound) {
		t.Fatalf("demo plan %s on a catalogue of the user's: %v, want not found (not seeded)", demo.Plans[0].ID, err)
	}
	if _, err := store.GetPlan(context.Background(), mine.ID); err != nil {
		t.Fatalf("the user's plan: %v", err)
	}
	// SEED=true mixes the demo data in anyway.
	run = startRunner(t, "FIRESTORE_EMULATOR_HOST="+host, "FIRESTORE_PROJECT_ID="+fc.ProjectID,
		"FIRESTORE_COLLECTION_PREFIX="+fc.CollectionPrefix, "SEED=true")
	run.stop()
	if _, err := store.GetPlan(context.Background(), demo.Plans[0].ID); err != nil {
		t.Fatalf("demo plan %s after a start with SEED=true: %v", demo.Plans[0].ID, err)
	}
}
