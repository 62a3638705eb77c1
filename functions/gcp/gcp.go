// Package gcp registers every playplane function with the Functions
// Framework, for the local runner (cmd/playplane-gcp), which serves them
// all in one process. A deployed function's unit registers only its own
// (functions/gcp/unit, functions/gcp/source).
package gcp

import (
	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/functions/gcp/unit"
	"github.com/playplane/playplane/functions/registry"
	"github.com/playplane/playplane/shared/gcpfn"
	"github.com/playplane/playplane/shared/gcpfn/pubsubbus"
)

// Functions lists every function with the entry points the catalogue
// deploys, in catalogue order.
var Functions = func() []gcpfn.Spec {
	specs, err := unit.Specs(catalog.Functions, registry.Builders)
	if err != nil {
		panic(err) // a builder without a catalogue entry or the reverse; TestFunctionsMatchTheCatalog catches it first
	}
	return specs
}()

// set is every function over the process environment, registered in init.
var set = unit.Register(registry.Builders, pubsubbus.Make)

// Set returns the registered functions, for the local runner.
func Set() *gcpfn.Set { return set }
