package gcpres

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// lookupProjectToken is the invoke of organizations.LookupProject.
const lookupProjectToken = "gcp:organizations/getProject:getProject"

type LookupProjectArgs struct {
	ProjectId *string `pulumi:"projectId"`
}

type LookupProjectResult struct {
	Number string `pulumi:"number"`
}

// LookupProject is organizations.LookupProject: a project's number.
func LookupProject(ctx *pulumi.Context, args *LookupProjectArgs, opts ...pulumi.InvokeOption) (*LookupProjectResult, error) {
	opts = append([]pulumi.InvokeOption{pulumi.Version(ProviderVersion)}, opts...)
	var rv LookupProjectResult
	if err := ctx.Invoke(lookupProjectToken, args, &rv, opts...); err != nil {
		return nil, err
	}
	return &rv, nil
}
