package deploygen

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/catalog"
)

const repoRoot = "../../.."

// stale lists the generated files whose committed copy differs from what
// fns generate.
func stale(t *testing.T, fns []catalog.Function) []string {
	t.Helper()
	tmpl, err := os.ReadFile(filepath.Join(repoRoot, TemplatePath))
	if err != nil {
		t.Fatal(err)
	}
	files, err := Files(fns, tmpl)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		committed, err := os.ReadFile(filepath.Join(repoRoot, f.Path))
		if err != nil || !bytes.Equal(committed, f.Data) {
			out = append(out, f.Path)
		}
	}
	return out
}

// TestGeneratedFilesAreCurrent: template.yaml's generated part,
// Makefile.lambdas and functions/registry are what the catalogue generates,
// so a catalogue entry is the one place a function's deploy is written.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	t.Parallel()
	if got := stale(t, catalog.Functions); len(got) > 0 {
		t.Errorf("%v differ from the catalogue: run go run ./cmd/playplane-gen", got)
	}
}

// drm is a sixth function as docs/adding-a-function.md describes it:
// routes (one behind the JWT authorizer), a consumer of a new topic, a
// publisher, a job needing an optional secret, a secret and a setting.
func drm() (catalog.Function, catalog.Topic) {
	return catalog.Function{
		Name:          "drm",
		GCPEntryPoint: "DRM",
		Routes: []catalog.Route{
			{Method: "POST", Path: "/v1/playback/{session_id}/licence", Auth: catalog.AuthPlaybackToken},
			{Method: "GET", Path: "/v1/licences", Auth: catalog.AuthJWT},
		},
		Consumes:          []catalog.Consumer{{Topic: "drm-keys", GCPEntryPoint: "DRMConsumer"}},
		Publishes:         []string{"drm-keys", catalog.TopicEntitlementChanged},
		Jobs:              []catalog.Job{{Name: "rotate", Every: time.Hour, NeedsSecret: catalog.SecretStripeAPIKey}},
		GCPJobsEntryPoint: "DRMJobs",
		Secrets:           []string{catalog.SecretPlaybackTokenKeys, catalog.SecretStripeAPIKey},
		Settings:          []string{catalog.SettingLeaseTTL},
		Store:             catalog.StoreReadOnly,
		MemoryMB:          128,
		TimeoutSeconds:    20,
	}, catalog.Topic{Name: "drm-keys"}
}

// TestASixthFunctionIsCaughtAndGenerated adds drm to the catalogue (in
// memory: the package-level tables are restored) and checks both halves of
// "one catalogue entry": every committed artifact is then stale, so a
// function added without regenerating fails TestGeneratedFilesAreCurrent,
// and what the generator writes deploys the new function completely.
func TestASixthFunctionIsCaughtAndGenerated(t *testing.T) {
	// Not parallel: it swaps catalog.Topics, which Resources reads.
	fn, topic := drm()
	fns := append(slices.Clone(catalog.Functions), fn)
	topics := catalog.Topics
	catalog.Topics = append(slices.Clone(topics), topic)
	functions := catalog.Functions
	catalog.Functions = fns // ConsumersOf reads it
	t.Cleanup(func() { catalog.Topics, catalog.Functions = topics, functions })

	if got, want := stale(t, fns), []string{TemplatePath, MakefilePath, RegistryPath}; !slices.Equal(got, want) {
		t.Errorf("with a sixth function, stale files %v, want %v", got, want)
	}

	res, err := Resources(fns)
	if err != nil {
		t.Fatal(err)
	}
	yaml := string(res)
	for _, want := range []string{
		"  DRMLogGroup:", "  DRMConsumerLogGroup:", "  DRMJobsLogGroup:", "  DRMRole:",
		"  DRMFunction:", "  DRMConsumerFunction:", "  DRMJobsFunction:",
		`LogGroupName: !Sub "/aws/lambda/${AWS::StackName}-drm-drm-keys"`,
		"  DrmKeysQueue:", "  DrmKeysDLQ:", "VisibilityTimeout: 120",
		"CodeUri: functions/drm/lambda", "MemorySize: 128", "Timeout: 20",
		"PLAYPLANE_TRIGGER: queue\n          PLAYPLANE_TOPIC: drm-keys",
		"Path: /v1/playback/{session_id}/licence",
		"Path: /v1/licences\n            PayloadFormatVersion: \"2.0\"\n            Auth: { Authorizer: CallerJWT }",
		`QUEUE_URLS: !Sub "entitlement-changed=${EntitlementChangedQueue},drm-keys=${DrmKeysQueue}"`,
		"JWT_ISSUER: !Ref JWTIssuer",
		"PLAYBACK_TOKEN_KEYS_SECRET_ARN: !Ref PlaybackTokenKeysSecret",
		"STRIPE_API_KEY_SECRET_ARN: !If [HasStripeAPIKey, !Ref StripeAPIKeySecret, !Ref AWS::NoValue]",
		"LEASE_TTL: !Ref LeaseTTL",
		"Schedule: rate(1 hour)\n            Input: '{\"job\":\"rotate\"}'\n            State: !If [HasStripeAPIKey, ENABLED, DISABLED]",
		"Action: [dynamodb:GetItem, dynamodb:Query]",
		"- Sid: ConsumeDrmKeys",
		"- !GetAtt DrmKeysQueue.Arn\n                  - !GetAtt EntitlementChangedQueue.Arn",
	} {
		if !strings.Contains(yaml, want) {
			t.Errorf("the generated template lacks %q", want)
		}
	}
	// Read-only: no write actions.
	drmPart := yaml[strings.Index(yaml, "  DRMRole:"):]
	if strings.Contains(drmPart[:strings.Index(drmPart, "  DRMFunction:")], "dynamodb:PutItem") {
		t.Error("a read-only function's role may write the table")
	}

	mk := string(Makefile(fns))
	for _, id := range []string{"drm:DRMFunction", "drm:DRMConsumerFunction", "drm:DRMJobsFunction"} {
		if !strings.Contains(mk, id) {
			t.Errorf("Makefile.lambdas lacks %s", id)
		}
	}
	reg, err := Registry(fns)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"github.com/playplane/playplane/functions/drm"`, `"drm":            fnenv.Erase(drm.Build),`} {
		if !strings.Contains(string(reg), want) {
			t.Errorf("the registry lacks %s:\n%s", want, reg)
		}
	}
}

func TestCamel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{name: "topic", in: "entitlement-changed", want: "EntitlementChanged"},
		{name: "secret with acronym", in: "STRIPE_API_KEY", want: "StripeAPIKey"},
		{name: "brand", in: "CLOUDFRONT_PRIVATE_KEY", want: "CloudFrontPrivateKey"},
		{name: "setting", in: "LEASE_TTL", want: "LeaseTTL"},
		{name: "function and acronym", in: "SIGNURL_BIND_IP", want: "SignURLBindIP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Camel(tc.in); got != tc.want {
				t.Errorf("Camel(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	if got := RouteEvent(catalog.Route{Method: "DELETE", Path: "/v1/sessions/{id}"}); got != "DeleteSessionsId" {
		t.Errorf("RouteEvent = %s", got)
	}
}

// TestMarkersAreRequired: a template without its markers is refused, not
// appended to.
func TestMarkersAreRequired(t *testing.T) {
	t.Parallel()
	if _, err := Template(catalog.Functions, []byte("Resources:\n")); err == nil {
		t.Fatal("a template without markers was accepted")
	}
}
