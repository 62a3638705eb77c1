package catalog

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	functionName = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
	goIdentifier = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
	envName      = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	routePath    = regexp.MustCompile(`^(/(v1|[a-z0-9-]+|\{[a-z_]+\}))+$`)
)

func TestFunctionsAreWellFormed(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	entryPoints := map[string]string{}
	for _, f := range Functions {
		if !functionName.MatchString(f.Name) {
			t.Errorf("function name %q is not a lowercase word", f.Name)
		}
		if names[f.Name] {
			t.Errorf("function %q listed twice", f.Name)
		}
		names[f.Name] = true
		points := []string{f.GCPEntryPoint}
		for _, c := range f.Consumes {
			points = append(points, c.GCPEntryPoint)
		}
		for _, p := range points {
			if !goIdentifier.MatchString(p) {
				t.Errorf("%s: entry point %q is not an exported Go name", f.Name, p)
			}
			if other, ok := entryPoints[p]; ok {
				t.Errorf("entry point %q used by %s and %s", p, other, f.Name)
			}
			entryPoints[p] = f.Name
		}
		if f.Store != StoreReadOnly && f.Store != StoreReadWrite {
			t.Errorf("%s: store access %q", f.Name, f.Store)
		}
		if f.MemoryMB < 128 || f.TimeoutSeconds < 1 || f.TimeoutSeconds > 60 {
			t.Errorf("%s: memory %d MB, timeout %d s", f.Name, f.MemoryMB, f.TimeoutSeconds)
		}
		for _, s := range f.Secrets {
			if _, ok := SecretByEnv(s); !ok {
				t.Errorf("%s: unknown secret %q", f.Name, s)
			}
		}
		for _, topic := range f.BackgroundPublishes {
			if !f.PublishesTo(topic) {
				t.Errorf("%s: background topic %q is not one it publishes to", f.Name, topic)
			}
		}
	}
}

func TestRoutesAreUniqueAndAuthenticated(t *testing.T) {
	t.Parallel()
	owners := map[string]string{}
	for _, f := range Functions {
		for _, r := range f.Routes {
			if !slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE"}, r.Method) {
				t.Errorf("%s: method %q", r.Key(), r.Method)
			}
			if !routePath.MatchString(r.Path) || !strings.HasPrefix(r.Path, "/v1/") {
				t.Errorf("%s: path is not a /v1 path with {snake_case} parameters", r.Key())
			}
			if other, ok := owners[r.Key()]; ok {
				t.Errorf("%s served by %s and %s", r.Key(), other, f.Name)
			}
			owners[r.Key()] = f.Name
			switch r.Auth {
			case AuthJWT, AuthPlaybackToken, AuthManifestCredential, AuthCMCDCredential, AuthStripeSignature, AuthEdgeHMAC, AuthAdminJWT:
			default:
				t.Errorf("%s: auth %q", r.Key(), r.Auth)
			}
		}
	}
}

// The issue fixes which routes sit behind the gateway's JWT authorizer: the
// playback-token, Stripe and edge routes must not, or their callers (players
// holding only a playback token, Stripe, edges) would be refused.
func TestOnlyAccountRoutesUseTheJWTAuthorizer(t *testing.T) {
	t.Parallel()
	var jwt []string
	for _, f := range Functions {
		for _, r := range f.Routes {
			if r.Auth == AuthJWT {
				jwt = append(jwt, r.Key())
			}
			// Every admin route is the admin function's, behind the
			// authorizer too.
			if strings.HasPrefix(r.Path, "/v1/admin/") != (r.Auth == AuthAdminJWT) || r.Auth == AuthAdminJWT && f.Name != "admin" {
				t.Errorf("%s (%s, %s): admin routes are the admin function's, with admin auth", r.Key(), f.Name, r.Auth)
			}
		}
	}
	slices.Sort(jwt)
	want := []string{"DELETE /v1/devices/{id}", "DELETE /v1/sessions/{id}", "GET /v1/devices", "GET /v1/progress",
		"GET /v1/sessions", "PATCH /v1/devices/{id}", "POST /v1/play"}
	if !slices.Equal(jwt, want) {
		t.Errorf("JWT routes = %v, want %v", jwt, want)
	}
}

func TestTopicsHaveExactlyOneConsumer(t *testing.T) {
	t.Parallel()
	for _, topic := range Topics {
		// SQS delivers each message to one consumer; a second consumer would
		// need SNS fan-out in front of per-consumer queues.
		if n := len(ConsumersOf(topic.Name)); n != 1 {
			t.Errorf("topic %s has %d consumers, want 1", topic.Name, n)
		}
	}
	for _, f := range Functions {
		for _, name := range append(slices.Clone(f.Publishes), consumed(f)...) {
			if _, ok := TopicByName(name); !ok {
				t.Errorf("%s uses unknown topic %q", f.Name, name)
			}
		}
	}
}

func consumed(f Function) []string {
	var out []string
	for _, c := range f.Consumes {
		out = append(out, c.Topic)
	}
	return out
}

func TestEverySecretIsUsedAndNamedOnce(t *testing.T) {
	t.Parallel()
	used := map[string]bool{}
	for _, f := range Functions {
		for _, d := range Deliveries {
			for _, s := range f.SecretsFor(d) {
				used[s] = true
			}
		}
	}
	envs, keys := map[string]bool{}, map[string]bool{}
	for _, s := range Secrets {
		if !envName.MatchString(s.Env) || s.ConfigKey == "" {
			t.Errorf("secret %+v is misnamed", s)
		}
		if envs[s.Env] || keys[s.ConfigKey] {
			t.Errorf("secret %+v named twice", s)
		}
		envs[s.Env], keys[s.ConfigKey] = true, true
		if !used[s.Env] {
			t.Errorf("secret %s is used by no function", s.Env)
		}
	}
	for _, d := range Deliveries {
		if _, ok := SecretByEnv(d.SigningSecret); !ok {
			t.Errorf("delivery %s: unknown signing secret %q", d.Name, d.SigningSecret)
		}
		if !envName.MatchString(d.KeysEnv) || !envName.MatchString(d.ActiveKeyEnv) {
			t.Errorf("delivery %s: env names %q %q", d.Name, d.KeysEnv, d.ActiveKeyEnv)
		}
	}
}

func TestSignURLGetsTheDeliveryKey(t *testing.T) {
	t.Parallel()
	signurl, ok := FunctionByName("signurl")
	if !ok {
		t.Fatal("signurl missing")
	}
	for _, tc := range []struct {
		name     string
		delivery string
		want     string
	}{
		{name: "cloudfront", delivery: DeliveryCloudFront, want: SecretCloudFrontPrivateKey},
		{name: "cloudcdn", delivery: DeliveryCloudCDN, want: SecretCloudCDNSigningKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, _ := DeliveryByName(tc.delivery)
			if got := signurl.SecretsFor(d); !slices.Contains(got, tc.want) {
				t.Errorf("signurl secrets with %s = %v, want %s among them", tc.delivery, got, tc.want)
			}
		})
	}
}

// A job's NeedsSecret is an optional secret of its own function: only then
// can a stack deploy its schedule disabled (template.yaml's State) rather
// than fail the job on every run.
func TestJobsNeedOnlyTheirOptionalSecrets(t *testing.T) {
	t.Parallel()
	for _, f := range Functions {
		for _, j := range f.Jobs {
			if j.NeedsSecret == "" {
				continue
			}
			s, ok := SecretByEnv(j.NeedsSecret)
			switch {
			case !ok:
				t.Errorf("%s job %s needs %s, which is no secret", f.Name, j.Name, j.NeedsSecret)
			case !s.Optional:
				t.Errorf("%s job %s needs %s, which is not optional: the job always runs", f.Name, j.Name, j.NeedsSecret)
			case !slices.Contains(f.Secrets, j.NeedsSecret):
				t.Errorf("%s job %s needs %s, which %s does not get", f.Name, j.Name, j.NeedsSecret, f.Name)
			}
		}
	}
}

// TestJobNamesAreUnique: a schedule names its job alone, and the job's
// span finds its schedule by that name (JobByName), so no two jobs of the
// catalogue share one.
func TestJobNamesAreUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	for _, f := range Functions {
		for _, j := range f.Jobs {
			if other, ok := seen[j.Name]; ok {
				t.Errorf("job %s is %s's and %s's", j.Name, other, f.Name)
			}
			seen[j.Name] = f.Name
			if got, ok := JobByName(j.Name); !ok || got != j {
				t.Errorf("JobByName(%q) = %+v, %v; want %s's job %+v", j.Name, got, ok, f.Name, j)
			}
		}
	}
	if _, ok := JobByName("no-such-job"); ok {
		t.Error("JobByName found a job the catalogue does not list")
	}
}
