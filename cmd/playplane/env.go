package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/bolt"
	"github.com/playplane/playplane/shared/cloudcdn"
	"github.com/playplane/playplane/shared/cloudfront"
	"github.com/playplane/playplane/shared/fnenv"
	"github.com/playplane/playplane/shared/membus"
	"github.com/playplane/playplane/shared/playback"
)

// localEnv is the runner's fnenv.Env: every function is built by its own
// package's Build, as on the clouds, over the local adapters (one bbolt
// store, the journaled in-process bus) and the dev keys of the data
// directory. Variables are Config.vars (tests), then the process
// environment, over local defaults (lookup); the dev signing keys always
// win over the environment, since only the local edge verifies what they
// sign.
type localEnv struct {
	lookup   envconfig.Lookuper
	store    *bolt.Store
	bus      *membus.Bus
	tokens   *auth.Keyring
	identity *auth.Verifier
	log      *slog.Logger
	now      func() time.Time
}

var _ fnenv.Env = (*localEnv)(nil)

func (e *localEnv) Process(ctx context.Context, cfg any) error {
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: cfg, Lookuper: e.lookup}); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

func (e *localEnv) Lookup(name string) (string, bool) { return e.lookup.Lookup(name) }

func (e *localEnv) Store(context.Context) (playback.Store, error) { return e.store, nil }

// ProgressBatch: bbolt commits every write on its own, so the heartbeat
// consumer writes each batch in one transaction.
func (e *localEnv) ProgressBatch(context.Context) (playback.ProgressBatchStore, bool, error) {
	return e.store, true, nil
}

// QoEViews: the runner keeps views in its bbolt file for the admin API and
// the dashboard.
func (e *localEnv) QoEViews(context.Context) (playback.QoEStore, bool, error) {
	return e.store, true, nil
}

// LeaseCounter: none for the functions. The runner observes the gauge from
// the store at each scrape (App.UseTelemetry), so heartbeat's scheduled
// count stays off.
func (e *localEnv) LeaseCounter(context.Context) (playback.LeaseCounter, bool, error) {
	return nil, false, nil
}

// QoEStream: no warehouse locally.
func (e *localEnv) QoEStream(context.Context) (playback.StreamSink, error) { return nil, nil }

func (e *localEnv) Bus(context.Context) (playback.Publisher, error) { return e.bus, nil }

func (e *localEnv) Keyring() (*auth.Keyring, error) { return e.tokens, nil }

func (e *localEnv) Identity(context.Context) (fnenv.Authenticator, error) { return e.identity, nil }

func (e *localEnv) Now() time.Time { return e.now() }

func (e *localEnv) Log() *slog.Logger { return e.log }

// Variables holding the dev signing keys, referenced by CLOUDFRONT_KEYS and
// CLOUDCDN_KEYS as "id=env:VAR" (the clouds' key set syntax).
const (
	envLocalCloudFrontKey = "PLAYPLANE_LOCAL_CLOUDFRONT_KEY"
	envLocalCloudCDNKey   = "PLAYPLANE_LOCAL_CLOUDCDN_KEY"
)

// signingVars are the key set variables signurl's Build reads, for the dev
// keys: the same path a cloud's keys take from its environment.
func signingVars(cf cloudfront.Key, cdn cloudcdn.Key) (map[string]string, error) {
	ec, ok := cf.Signer.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("dev CloudFront key: %T, want ECDSA", cf.Signer)
	}
	der, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		return nil, fmt.Errorf("dev CloudFront key: %w", err)
	}
	cfDelivery, _ := catalog.DeliveryByName(catalog.DeliveryCloudFront)
	cdnDelivery, _ := catalog.DeliveryByName(catalog.DeliveryCloudCDN)
	return map[string]string{
		cfDelivery.KeysEnv:       cf.ID + "=env:" + envLocalCloudFrontKey,
		cfDelivery.ActiveKeyEnv:  cf.ID,
		envLocalCloudFrontKey:    string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})),
		cdnDelivery.KeysEnv:      cdn.Name + "=env:" + envLocalCloudCDNKey,
		cdnDelivery.ActiveKeyEnv: cdn.Name,
		envLocalCloudCDNKey:      cloudcdn.EncodeKey(cdn.Secret),
	}, nil
}
