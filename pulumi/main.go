// Command playplane is the Pulumi program of the aws, gcp and hybrid stacks.
// Everything it builds comes from github.com/playplane/playplane/infra; the
// stack's shape is chosen by playplane:layout in Pulumi.<stack>.yaml.
package main

import (
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/playplane/playplane/infra/stack"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error { return realMain(ctx, ctx.Export) })
}

// realMain builds the stack and hands every output to export, so tests can
// read the outputs the CLI would show.
func realMain(ctx *pulumi.Context, export func(name string, value pulumi.Input)) error {
	cfg, err := stack.LoadConfig(ctx)
	if err != nil {
		return fmt.Errorf("playplane: %w", err)
	}
	s, err := stack.New(ctx, cfg)
	if err != nil {
		return fmt.Errorf("playplane: %w", err)
	}
	names := make([]string, 0, len(s.Outputs))
	for name := range s.Outputs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		export(name, s.Outputs[name])
	}
	return nil
}
