//go:build tools

// TestDeclarationsMatchTheProvider reads the pinned provider's generated
// source from the module cache; this import, in no build, keeps
// pulumi-aws required in go.mod (`go mod tidy` reads every build tag)
// without any package compiling it.
package awsres

import _ "github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
