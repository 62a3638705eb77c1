// Package awsres declares the pulumi-aws resources the AWS stacks create
// and the one data source they read (aws.GetCallerIdentity, aws.go): SQS
// (sqs.go), S3 (s3.go), Lambda (lambda.go), IAM (iam.go), SNS (sns.go),
// Secrets Manager (secretsmanager.go), Firehose (kinesis.go), Glue
// (glue.go), DynamoDB (dynamodb.go), CloudWatch and EventBridge
// (cloudwatch.go), CloudFront (cloudfront.go) and API Gateway v2
// (apigatewayv2.go). They are the provider's own resource types: same type
// tokens, property names, secret handling, aliases and plugin version as
// github.com/pulumi/pulumi-aws/sdk/v6/go/aws/..., which are not imported.
//
// Why: each of those generated packages holds every resource and type of
// its AWS service, and the root package they all import holds the provider
// and its config. Compiling them was about 141 CPU-seconds of infra-test's
// compile on a cold build cache, the part of make test's critical path
// beside the unit stage, for 32 resources and one invoke. Each declaration
// carries only the properties the stacks set and the outputs they read.
//
// Each resource is three types, as in the generated packages: the resource
// with the outputs read here, its Args of inputs, and the plain struct whose
// pulumi tags name the properties (the Args' ElementType; fields are matched
// by name). A nested object is an Args type whose ElementType is the plain
// type: *XArgs for one (the stacks pass &XArgs{}), []XArgs for a list.
//
// What keeps it honest: TestDeclarationsMatchTheProvider parses the pinned
// provider's generated source (from the module cache, without compiling it)
// and fails on any token, property name, Go type, secret output, alias or
// required argument that differs; the stack tests then check the values on
// pulumi.WithMocks as before. Bumping pulumi-aws in go.mod means bumping
// ProviderVersion, which the test also checks. infra/gcpres does the same
// for pulumi-gcp.
package awsres

import (
	"github.com/playplane/playplane/infra/internal/customres"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ProviderVersion is the pulumi-aws version infra/go.mod pins. Every
// resource and invoke asks for this provider plugin, as the generated
// packages do.
const ProviderVersion = "6.83.0"

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
