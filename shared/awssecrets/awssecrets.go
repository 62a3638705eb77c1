// Package awssecrets reads secret values from AWS Secrets Manager at run
// time, through an in-process cache that fetches each secret again once
// its value is older than Config.Refresh. The deployment hands a function
// only the secret's ARN (readable by anyone who may read the function's
// configuration, and harmless); the value stays in Secrets Manager, and a
// rotated value reaches warm functions within Refresh, with no redeploy.
//
// The client is made on the first Get, never before: a Lambda's init phase
// stays free of network calls and of the SDK's configuration work.
package awssecrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Client is the part of the Secrets Manager client the cache uses.
type Client interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ Client = (*secretsmanager.Client)(nil)

// Config is read from the environment.
type Config struct {
	// Refresh is how long a fetched value is used before it is fetched
	// again: the longest a warm function keeps a value that was rotated.
	Refresh time.Duration `env:"SECRETS_REFRESH, default=5m"`
	// RetryAfter is how long a value that could not be refreshed is used
	// before the next try (Secrets Manager unreachable or throttling).
	RetryAfter time.Duration `env:"SECRETS_RETRY_AFTER, default=30s"`
	// Endpoint points the client elsewhere (tests); empty is the AWS one.
	Endpoint string `env:"SECRETSMANAGER_ENDPOINT"`
}

// ErrNotString is returned for a secret that holds binary data: every
// playplane secret is text.
var ErrNotString = errors.New("awssecrets: the secret has no string value")

// Cache holds secret values by secret id (ARN or name).
type Cache struct {
	cfg       Config
	newClient func(ctx context.Context) (Client, error)
	log       *slog.Logger
	now       func() time.Time

	mu      sync.Mutex
	client  Client
	entries map[string]*entry
}

type entry struct {
	value     string
	version   string
	fetchNext time.Time
}

// Options replace what a Cache takes from its surroundings.
type Options struct {
	Log *slog.Logger
	Now func() time.Time
}

// New returns an empty cache whose client newClient makes on the first Get.
func New(cfg Config, newClient func(ctx context.Context) (Client, error), opts Options) (*Cache, error) {
	switch {
	case newClient == nil:
		return nil, errors.New("awssecrets.New: a client constructor is required")
	case cfg.Refresh <= 0 || cfg.RetryAfter <= 0:
		return nil, fmt.Errorf("awssecrets.New: refresh %s and retry-after %s must be positive", cfg.Refresh, cfg.RetryAfter)
	}
	c := &Cache{cfg: cfg, newClient: newClient, log: opts.Log, now: opts.Now, entries: map[string]*entry{}}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// ClientFromConfig makes the SDK client of awsCfg, at cfg.Endpoint when set.
func ClientFromConfig(cfg Config, awsCfg aws.Config) Client {
	return secretsmanager.NewFromConfig(awsCfg, func(o *secretsmanager.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
}

// Get returns the current value of secret id: the cached one while it is
// younger than Refresh, else a freshly fetched one. When a refresh fails,
// the value in hand is kept (and tried again after RetryAfter): a function
// that has its secrets keeps serving through a Secrets Manager outage.
// Only a secret never fetched yet fails.
func (c *Cache) Get(ctx context.Context, id string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	e := c.entries[id]
	if e != nil && now.Before(e.fetchNext) {
		return e.value, nil
	}
	value, version, err := c.fetch(ctx, id)
	if err != nil {
		if e == nil {
			return "", fmt.Errorf("awssecrets.Get %s: %w", id, err)
		}
		c.log.WarnContext(ctx, "secret refresh failed; keeping the value in hand", "secret", id, "version", e.version, "err", err)
		e.fetchNext = now.Add(c.cfg.RetryAfter)
		return e.value, nil
	}
	if e != nil && e.version != version {
		c.log.InfoContext(ctx, "secret rotated", "secret", id, "version", version)
	}
	c.entries[id] = &entry{value: value, version: version, fetchNext: now.Add(c.cfg.Refresh)}
	return value, nil
}

// fetch reads the AWSCURRENT version of id.
func (c *Cache) fetch(ctx context.Context, id string) (value, version string, err error) {
	if c.client == nil {
		client, err := c.newClient(ctx)
		if err != nil {
			return "", "", fmt.Errorf("client: %w", err)
		}
		c.client = client
	}
	out, err := c.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return "", "", fmt.Errorf("GetSecretValue: %w", err)
	}
	if out.SecretString == nil {
		return "", "", ErrNotString
	}
	return *out.SecretString, aws.ToString(out.VersionId), nil
}
