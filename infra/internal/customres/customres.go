// Package customres registers a provider's resources the way the
// provider's generated Go constructors do, for the packages that declare
// those resources by hand instead of compiling the generated SDK
// (infra/gcpres for pulumi-gcp, infra/awsres for pulumi-aws).
package customres

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Spec is what the provider's generated constructor adds to a resource
// beyond its arguments.
type Spec struct {
	Token    string
	Secrets  []string // AdditionalSecretOutputs
	Aliases  []string // former type tokens
	Required []string // Args fields the constructor refuses nil
	ToSecret []string // Args fields wrapped in pulumi.ToSecret
}

// Register is the provider's generated constructor, for any of the specs:
// required arguments checked, secret inputs wrapped, then the provider
// version, the caller's options, and the secret outputs and aliases.
func Register(ctx *pulumi.Context, version string, s Spec, name string, args pulumi.Input, res pulumi.CustomResource, opts []pulumi.ResourceOption) error {
	v := reflect.ValueOf(args)
	if v.IsNil() {
		if len(s.Required) > 0 {
			return errors.New("missing one or more required arguments")
		}
		// As the generated constructors do: no arguments are empty ones.
		v = reflect.New(v.Type().Elem())
		args = v.Interface().(pulumi.Input)
	}
	for _, f := range s.Required {
		if v.Elem().FieldByName(f).IsNil() {
			return fmt.Errorf("invalid value for required argument '%s'", f)
		}
	}
	for _, f := range s.ToSecret {
		// A secret input not declared here cannot be set.
		fv := v.Elem().FieldByName(f)
		if fv.IsValid() && !fv.IsNil() {
			fv.Set(reflect.ValueOf(pulumi.ToSecret(fv.Interface())))
		}
	}
	all := append([]pulumi.ResourceOption{pulumi.Version(version)}, opts...)
	if len(s.Secrets) > 0 {
		all = append(all, pulumi.AdditionalSecretOutputs(s.Secrets))
	}
	if len(s.Aliases) > 0 {
		aliases := make([]pulumi.Alias, len(s.Aliases))
		for i, t := range s.Aliases {
			aliases[i] = pulumi.Alias{Type: pulumi.String(t)}
		}
		all = append(all, pulumi.Aliases(aliases))
	}
	return ctx.RegisterResource(s.Token, name, args, res, all...)
}

// New registers a resource of spec s and returns it.
func New[R any, PR interface {
	*R
	pulumi.CustomResource
}](ctx *pulumi.Context, version string, s Spec, name string, args pulumi.Input, opts []pulumi.ResourceOption) (*R, error) {
	var res R
	if err := Register(ctx, version, s, name, args, PR(&res), opts); err != nil {
		return nil, err
	}
	return &res, nil
}
