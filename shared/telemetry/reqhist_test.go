package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/otlpmetrics"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
	"github.com/playplane/playplane/shared/telemetry/promsink"
)

// measurement is one request duration to record.
type measurement struct {
	method, route string
	status        int
	seconds       float64
	// sampled: made under a sampled span, an exemplar under trace_based;
	// else a request whose caller's trace is not sampled, recorded
	// through the request path (recordUnsampled).
	sampled bool
}

const hbRoute = "/v1/playback/{id}/heartbeat"

// histPhases are measurements read out between phases. Bucket bounds
// themselves, integral values (which the SDK sums apart), values past the
// last bound, a phase with nothing, series that come and go. A series
// meets at most one measurement per bucket and phase: the SDK's exemplar
// reservoir picks among several at random, and the comparison is exact.
var histPhases = [][]measurement{
	{
		{"POST", hbRoute, 200, 0.005, true}, {"POST", hbRoute, 200, 0.025, false}, {"POST", hbRoute, 200, 0.0311, true},
		{"POST", hbRoute, 200, 1, false}, {"POST", hbRoute, 200, 7200, false},
		{"POST", hbRoute, 503, 0.2, true}, {"GET", "/v1/titles", 404, 0.00002, false},
	},
	{
		{"POST", hbRoute, 200, 0, false}, {"POST", hbRoute, 200, 0.0123, true}, {"POST", hbRoute, 200, 2.5, false},
		{"POST", hbRoute, 200, 3600, false}, {"POST", "/v1/play", 201, 0.05, true},
		{"POST", hbRoute, 503, 0.1, false}, {"POST", hbRoute, 503, 3, false}, {"POST", hbRoute, 503, 0.2, true},
	},
	{},
	{
		{"GET", "/v1/titles", 404, 0.7, true}, {"GET", "/v1/titles", 404, 0.33, false}, {"POST", hbRoute, 200, 0.0049, true},
	},
}

// manyPhases passes the SDK's limit of 2,000 series per reader: the
// measurements past it go to the overflow series.
var manyPhases = func() [][]measurement {
	var a, b []measurement
	for i := range 2003 {
		a = append(a, measurement{"GET", fmt.Sprintf("/r/%d", i), 200, float64(i%7) / 100, false})
	}
	for _, i := range []int{5, 2500, 2501} {
		b = append(b, measurement{"GET", fmt.Sprintf("/r/%d", i), 200, 0.3, false})
	}
	return [][]measurement{a, b, {}}
}()

// histSink is one of the places metrics are read out: start sets
// telemetry up to write there and returns what it wrote at each read.
type histSink struct {
	name  string
	start func(t *testing.T, opts telemetry.Options) (p *telemetry.Provider, read func() string)
}

func startHist(t *testing.T, opts telemetry.Options, env map[string]string) *telemetry.Provider {
	t.Helper()
	env["OTEL_TRACES_EXPORTER"] = "none"
	opts.Service, opts.Lookup = "test", envconfig.MapLookuper(env)
	p, err := telemetry.Setup(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

var histSinks = []histSink{
	{"prometheus", func(t *testing.T, opts telemetry.Options) (*telemetry.Provider, func() string) {
		opts.Metrics, opts.Prometheus = telemetry.SinkPrometheus, promsink.New
		p := startHist(t, opts, map[string]string{})
		return p, func() string {
			rec := httptest.NewRecorder()
			p.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			return rec.Body.String()
		}
	}},
	{"emf", func(t *testing.T, opts telemetry.Options) (*telemetry.Provider, func() string) {
		var out bytes.Buffer
		opts.Metrics, opts.EMFOut = telemetry.SinkEMF, &out
		p := startHist(t, opts, map[string]string{})
		telemetry.SetEMFClock(p, func() time.Time { return time.Unix(1_800_000_000, 0) })
		return p, func() string {
			flush(t, p)
			// One line per attribute set, in the order of the SDK's
			// data points, which its map decides.
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			out.Reset()
			slices.Sort(lines)
			return strings.Join(lines, "\n")
		}
	}},
	otlpSink("otlp-cumulative", ""),
	otlpSink("otlp-delta", "delta"),
}

func otlpSink(name, temporality string) histSink {
	return histSink{name, func(t *testing.T, opts telemetry.Options) (*telemetry.Provider, func() string) {
		// The SDK's exporter reads its temporality from the process
		// environment only.
		t.Setenv("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", temporality)
		recv := otlptest.Start(t)
		opts.Metrics, opts.OTLPMetrics = telemetry.SinkOTLP, otlpmetrics.New
		p := startHist(t, opts, recv.Env())
		seen, seenLayouts := 0, 0
		return p, func() string {
			flush(t, p)
			ms := recv.Metrics(telemetry.MetricRequestDuration)
			var out []string
			for _, m := range ms[seen:] {
				m = proto.Clone(m).(*metricpb.Metric)
				// The SDK's data points come in its map's order.
				pts := m.GetHistogram().GetDataPoints()
				keys := make(map[*metricpb.HistogramDataPoint]string, len(pts))
				for _, p := range pts {
					keys[p] = prototext.Format(&metricpb.HistogramDataPoint{Attributes: p.GetAttributes()})
				}
				sort.Slice(pts, func(i, j int) bool { return keys[pts[i]] < keys[pts[j]] })
				out = append(out, prototext.Format(m))
			}
			seen = len(ms)
			// Where the request duration sits among the other metrics.
			layouts := recv.MetricLayouts()
			out = append(out, "layout: "+strings.Join(layouts[seenLayouts:], " | "))
			seenLayouts = len(layouts)
			return strings.Join(out, "\n")
		}
	}}
}

func flush(t *testing.T, p *telemetry.Provider) {
	t.Helper()
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// runHist records phases through a fresh Provider, the SDK's instrument
// or the package's own histogram, and returns what the sink wrote after
// each phase, timestamps replaced by their rank (the two runs happen at
// different times; what must match is which times equal which).
func runHist(t *testing.T, s histSink, phases [][]measurement, sdk, drift bool) string {
	t.Helper()
	// Tracing on, under the default sampler (parentbased_always_on): a
	// request whose traceparent says "not sampled" records no span.
	opts := telemetry.Options{SpanExporter: tracetest.NewInMemoryExporter()}
	if sdk {
		opts = telemetry.WithSDKRequestHistogram(opts)
	}
	p, read := s.start(t, opts)
	if telemetry.OwnsRequestHistogram(p) == sdk {
		t.Fatalf("own request histogram: %v, want %v", !sdk, sdk)
	}
	if drift {
		telemetry.DriftRequestHistogram(p)
	}
	var out []string
	for i, phase := range phases {
		for j, m := range phase {
			sc := trace.SpanContextConfig{TraceID: trace.TraceID{1, byte(i), byte(j)}, SpanID: trace.SpanID{2, byte(i), byte(j)}}
			if !m.sampled {
				recordUnsampled(t, sdk, trace.NewSpanContext(sc), m)
				continue
			}
			sc.TraceFlags = trace.FlagsSampled
			ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(sc))
			telemetry.RecordRequestDuration(ctx, m.method, m.route, m.status, m.seconds)
		}
		// Other metrics of the same scope beside it, in some phases.
		if i%2 == 0 {
			telemetry.PlayAdmitted(context.Background())
			telemetry.GrantSigned(context.Background(), "cdn-a")
		}
		time.Sleep(time.Millisecond) // no timestamp of one phase equals another's
		out = append(out, fmt.Sprintf("--- read %d\n%s", i, read()))
		time.Sleep(time.Millisecond)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	return rankTimes(strings.Join(out, "\n"))
}

// recordUnsampled records m as a request whose caller's trace, parent,
// is not sampled: through Request.End, or with the SDK's instrument fed
// the context the request is served with, which holds parent (what the
// SDK's exemplar reservoir stores the trace and span id of, sampled or
// not, under a filter that offers it: always_on).
func recordUnsampled(t *testing.T, sdk bool, parent trace.SpanContext, m measurement) {
	t.Helper()
	r := httptest.NewRequest(m.method, "/", nil)
	r.Pattern = m.route
	r.Header.Set("traceparent", "00-"+parent.TraceID().String()+"-"+parent.SpanID().String()+"-00")
	ctx, q := telemetry.StartRequest(r.Context(), r)
	if got := trace.SpanContextFromContext(ctx); !got.Equal(parent.WithRemote(true)) {
		t.Fatalf("the request's context holds %+v, want the caller's unsampled %+v", got, parent)
	}
	if sdk {
		telemetry.RecordRequestDuration(ctx, m.method, m.route, m.status, m.seconds)
		return
	}
	w := httptest.NewRecorder()
	w.WriteHeader(m.status)
	telemetry.EndRequestAfter(q, statusRecorder{w}, r.WithContext(ctx), m.seconds)
}

// rankTimes replaces the timestamps the sinks write (OTLP's
// time_unix_nano and start_time_unix_nano, Cloud Monitoring's seconds and
// nanos) by their rank among them.
func rankTimes(s string) string {
	lines := strings.Split(s, "\n")
	type at struct {
		line, n int // n: lines the timestamp takes
		prefix  string
		t       int64
	}
	var found []at
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		// prototext puts one or two spaces after the colon.
		k, v, ok := strings.Cut(l, ":")
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if !ok || err != nil {
			continue
		}
		switch k {
		case "time_unix_nano", "start_time_unix_nano":
			found = append(found, at{i, 1, k, n})
		case "seconds":
			a := at{i, 1, "time", n * 1e9}
			if i+1 < len(lines) {
				if k2, v2, _ := strings.Cut(strings.TrimSpace(lines[i+1]), ":"); k2 == "nanos" {
					ns, _ := strconv.ParseInt(strings.TrimSpace(v2), 10, 64)
					a.t, a.n = a.t+ns, 2
				}
			}
			found = append(found, a)
			i += a.n - 1
		}
	}
	ts := make([]int64, len(found))
	for i, f := range found {
		ts[i] = f.t
	}
	slices.Sort(ts)
	ts = slices.Compact(ts)
	for _, f := range found {
		r, _ := slices.BinarySearch(ts, f.t)
		lines[f.line] = f.prefix + ": T" + strconv.Itoa(r)
		if f.n == 2 {
			lines[f.line+1] = ""
		}
	}
	return strings.Join(lines, "\n")
}

// TestRequestHistogramIsTheSDKs: the request histogram this package
// aggregates itself writes, on every sink, what the SDK's instrument
// writes for the same measurements: Prometheus text, EMF lines (delta),
// OTLP cumulative and delta, Cloud Monitoring's time series and
// descriptor; under each exemplar filter, and past the SDK's series
// limit. A drifted aggregate (each measurement a bucket up) is told apart
// on every sink, so the comparison can fail.
func TestRequestHistogramIsTheSDKs(t *testing.T) {
	for _, filter := range []string{"", "always_on", "always_off"} {
		t.Run("exemplars="+filter, func(t *testing.T) {
			t.Setenv("OTEL_METRICS_EXEMPLAR_FILTER", filter)
			for _, s := range histSinks {
				t.Run(s.name, func(t *testing.T) {
					sdk, own := runHist(t, s, histPhases, true, false), runHist(t, s, histPhases, false, false)
					if sdk != own {
						t.Fatalf("own histogram differs from the SDK's:\n%s", firstDiff(sdk, own))
					}
					if !strings.Contains(sdk, "heartbeat") {
						t.Fatalf("the sink wrote no request duration:\n%s", sdk)
					}
					if filter != "always_off" && s.name != "prometheus" && s.name != "emf" && !strings.Contains(sdk, "exemplars") {
						t.Fatalf("no exemplars written:\n%s", sdk)
					}
					if filter == "" {
						if drifted := runHist(t, s, histPhases, false, true); drifted == sdk {
							t.Fatal("a drifted histogram wrote what the SDK's did: the comparison proves nothing")
						}
					}
				})
			}
		})
	}
	t.Run("past the series limit", func(t *testing.T) {
		for _, s := range histSinks {
			t.Run(s.name, func(t *testing.T) {
				sdk, own := runHist(t, s, manyPhases, true, false), runHist(t, s, manyPhases, false, false)
				if sdk != own {
					t.Fatalf("own histogram differs from the SDK's:\n%s", firstDiff(sdk, own))
				}
				if !strings.Contains(sdk, "overflow") {
					t.Fatal("no overflow series written")
				}
			})
		}
	})
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			lo, hi := max(0, i-5), min(i+5, len(al))
			return fmt.Sprintf("line %d: SDK %q, own %q\nSDK around it:\n%s", i+1, x, y, strings.Join(al[lo:hi], "\n"))
		}
	}
	return ""
}

// TestRequestHistogramLosesNoMeasurement: measurements made while a delta
// reader collects (new series included) each land in exactly one read.
func TestRequestHistogramLosesNoMeasurement(t *testing.T) {
	p, read := otlpSink("otlp-delta", "delta").start(t, telemetry.Options{})
	if !telemetry.OwnsRequestHistogram(p) {
		t.Fatal("the SDK aggregates the request histogram")
	}
	const writers, each = 4, 2000
	done := make(chan struct{})
	for w := range writers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range each {
				telemetry.RecordRequestDuration(context.Background(), "GET", fmt.Sprintf("/r/%d", (w*each+i)%50), 200, 0.01)
			}
		}()
	}
	var out strings.Builder
	for n := 0; n < writers; {
		select {
		case <-done:
			n++
		default:
			out.WriteString(read())
		}
	}
	out.WriteString(read())
	total := 0
	for l := range strings.Lines(out.String()) {
		if k, v, _ := strings.Cut(strings.TrimSpace(l), ":"); k == "count" {
			c, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			total += c
		}
	}
	if total != writers*each {
		t.Fatalf("read %d measurements, made %d", total, writers*each)
	}
}

// TestRequestHistogramConcurrentFlushes: flushes of one delta reader may
// run at once (the SDK's readers allow it: an invocation's flush beside
// Shutdown's); each measurement lands in exactly one EMF line, and the
// race detector finds nothing to say about the reader's start time.
func TestRequestHistogramConcurrentFlushes(t *testing.T) {
	var out syncBuffer
	p := startHist(t, telemetry.Options{Metrics: telemetry.SinkEMF, EMFOut: &out}, map[string]string{})
	if !telemetry.OwnsRequestHistogram(p) {
		t.Fatal("the SDK aggregates the request histogram")
	}
	const flushers, rounds = 2, 50
	done := make(chan struct{})
	for range flushers {
		go func() {
			defer func() { done <- struct{}{} }()
			for range rounds {
				telemetry.RecordRequestDuration(context.Background(), "GET", "/v1/titles", 200, 0.01)
				if err := p.Flush(context.Background()); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for range flushers {
		<-done
	}
	flush(t, p)
	total := 0
	for l := range strings.Lines(out.String()) {
		var doc map[string]any
		if err := json.Unmarshal([]byte(l), &doc); err != nil {
			t.Fatalf("%v in %s", err, l)
		}
		// One value per measurement, all in one bucket.
		vs, _ := doc[telemetry.MetricRequestDuration].([]any)
		n := len(vs)
		total += n
	}
	if total != flushers*rounds {
		t.Fatalf("flushed %d measurements, made %d", total, flushers*rounds)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
