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

	"github.com/playplane/playplane/events"
	"github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/functions/authorizeplay"
	"github.com/playplane/playplane/functions/heartbeat"
	"github.com/playplane/playplane/functions/paymentwebhook"
	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/functions/signurl"
	"github.com/playplane/playplane/shared/gcpfn"
)

// Functions lists the deploy unit's functions and their entry points, the
// names infra/catalog deploys. Adding a function is one line here and its
// builder below.
var Functions = []gcpfn.Spec{
	{Name: "authorizeplay", HTTP: "AuthorizePlay", Consumers: on(events.TopicEntitlementChanged, "AuthorizePlayConsumer"), Build: authorizePlay},
	{Name: "paymentwebhook", HTTP: "PaymentWebhook", Consumers: on(events.TopicStripeEvents, "PaymentWebhookConsumer"), Jobs: "PaymentWebhookJobs", Build: paymentWebhook},
	{Name: "heartbeat", HTTP: "Heartbeat", Consumers: on(events.TopicHeartbeats, "HeartbeatConsumer"), Build: heartbeatFn},
	{Name: "signurl", HTTP: "SignURL", Build: signURL},
	{Name: "pickedge", HTTP: "PickEdge", Consumers: on(events.TopicEdgeHealth, "PickEdgeConsumer"), Build: pickEdge},
	{Name: "admin", HTTP: "Admin", Build: adminFn},
}

func on(topic, entryPoint string) map[string]string { return map[string]string{topic: entryPoint} }

// set is every function over the process environment. Registering builds
// nothing and reads nothing: Cloud Functions imports this package in the
// instance's init, before any request.
var set = func() *gcpfn.Set {
	s, err := gcpfn.NewSet(gcpfn.NewResources(gcpfn.Options{}), Functions...)
	if err != nil {
		panic(err) // a malformed list above; TestFunctions catches it first
	}
	return s
}()

func init() { set.Register(gcpfn.Framework) }

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
	identity, err := env.Identity(ctx)
	if err != nil {
		return nil, err
	}
	return admin.New(cfg, admin.Deps{Store: store, Identity: identity, Now: env.Now})
}
