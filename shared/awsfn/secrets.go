package awsfn

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/functions/catalog"
)

// SecretARNs maps each secret variable a function reads to the variable
// that names, instead, the Secrets Manager secret holding its value (what
// the SAM template and the Pulumi stack set). A function whose environment
// names secrets this way is built on its first invocation, with the
// values read from Secrets Manager through an awssecrets.Cache, and built
// again when a refresh finds a rotated value: the values never sit in the
// Lambda's configuration, where lambda:GetFunctionConfiguration shows them,
// and a rotation needs no redeploy.
var SecretARNs = map[string]string{
	catalog.SecretPlaybackTokenKeys:    catalog.SecretARNEnv(catalog.SecretPlaybackTokenKeys),
	catalog.SecretStripeWebhookSecrets: catalog.SecretARNEnv(catalog.SecretStripeWebhookSecrets),
	catalog.SecretStripeAPIKey:         catalog.SecretARNEnv(catalog.SecretStripeAPIKey),
	catalog.SecretEdgeHMACKeys:         catalog.SecretARNEnv(catalog.SecretEdgeHMACKeys),
	catalog.SecretCloudFrontPrivateKey: catalog.SecretARNEnv(catalog.SecretCloudFrontPrivateKey),
}

// secretRefs returns variable -> secret ARN for the secrets lookup names.
func secretRefs(lookup envconfig.Lookuper) map[string]string {
	refs := map[string]string{}
	for name, refVar := range SecretARNs {
		if arn, ok := lookup.Lookup(refVar); ok && arn != "" {
			refs[name] = arn
		}
	}
	return refs
}

// SecretReader reads the current value of a secret by ARN, refreshing it
// as awssecrets.Cache does.
type SecretReader interface {
	Get(ctx context.Context, arn string) (string, error)
}

// newSecretReader makes the reader of an Env's secrets (RegisterSecrets).
var newSecretReader func(ctx context.Context, env *Env) (SecretReader, error)

// RegisterSecrets sets how secrets named by ARN are read, from the init of
// shared/awsfn/smsecrets: the Lambda main of a function that reads secrets
// imports it, the others do not link the Secrets Manager client.
func RegisterSecrets(fn func(ctx context.Context, env *Env) (SecretReader, error)) {
	newSecretReader = fn
}

// secretSource reads the secrets a function's environment names by ARN,
// through a reader that refreshes them.
type secretSource struct {
	refs  map[string]string // variable → secret ARN
	cache SecretReader
}

func newSecretSource(ctx context.Context, opts Options, refs map[string]string) (*secretSource, error) {
	if newSecretReader == nil {
		return nil, fmt.Errorf("secrets: %s name Secrets Manager secrets, but this Lambda links no secret reader: "+
			"a function that reads secrets has its main import shared/awsfn/smsecrets", strings.Join(slices.Sorted(maps.Values(refVars(refs))), ", "))
	}
	cache, err := newSecretReader(ctx, NewEnv(opts))
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return &secretSource{refs: refs, cache: cache}, nil
}

// refVars are the variables that name refs' secrets.
func refVars(refs map[string]string) map[string]string {
	out := make(map[string]string, len(refs))
	for name := range refs {
		out[name] = SecretARNs[name]
	}
	return out
}

// values returns variable → current value. A refresh that fails keeps the
// cached value (awssecrets.Cache); only a secret never read fails.
func (s *secretSource) values(ctx context.Context) (map[string]string, error) {
	values := make(map[string]string, len(s.refs))
	for _, name := range slices.Sorted(maps.Keys(s.refs)) {
		v, err := s.cache.Get(ctx, s.refs[name])
		if err != nil {
			return nil, fmt.Errorf("awsfn: secret %s: %w", name, err)
		}
		values[name] = v
	}
	return values, nil
}
