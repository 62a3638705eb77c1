package stack

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/infra/pulumimock"
)

const (
	testPricePlans = "price_basic=basic,price_std=standard"
	testProject    = "playplane-test"
	testRegion     = "europe-west1"
	testDomain     = "api.playplane.test"
	testIssuer     = "https://auth.playplane.test/"
	// testCORSOrigins is playplane:corsAllowedOrigins, spaced as a person
	// might type it.
	testCORSOrigins = "https://app.playplane.test,http://localhost:5173"
)

// leakMarker is part of every fake secret value, so a test can find the
// value wherever it ends up.
const leakMarker = "do-not-leak"

func secretValue(configKey string) string { return "sekret-" + configKey + "-" + leakMarker }

// baseConfig is what a Pulumi.<stack>.yaml plus `pulumi config set
// --secret` would hold for layout.
func baseConfig(layout string) map[string]string {
	c := map[string]string{
		"playplane:layout":              layout,
		"playplane:jwtIssuer":           testIssuer,
		"playplane:jwtAudience":         "playplane-api",
		"playplane:jwtJwksUrl":          "https://auth.playplane.test/.well-known/jwks.json",
		"playplane:stripePricePlans":    testPricePlans,
		"playplane:domain":              testDomain,
		"playplane:corsAllowedOrigins":  testCORSOrigins,
		"playplane:cloudfrontPublicKey": "-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----\n",
		"aws:region":                    pulumimock.AWSRegion,
		"gcp:project":                   testProject,
		"gcp:region":                    testRegion,
	}
	for _, s := range catalog.Secrets {
		c["playplane:"+s.ConfigKey] = secretValue(s.ConfigKey)
	}
	return c
}

func secretKeys() []string {
	var keys []string
	for _, s := range catalog.Secrets {
		keys = append(keys, "playplane:"+s.ConfigKey)
	}
	return keys
}

// deployment is one mocked `pulumi up`.
type deployment struct {
	layout  Layout
	stack   *Stack
	mock    *pulumimock.Monitor
	outputs map[string]any
}

// deploy runs LoadConfig and New under mocks and resolves the outputs.
func deploy(t *testing.T, layoutName string, config map[string]string) (*deployment, error) {
	t.Helper()
	mock := pulumimock.New(testProject)
	d := &deployment{mock: mock, outputs: map[string]any{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		cfg, err := LoadConfig(ctx)
		if err != nil {
			return err
		}
		d.layout = cfg.Layout
		if d.stack, err = New(ctx, cfg); err != nil {
			return err
		}
		for key, out := range d.stack.Outputs {
			wg.Add(1)
			out.ApplyT(func(v any) any {
				defer wg.Done()
				mu.Lock()
				d.outputs[key] = v
				mu.Unlock()
				return v
			})
		}
		return nil
	}, pulumi.WithMocks("playplane", layoutName, mock), func(info *pulumi.RunInfo) {
		info.Config = config
		info.ConfigSecretKeys = secretKeys()
	})
	if err != nil {
		return nil, err
	}
	wg.Wait()
	return d, nil
}

// deployments caches one deployment per layout: the checks only read them.
var deployments sync.Map // layout name -> *deployment

func deployed(t *testing.T, layout string) *deployment {
	t.Helper()
	if d, ok := deployments.Load(layout); ok {
		return d.(*deployment)
	}
	d, err := deploy(t, layout, baseConfig(layout))
	if err != nil {
		t.Fatalf("deploy %s: %v", layout, err)
	}
	actual, _ := deployments.LoadOrStore(layout, d)
	return actual.(*deployment)
}

// forEachLayout runs check in parallel against every layout.
func forEachLayout(t *testing.T, check func(t *testing.T, d *deployment)) {
	t.Helper()
	for _, l := range Layouts {
		t.Run(l.Name, func(t *testing.T) {
			t.Parallel()
			check(t, deployed(t, l.Name))
		})
	}
}

func (d *deployment) prefix() string { return "playplane-" + d.layout.Name }

// one returns the only resource of type token whose name input (or output)
// is name.
func (d *deployment) one(t *testing.T, token, name string) pulumimock.Resource {
	t.Helper()
	var found []pulumimock.Resource
	for _, r := range d.mock.OfType(token) {
		if r.Str("name") == name {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d resources %s named %q, want 1", len(found), token, name)
	}
	return found[0]
}

// byID returns the resource of type token with the given id.
func (d *deployment) byID(token, id string) (pulumimock.Resource, bool) {
	for _, r := range d.mock.OfType(token) {
		if r.ID == id {
			return r, true
		}
	}
	return pulumimock.Resource{}, false
}

// byArn returns the resource of type token whose arn output is arn.
func (d *deployment) byArn(token, arn string) (pulumimock.Resource, bool) {
	for _, r := range d.mock.OfType(token) {
		if r.Str("arn") == arn {
			return r, true
		}
	}
	return pulumimock.Resource{}, false
}

func (d *deployment) lambda(t *testing.T, fn string) pulumimock.Resource {
	t.Helper()
	return d.one(t, "aws:lambda/function:Function", d.prefix()+"-"+fn)
}

// checkTrigger checks that a Lambda is told the trigger it serves and, for
// a queue, its topic (catalog.EnvTrigger, catalog.EnvTopic): shared/awsfn
// picks its handler from them, never from a payload or a queue's name.
func (d *deployment) checkTrigger(t *testing.T, lambda pulumimock.Resource, trigger, topic string) {
	t.Helper()
	env := mapOf(lambda.In("environment", "variables"))
	gotTopic, hasTopic := env[catalog.EnvTopic]
	if env[catalog.EnvTrigger] != trigger || hasTopic != (topic != "") || hasTopic && gotTopic != topic {
		t.Errorf("Lambda %s: %s=%v %s=%v, want %q and topic %q", lambda.InStr("name"),
			catalog.EnvTrigger, env[catalog.EnvTrigger], catalog.EnvTopic, gotTopic, trigger, topic)
	}
}

func (d *deployment) serviceAccountEmail(fn string) string {
	return fmt.Sprintf("%s@%s.iam.gserviceaccount.com", accountID(fn, d.layout.Name), testProject)
}

// federatedEmail is the Google identity of fn's Lambda in a stack whose
// data is on GCP (Federation.newAccount).
func (d *deployment) federatedEmail(fn string) string {
	return fmt.Sprintf("%s@%s.iam.gserviceaccount.com", accountID(fn+"-aws", d.layout.Name), testProject)
}

func slug(env string) string { return strings.ToLower(strings.ReplaceAll(env, "_", "-")) }

func stringsOf(v any) []string {
	var out []string
	items, _ := v.([]any)
	for _, e := range items {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
