package stack

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/playplane/playplane/functions/catalog"
)

func TestLayoutsAreValid(t *testing.T) {
	t.Parallel()
	for _, l := range Layouts {
		if err := l.Validate(); err != nil {
			t.Errorf("layout %s: %v", l.Name, err)
		}
	}
}

func TestLayoutValidateRejectsUnreachableParts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		layout Layout
	}{
		{name: "gcp compute on dynamo", layout: Layout{Name: "x", Compute: GCP, Store: catalog.StoreDynamo, Bus: catalog.BusPubSub, Delivery: catalog.DeliveryCloudCDN}},
		{name: "aws compute on pubsub", layout: Layout{Name: "x", Compute: AWS, Store: catalog.StoreDynamo, Bus: catalog.BusPubSub, Delivery: catalog.DeliveryCloudFront}},
		{name: "aws compute with http on aws", layout: Layout{Name: "x", Compute: AWS, Store: catalog.StoreDynamo, Bus: catalog.BusSQS, Delivery: catalog.DeliveryCloudFront, HTTPOnAWS: []string{"signurl"}}},
		{name: "unknown delivery", layout: Layout{Name: "x", Compute: GCP, Store: catalog.StoreFirestore, Bus: catalog.BusPubSub, Delivery: "akamai"}},
		{name: "unknown function", layout: Layout{Name: "x", Compute: GCP, Store: catalog.StoreFirestore, Bus: catalog.BusPubSub, Delivery: catalog.DeliveryCloudFront, HTTPOnAWS: []string{"nope"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := tc.layout.Validate(); err == nil {
				t.Error("Validate accepted the layout")
			}
		})
	}
}

func TestLoadConfigNamesEveryMissingKey(t *testing.T) {
	t.Parallel()
	config := baseConfig("hybrid")
	delete(config, "gcp:project")
	delete(config, "playplane:jwtIssuer")
	delete(config, "playplane:stripeWebhookSecrets")
	delete(config, "playplane:stripePricePlans")
	_, err := deploy(t, "hybrid", config)
	if err == nil {
		t.Fatal("deploy succeeded without required config")
	}
	for _, key := range []string{"gcp:project", "playplane:jwtIssuer", "playplane:stripeWebhookSecrets (secret)", "playplane:stripePricePlans"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error %q does not name %s", err, key)
		}
	}
}

func TestHybridSplitsTheWebhookFromTheRest(t *testing.T) {
	t.Parallel()
	d := deployed(t, "hybrid")
	var lambdas []string
	for _, r := range d.mock.OfType("aws:lambda/function:Function") {
		lambdas = append(lambdas, r.Str("name"))
	}
	if len(lambdas) != 1 || lambdas[0] != "playplane-hybrid-paymentwebhook" {
		t.Errorf("Lambda functions %v, want only the webhook", lambdas)
	}
	for _, token := range []string{"aws:sqs/queue:Queue", "aws:dynamodb/table:Table", "gcp:compute/backendBucket:BackendBucket"} {
		if n := len(d.mock.OfType(token)); n > 0 {
			t.Errorf("hybrid has %d %s", n, token)
		}
	}
	if n := len(d.mock.OfType("aws:cloudfront/distribution:Distribution")); n != 1 {
		t.Errorf("hybrid has %d CloudFront distributions", n)
	}
	// The webhook's consumer half runs on GCP next to the data.
	d.one(t, "gcp:cloudfunctionsv2/function:Function", "playplane-hybrid-paymentwebhook-stripe-events")
	if n := len(d.mock.OfType("gcp:cloudfunctionsv2/function:Function")); n == 0 {
		t.Error("no Cloud Functions in hybrid")
	}
	for _, r := range d.mock.OfType("gcp:cloudfunctionsv2/function:Function") {
		if r.InStr("name") == "playplane-hybrid-paymentwebhook" {
			t.Error("the webhook's HTTP half also runs on GCP")
		}
	}
}

// A configured setting replaces the catalogue default in every function
// that reads it, so authorizeplay and heartbeat agree on the lease.
func TestSettingsReachEveryFunctionThatReadsThem(t *testing.T) {
	t.Parallel()
	config := baseConfig("aws")
	config["playplane:leaseTtl"] = "90s"
	config["playplane:heartbeatTracesSamplerArg"] = "0.1"
	d, err := deploy(t, "aws", config)
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range catalog.Functions {
		env := mapOf(d.lambda(t, fn.Name).In("environment", "variables"))
		for name, value := range map[string]string{"LEASE_TTL": "90s", "OTEL_TRACES_SAMPLER_ARG": "0.1"} {
			want := map[bool]any{true: value, false: nil}[slices.Contains(fn.Settings, name)]
			if got := env[name]; got != want {
				t.Errorf("%s %s = %v, want %v", fn.Name, name, got, want)
			}
		}
	}
}

// playplane:gcpClientTelemetry reaches every part that makes Google
// clients as GCP_CLIENT_TELEMETRY: every Cloud Function (shared/gcpfn) and
// the hybrid stack's webhook Lambda over Firestore and Pub/Sub
// (lambdahybrid), and no Lambda of the aws stack, which links no Google
// client library; a value that is neither true nor false fails the stack
// program.
func TestGCPClientTelemetryReachesEveryPartWithGoogleClients(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, layout, value, want, wantErr string
		lambdas                            bool // whether Lambdas get it
	}{
		{name: "gcp default", layout: "gcp", want: "true"},
		{name: "gcp off", layout: "gcp", value: "false", want: "false"},
		{name: "hybrid default", layout: "hybrid", want: "true", lambdas: true},
		{name: "hybrid off", layout: "hybrid", value: "false", want: "false", lambdas: true},
		{name: "aws", layout: "aws", value: "false"},
		{name: "gcp typo", layout: "gcp", value: "off", wantErr: "playplane:gcpClientTelemetry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			config := baseConfig(tc.layout)
			if tc.value != "" {
				config["playplane:gcpClientTelemetry"] = tc.value
			}
			d, err := deploy(t, tc.layout, config)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			parts := map[Cloud]int{}
			for _, p := range d.parts(t) {
				got, set := p.env[catalog.SettingGCPClientTelemetry]
				switch {
				case (p.cloud == GCP || tc.lambdas) && got != tc.want:
					t.Errorf("%s on %s: GCP_CLIENT_TELEMETRY %q, want %q", p.name, p.cloud, got, tc.want)
				case p.cloud == AWS && !tc.lambdas && set:
					t.Errorf("Lambda %s gets GCP_CLIENT_TELEMETRY", p.name)
				}
				parts[p.cloud]++
			}
			if (parts[GCP] > 0) != (tc.want != "") || (tc.lambdas && parts[AWS] == 0) {
				t.Errorf("%d parts on Cloud Functions, %d Lambdas", parts[GCP], parts[AWS])
			}
		})
	}
}

// A sampler the heartbeat cannot use fails the stack program, naming the
// config keys, instead of deploying a function that would trace nothing
// (the rules are telemetry.CheckSampler's, the ones Setup applies).
func TestBadHeartbeatSamplerFailsTheStack(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		config  map[string]string
		wantErr bool
	}{
		{name: "unknown sampler", config: map[string]string{"playplane:heartbeatTracesSampler": "sometimes"}, wantErr: true},
		{name: "ratio above 1", config: map[string]string{"playplane:heartbeatTracesSamplerArg": "2"}, wantErr: true},
		{name: "ratio not a number", config: map[string]string{"playplane:heartbeatTracesSamplerArg": "1%"}, wantErr: true},
		{name: "valid", config: map[string]string{"playplane:heartbeatTracesSampler": "always_on", "playplane:heartbeatTracesSamplerArg": "0.5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			config := baseConfig("aws")
			maps.Copy(config, tc.config)
			_, err := deploy(t, "aws", config)
			if !tc.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "heartbeatTracesSampler") {
				t.Fatalf("error %v, want one naming playplane:heartbeatTracesSampler", err)
			}
		})
	}
}
