package awsres

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// getCallerIdentityToken is the invoke of aws.GetCallerIdentity.
const getCallerIdentityToken = "aws:index/getCallerIdentity:getCallerIdentity"

type GetCallerIdentityArgs struct {
	Id *string `pulumi:"id"`
}

type GetCallerIdentityResult struct {
	AccountId string `pulumi:"accountId"`
}

// GetCallerIdentity is aws.GetCallerIdentity: the account, user and ARN
// whose credentials the deployment runs with.
func GetCallerIdentity(ctx *pulumi.Context, args *GetCallerIdentityArgs, opts ...pulumi.InvokeOption) (*GetCallerIdentityResult, error) {
	opts = append([]pulumi.InvokeOption{pulumi.Version(ProviderVersion)}, opts...)
	var rv GetCallerIdentityResult
	if err := ctx.Invoke(getCallerIdentityToken, args, &rv, opts...); err != nil {
		return nil, err
	}
	return &rv, nil
}
