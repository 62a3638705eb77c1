package main

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/playplane/playplane/functions/catalog"
)

// recordingMux is an httpx.Mux that keeps the patterns mounted on it.
type recordingMux struct{ patterns []string }

func (m *recordingMux) Handle(pattern string, _ http.Handler) {
	m.patterns = append(m.patterns, pattern)
}

// TestFunctionsServeWhatTheCatalogueDeploys holds every function, as built
// and wired at run time, to its catalogue entry: the route patterns it
// mounts are the catalogue's route keys (which API Gateway and the load
// balancer route to it), the topics it consumes are those the stacks
// subscribe it to, and the jobs it runs are those they schedule. The
// catalogue is the one list: nothing here names a route, topic or job.
func TestFunctionsServeWhatTheCatalogueDeploys(t *testing.T) {
	t.Parallel()
	cfg := Config{DataDir: t.TempDir(), PublicURL: "http://127.0.0.1:1", Issuer: "playplane-local", Audience: "playplane"}
	app, err := NewApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Close() })

	if got, want := slices.Sorted(maps.Keys(app.functions)), names(catalog.Functions); !slices.Equal(got, want) {
		t.Errorf("the runner wires %v, the catalogue deploys %v", got, want)
	}
	for _, fn := range catalog.Functions {
		f, ok := app.functions[fn.Name]
		if !ok {
			continue
		}
		t.Run(fn.Name, func(t *testing.T) {
			var mux recordingMux
			f.Mount(&mux)
			var routes []string
			for _, r := range fn.Routes {
				routes = append(routes, r.Key())
			}
			if slices.Sort(mux.patterns); !slices.Equal(mux.patterns, slices.Sorted(slices.Values(routes))) {
				t.Errorf("mounts %q, the catalogue routes %q", mux.patterns, slices.Sorted(slices.Values(routes)))
			}

			var topics []string
			for _, c := range fn.Consumes {
				topics = append(topics, c.Topic)
			}
			if got := slices.Sorted(maps.Keys(f.Consumers())); !slices.Equal(got, slices.Sorted(slices.Values(topics))) {
				t.Errorf("consumes %v, the catalogue subscribes it to %v", got, topics)
			}

			var jobs, declared []string
			for _, j := range fn.Jobs {
				jobs = append(jobs, j.Name)
			}
			if s, ok := f.(scheduled); ok {
				declared = slices.Sorted(maps.Keys(s.Jobs()))
			}
			if !slices.Equal(declared, slices.Sorted(slices.Values(jobs))) {
				t.Errorf("runs jobs %v, the catalogue schedules %v", declared, jobs)
			}
		})
	}
}

func names(fns []catalog.Function) []string {
	var out []string
	for _, f := range fns {
		out = append(out, f.Name)
	}
	slices.Sort(out)
	return out
}

// The runner's mux serves every catalogue route with the handler mounted
// for that exact pattern (and not, say, the 404 fallback), so what the
// recorder saw is what requests reach.
func TestRunnerRoutesEveryCatalogueRoute(t *testing.T) {
	t.Parallel()
	cfg := Config{DataDir: t.TempDir(), PublicURL: "http://127.0.0.1:1", Issuer: "playplane-local", Audience: "playplane"}
	app, err := NewApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Close() })
	for _, fn := range catalog.Functions {
		for _, r := range fn.Routes {
			req, _ := http.NewRequest(r.Method, "http://local"+samplePath(r.Path), nil)
			if _, pattern := app.mux.Handler(req); pattern != r.Key() {
				t.Errorf("%s %s: served by pattern %q, want %q", fn.Name, r.Key(), pattern, r.Key())
			}
		}
	}
}

// samplePath fills a route's {parameters} with a value.
func samplePath(path string) string {
	var out []byte
	in := false
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == '{':
			in = true
			out = append(out, "x1"...)
		case c == '}':
			in = false
		case !in:
			out = append(out, c)
		}
	}
	return string(out)
}
