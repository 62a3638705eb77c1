package otlptest

import (
	"os"
	"slices"
	"strings"

	"github.com/playplane/playplane/shared/telemetry"
)

// Sampler is a sampler named for a sub-benchmark, as the OTEL_* variables
// that choose it.
type Sampler struct {
	Name string
	Env  map[string]string
}

// Samplers are the sampling configurations the overhead benchmarks run
// under, by sub-benchmark name: every trace recorded, and the deployed
// heartbeat functions' ratio (infra/stack), where a request without a
// sampled traceparent records one trace in a hundred.
var Samplers = []Sampler{
	{"always_on", map[string]string{telemetry.EnvTracesSampler: "always_on"}},
	ratioSampler("0.01"),
}

// EnvOverheadRatios, set in the benchmark's environment to ratios
// separated by commas ("0.001,0.1"), adds a parentbased_traceidratio
// sub-benchmark per ratio to BenchSamplers: what tracing costs at the
// ratio an operator is choosing for OTEL_TRACES_SAMPLER_ARG.
const EnvOverheadRatios = "PLAYPLANE_OVERHEAD_RATIOS"

// BenchSamplers is Samplers and the ratios EnvOverheadRatios names, each
// once. A ratio is checked where every OTEL_TRACES_SAMPLER_ARG is, by
// telemetry.Setup: its sub-benchmark fails on one that is not in [0, 1].
func BenchSamplers() []Sampler {
	return withRatios(Samplers, os.Getenv(EnvOverheadRatios))
}

// withRatios is base and a parentbased_traceidratio sampler per ratio in
// list (comma-separated), skipping those base already names.
func withRatios(base []Sampler, list string) []Sampler {
	out := slices.Clip(base)
	for arg := range strings.SplitSeq(list, ",") {
		if arg = strings.TrimSpace(arg); arg == "" {
			continue
		}
		s := ratioSampler(arg)
		if !slices.ContainsFunc(out, func(o Sampler) bool { return o.Name == s.Name }) {
			out = append(out, s)
		}
	}
	return out
}

// ratioSampler is parentbased_traceidratio at arg, named
// "parentbased_traceidratio=<arg>" so that -bench '…/parentbased' runs it
// beside the deployed ratio.
func ratioSampler(arg string) Sampler {
	return Sampler{"parentbased_traceidratio=" + arg, map[string]string{
		telemetry.EnvTracesSampler: "parentbased_traceidratio", telemetry.EnvTracesSamplerArg: arg}}
}
