package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"regexp"
	"strconv"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/infra/pulumimock"
	"github.com/playplane/playplane/shared/playback"
	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/otlpmetrics"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
)

// refusal is a play refused as title_not_signable as the functions
// export it: the EMF line a Lambda writes, and the OTLP metric a Cloud
// Function sends to the Telemetry API.
type refusal struct {
	emfNamespace, emfMetric string
	emfDims                 map[string]string // the line's dimension set, with the line's values
	otlpMetric              string
	otlpLabel, otlpValue    string // the data point's attribute holding the reason
}

// emittedRefusal counts one play refused as title_not_signable through
// shared/telemetry, as each cloud's functions are set up to, and reads
// back what left: an EMF line (SinkEMF, the Lambdas'), and an OTLP/HTTP
// export taken by a loopback receiver (SinkOTLP with the SDK's
// otlpmetrichttp exporter, which shared/telemetry/googlecloud wraps for
// the Cloud Functions, changing only the resource).
func emittedRefusal(t *testing.T) refusal {
	t.Helper()
	ctx := context.Background()
	var r refusal

	var lines bytes.Buffer
	p, err := telemetry.Setup(ctx, telemetry.Options{Service: "refusals", Metrics: telemetry.SinkEMF, EMFOut: &lines,
		Lookup: envconfig.MapLookuper(map[string]string{})})
	if err != nil {
		t.Fatal(err)
	}
	telemetry.PlayRefused(ctx, playback.ReasonTitleNotSignable)
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(lines.Bytes(), &doc); err != nil {
		t.Fatalf("EMF output %q: %v (want one line)", lines.String(), err)
	}
	var meta struct {
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name string }
		}
	}
	raw, _ := json.Marshal(doc["_aws"])
	if err := json.Unmarshal(raw, &meta); err != nil || len(meta.CloudWatchMetrics) != 1 ||
		len(meta.CloudWatchMetrics[0].Dimensions) != 1 || len(meta.CloudWatchMetrics[0].Metrics) != 1 {
		t.Fatalf("EMF line %s: want one directive, one dimension set, one metric", lines.String())
	}
	dir := meta.CloudWatchMetrics[0]
	r.emfNamespace, r.emfMetric, r.emfDims = dir.Namespace, dir.Metrics[0].Name, map[string]string{}
	for _, d := range dir.Dimensions[0] {
		v, _ := doc[d].(string)
		r.emfDims[d] = v
	}

	recv := otlptest.Start(t)
	p, err = telemetry.Setup(ctx, telemetry.Options{Service: "refusals", Metrics: telemetry.SinkOTLP, OTLPMetrics: otlpmetrics.New,
		Lookup: envconfig.MapLookuper(map[string]string{"OTEL_METRICS_EXPORTER": "otlp",
			"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": recv.Endpoint() + "/v1/metrics"})})
	if err != nil {
		t.Fatal(err)
	}
	telemetry.PlayRefused(ctx, playback.ReasonTitleNotSignable)
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, ex := range recv.MetricExports() {
		for _, rm := range ex.Data.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				for _, m := range sm.GetMetrics() {
					for _, dp := range m.GetSum().GetDataPoints() {
						for _, kv := range dp.GetAttributes() {
							if kv.GetValue().GetStringValue() == playback.ReasonTitleNotSignable {
								r.otlpMetric, r.otlpLabel, r.otlpValue = m.GetName(), kv.GetKey(), kv.GetValue().GetStringValue()
							}
						}
					}
				}
			}
		}
	}
	if r.otlpMetric == "" {
		t.Fatalf("no OTLP counter carries %q: %v", playback.ReasonTitleNotSignable, recv.MetricLayouts())
	}
	return r
}

// playsCloud is where plays are authorized (playRoute is served), so
// refused.
func playsCloud(t *testing.T, l Layout) Cloud {
	t.Helper()
	fn, err := playServer(catalog.Functions)
	if err != nil {
		t.Fatal(err)
	}
	return l.HTTPCloud(fn)
}

// TestPlayServerIsFoundByRoute: the not-signable alarm goes where plays
// are authorized, found by the route whatever the function is named, and
// a catalogue with no function serving the route is an error, not a
// stack silently without the alarm.
func TestPlayServerIsFoundByRoute(t *testing.T) {
	t.Parallel()
	play := catalog.Route{Method: "POST", Path: "/v1/play"}
	for _, tc := range []struct {
		name    string
		fns     []catalog.Function
		want    string
		wantErr bool
	}{
		{name: "renamed", fns: []catalog.Function{{Name: "other"}, {Name: "plays", Routes: []catalog.Route{play}}}, want: "plays"},
		{name: "none serves it", fns: []catalog.Function{{Name: "authorizeplay"}}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fn, err := playServer(tc.fns)
			switch {
			case tc.wantErr && err == nil:
				t.Fatalf("playServer found %q, want an error", fn.Name)
			case !tc.wantErr && err != nil:
				t.Fatal(err)
			case fn.Name != tc.want:
				t.Fatalf("playServer found %q, want %q", fn.Name, tc.want)
			}
		})
	}
}

// TestTitleNotSignableAlarm: a play refused as title_not_signable (a
// title no signer of the stack signs: every play of it fails, and no
// viewer causes it) alarms on the cloud that authorizes plays. On AWS the
// CloudWatch alarm reads the metric the EMF line carries, in its
// namespace and with the line's dimension set and values (CloudWatch
// matches a metric by all its dimensions); on GCP the alert policy's
// PromQL selects the OTLP metric by the name and the label key and value
// the export carries (the Telemetry API keeps both as sent). Both are read
// from what shared/telemetry emits, not copied.
//
// Not parallel: telemetry.Setup installs process-wide telemetry.
func TestTitleNotSignableAlarm(t *testing.T) {
	emitted := emittedRefusal(t)
	selector := regexp.MustCompile(`^sum\(increase\(\{"([^"]+)", "([^"]+)"="([^"]+)"\}\[(\d+)s\]\)\) > 0$`)
	forEachLayout(t, func(t *testing.T, d *deployment) {
		where := playsCloud(t, d.layout)
		var alarms []pulumimock.Resource
		for _, a := range d.mock.OfType("aws:cloudwatch/metricAlarm:MetricAlarm") {
			if a.InStr("metricName") == emitted.emfMetric {
				alarms = append(alarms, a)
			}
		}
		if where != AWS {
			if len(alarms) != 0 {
				t.Errorf("%d CloudWatch alarms on %s, where no Lambda authorizes plays", len(alarms), emitted.emfMetric)
			}
		} else {
			if len(alarms) != 1 {
				t.Fatalf("%d CloudWatch alarms on %s, want 1", len(alarms), emitted.emfMetric)
			}
			a := alarms[0]
			dims := map[string]string{}
			for k, v := range mapOf(a.In("dimensions")) {
				dims[k], _ = v.(string)
			}
			if a.InStr("namespace") != emitted.emfNamespace || !maps.Equal(dims, emitted.emfDims) {
				t.Errorf("alarm reads %s %s %v; the EMF line is %s %s %v",
					a.InStr("namespace"), a.InStr("metricName"), dims, emitted.emfNamespace, emitted.emfMetric, emitted.emfDims)
			}
			if a.InStr("statistic") != "Sum" || a.In("threshold") != 0.0 || a.InStr("comparisonOperator") != "GreaterThanThreshold" {
				t.Errorf("alarm %v: want Sum > 0", a.In())
			}
		}

		var policy *pulumimock.Resource
		for _, p := range d.mock.OfType("gcp:monitoring/alertPolicy:AlertPolicy") {
			if p.InStr("displayName") == d.prefix()+" title-not-signable" {
				policy = &p
			}
		}
		if where != GCP {
			if policy != nil {
				t.Errorf("alert policy %v where no Cloud Function authorizes plays", policy.In())
			}
			return
		}
		if policy == nil {
			t.Fatal("no title-not-signable alert policy")
		}
		// No refusal has made the counter on a new stack: the
		// condition must not require the metric to exist.
		if v := policy.In("conditions", "0", "conditionPrometheusQueryLanguage", "disableMetricValidation"); v != true {
			t.Errorf("disableMetricValidation %v: a stack where no play was refused yet has no %s metric", v, emitted.otlpMetric)
		}
		q := policy.InStr("conditions", "0", "conditionPrometheusQueryLanguage", "query")
		m := selector.FindStringSubmatch(q)
		if m == nil {
			t.Fatalf("query %q: want sum(increase({\"metric\", \"label\"=\"value\"}[Ns])) > 0", q)
		}
		if m[1] != emitted.otlpMetric || m[2] != emitted.otlpLabel || m[3] != emitted.otlpValue {
			t.Errorf("query selects %s{%s=%s}; the export carries %s{%s=%s}", m[1], m[2], m[3],
				emitted.otlpMetric, emitted.otlpLabel, emitted.otlpValue)
		}
		if m[4] != strconv.Itoa(AlarmNotSignableWindowSeconds) {
			t.Errorf("query's window is %ss, want AlarmNotSignableWindowSeconds, %d s", m[4], AlarmNotSignableWindowSeconds)
		}
	})
}
