package otlptest

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/telemetry"
)

// TestWithRatiosAddsOneSamplerPerRatio: each ratio of the list once, in
// its order, after the base samplers and not repeating one of them, with
// the environment that chooses it; the base slice left as it was.
func TestWithRatiosAddsOneSamplerPerRatio(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, list string
		want       []string
	}{
		{"unset", "", nil},
		{"two", "0.001,0.1", []string{"0.001", "0.1"}},
		{"spaces and empty items", " 0.3 , ,0.05,", []string{"0.3", "0.05"}},
		{"the deployed ratio is not repeated", deployedDefault(catalog.SettingTracesSamplerArg) + ",0.5", []string{"0.5"}},
		{"a ratio named twice runs once", "0.2,0.2", []string{"0.2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := slices.Clone(Samplers)
			got := withRatios(Samplers, tc.list)
			got = append(got, Sampler{Name: "appended"})
			if !slices.EqualFunc(Samplers, before, func(a, b Sampler) bool { return a.Name == b.Name }) {
				t.Fatalf("Samplers changed: %v", Samplers)
			}
			if !slices.EqualFunc(got[:len(Samplers)], Samplers, func(a, b Sampler) bool { return a.Name == b.Name }) {
				t.Fatalf("the base samplers are not first: %v", got)
			}
			added := got[len(Samplers) : len(got)-1]
			if len(added) != len(tc.want) {
				t.Fatalf("added %v, want ratios %v", added, tc.want)
			}
			for i, s := range added {
				sampler := deployedDefault(catalog.SettingTracesSampler)
				wantEnv := map[string]string{telemetry.EnvTracesSampler: sampler, telemetry.EnvTracesSamplerArg: tc.want[i]}
				if s.Name != sampler+"="+tc.want[i] || !maps.Equal(s.Env, wantEnv) {
					t.Errorf("sampler %d: %s %v, want ratio %s", i, s.Name, s.Env, tc.want[i])
				}
			}
		})
	}
}

// TestRatioSamplersAreCheckedBySetup: a ratio sampler's environment is
// one telemetry.Setup takes with tracing on, or refuses, leaving tracing
// off (as a deployment with that ratio would run), which OverheadReset
// fails the sub-benchmark on. Not parallel: each Setup makes its Provider
// the process's active one.
func TestRatioSamplersAreCheckedBySetup(t *testing.T) {
	recv := Start(t)
	for _, tc := range []struct {
		name, ratio string
		tracing     bool
	}{
		{"a tenth", "0.1", true},
		{"none", "0", true},
		{"every trace", "1", true},
		{"above one", "1.5", false},
		{"not a number", "0.1x", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := withRatios(nil, tc.ratio)
			if len(s) != 1 {
				t.Fatalf("samplers %v", s)
			}
			env := recv.Env()
			maps.Copy(env, s[0].Env)
			p, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "samplers", Lookup: envconfig.MapLookuper(env)})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = p.Shutdown(context.Background()) }()
			if p.Tracing() != tc.tracing {
				t.Errorf("tracing %v, want %v", p.Tracing(), tc.tracing)
			}
		})
	}
}
