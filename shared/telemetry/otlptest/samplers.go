package otlptest

import (
	"os"
	"slices"
	"strings"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/telemetry"
)

// Sampler is a sampler named for a sub-benchmark, as the OTEL_* variables
// that choose it.
type Sampler struct {
	Name string
	Env  map[string]string
}

// Samplers are the sampling configurations the overhead benchmarks run
// under, by sub-benchmark name: every trace recorded, and the heartbeat
// function's deployed sampler at its deployed ratio (the catalogue's
// defaults, which the stacks set).
var Samplers = []Sampler{
	{"always_on", map[string]string{telemetry.EnvTracesSampler: "always_on"}},
	HeartbeatSampler(),
}

// HeartbeatSampler is the heartbeat function's sampler as the stacks
// deploy it: DeployedRatio at the catalogue's default ratio.
func HeartbeatSampler() Sampler {
	return DeployedRatio("", deployedDefault(catalog.SettingTracesSamplerArg))
}

// DefaultSampler is the sampler every other function is deployed with:
// the stacks set no OTEL_TRACES_SAMPLER for them, so the SDK's default,
// which records every trace that starts with them.
var DefaultSampler = Sampler{Name: "parentbased_always_on"}

// EnvOverheadRatios, set in the benchmark's environment to ratios
// separated by commas ("0.001,0.1"), adds a sub-benchmark per ratio to
// BenchSamplers, the heartbeat's deployed sampler at that ratio: what
// tracing costs at the ratio an operator is choosing for
// OTEL_TRACES_SAMPLER_ARG.
const EnvOverheadRatios = "PLAYPLANE_OVERHEAD_RATIOS"

// BenchSamplers is Samplers and the ratios EnvOverheadRatios names, each
// once. A ratio is checked where every OTEL_TRACES_SAMPLER_ARG is, by
// telemetry.Setup: its sub-benchmark fails on one that is not in [0, 1].
func BenchSamplers() []Sampler {
	return withRatios(Samplers, os.Getenv(EnvOverheadRatios))
}

// WithRatios is s and the ratios EnvOverheadRatios names, as
// BenchSamplers is for Samplers: a benchmark of one function under its
// deployed sampler, beside the heartbeat's sampler at other ratios (0:
// the hooks and the flushes with nothing recorded).
func WithRatios(s Sampler) []Sampler {
	return withRatios([]Sampler{s}, os.Getenv(EnvOverheadRatios))
}

// withRatios is base and DeployedRatio("", r) per ratio r in list
// (comma-separated), skipping those base already names.
func withRatios(base []Sampler, list string) []Sampler {
	out := slices.Clip(base)
	for arg := range strings.SplitSeq(list, ",") {
		if arg = strings.TrimSpace(arg); arg == "" {
			continue
		}
		s := DeployedRatio("", arg)
		if !slices.ContainsFunc(out, func(o Sampler) bool { return o.Name == s.Name }) {
			out = append(out, s)
		}
	}
	return out
}

// DeployedRatio is the heartbeat function's deployed sampler (the
// catalogue's default, parentbased_traceidratio) at ratio arg, named name,
// or "<sampler>=<arg>" when name is "" (so that -bench '…/parentbased'
// runs it beside the deployed ratio).
func DeployedRatio(name, arg string) Sampler {
	sampler := deployedDefault(catalog.SettingTracesSampler)
	if name == "" {
		name = sampler + "=" + arg
	}
	return Sampler{name, map[string]string{telemetry.EnvTracesSampler: sampler, telemetry.EnvTracesSamplerArg: arg}}
}

// deployedDefault is the catalogue's default for the setting env names.
func deployedDefault(env string) string {
	s, ok := catalog.SettingByEnv(env)
	if !ok {
		panic("otlptest: the catalogue has no setting " + env)
	}
	return s.Default
}
