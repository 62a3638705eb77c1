package gcpfn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel/trace"

	"github.com/playplane/playplane/shared/depcheck"
	"github.com/playplane/playplane/shared/fnenv"
	"github.com/playplane/playplane/shared/gcpfn"
	"github.com/playplane/playplane/shared/httpx"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/pubsub/push"
)

// recorder is a function with one route and two consumers. Message data
// "retry" asks for redelivery, "panic" panics.
type recorder struct {
	mu       sync.Mutex
	consumed map[string][]string // topic → message ids
}

func (f *recorder) Register(mux *http.ServeMux) {
	mux.Handle("GET /v1/things/{id}", httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if r.PathValue("id") == "missing" {
			return playback.NotFound("thing", "missing")
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
		return nil
	}))
}

func (f *recorder) Consumers() map[string]playback.BatchHandler {
	h := func(topic string) playback.BatchHandler {
		return func(ctx context.Context, msgs []playback.Message) (retry []string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			for _, m := range msgs {
				f.consumed[topic] = append(f.consumed[topic], m.ID)
				switch string(m.Data) {
				case "retry":
					retry = append(retry, m.ID)
				case "panic":
					panic("consumer bug")
				}
			}
			return retry
		}
	}
	return map[string]playback.BatchHandler{"heartbeats": h("heartbeats"), "edge-health": h("edge-health")}
}

func (f *recorder) ids(topic string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.consumed[topic])
}

func quietResources(vars map[string]string) *gcpfn.Resources {
	return gcpfn.NewResources(gcpfn.Options{Lookuper: envconfig.MapLookuper(vars), Log: slog.New(slog.DiscardHandler)})
}

func recorderSpec(f *recorder, builds *atomic.Int32) gcpfn.Spec {
	return gcpfn.Spec{
		Name: "recorder", HTTP: "Recorder",
		Consumers: map[string]string{"heartbeats": "RecorderHeartbeats", "edge-health": "RecorderEdgeHealth"},
		Build: func(context.Context, fnenv.Env) (gcpfn.Function, error) {
			builds.Add(1)
			return f, nil
		},
	}
}

// registry records what a Set registers.
type registry struct {
	http   map[string]func(http.ResponseWriter, *http.Request)
	events map[string]func(context.Context, event.Event) error
}

func (r *registry) HTTP(name string, fn func(http.ResponseWriter, *http.Request)) { r.http[name] = fn }
func (r *registry) CloudEvent(name string, fn func(context.Context, event.Event) error) {
	r.events[name] = fn
}

func newRegistry() *registry {
	return &registry{http: map[string]func(http.ResponseWriter, *http.Request){}, events: map[string]func(context.Context, event.Event) error{}}
}

// pubsubEvent is a messagePublished CloudEvent carrying data, with the
// adapter's id attribute.
func pubsubEvent(t *testing.T, id, data string) event.Event {
	t.Helper()
	e := event.New()
	e.SetID("ps-" + id)
	e.SetType(push.MessagePublishedType)
	e.SetSource("//pubsub.googleapis.com/projects/p/topics/t")
	body := map[string]any{"message": map[string]any{"data": []byte(data), "messageId": "ps-" + id,
		"attributes": map[string]string{"playplane.id": id}}, "subscription": "projects/p/subscriptions/s"}
	if err := e.SetData("application/json", body); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestNewSetValidates(t *testing.T) {
	t.Parallel()
	build := func(context.Context, fnenv.Env) (gcpfn.Function, error) { return &recorder{}, nil }
	for _, tc := range []struct {
		name  string
		specs []gcpfn.Spec
	}{
		{name: "no name", specs: []gcpfn.Spec{{HTTP: "A", Build: build}}},
		{name: "no builder", specs: []gcpfn.Spec{{Name: "a", HTTP: "A"}}},
		{name: "no entry points", specs: []gcpfn.Spec{{Name: "a", Build: build}}},
		{name: "entry point with a slash", specs: []gcpfn.Spec{{Name: "a", HTTP: "A/b", Build: build}}},
		{name: "entry point starting with a digit", specs: []gcpfn.Spec{{Name: "a", HTTP: "1A", Build: build}}},
		{name: "empty topic", specs: []gcpfn.Spec{{Name: "a", Consumers: map[string]string{"": "A"}, Build: build}}},
		{name: "entry point twice", specs: []gcpfn.Spec{{Name: "a", HTTP: "A", Build: build}, {Name: "b", Jobs: "A", Build: build}}},
		{name: "function twice", specs: []gcpfn.Spec{{Name: "a", HTTP: "A", Build: build}, {Name: "a", HTTP: "B", Build: build}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := gcpfn.NewSet(quietResources(nil), tc.specs...); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestRegisterBuildsOnFirstRequestOnly(t *testing.T) {
	t.Parallel()
	f := &recorder{consumed: map[string][]string{}}
	var builds atomic.Int32
	set, err := gcpfn.NewSet(quietResources(nil), recorderSpec(f, &builds))
	if err != nil {
		t.Fatal(err)
	}
	reg := newRegistry()
	set.Register(reg)
	if got := slices.Sorted(func(yield func(string) bool) {
		for k := range reg.http {
			yield(k)
		}
		for k := range reg.events {
			yield(k)
		}
	}); !slices.Equal(got, []string{"Recorder", "RecorderEdgeHealth", "RecorderHeartbeats"}) {
		t.Fatalf("registered %v", got)
	}
	if builds.Load() != 0 {
		t.Fatal("registering built the function")
	}

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			w := httptest.NewRecorder()
			reg.http["Recorder"](w, httptest.NewRequest("GET", "/v1/things/t1", nil))
			if w.Code != 200 || !strings.Contains(w.Body.String(), `"id":"t1"`) {
				t.Errorf("GET: %d %s", w.Code, w.Body)
			}
		})
	}
	wg.Wait()
	if err := reg.events["RecorderHeartbeats"](context.Background(), pubsubEvent(t, "m1", "ok")); err != nil {
		t.Fatal(err)
	}
	if n := builds.Load(); n != 1 {
		t.Fatalf("built %d times, want once for every entry point", n)
	}
}

func TestHTTPEntryPoint(t *testing.T) {
	t.Parallel()
	var builds atomic.Int32
	set, err := gcpfn.NewSet(quietResources(nil), recorderSpec(&recorder{consumed: map[string][]string{}}, &builds))
	if err != nil {
		t.Fatal(err)
	}
	h, ok := set.HTTPHandler("Recorder")
	if !ok {
		t.Fatal("no HTTP entry point")
	}
	for _, tc := range []struct {
		name, method, path string
		wantStatus         int
		wantBody           string
	}{
		{name: "route", method: "GET", path: "/v1/things/t1", wantStatus: 200, wantBody: `{"id":"t1"}`},
		{name: "typed error", method: "GET", path: "/v1/things/missing", wantStatus: 404, wantBody: `"code":"not_found"`},
		{name: "wrong method", method: "POST", path: "/v1/things/t1", wantStatus: 405},
		{name: "unknown path", method: "GET", path: "/v2/nothing", wantStatus: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
			if w.Code != tc.wantStatus || !strings.Contains(w.Body.String(), tc.wantBody) {
				t.Fatalf("got %d %s, want %d containing %s", w.Code, w.Body, tc.wantStatus, tc.wantBody)
			}
			if w.Header().Get("X-Request-Id") == "" {
				t.Error("no request id: the request middleware is missing")
			}
		})
	}
}

func TestCloudEventEntryPointRedeliversOnlyWhatARetryCanFix(t *testing.T) {
	t.Parallel()
	f := &recorder{consumed: map[string][]string{}}
	var builds atomic.Int32
	set, err := gcpfn.NewSet(quietResources(nil), recorderSpec(f, &builds))
	if err != nil {
		t.Fatal(err)
	}
	consume, ok := set.CloudEventHandler("RecorderEdgeHealth")
	if !ok {
		t.Fatal("no consumer entry point")
	}
	notPubSub := event.New()
	notPubSub.SetID("x")
	notPubSub.SetType("google.cloud.storage.object.v1.finalized")
	notPubSub.SetSource("//storage.googleapis.com/b")
	undecodable := event.New()
	undecodable.SetID("y")
	undecodable.SetType(push.MessagePublishedType)
	undecodable.SetSource("//pubsub.googleapis.com/projects/p/topics/t")
	_ = undecodable.SetData("application/json", []byte(`{"message":{"data":"%%%"}}`))
	for _, tc := range []struct {
		name      string
		event     event.Event
		wantRetry bool
	}{
		{name: "handled", event: pubsubEvent(t, "ok1", "ok")},
		{name: "retry asked", event: pubsubEvent(t, "retry1", "retry"), wantRetry: true},
		{name: "handler panics", event: pubsubEvent(t, "panic1", "panic"), wantRetry: true},
		{name: "not a Pub/Sub event", event: notPubSub},
		{name: "undecodable message", event: undecodable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := consume(context.Background(), tc.event); (err != nil) != tc.wantRetry {
				t.Fatalf("err = %v, want redelivery %v", err, tc.wantRetry)
			}
		})
	}
	t.Cleanup(func() {
		got := f.ids("edge-health")
		slices.Sort(got)
		// The adapter's id attribute, not Pub/Sub's message id, reaches
		// the handler.
		if !slices.Equal(got, []string{"ok1", "panic1", "retry1"}) {
			t.Errorf("consumed %v", got)
		}
	})
}

func TestFailedBuildIsRetriedAndReported(t *testing.T) {
	t.Parallel()
	var builds atomic.Int32
	fail := atomic.Bool{}
	fail.Store(true)
	f := &recorder{consumed: map[string][]string{}}
	spec := recorderSpec(f, &builds)
	spec.Build = func(_ context.Context, env fnenv.Env) (gcpfn.Function, error) {
		builds.Add(1)
		if fail.Load() {
			// A missing secret, as a Secret Manager binding not yet granted.
			if _, err := env.Keyring(); err != nil {
				return nil, err
			}
			return f, nil
		}
		return f, nil
	}
	set, err := gcpfn.NewSet(quietResources(nil), spec)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := set.HTTPHandler("Recorder")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/things/t1", nil))
	var body struct {
		Error struct{ Code, Reason, Message string } `json:"error"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != 500 || body.Error.Reason != "function_unavailable" || strings.Contains(w.Body.String(), "PLAYBACK_TOKEN_KEYS") {
		t.Fatalf("unbuilt function answered %d %s; want a typed 500 that hides the cause", w.Code, w.Body)
	}
	consume, _ := set.CloudEventHandler("RecorderHeartbeats")
	if err := consume(context.Background(), pubsubEvent(t, "m1", "ok")); err == nil || !strings.Contains(err.Error(), "PLAYBACK_TOKEN_KEYS") {
		t.Fatalf("unbuilt consumer returned %v; want an error (redelivery) naming the cause", err)
	}
	if err := set.Build(context.Background()); err == nil {
		t.Fatal("Build succeeded without the keys")
	}

	fail.Store(false)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/things/t1", nil))
	if w.Code != 200 {
		t.Fatalf("after the fix: %d %s", w.Code, w.Body)
	}
	if n := builds.Load(); n != 4 {
		t.Fatalf("built %d times, want a try per request until one succeeds (4)", n)
	}
}

func TestSpecMustMatchTheFunctionsConsumers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		consumers map[string]string
	}{
		{name: "topic without entry point", consumers: map[string]string{"heartbeats": "RecorderHeartbeats"}},
		{name: "entry point without consumer", consumers: map[string]string{"heartbeats": "A", "edge-health": "B", "stripe-events": "C"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := recorderSpec(&recorder{consumed: map[string][]string{}}, new(atomic.Int32))
			spec.Consumers = tc.consumers
			set, err := gcpfn.NewSet(quietResources(nil), spec)
			if err != nil {
				t.Fatal(err)
			}
			if err := set.Build(context.Background()); err == nil {
				t.Fatal("mismatched spec built")
			}
		})
	}
}

func TestRouterSendsPublicPathsToTheirFunction(t *testing.T) {
	t.Parallel()
	other := gcpfn.Spec{Name: "other", HTTP: "Other", Build: func(context.Context, fnenv.Env) (gcpfn.Function, error) {
		return routeOnly{pattern: "POST /v1/other"}, nil
	}}
	broken := gcpfn.Spec{Name: "broken", HTTP: "Broken", Build: func(context.Context, fnenv.Env) (gcpfn.Function, error) {
		return nil, errors.New("misconfigured")
	}}
	for _, tc := range []struct {
		name       string
		specs      []gcpfn.Spec
		method     string
		path       string
		wantStatus int
		wantBody   string
		wantAllow  string
	}{
		{name: "first function", method: "GET", path: "/v1/things/a", wantStatus: 200, wantBody: `"id":"a"`},
		{name: "second function", method: "POST", path: "/v1/other", wantStatus: 200, wantBody: "other"},
		{name: "nobody's route", method: "GET", path: "/v1/none", wantStatus: 404, wantBody: `"code":"not_found","reason":"route_not_found"`},
		{name: "another method's route", method: "GET", path: "/v1/other", wantStatus: 405,
			wantBody: `"code":"method_not_allowed","reason":"method_not_allowed"`, wantAllow: "POST"},
		{name: "a broken function does not hide the others", specs: []gcpfn.Spec{broken}, method: "POST", path: "/v1/other", wantStatus: 200},
		{name: "a broken function may own the route", specs: []gcpfn.Spec{broken}, method: "GET", path: "/v1/none", wantStatus: 500, wantBody: "function_unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			specs := append([]gcpfn.Spec{recorderSpec(&recorder{consumed: map[string][]string{}}, new(atomic.Int32)), other}, tc.specs...)
			set, err := gcpfn.NewSet(quietResources(nil), specs...)
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			set.Router().ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
			if w.Code != tc.wantStatus || !strings.Contains(w.Body.String(), tc.wantBody) || w.Header().Get("Allow") != tc.wantAllow {
				t.Fatalf("got %d %v %s", w.Code, w.Header(), w.Body)
			}
		})
	}
}

type routeOnly struct{ pattern string }

func (f routeOnly) Register(mux *http.ServeMux) {
	mux.HandleFunc(f.pattern, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("other")) })
}
func (routeOnly) Consumers() map[string]playback.BatchHandler { return nil }

func TestJobsEntryPoint(t *testing.T) {
	t.Parallel()
	var sweeps atomic.Int32
	spec := gcpfn.Spec{Name: "jobs", Jobs: "Jobs", Build: func(context.Context, fnenv.Env) (gcpfn.Function, error) {
		return gcpfn.WithJobs(routeOnly{pattern: "GET /v1/x"}, map[string]gcpfn.Job{
			"sweep": playback.JobOf(func(context.Context) (int, error) { sweeps.Add(1); return 3, nil }),
			"fail":  playback.JobOf(func(context.Context) (int, error) { return 0, errors.New("stripe down") }),
			"conflict": playback.JobOf(func(context.Context) (int, error) {
				return 0, playback.Errorf(playback.CodeConflict, "version_conflict", "the record changed")
			}),
			"unavailable": playback.JobOf(func(context.Context) (int, error) {
				return 0, playback.Unavailable(errors.New("store down"), "sweep")
			}),
		}), nil
	}}
	set, err := gcpfn.NewSet(quietResources(nil), spec)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := set.HTTPHandler("Jobs")
	for _, tc := range []struct {
		name, method, body string
		contentType        string
		wantStatus         int
		wantBody           string
	}{
		{name: "sweep", method: "POST", body: `{"job":"sweep"}`, wantStatus: 200, wantBody: `{"job":"sweep","result":3}`},
		{name: "failing job", method: "POST", body: `{"job":"fail"}`, wantStatus: 500},
		// A job's failure is ours whatever code its error carries, and
		// the jobs service's alert policy counts 5xx answers.
		{name: "job failing with a request's code", method: "POST", body: `{"job":"conflict"}`, wantStatus: 500, wantBody: "job_failed"},
		{name: "job failing on a dependency", method: "POST", body: `{"job":"unavailable"}`, wantStatus: 503, wantBody: "dependency_unavailable"},
		{name: "unknown job", method: "POST", body: `{"job":"nope"}`, wantStatus: 404, wantBody: "job_not_found"},
		{name: "unknown field", method: "POST", body: `{"job":"sweep","x":1}`, wantStatus: 400},
		{name: "case-folded field", method: "POST", body: `{"JOB":"sweep"}`, wantStatus: 400, wantBody: "unknown_field"},
		{name: "not JSON", method: "POST", body: `{"job":"sweep"}`, contentType: "text/plain", wantStatus: 415, wantBody: "content_type"},
		{name: "GET", method: "GET", wantStatus: 405, wantBody: "method_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			req := httptest.NewRequest(tc.method, "/", strings.NewReader(tc.body))
			if tc.contentType == "" {
				tc.contentType = "application/json" // what Cloud Scheduler sends (infra/gcpfn)
			}
			req.Header.Set("Content-Type", tc.contentType)
			h.ServeHTTP(w, req)
			if w.Code != tc.wantStatus || !strings.Contains(w.Body.String(), tc.wantBody) {
				t.Fatalf("got %d %s", w.Code, w.Body)
			}
		})
	}
	if sweeps.Load() != 1 {
		t.Fatalf("swept %d times", sweeps.Load())
	}

	noJobs := gcpfn.Spec{Name: "nojobs", Jobs: "NoJobs", Build: func(context.Context, fnenv.Env) (gcpfn.Function, error) {
		return routeOnly{pattern: "GET /v1/x"}, nil
	}}
	set, _ = gcpfn.NewSet(quietResources(nil), noJobs)
	if err := set.Build(context.Background()); err == nil {
		t.Fatal("a jobs entry point without jobs built")
	}
}

// TestEnvGettersFailFast: a getter that cannot make its dependency returns
// an error naming the getter and the missing setting, and never a typed nil
// a builder could pass into an interface field.
func TestEnvGettersFailFast(t *testing.T) {
	t.Parallel()
	env := gcpfn.NewResources(gcpfn.Options{Lookuper: envconfig.MapLookuper(map[string]string{"JWT_AUDIENCE": "a"}), Log: slog.New(slog.DiscardHandler)})
	for _, tc := range []struct {
		name string
		get  func(context.Context, fnenv.Env) (any, error)
		want []string
	}{
		{name: "keyring", get: func(_ context.Context, e fnenv.Env) (any, error) { return e.Keyring() },
			want: []string{"gcpfn.Env.Keyring", "PLAYBACK_TOKEN_KEYS"}},
		{name: "identity", get: func(ctx context.Context, e fnenv.Env) (any, error) { return e.Identity(ctx) },
			want: []string{"gcpfn.Env.Identity", "JWT_ISSUER"}},
		{name: "bus", get: func(ctx context.Context, e fnenv.Env) (any, error) {
			return e.Bus(ctx)
		}, want: []string{"gcpfn.Env.Bus", "publish nothing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got any
			var gotErr error
			spec := gcpfn.Spec{Name: "needy", HTTP: "Needy", Build: func(ctx context.Context, e fnenv.Env) (gcpfn.Function, error) {
				got, gotErr = tc.get(ctx, e)
				return nil, gotErr
			}}
			set, err := gcpfn.NewSet(env, spec)
			if err != nil {
				t.Fatal(err)
			}
			err = set.Build(context.Background())
			if !depcheck.Nil(got) {
				t.Errorf("the getter handed over %#v with its error", got)
			}
			for _, want := range tc.want {
				if gotErr == nil || err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("build error %v does not name %s", err, want)
				}
			}
		})
	}
}

func TestLoggerWritesCloudLoggingFields(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := gcpfn.NewLogger(&buf, slog.LevelDebug, "")
	log.Debug("d")
	log.Info("i", "k", "v")
	log.Warn("w")
	log.Error("e")
	log.WithGroup("g").Info("grouped", "level", "kept")
	var got []string
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatal(err)
		}
		if _, ok := entry["level"]; ok {
			t.Errorf("entry kept slog's level key: %s", line)
		}
		got = append(got, entry["severity"].(string)+":"+entry["message"].(string))
	}
	if want := []string{"DEBUG:d", "INFO:i", "WARNING:w", "ERROR:e", "INFO:grouped"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if !strings.Contains(buf.String(), `"g":{"level":"kept"}`) {
		t.Errorf("a grouped attribute named level was renamed: %s", buf.String())
	}
}

// TestLoggerLinksLinesToTheirSpan: with the project known, a line logged
// in a span's context carries Cloud Logging's special fields for it
// (https://cloud.google.com/logging/docs/structured-logging): the trace as
// projects/<project>/traces/<32 hex>, the span id in 16 hex digits and
// the sampling decision, which Cloud Logging lifts into the entry's trace,
// spanId and traceSampled and so links the line to the trace. Without a
// project or a span the line is what it was; so is a line of a logger with
// an open group, which would nest the fields where Cloud Logging does not
// read them.
func TestLoggerLinksLinesToTheirSpan(t *testing.T) {
	t.Parallel()
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	sampled := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	dropped := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid}))
	const (
		keyTrace, keySpan, keySampled = "logging.googleapis.com/trace", "logging.googleapis.com/spanId", "logging.googleapis.com/trace_sampled"
		wantTrace                     = "projects/playplane-fn/traces/4bf92f3577b34da6a3ce929d0e0e4736"
	)
	for _, tc := range []struct {
		name    string
		project string
		ctx     context.Context
		log     func(*slog.Logger, context.Context)
		want    map[string]any // the special fields; nil: none
	}{
		{name: "sampled span", project: "playplane-fn", ctx: sampled,
			log:  func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "m", "k", "v") },
			want: map[string]any{keyTrace: wantTrace, keySpan: "00f067aa0ba902b7", keySampled: true}},
		{name: "dropped span", project: "playplane-fn", ctx: dropped,
			log:  func(l *slog.Logger, ctx context.Context) { l.ErrorContext(ctx, "m") },
			want: map[string]any{keyTrace: wantTrace, keySpan: "00f067aa0ba902b7", keySampled: false}},
		{name: "logger with fields", project: "playplane-fn", ctx: sampled,
			log: func(l *slog.Logger, ctx context.Context) {
				l.With("request_id", "r").With("n", 1).WarnContext(ctx, "m")
			},
			want: map[string]any{keyTrace: wantTrace, keySpan: "00f067aa0ba902b7", keySampled: true}},
		{name: "no span", project: "playplane-fn", ctx: context.Background(),
			log: func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "m") }},
		{name: "no context", project: "playplane-fn", ctx: sampled,
			log: func(l *slog.Logger, ctx context.Context) { l.Info("m") }},
		{name: "logger with a group", project: "playplane-fn", ctx: sampled,
			log: func(l *slog.Logger, ctx context.Context) { l.WithGroup("g").InfoContext(ctx, "m") }},
		{name: "no project", ctx: sampled,
			log: func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "m") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			tc.log(gcpfn.NewLogger(&buf, slog.LevelDebug, tc.project), tc.ctx)
			var entry map[string]any
			if err := json.Unmarshal(buf.Bytes(), &entry); err != nil {
				t.Fatal(err)
			}
			got := map[string]any{}
			for _, k := range []string{keyTrace, keySpan, keySampled} {
				if v, ok := entry[k]; ok {
					got[k] = v
				}
			}
			if len(got) != len(tc.want) || !maps.EqualFunc(got, tc.want, func(a, b any) bool { return a == b }) {
				t.Fatalf("special fields %v, want %v: %s", got, tc.want, buf.String())
			}
			if entry["message"] != "m" || entry["severity"] == nil {
				t.Errorf("the line lost its own fields: %s", buf.String())
			}
		})
	}
}

func TestSubscriptions(t *testing.T) {
	t.Parallel()
	set, _ := gcpfn.NewSet(quietResources(nil), recorderSpec(&recorder{}, new(atomic.Int32)))
	want := []gcpfn.Subscription{{Topic: "edge-health", EntryPoint: "RecorderEdgeHealth"}, {Topic: "heartbeats", EntryPoint: "RecorderHeartbeats"}}
	if got := set.Subscriptions(); !slices.Equal(got, want) {
		t.Fatalf("got %v", got)
	}
}

// TestRouterAnswersPreflightsWithTheFunctionsPolicy: on Cloud Functions
// nothing in front answers preflights, so the function whose route a
// preflight asks about does, with CORS_ALLOWED_ORIGINS.
func TestRouterAnswersPreflightsWithTheFunctionsPolicy(t *testing.T) {
	t.Parallel()
	other := gcpfn.Spec{Name: "other", HTTP: "Other", Build: func(context.Context, fnenv.Env) (gcpfn.Function, error) {
		return routeOnly{pattern: "POST /v1/other"}, nil
	}}
	for _, tc := range []struct {
		name, method, path, origin, reqMethod string
		wantStatus                            int
		wantACAO, wantMethods                 string
	}{
		{"preflight to the second function", "OPTIONS", "/v1/other", "https://app.example", "POST", 204, "https://app.example", "POST"},
		{"preflight to the first function", "OPTIONS", "/v1/things/a", "https://app.example", "GET", 204, "https://app.example", "GET"},
		{"preflight from another origin", "OPTIONS", "/v1/other", "https://evil.example", "POST", 204, "", ""},
		{"preflight for a method nobody serves", "OPTIONS", "/v1/other", "https://app.example", "PUT", 405, "", ""},
		{"request", "POST", "/v1/other", "https://app.example", "", 200, "https://app.example", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			specs := []gcpfn.Spec{recorderSpec(&recorder{consumed: map[string][]string{}}, new(atomic.Int32)), other}
			set, err := gcpfn.NewSet(quietResources(map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example"}), specs...)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(tc.method, tc.path, nil)
			req.Header.Set("Origin", tc.origin)
			if tc.reqMethod != "" {
				req.Header.Set("Access-Control-Request-Method", tc.reqMethod)
			}
			w := httptest.NewRecorder()
			set.Router().ServeHTTP(w, req)
			if w.Code != tc.wantStatus || w.Header().Get("Access-Control-Allow-Origin") != tc.wantACAO ||
				w.Header().Get("Access-Control-Allow-Methods") != tc.wantMethods {
				t.Fatalf("got %d %v %s", w.Code, w.Header(), w.Body)
			}
		})
	}
}

// TestRouterAnswersPagesWithCORS: the Router's own answers (404 and 405
// when no function routes a request, 500 when one that could not be built
// may) carry the CORS headers of the functions' answers, as cmd/playplane's
// mux's do, so a page of an allowed origin reads the typed error instead
// of a network error; a preflight nobody's route allows still gets none.
func TestRouterAnswersPagesWithCORS(t *testing.T) {
	t.Parallel()
	other := gcpfn.Spec{Name: "other", HTTP: "Other", Build: func(context.Context, fnenv.Env) (gcpfn.Function, error) {
		return routeOnly{pattern: "POST /v1/other"}, nil
	}}
	broken := gcpfn.Spec{Name: "broken", HTTP: "Broken", Build: func(context.Context, fnenv.Env) (gcpfn.Function, error) {
		return nil, errors.New("a dependency is missing")
	}}
	const page = "https://app.example"
	expose := strings.Join(httpx.CORSExposeHeaders, ", ")
	for _, tc := range []struct {
		name, method, path, origin, reqMethod string
		specs                                 []gcpfn.Spec
		wantStatus                            int
		wantReason                            string
		wantACAO, wantExpose, wantVary        string
	}{
		{name: "a function's answer", method: "GET", path: "/v1/things/missing", origin: page,
			wantStatus: 404, wantReason: "thing_not_found", wantACAO: page, wantExpose: expose, wantVary: "Origin"},
		{name: "nobody's route", method: "GET", path: "/v1/none", origin: page,
			wantStatus: 404, wantReason: "route_not_found", wantACAO: page, wantExpose: expose, wantVary: "Origin"},
		{name: "another method's route", method: "GET", path: "/v1/other", origin: page,
			wantStatus: 405, wantReason: "method_not_allowed", wantACAO: page, wantExpose: expose, wantVary: "Origin"},
		{name: "a broken function may own the route", specs: []gcpfn.Spec{broken}, method: "GET", path: "/v1/none", origin: page,
			wantStatus: 500, wantReason: "function_unavailable", wantACAO: page, wantExpose: expose, wantVary: "Origin"},
		{name: "nobody's route from another origin", method: "GET", path: "/v1/none", origin: "https://evil.example",
			wantStatus: 404, wantReason: "route_not_found", wantVary: "Origin"},
		{name: "nobody's route without an origin", method: "GET", path: "/v1/none",
			wantStatus: 404, wantReason: "route_not_found"},
		{name: "preflight for a method nobody serves", method: "OPTIONS", path: "/v1/other", origin: page, reqMethod: "PUT",
			wantStatus: 405, wantReason: "method_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			specs := append([]gcpfn.Spec{recorderSpec(&recorder{consumed: map[string][]string{}}, new(atomic.Int32)), other}, tc.specs...)
			set, err := gcpfn.NewSet(quietResources(map[string]string{"CORS_ALLOWED_ORIGINS": page}), specs...)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.reqMethod != "" {
				req.Header.Set("Access-Control-Request-Method", tc.reqMethod)
			}
			w := httptest.NewRecorder()
			set.Router().ServeHTTP(w, req)
			var body struct {
				Error struct{ Reason string } `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != tc.wantStatus || body.Error.Reason != tc.wantReason {
				t.Fatalf("answered %d %s; want %d %s", w.Code, w.Body, tc.wantStatus, tc.wantReason)
			}
			if got := w.Header(); got.Get("Access-Control-Allow-Origin") != tc.wantACAO ||
				got.Get("Access-Control-Expose-Headers") != tc.wantExpose || got.Get("Vary") != tc.wantVary {
				t.Errorf("%d %s: Access-Control-Allow-Origin %q, Access-Control-Expose-Headers %q, Vary %q; want %q, %q, %q",
					w.Code, tc.wantReason, got.Get("Access-Control-Allow-Origin"), got.Get("Access-Control-Expose-Headers"), got.Get("Vary"),
					tc.wantACAO, tc.wantExpose, tc.wantVary)
			}
		})
	}
}

// TestUnbuiltFunctionAnswersPagesWithCORS: a function that could not be
// built answers 500 function_unavailable with Retry-After (the next request
// builds it again), and a page of an allowed origin can read that answer
// only if it carries the CORS headers every other answer does.
func TestUnbuiltFunctionAnswersPagesWithCORS(t *testing.T) {
	t.Parallel()
	broken := gcpfn.Spec{Name: "broken", HTTP: "Broken", Build: func(context.Context, fnenv.Env) (gcpfn.Function, error) {
		return nil, errors.New("a dependency is missing")
	}}
	for _, tc := range []struct {
		name, origin, wantACAO, wantExpose, wantVary string
	}{
		{name: "allowed origin", origin: "https://app.example", wantACAO: "https://app.example", wantExpose: "Retry-After, X-Request-Id", wantVary: "Origin"},
		{name: "other origin", origin: "https://evil.example", wantVary: "Origin"},
		{name: "no origin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			set, err := gcpfn.NewSet(quietResources(map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example"}), broken)
			if err != nil {
				t.Fatal(err)
			}
			h, _ := set.HTTPHandler("Broken")
			req := httptest.NewRequest("GET", "/v1/things/t1", nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 500 || !strings.Contains(w.Body.String(), "function_unavailable") || w.Header().Get("Retry-After") == "" {
				t.Fatalf("unbuilt function answered %d %v %s; want 500 function_unavailable with Retry-After", w.Code, w.Header(), w.Body)
			}
			if got := w.Header(); got.Get("Access-Control-Allow-Origin") != tc.wantACAO ||
				got.Get("Access-Control-Expose-Headers") != tc.wantExpose || got.Get("Vary") != tc.wantVary {
				t.Errorf("Access-Control-Allow-Origin %q, Access-Control-Expose-Headers %q, Vary %q; want %q, %q, %q",
					got.Get("Access-Control-Allow-Origin"), got.Get("Access-Control-Expose-Headers"), got.Get("Vary"),
					tc.wantACAO, tc.wantExpose, tc.wantVary)
			}
		})
	}
}

// countingLookuper counts the look-ups of one variable.
type countingLookuper struct {
	envconfig.Lookuper
	name string
	n    atomic.Int32
}

func (c *countingLookuper) Lookup(key string) (string, bool) {
	if key == c.name {
		c.n.Add(1)
	}
	return c.Lookuper.Lookup(key)
}

// TestCORSPolicyIsReadOnce: CORS_ALLOWED_ORIGINS is configuration, read
// and parsed once, when the resources are made; the functions' builds and
// the Router's own answers (its 404s and 405s, which any stray request
// gets) apply that policy (TestRouterAnswersPagesWithCORS holds what they
// answer) rather than reading and parsing the variable again.
func TestCORSPolicyIsReadOnce(t *testing.T) {
	t.Parallel()
	lookup := &countingLookuper{Lookuper: envconfig.MapLookuper(map[string]string{httpx.EnvCORSAllowedOrigins: "https://app.example"}),
		name: httpx.EnvCORSAllowedOrigins}
	res := gcpfn.NewResources(gcpfn.Options{Lookuper: lookup, Log: slog.New(slog.DiscardHandler)})
	set, err := gcpfn.NewSet(res, recorderSpec(&recorder{consumed: map[string][]string{}}, new(atomic.Int32)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, method, path string }{
		{name: "a route's answer", method: "GET", path: "/v1/things/missing"},
		{name: "nobody's route", method: "GET", path: "/v1/none"},
		{name: "nobody's route again", method: "GET", path: "/v1/elsewhere"},
		{name: "another method", method: "DELETE", path: "/v1/things/t1"},
	} {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		req.Header.Set("Origin", "https://app.example")
		w := httptest.NewRecorder()
		set.Router().ServeHTTP(w, req)
		if w.Header().Get("Access-Control-Allow-Origin") != "https://app.example" {
			t.Fatalf("%s: %d without the policy's CORS headers: %v", tc.name, w.Code, w.Header())
		}
	}
	if n := lookup.n.Load(); n != 1 {
		t.Errorf("%s read %d times, want once", httpx.EnvCORSAllowedOrigins, n)
	}
}
