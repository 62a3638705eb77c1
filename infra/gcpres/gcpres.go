// Package gcpres declares the pulumi-gcp resources of the GCP stacks whose
// generated Go packages cost most to compile for what is used of them:
// Compute Engine (compute.go: the global load balancer, Cloud CDN's backend
// bucket and URL signing key, a function's serverless NEG and backend
// service), Cloud Run's IAM member (cloudrun.go), the QoE BigQuery
// dataset (bigquery.go) and the Cloud Storage buckets (storage.go). They are the provider's own resource types: same
// type tokens, property names, secret handling and plugin version as
// github.com/pulumi/pulumi-gcp/sdk/v9/go/gcp/{compute,cloudrunv2,bigquery,storage},
// which are not imported.
//
// Why: those generated packages are 24 MB of Go source (compute alone 17.8 MB,
// every Compute Engine resource and type), about 320 CPU-seconds of
// infra-test's compile on a cold build cache, for seventeen resources. Each declaration
// carries only the properties the stacks set and the outputs they read.
//
// What keeps it honest: TestDeclarationsMatchTheProvider parses the pinned
// provider's generated source (from the module cache, without compiling it;
// infra/internal/providercheck, the same check infra/awsres passes) and
// fails on any token, property name or tag, Go type, Args input type,
// secret output or input, alias, required argument or plugin version that
// differs, and on a field without a pulumi tag; the stack tests then check
// the values on pulumi.WithMocks as before. Bumping pulumi-gcp in go.mod
// means bumping ProviderVersion, which the test also checks.
package gcpres

import (
	"github.com/playplane/playplane/infra/internal/customres"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ProviderVersion is the pulumi-gcp version infra/go.mod pins. Every
// resource asks for this provider plugin, as the generated package does.
const ProviderVersion = "9.6.0"

// spec is what the provider's generated constructor adds to a resource
// beyond its arguments.
type spec = customres.Spec

// newResource registers a resource of spec s as the provider's generated
// constructor does, asking for this package's ProviderVersion.
func newResource[R any, PR interface {
	*R
	pulumi.CustomResource
}](ctx *pulumi.Context, s spec, name string, args pulumi.Input, opts []pulumi.ResourceOption) (*R, error) {
	return customres.New[R, PR](ctx, ProviderVersion, s, name, args, opts)
}
