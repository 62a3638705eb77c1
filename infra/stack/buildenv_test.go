package stack

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/functions/pickedge"
	"github.com/playplane/playplane/functions/registry"
	"github.com/playplane/playplane/shared/auth"
	"github.com/playplane/playplane/shared/cloudcdn"
	"github.com/playplane/playplane/shared/fnenv/fnenvtest"
	"github.com/playplane/playplane/shared/telemetry"
)

// needs are the names each platform getter reads to make its dependency
// (shared/awsfn, shared/gcpfn, and the hybrid Lambda's Firestore and
// Pub/Sub), by the layout's store.
func needs(store string) map[string][]string {
	n := map[string][]string{
		fnenvtest.GetKeyring:  {catalog.SecretPlaybackTokenKeys},
		fnenvtest.GetIdentity: {catalog.EnvJWTIssuer, catalog.EnvJWTAudience, catalog.EnvJWTJWKSURL},
	}
	if store == catalog.StoreFirestore {
		n[fnenvtest.GetStore] = []string{catalog.EnvFirestoreProject, catalog.EnvFirestoreDatabase}
		n[fnenvtest.GetBus] = []string{catalog.EnvPubSubTopics}
	} else {
		n[fnenvtest.GetStore] = []string{catalog.EnvDynamoTable}
		n[fnenvtest.GetBus] = []string{catalog.EnvSQSQueueURLs}
	}
	return n
}

// devSecret is a well-formed value for a secret, which a stack never
// holds in plain configuration: the function reads it at run time.
func devSecret(t *testing.T, env string) string {
	t.Helper()
	switch env {
	case catalog.SecretPlaybackTokenKeys:
		return auth.NewDevKeyring().Spec()
	case catalog.SecretStripeWebhookSecrets:
		return "whsec_dev"
	case catalog.SecretStripeAPIKey:
		return "sk_test_dev"
	case catalog.SecretEdgeHMACKeys:
		return pickedge.NewDevEdgeKeys("edge-1").Spec()
	case catalog.SecretCloudFrontPrivateKey:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	case catalog.SecretCloudCDNSigningKey:
		return cloudcdn.EncodeKey(make([]byte, 16))
	}
	t.Fatalf("no dev value for secret %s: add one here", env)
	return ""
}

// platformNames are variables a stack sets for the platform layer around
// Build, not for Build: the trigger (shared/awsfn), the CORS policy
// (shared/awsfn, shared/gcpfn), the federation config of a Lambda
// reaching GCP (the hybrid main's client options), and the client
// libraries' telemetry switch of a part that makes Google clients
// (shared/gcpclient, read by shared/gcpfn and the hybrid main).
var platformNames = map[string]bool{
	catalog.EnvTrigger: true, catalog.EnvTopic: true, catalog.EnvCORSAllowedOrigins: true, catalog.EnvGCPCredentialsJSON: true,
	catalog.SettingGCPClientTelemetry: true,
}

// platformName says whether the stack sets name for the platform around
// fn's Build: platformNames, and the bus addresses a consumer gets with
// its consumed topics (the stacks pass every topic a function touches,
// TopicsOf), which a function that only consumes never publishes to.
func platformName(fn catalog.Function, name string) bool {
	bus := name == catalog.EnvSQSQueueURLs || name == catalog.EnvPubSubTopics
	return platformNames[name] || (bus && len(fn.Consumes) > 0)
}

// TestStackSetsWhatEachBuildReads replaces a hand-kept table of every
// function's env per layout: for each part a stack deploys, the
// function's own Build (functions/registry, as every platform builds it)
// runs over exactly the variables that part gets, secrets given
// well-formed values as the platform would resolve them. The Build must
// succeed, so the stack sets everything the function needs, and every
// variable the stack sets must be one the Build (or the platform getters
// it asked for) read, so the stack sets nothing the function ignores.
func TestStackSetsWhatEachBuildReads(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		for _, p := range d.parts(t) {
			vars := map[string]string{}
			for name, value := range p.env {
				switch {
				case p.cloud == AWS && strings.HasSuffix(name, "_SECRET_ARN"):
					// awsfn resolves the ARN into the variable before Build.
					secret := strings.TrimSuffix(name, "_SECRET_ARN")
					vars[secret] = devSecret(t, secret)
				case p.cloud == GCP && value == "" && slices.Contains(p.names, name+" (secret)"):
					vars[name] = devSecret(t, name)
				default:
					vars[name] = value
				}
			}
			env := &fnenvtest.Recorder{Vars: vars, Needs: needs(d.layout.Store)}
			build, ok := registry.Builders[p.fn.Name]
			if !ok {
				t.Fatalf("%s: no Build in functions/registry", p.fn.Name)
			}
			fn, err := build(context.Background(), env)
			if err != nil {
				t.Errorf("%s %s: the function does not build on what the stack sets: %v", d.layout.Name, p.name, err)
				continue
			}
			if c, ok := fn.(io.Closer); ok {
				_ = c.Close()
			}
			// The glue around Build (functions/gcp/unit, shared/awsfn)
			// reads the telemetry configuration from the same environment.
			if err := env.Process(context.Background(), &telemetry.Config{}); err != nil {
				t.Errorf("%s %s: telemetry configuration: %v", d.layout.Name, p.name, err)
			}
			for _, name := range slices.Sorted(maps.Keys(vars)) {
				if !env.WasRead(name) && !platformName(p.fn, name) {
					t.Errorf("%s sets %s on %s, which its Build never reads", d.layout.Name, name, p.name)
				}
			}
		}
	})
}
