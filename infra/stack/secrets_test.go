package stack

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/infra/pulumimock"
)

// Where secret values may go: the secret stores and the CDN signing key
// resource (Cloud CDN takes the key itself). Lambdas get the ARNs of their
// secrets and Cloud Functions Secret Manager bindings, never values.
var secretSinks = map[string]string{
	"aws:secretsmanager/secretVersion:SecretVersion":                  ".secretString",
	"gcp:secretmanager/secretVersion:SecretVersion":                   ".secretData",
	"gcp:compute/backendBucketSignedUrlKey:BackendBucketSignedUrlKey": ".keyValue",
}

func TestSecretsAreNeverPlainConfig(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		versionCloud := map[string]Cloud{
			"aws:secretsmanager/secretVersion:SecretVersion": AWS,
			"gcp:secretmanager/secretVersion:SecretVersion":  GCP,
		}
		stored := map[string]int{} // cloud + value -> secret versions holding it
		for _, r := range d.mock.Resources() {
			pulumimock.Walk(resource.NewObjectProperty(r.Inputs), func(path, s string, secret bool) {
				if !strings.Contains(s, leakMarker) {
					return
				}
				switch {
				case secretSinks[r.Type] != path:
					t.Errorf("secret value reaches %s %s at %s", r.Type, r.Name, path)
				case !secret:
					t.Errorf("%s %s holds a secret value not marked secret", r.Type, r.Name)
				case versionCloud[r.Type] != "":
					stored[string(versionCloud[r.Type])+" "+s]++
				}
			})
		}
		// Each secret used on a cloud is stored there exactly once, and no
		// unused secret is stored.
		want := map[string]int{}
		for _, cloud := range []Cloud{AWS, GCP} {
			for _, env := range d.layout.SecretsOn(cloud) {
				s, _ := catalog.SecretByEnv(env)
				want[string(cloud)+" "+secretValue(s.ConfigKey)] = 1
			}
		}
		if !maps.Equal(stored, want) {
			t.Errorf("secret versions %v, want %v", stored, want)
		}
	})
}

// A stack reads only the secrets its layout uses: a gcp stack must deploy
// without the CloudFront key, an aws stack without the Cloud CDN key.
func TestStacksNeedOnlyTheirOwnSecrets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		layout  string
		without string
		wantErr bool
	}{
		{name: "gcp without cloudfront key", layout: "gcp", without: "cloudfrontPrivateKey"},
		{name: "aws without cloud cdn key", layout: "aws", without: "cloudCdnSigningKey"},
		{name: "hybrid without cloud cdn key", layout: "hybrid", without: "cloudCdnSigningKey"},
		{name: "aws without stripe key", layout: "aws", without: "stripeApiKey"}, // optional: TestOptionalSecretsMayBeLeftUnset
		{name: "aws without stripe webhook secrets", layout: "aws", without: "stripeWebhookSecrets", wantErr: true},
		{name: "hybrid without playback keys", layout: "hybrid", without: "playbackTokenKeys", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			config := baseConfig(tc.layout)
			delete(config, "playplane:"+tc.without)
			_, err := deploy(t, tc.layout, config)
			if (err != nil) != tc.wantErr {
				t.Errorf("deploy error %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

// Cloud Run checks at deploy time that a function's runtime identity may
// access every secret the function binds, and fails the deployment if not.
// So every Cloud Function (HTTP, consumer, jobs) must wait for the
// secretAccessor grant of each secret it binds; depending on the secret
// alone races the grant on a first `pulumi up`.
func TestCloudFunctionsWaitForTheirSecretGrants(t *testing.T) {
	t.Parallel()
	forEachLayout(t, func(t *testing.T, d *deployment) {
		functions := d.mock.OfType("gcp:cloudfunctionsv2/function:Function")
		if d.stack.GCP == nil {
			return
		}
		if len(functions) == 0 {
			t.Fatal("no Cloud Functions to check")
		}
		grants := d.mock.OfType("gcp:secretmanager/secretIamMember:SecretIamMember")
		for _, fn := range functions {
			account := fn.InStr("serviceConfig", "serviceAccountEmail")
			bound := 0
			bindings, _ := fn.In("serviceConfig", "secretEnvironmentVariables").([]any)
			for _, v := range bindings {
				secretID, _ := mapOf(v)["secret"].(string)
				bound++
				var grant *pulumimock.Resource
				for i, g := range grants {
					if g.InStr("secretId") == secretID && g.InStr("member") == "serviceAccount:"+account &&
						g.InStr("role") == "roles/secretmanager.secretAccessor" {
						grant = &grants[i]
					}
				}
				switch {
				case grant == nil:
					t.Errorf("%s binds %s, which %s may not read", fn.Str("name"), secretID, account)
				case !fn.DependsOn(*grant):
					t.Errorf("%s does not wait for %s's grant on %s (%s)", fn.Str("name"), account, secretID, grant.Name)
				}
			}
			if bound == 0 && readsSecrets(d.prefix(), fn.Str("name")) {
				t.Errorf("%s binds no secret", fn.Str("name"))
			}
		}
	})
}

// readsSecrets says whether the catalogue function a deployed function
// (<prefix>-<name>[-<part>]) is a part of reads any secret: the admin API
// reads none.
func readsSecrets(prefix, deployed string) bool {
	for _, f := range catalog.Functions {
		if deployed == prefix+"-"+f.Name || strings.HasPrefix(deployed, prefix+"-"+f.Name+"-") {
			return len(f.Secrets) > 0 || f.SignsURLs
		}
	}
	return true
}

// TestOptionalSecretsMayBeLeftUnset: a catalogue secret marked Optional
// (STRIPE_API_KEY) may be left out of the stack's config, as template.yaml
// lets its parameter be empty: the stack then deploys without it (no
// secret, no binding, no variable naming it) and the jobs that need it
// (reconcile) are scheduled disabled, the others as usual.
func TestOptionalSecretsMayBeLeftUnset(t *testing.T) {
	t.Parallel()
	// Set to "" is unset, as template.yaml's HasStripeAPIKey condition
	// takes an empty parameter: `pulumi config set --secret key ""`
	// leaves a value Pulumi reports as configured.
	for _, variant := range []string{"unset", "set empty"} {
		for _, l := range Layouts {
			t.Run(variant+"/"+l.Name, func(t *testing.T) {
				t.Parallel()
				testOptionalSecretsUnset(t, l, variant == "set empty")
			})
		}
	}
}

// testOptionalSecretsUnset deploys layout l with every optional secret left
// out (or, setEmpty, set to "") and checks nothing refers to them and the
// jobs that need them are off.
func testOptionalSecretsUnset(t *testing.T, l Layout, setEmpty bool) {
	t.Helper()
	config := baseConfig(l.Name)
	var unset []catalog.Secret
	for _, s := range catalog.Secrets {
		if s.Optional {
			unset = append(unset, s)
			delete(config, "playplane:"+s.ConfigKey)
			if setEmpty {
				config["playplane:"+s.ConfigKey] = ""
			}
		}
	}
	if len(unset) == 0 {
		t.Fatal("no optional secret: the test sees nothing")
	}
	d, err := deploy(t, l.Name, config)
	if err != nil {
		t.Fatalf("deploy without %v: %v", unset, err)
	}
	for _, s := range unset {
		for _, r := range d.mock.Resources() {
			for _, field := range []string{"name", "secretId"} {
				if strings.Contains(r.InStr(field), catalog.EnvSlug(s.Env)) {
					t.Errorf("%s %s %q exists for the unset %s", r.Type, field, r.InStr(field), s.Env)
				}
			}
		}
		for _, p := range d.parts(t) {
			for k := range p.env {
				if strings.HasPrefix(k, s.Env) {
					t.Errorf("%s gets %s", p.name, k)
				}
			}
		}
	}
	for _, fn := range catalog.Functions {
		for _, job := range fn.Jobs {
			needs := slices.ContainsFunc(unset, func(s catalog.Secret) bool { return s.Env == job.NeedsSecret })
			switch d.layout.Compute {
			case AWS:
				rule := d.one(t, "aws:cloudwatch/eventRule:EventRule", d.prefix()+"-"+fn.Name+"-"+job.Name)
				if want := map[bool]string{true: "DISABLED", false: "ENABLED"}[needs]; rule.InStr("state") != want {
					t.Errorf("%s %s rule is %q, want %s", fn.Name, job.Name, rule.InStr("state"), want)
				}
			case GCP:
				s := d.one(t, "gcp:cloudscheduler/job:Job", d.prefix()+"-"+fn.Name+"-"+job.Name)
				if paused, _ := s.In("paused").(bool); paused != needs {
					t.Errorf("%s %s scheduler job paused %v, want %v", fn.Name, job.Name, paused, needs)
				}
			}
		}
	}
}
