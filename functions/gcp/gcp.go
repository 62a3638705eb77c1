// Package gcp registers every playplane function with the Functions
// Framework for Cloud Functions (2nd gen). It is the deploy unit's only
// import: the source zip (see docs/gcp.md) holds a root package that imports
// it, and each deployed function picks its entry point with
// FUNCTION_TARGET.
//
// Each function has an HTTP entry point serving its /v1 routes (the load
// balancer forwards the public paths unchanged) and a CloudEvent entry point
// per consumed topic (a push subscription delivers each Pub/Sub message). The
// functions and their clients are built on the first request, over Firestore
// and Pub/Sub only: this package links no AWS or local adapter.
package gcp

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/functions/registry"
	"github.com/playplane/playplane/shared/gcpfn"
	"github.com/playplane/playplane/shared/telemetry"
)

// Functions lists the deploy unit's functions with the entry points the
// catalogue deploys, in catalogue order.
var Functions = func() []gcpfn.Spec {
	specs, err := Specs(catalog.Functions, registry.Builders)
	if err != nil {
		panic(err) // a builder without a catalogue entry or the reverse; TestFunctionsMatchTheCatalog catches it first
	}
	return specs
}()

// Specs names each catalogue function's entry points for the Functions
// Framework and pairs it with its builder. Every function must have a
// builder and every builder a function: a function the catalogue deploys
// but this unit does not register would fail at deploy, one registered but
// not deployed is dead code.
func Specs(fns []catalog.Function, builders map[string]gcpfn.Builder) ([]gcpfn.Spec, error) {
	var specs []gcpfn.Spec
	var errs []error
	for _, fn := range fns {
		build, ok := builders[fn.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("gcp.Specs: catalogue function %s has no builder", fn.Name))
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
			errs = append(errs, fmt.Errorf("gcp.Specs: builder %s has no catalogue function", name))
		}
	}
	return specs, errors.Join(errs...)
}

// set is every function over the process environment. Registering builds
// nothing and reads nothing: Cloud Functions imports this package in the
// instance's init, before any request.
var set = func() *gcpfn.Set {
	s, err := gcpfn.NewSet(gcpfn.NewResources(gcpfn.Options{}), Functions...)
	if err != nil {
		panic(err) // a malformed catalogue entry; TestFunctionsMatchTheCatalog catches it first
	}
	return s
}()

func init() {
	// Metrics go to Cloud Monitoring's API (OTEL_METRICS_EXPORTER=
	// googlecloud, as the stack sets it) or over OTLP to a collector;
	// spans over OTLP as the OTEL_* variables say. Without them telemetry
	// stays off. Setup connects to nothing: the first flush does.
	if _, err := telemetry.Setup(context.Background(), set.Resources().Telemetry(os.Getenv("K_SERVICE"))); err != nil {
		set.Resources().Log().Error("telemetry is off: its configuration is unusable", "err", err)
	}
	set.Register(gcpfn.Framework)
}

// Set returns the registered functions, for the local runner.
func Set() *gcpfn.Set { return set }
