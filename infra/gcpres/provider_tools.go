//go:build tools

// TestDeclarationsMatchTheProvider reads the pinned provider's generated
// source from the module cache; this import, in no build, keeps
// pulumi-gcp required in go.mod (`go mod tidy` reads every build tag)
// without any package compiling it.
package gcpres

import _ "github.com/pulumi/pulumi-gcp/sdk/v9/go/gcp"
