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

	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/functions/heartbeat"
	"github.com/playplane/playplane/functions/paymentwebhook"
	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/gcpfn"
	"github.com/playplane/playplane/shared/telemetry"
)

// builders are the deploy unit's functions by catalogue name: how each is
// built over the GCP adapters. Everything else about a function (its HTTP,
// consumer and jobs entry points, the topics it consumes) comes from its
// functions/catalog entry, which the stacks deploy, so adding a function is
// its catalogue entry and one line here.
var builders = map[string]gcpfn.Builder{
	"authorizeplay":  authorizePlay,
	"paymentwebhook": paymentWebhook,
	"heartbeat":      heartbeatFn,
	"signurl":        signURL,
	"pickedge":       pickEdge,
	"admin":          adminFn,
}

// Functions lists the deploy unit's functions with the entry points the
// catalogue deploys, in catalogue order.
var Functions = func() []gcpfn.Spec {
	specs, err := Specs(catalog.Functions, builders)
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
	// Spans and metrics leave over OTLP to the collector the OTEL_*
	// variables name (Cloud Monitoring and Cloud Trace behind it); without
	// them telemetry stays off.
	if _, err := telemetry.Setup(context.Background(), telemetry.Options{Service: os.Getenv("K_SERVICE"),
		Metrics: telemetry.SinkOTLP}); err != nil {
		set.Resources().Log().Error("telemetry is off: its configuration is unusable", "err", err)
	}
	set.Register(gcpfn.Framework)
}

// Set returns the registered functions, for the local runner.
func Set() *gcpfn.Set { return set }

func authorizePlay(ctx context.Context, env *gcpfn.Env) (gcpfn.Function, error) {
	var cfg authorizeplay.Config
	if err := env.Process(ctx, &cfg); err != nil {
		return nil, err
	}
	store, err := env.Store(ctx)
	if err != nil {
		return nil, err
	}
	identity, err := env.Identity(ctx)
	if err != nil {
		return nil, err
	}
	tokens, err := env.Keyring()
	if err != nil {
		return nil, err
	}
	return authorizeplay.New(cfg, authorizeplay.Deps{Store: store, Identity: identity, Tokens: tokens, Now: env.Now})
}

func paymentWebhook(ctx context.Context, env *gcpfn.Env) (gcpfn.Function, error) {
	var cfg paymentwebhook.Config
	if err := env.Process(ctx, &cfg); err != nil {
		return nil, err
	}
	store, err := env.Store(ctx)
	if err != nil {
		return nil, err
	}
	bus, err := env.Bus(ctx)
	if err != nil {
		return nil, err
	}
	return paymentwebhook.New(cfg, paymentwebhook.Deps{Store: store, Bus: bus, Now: env.Now})
}

func heartbeatFn(ctx context.Context, env *gcpfn.Env) (gcpfn.Function, error) {
	var cfg heartbeat.Config
	if err := env.Process(ctx, &cfg); err != nil {
		return nil, err
	}
	store, err := env.Store(ctx)
	if err != nil {
		return nil, err
	}
	bus, err := env.Bus(ctx)
	if err != nil {
		return nil, err
	}
	tokens, err := env.Keyring()
	if err != nil {
		return nil, err
	}
	identity, err := env.Identity(ctx)
	if err != nil {
		return nil, err
	}
	return heartbeat.New(cfg, heartbeat.Deps{Store: store, Bus: bus, Tokens: tokens, Identity: identity, Log: env.Log, Now: env.Now})
}

// signURL signs for the CDNs whose keys are bound: Cloud CDN in the gcp
// stack, CloudFront in the hybrid one (functions on GCP, video on
// CloudFront), which is why the CloudFront signer links here too.
func signURL(ctx context.Context, env *gcpfn.Env) (gcpfn.Function, error) {
	var cfg signurl.Config
	var keys signurl.KeyConfig
	var stack struct {
		// The stack names the delivery CDN and its base URL; an explicit
		// SIGNURL_CDN_BASES wins.
		CDN     string `env:"CDN"`
		BaseURL string `env:"CDN_BASE_URL"`
	}
	for _, c := range []any{&cfg, &keys, &stack} {
		if err := env.Process(ctx, c); err != nil {
			return nil, err
		}
	}
	if len(cfg.CDNBases) == 0 && stack.CDN != "" && stack.BaseURL != "" {
		cfg.CDNBases = map[string]string{stack.CDN: stack.BaseURL}
	}
	signers, err := signurl.LoadSigners(keys, env.Lookup)
	if err != nil {
		return nil, err
	}
	store, err := env.Store(ctx)
	if err != nil {
		return nil, err
	}
	tokens, err := env.Keyring()
	if err != nil {
		return nil, err
	}
	return signurl.New(cfg, signurl.Deps{Store: store, Tokens: tokens, Signers: signers, Now: env.Now})
}

func pickEdge(ctx context.Context, env *gcpfn.Env) (gcpfn.Function, error) {
	var cfg pickedge.Config
	if err := env.Process(ctx, &cfg); err != nil {
		return nil, err
	}
	store, err := env.Store(ctx)
	if err != nil {
		return nil, err
	}
	bus, err := env.Bus(ctx)
	if err != nil {
		return nil, err
	}
	tokens, err := env.Keyring()
	if err != nil {
		return nil, err
	}
	return pickedge.New(cfg, pickedge.Deps{Store: store, Bus: bus, Tokens: tokens, ZoneStore: store, Log: env.Log, Now: env.Now})
}

func adminFn(ctx context.Context, env *gcpfn.Env) (gcpfn.Function, error) {
	var cfg admin.Config
	if err := env.Process(ctx, &cfg); err != nil {
		return nil, err
	}
	store, err := env.Store(ctx)
	if err != nil {
		return nil, err
	}
	bus, err := env.Bus(ctx)
	if err != nil {
		return nil, err
	}
	identity, err := env.Identity(ctx)
	if err != nil {
		return nil, err
	}
	return admin.New(cfg, admin.Deps{Store: store, Identity: identity, Bus: bus, Now: env.Now})
}
