// Package gcpres declares every pulumi-gcp resource the GCP stacks create
// and the one invoke they read: Compute Engine (compute.go: the global load
// balancer, Cloud CDN's backend bucket and URL signing key, a function's
// serverless NEG and backend service), Cloud Run's IAM member
// (cloudrun.go), the QoE BigQuery dataset (bigquery.go), the Cloud Storage
// buckets (storage.go), Cloud Functions gen2 (cloudfunctions.go), Cloud
// Scheduler (cloudscheduler.go), Pub/Sub (pubsub.go), Secret Manager
// (secretmanager.go), service accounts, project and service-account IAM
// members and workload identity federation (iam.go), Firestore
// (firestore.go), Cloud Monitoring's alert policies (monitoring.go) and
// organizations.LookupProject (organizations.go). They are the provider's
// own resource types: same type tokens, property names, secret handling,
// aliases and plugin version as the generated packages below
// github.com/pulumi/pulumi-gcp/sdk/v9/go/gcp, none of which is imported.
//
// Why: those generated packages are about 30 MB of Go source (compute
// alone 17.8 MB, every Compute Engine resource and type), about 390
// CPU-seconds of infra-test's compile on a cold build cache (compute,
// cloudrunv2, storage and bigquery ~330; the other eleven ~60), for 33
// resources. Each declaration carries only the properties the stacks set
// and the outputs they read.
//
// Type names are the provider's, so that the check below can pair them;
// the two that pulumi-gcp declares twice (projects.IAMMember and
// serviceaccount.IAMMember) are ProjectIAMMember and
// ServiceAccountIAMMember here, paired through providercheck's Renamed.
//
// What keeps it honest: TestDeclarationsMatchTheProvider parses the pinned
// provider's generated source (from the module cache, without compiling it;
// infra/internal/providercheck, the same check infra/awsres passes) and
// fails on any token, property name or tag, Go type, Args input type,
// secret output or input, alias, required argument or plugin version that
// differs, and on a field without a pulumi tag;
// TestNoPackageImportsTheDeclaredPackages fails if a package of infra/ or
// pulumi/, tests included, compiles any pulumi-gcp package again; the stack
// tests then check the values on pulumi.WithMocks as before. Bumping
// pulumi-gcp in go.mod means bumping ProviderVersion, which the test also
// checks.
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
