package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sethvargo/go-envconfig"

	adminfn "github.com/playplane/playplane/functions/admin"
	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/shared/atomicfile"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/demo"
)

// devSecrets are generated on first start and kept in the data directory,
// so tokens minted by `playplane-gcp token` keep working across restarts.
// They never come from the repository. The file is this runner's own: the
// embedded runner's keys are not shared.
type devSecrets struct {
	JWTKey        string `json:"jwt_hs256_key"`
	PlaybackKeys  string `json:"playback_token_keys"`
	StripeWebhook string `json:"stripe_webhook_secret"`
	EdgeKeys      string `json:"edge_hmac_keys"`
}

const (
	devKeyID        = "local-dev"
	devSecretsFile  = "gcp-dev-secrets.json"
	devTokenTTL     = 24 * time.Hour
	devPricePlans   = "price_basic=basic,price_std=standard,price_premium=premium"
	devProject      = "playplane-local"
	devJWTIssuer    = "playplane-local"
	devJWTAudience  = "playplane"
	devStripePrefix = "whsec_"
	devCDNKeyName   = "local-dev"
)

func loadSecrets(dataDir string) (devSecrets, error) {
	path := filepath.Join(dataDir, devSecretsFile)
	var s devSecrets
	raw, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(raw, &s); err != nil {
			// The file is written whole or not at all: this is damage from
			// outside, and new secrets would silently void the dev tokens
			// issued and the webhook signing secret given to Stripe.
			return s, fmt.Errorf("%s is damaged (%w): restore it, or delete it to have new secrets made "+
				"(dev tokens issued before and the Stripe webhook signing secret then change)", path, err)
		}
		if s.JWTKey == "" || s.PlaybackKeys == "" || s.StripeWebhook == "" || s.EdgeKeys == "" {
			return s, fmt.Errorf("%s: incomplete; delete it to have it made again", path)
		}
		return s, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return s, fmt.Errorf("data dir: %w", err)
	}
	s = devSecrets{JWTKey: randomKey(), PlaybackKeys: auth.NewDevKeyring().Spec(), StripeWebhook: devStripePrefix + randomKey(),
		EdgeKeys: pickedge.NewDevEdgeKeys(demo.EdgeIDs()...).Spec()}
	raw, _ = json.MarshalIndent(s, "", "  ")
	// Written in place, a write cut short would leave half a file that
	// every later start fails on.
	if err := atomicfile.WriteFile(path, raw, 0o600); err != nil {
		return s, fmt.Errorf("writing %s: %w", path, err)
	}
	return s, nil
}

func randomKey() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return base64.RawURLEncoding.EncodeToString(key)
}

const usage = "usage: playplane-gcp [token [--admin] ACCOUNT|NAME | source DIST]"

// tokenCmd prints a caller JWT for an account or, with --admin, an admin
// JWT for an operator, as `playplane token` does for make run: the admin
// function this runner serves takes operators' tokens only (make token
// GCP=1 ADMIN=1 ACCOUNT=ops-alice). The claim is the one that function
// checks, read from the environment by its own Config (ADMIN_CLAIM).
func tokenCmd(ctx context.Context, cfg Config, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("token", flag.ContinueOnError)
	admin := flags.Bool("admin", false, "mint an admin token (claim ADMIN_CLAIM) for the operator NAME")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() != 1 {
		return errors.New(usage)
	}
	var token string
	if *admin {
		var ac adminfn.Config
		if err := envconfig.Process(ctx, &ac); err != nil {
			return fmt.Errorf("config: %w", err)
		}
		key, err := devJWTKey(cfg)
		if err != nil {
			return err
		}
		if token, err = auth.MintAdminHS256(devKeyID, key, cfg.Issuer, cfg.Audience, flags.Arg(0), ac.AdminClaim, devTokenTTL, time.Now()); err != nil {
			return err
		}
	} else {
		var err error
		if token, err = DevToken(cfg, flags.Arg(0), devTokenTTL); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(stdout, token)
	return err
}

// DevToken mints a caller JWT for a demo account with the dev key kept in
// the data directory.
func DevToken(cfg Config, accountID string, ttl time.Duration) (string, error) {
	key, err := devJWTKey(cfg)
	if err != nil {
		return "", err
	}
	return auth.MintHS256(devKeyID, key, cfg.Issuer, cfg.Audience, accountID, ttl, time.Now())
}

// devJWTKey is the runner's JWT signing key, kept in the data directory.
func devJWTKey(cfg Config) ([]byte, error) {
	s, err := loadSecrets(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	key, err := base64.RawURLEncoding.DecodeString(s.JWTKey)
	if err != nil {
		return nil, fmt.Errorf("dev jwt key: %w", err)
	}
	return key, nil
}
