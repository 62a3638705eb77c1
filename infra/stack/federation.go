package stack

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/infra/awsfn"
	"github.com/playplane/playplane/infra/awsres"
	"github.com/playplane/playplane/infra/gcpfn"
	"github.com/playplane/playplane/infra/gcpres"
)

// Federation lets Lambda functions act as a GCP service account of their
// own through workload identity federation: the Lambda's own short-lived
// role credentials are exchanged for a Google token, so no service account
// key exists anywhere.
type Federation struct {
	Pool          *gcpres.WorkloadIdentityPool
	Provider      *gcpres.WorkloadIdentityPoolProvider
	AWSAccountID  string
	ProjectNumber pulumi.StringOutput
	// Accounts are the Lambdas' Google identities, by function name.
	Accounts map[string]*gcpres.Account
}

// awsRoleAttribute maps an assumed-role ARN
// (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION) to
// arn:aws:sts::ACCOUNT:assumed-role/ROLE, dropping the per-invocation
// session name; it is GCP's documented default for AWS providers.
const awsRoleAttribute = "assertion.arn.contains('assumed-role') ? " +
	"assertion.arn.extract('{account_arn}assumed-role/') + 'assumed-role/' + assertion.arn.extract('assumed-role/{role_name}/') : " +
	"assertion.arn"

func newFederation(ctx *pulumi.Context, cfg Config, projectNumber pulumi.StringOutput) (*Federation, error) {
	caller, err := awsres.GetCallerIdentity(ctx, &awsres.GetCallerIdentityArgs{})
	if err != nil {
		return nil, fmt.Errorf("aws caller identity: %w", err)
	}
	f := &Federation{AWSAccountID: caller.AccountId, ProjectNumber: projectNumber, Accounts: map[string]*gcpres.Account{}}
	f.Pool, err = gcpres.NewWorkloadIdentityPool(ctx, "aws", &gcpres.WorkloadIdentityPoolArgs{
		Project:                pulumi.String(cfg.GCPProject),
		WorkloadIdentityPoolId: pulumi.String(cfg.Prefix + "-aws"),
		DisplayName:            pulumi.String("playplane Lambda functions"),
	})
	if err != nil {
		return nil, fmt.Errorf("workload identity pool: %w", err)
	}
	var roles []string
	for _, name := range cfg.Layout.HTTPOnAWS {
		roles = append(roles, fmt.Sprintf("'%s'", f.roleARN(cfg.Prefix+"-"+name)))
	}
	f.Provider, err = gcpres.NewWorkloadIdentityPoolProvider(ctx, "aws", &gcpres.WorkloadIdentityPoolProviderArgs{
		Project:                        pulumi.String(cfg.GCPProject),
		WorkloadIdentityPoolId:         f.Pool.WorkloadIdentityPoolId,
		WorkloadIdentityPoolProviderId: pulumi.String("aws-lambda"),
		Aws:                            &gcpres.WorkloadIdentityPoolProviderAwsArgs{AccountId: pulumi.String(f.AWSAccountID)},
		AttributeMapping: pulumi.StringMap{
			"google.subject":     pulumi.String("assertion.arn"),
			"attribute.aws_role": pulumi.String(awsRoleAttribute),
		},
		// Only the roles of this stack's Lambda functions may exchange tokens.
		AttributeCondition: pulumi.Sprintf("attribute.aws_role in [%s]", strings.Join(roles, ", ")),
	})
	if err != nil {
		return nil, fmt.Errorf("workload identity provider: %w", err)
	}
	return f, nil
}

// roleARN is the assumed-role ARN a Lambda with the execution role named
// role presents.
func (f *Federation) roleARN(role string) string {
	return fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s", f.AWSAccountID, role)
}

// newAccount makes the Google identity of fn's Lambda, which serves only
// fn's HTTP routes: bound to the database and to the topics those routes
// publish to. Not fn's account on GCP, which its consumer and jobs run as:
// that one also reads their secrets from Secret Manager (STRIPE_API_KEY),
// publishes to their topics and writes metrics, none of which a Lambda
// serving the routes does (its secrets come from Secrets Manager, its
// metrics are EMF lines).
func (f *Federation) newAccount(ctx *pulumi.Context, cfg Config, fn catalog.Function, g *GCPResources) error {
	name := fn.Name + "-aws"
	account, err := gcpres.NewAccount(ctx, name, &gcpres.AccountArgs{
		Project:     pulumi.String(cfg.GCPProject),
		AccountId:   pulumi.String(accountID(name, cfg.Stack)),
		DisplayName: pulumi.String("playplane " + fn.Name + " on AWS"),
		Description: pulumi.String("Google identity of the " + fn.Name + " Lambda (its HTTP routes), through workload identity federation"),
	})
	if err != nil {
		return fmt.Errorf("%s service account for AWS: %w", fn.Name, err)
	}
	member := pulumi.Sprintf("serviceAccount:%s", account.Email)
	db := gcpfn.Firestore{Project: cfg.GCPProject, Database: g.Database.Name}
	if _, err := gcpres.NewProjectIAMMember(ctx, name+"-firestore", gcpfn.FirestoreGrant(fn, db, member)); err != nil {
		return fmt.Errorf("%s on AWS firestore: %w", fn.Name, err)
	}
	for _, t := range fn.HTTPPublishes() {
		if _, err := gcpres.NewTopicIAMMember(ctx, name+"-publishes-"+t, &gcpres.TopicIAMMemberArgs{
			Project: pulumi.String(cfg.GCPProject),
			Topic:   g.Topics[t].ResourceName,
			Role:    pulumi.String("roles/pubsub.publisher"),
			Member:  member,
		}); err != nil {
			return fmt.Errorf("%s on AWS publisher of %s: %w", fn.Name, t, err)
		}
	}
	f.Accounts[fn.Name] = account
	return nil
}

// allow lets the Lambda of fn impersonate its Google identity (newAccount).
func (f *Federation) allow(ctx *pulumi.Context, fn catalog.Function, lambda *awsfn.Function) error {
	account := f.Accounts[fn.Name]
	if account == nil {
		return fmt.Errorf("%s runs on AWS against GCP data but has no Google identity", fn.Name)
	}
	member := pulumi.All(f.Pool.Name, lambda.Role.Name).ApplyT(func(v []any) string {
		// Pool.Name is projects/NUMBER/locations/global/workloadIdentityPools/ID.
		return fmt.Sprintf("principalSet://iam.googleapis.com/%s/attribute.aws_role/%s", v[0], f.roleARN(v[1].(string)))
	}).(pulumi.StringOutput)
	_, err := gcpres.NewServiceAccountIAMMember(ctx, fn.Name+"-from-aws", &gcpres.ServiceAccountIAMMemberArgs{
		ServiceAccountId: account.Name,
		Role:             pulumi.String("roles/iam.workloadIdentityUser"),
		Member:           member,
	})
	if err != nil {
		return fmt.Errorf("%s workload identity user: %w", fn.Name, err)
	}
	return nil
}

// credentialsJSON is the external_account configuration the Google client
// libraries load (option.WithCredentialsJSON / GOOGLE_APPLICATION_CREDENTIALS).
// On Lambda they read the role credentials from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_REGION. It holds no key.
func (f *Federation) credentialsJSON(serviceAccountEmail pulumi.StringOutput) pulumi.StringOutput {
	return pulumi.All(f.Provider.Name, serviceAccountEmail).ApplyT(func(v []any) string {
		return marshal(map[string]any{
			"type":               "external_account",
			"audience":           "//iam.googleapis.com/" + v[0].(string),
			"subject_token_type": "urn:ietf:params:aws:token-type:aws4_request",
			"token_url":          "https://sts.googleapis.com/v1/token",
			"service_account_impersonation_url": fmt.Sprintf(
				"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/%s:generateAccessToken", v[1]),
			"credential_source": map[string]string{
				"environment_id":                 "aws1",
				"region_url":                     "http://169.254.169.254/latest/meta-data/placement/availability-zone",
				"url":                            "http://169.254.169.254/latest/meta-data/iam/security-credentials",
				"regional_cred_verification_url": "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
			},
		})
	}).(pulumi.StringOutput)
}
