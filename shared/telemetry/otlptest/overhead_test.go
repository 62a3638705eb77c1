package otlptest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/playplane/playplane/shared/telemetry"
	"github.com/playplane/playplane/shared/telemetry/otlptest"
	"github.com/playplane/playplane/shared/telemetry/promsink"
)

type statusRecorder struct{ *httptest.ResponseRecorder }

func (r statusRecorder) Status() int { return r.Code }

// setMode switches what a paused Provider does not, such as the globals a
// client library holds: every op, the warm-up's included, must run after
// a call that says whether telemetry is on, or a library client made in
// the warm-up would take the globals as Setup left them.
func TestOverheadSinkSetsTheModeOfEveryOp(t *testing.T) {
	var moded, on bool
	var runs, ops, wrong int
	testing.Benchmark(func(b *testing.B) {
		// One run (b.N 1: one op a chunk) covers every path.
		if runs++; runs > 1 {
			b.SkipNow()
		}
		env := map[string]string{telemetry.EnvTracesSampler: "always_off"}
		opts := telemetry.Options{Metrics: telemetry.SinkPrometheus, Prometheus: promsink.New}
		otlptest.OverheadSink(b, env, opts, func() {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			ctx, q := telemetry.StartRequest(r.Context(), r)
			// On, a span the sampler dropped is in the context; off, none.
			if active := trace.SpanContextFromContext(ctx).IsValid(); !moded || active != on {
				wrong++
			}
			ops++
			q.End(statusRecorder{httptest.NewRecorder()}, r.WithContext(ctx), nil)
		}, nil, func(o bool) { moded, on = true, o })
	})
	if ops == 0 || wrong != 0 {
		t.Fatalf("%d of %d ops ran in a mode setMode was not told of", wrong, ops)
	}
}
