// Package unit registers catalogue functions with the Functions Framework
// for Cloud Functions (2nd gen). Each deployed function's source zip
// (functions/gcp/source) has a root package whose init calls Register with
// that function's Build only, so its binary links its own function and
// none of the others': every other function's package initialisation
// (its clients, its libraries) would be paid on each cold start. functions/gcp registers every function the same way for
// the local runner.
//
// Each function has an HTTP entry point serving its /v1 routes (the load
// balancer forwards the public paths unchanged) and a CloudEvent entry point
// per consumed topic (a push subscription delivers each Pub/Sub message). The
// functions and their clients are built on the first request, over Firestore
// and Pub/Sub only: this package links no AWS or local adapter.
package unit

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/gcpfn"
	"github.com/playplane/playplane/shared/telemetry"
)

// Specs names each catalogue function's entry points for the Functions
// Framework and pairs it with its builder. Every function must have a
// builder and every builder a function: a function the catalogue deploys
// but a unit does not register would fail at deploy, one registered but
// not deployed is dead code.
func Specs(fns []catalog.Function, builders map[string]gcpfn.Builder) ([]gcpfn.Spec, error) {
	var specs []gcpfn.Spec
	var errs []error
	for _, fn := range fns {
		build, ok := builders[fn.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("unit.Specs: catalogue function %s has no builder", fn.Name))
			continue
		}
		spec := gcpfn.Spec{Name: fn.Name, HTTP: fn.GCPEntryPoint, Jobs: fn.GCPJobsEntryPoint, Build: build}
		if len(fn.Consumes) > 0 {
			spec.Consumers = map[string]string{}
			for _, c := range fn.Consumes {
				spec.Consumers[c.Topic] = c.GCPEntryPoint
			}
		}
		specs = append(specs, spec)
	}
	for _, name := range slices.Sorted(maps.Keys(builders)) {
		if !slices.ContainsFunc(fns, func(f catalog.Function) bool { return f.Name == name }) {
			errs = append(errs, fmt.Errorf("unit.Specs: builder %s has no catalogue function", name))
		}
	}
	return specs, errors.Join(errs...)
}

// Deployed returns the catalogue entries of the functions in builders, in
// catalogue order.
func Deployed(builders map[string]gcpfn.Builder) []catalog.Function {
	var fns []catalog.Function
	for _, fn := range catalog.Functions {
		if _, ok := builders[fn.Name]; ok {
			fns = append(fns, fn)
		}
	}
	return fns
}

// Register registers the entry points of the catalogue functions in
// builders with the Functions Framework, over the process environment with
// the bus bus makes (nil for a unit whose functions publish nothing, which
// then does not link the Pub/Sub client library), and sets up telemetry. It builds nothing and connects to nothing: Cloud
// Functions runs it in the instance's init, before any request. It panics
// on a builder the catalogue does not deploy or a malformed entry, which
// the tests of this package and of functions/gcp catch first.
func Register(builders map[string]gcpfn.Builder, bus gcpfn.BusMaker) *gcpfn.Set {
	specs, err := Specs(Deployed(builders), builders)
	if err == nil && len(specs) == 0 {
		err = errors.New("unit.Register: no function")
	}
	if err != nil {
		panic(err)
	}
	set, err := gcpfn.NewSet(gcpfn.NewResources(gcpfn.Options{Bus: bus}), specs...)
	if err != nil {
		panic(err)
	}
	// Metrics go to Cloud Monitoring through Google's Telemetry API
	// (OTEL_METRICS_EXPORTER=googlecloud, as the stack sets it) or over
	// OTLP to a collector;
	// spans over OTLP as the OTEL_* variables say. Without them telemetry
	// stays off. Setup connects to nothing: the first flush does.
	// Its last export leaves when Cloud Run stops the instance (SIGTERM).
	if p, err := telemetry.Setup(context.Background(), set.Resources().Telemetry(os.Getenv("K_SERVICE"))); err != nil {
		set.Resources().Log().Error("telemetry is off: its configuration is unusable", "err", err)
	} else {
		gcpfn.ShutdownOnSIGTERM(p)
	}
	set.Register(gcpfn.Framework)
	return set
}
