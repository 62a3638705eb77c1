// Package lambdaconfig builds the AWS SDK configuration of a Lambda's
// clients from its execution environment, as config.LoadDefaultConfig
// would there, without linking the config package.
//
// LoadDefaultConfig links the whole default credential chain: the STS,
// SSO, SSO OIDC and sign-in clients and IMDS, whose endpoint tables and
// operation schemas are built at package init (~2.5 ms of every cold
// start), and resolving the chain costs more at run time. A Lambda needs
// none of it: the runtime puts the function role's credentials in
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, and the
// region in AWS_REGION.
//
// Load reads the variables LoadDefaultConfig reads that can change a
// client of ours and gives the same result for them
// (TestLoadMatchesLoadDefaultConfig): environment credentials, else the
// container credentials endpoint, the retry mode and attempts, the
// endpoint URLs (AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>),
// dual-stack and FIPS endpoints, the app ID and a custom CA bundle. A
// variable that would need the chain or a shared config file (a profile,
// web identity, ...) is refused with an error naming it, rather than
// silently ignored (Refused). The package links no client but the
// container credentials one.
package lambdaconfig

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/smithy-go/logging"
)

// DefaultRegion is the region when AWS_REGION is unset (Lambda always sets
// it; a developer's run of a bootstrap may not).
const DefaultRegion = "us-east-1"

// Lookup reads one variable of the environment, as os.LookupEnv.
type Lookup func(name string) (string, bool)

// Variable is an environment variable LoadDefaultConfig reads, and why
// Load refuses or ignores it. The lists are slices of constants, which the
// linker lays out without init code.
type Variable struct{ Name, Why string }

// Refused are the variables LoadDefaultConfig honours that Load does not,
// and why. Load fails when one is set: each needs the default credential
// chain, a shared config file or a setting our clients never use, and
// none is set in a Lambda execution environment.
var Refused = []Variable{
	{"AWS_PROFILE", "shared config profiles need the SDK's config package"},
	{"AWS_DEFAULT_PROFILE", "shared config profiles need the SDK's config package"},
	{"AWS_CONFIG_FILE", "shared config files need the SDK's config package"},
	{"AWS_SHARED_CREDENTIALS_FILE", "shared config files need the SDK's config package"},
	{"AWS_WEB_IDENTITY_TOKEN_FILE", "web identity credentials need STS"},
	{"AWS_ROLE_ARN", "assuming a role needs STS"},
	{"AWS_ROLE_SESSION_NAME", "assuming a role needs STS"},
	{"AWS_DEFAULTS_MODE", "defaults modes are not supported here"},
	{"AWS_ENABLE_ENDPOINT_DISCOVERY", "endpoint discovery is not supported here"},
	{"AWS_DISABLE_REQUEST_COMPRESSION", "request compression settings are not supported here"},
	{"AWS_REQUEST_MIN_COMPRESSION_SIZE_BYTES", "request compression settings are not supported here"},
	{"AWS_DISABLE_CLOCK_SKEW_CORRECTION", "clock skew settings are not supported here"},
	{"AWS_ACCOUNT_ID_ENDPOINT_MODE", "account ID endpoint modes are not supported here"},
	{"AWS_REQUEST_CHECKSUM_CALCULATION", "checksum settings are not supported here"},
	{"AWS_RESPONSE_CHECKSUM_VALIDATION", "checksum settings are not supported here"},
	{"AWS_AUTH_SCHEME_PREFERENCE", "auth scheme preferences are not supported here"},
}

// Ignored are the variables LoadDefaultConfig reads that cannot change
// what Load builds, and why.
var Ignored = []Variable{
	// Load is always given the region (AWS_REGION, else DefaultRegion), as
	// LoadDefaultConfig was with config.WithRegion.
	{"AWS_DEFAULT_REGION", "the region is AWS_REGION's"},
	// The instance metadata service is reached only by the chain's last
	// resort, which Load does not have (see Load).
	{"AWS_EC2_METADATA_DISABLED", "no IMDS"},
	{"AWS_EC2_METADATA_V1_DISABLED", "no IMDS"},
	{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "no IMDS"},
	{"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "no IMDS"},
	// Only S3 clients read these; a Lambda here has none.
	{"AWS_S3_USE_ARN_REGION", "S3 only"},
	{"AWS_S3_DISABLE_MULTIREGION_ACCESS_POINTS", "S3 only"},
	{"AWS_S3_DISABLE_EXPRESS_SESSION_AUTH", "S3 only"},
	// Permissions of the SSO token cache files the chain writes.
	{"AWS_RESTRICT_FILE_PERMISSIONS", "no SSO cache"},
	{"AWS_LOGIN_CACHE_DIRECTORY", "no sign-in cache"},
}

// Handled are the variables Load reads, beside AWS_ENDPOINT_URL_<SERVICE>.
var Handled = []string{
	"AWS_REGION",
	"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN", "AWS_ACCOUNT_ID",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_SDK_UA_APP_ID", "AWS_CA_BUNDLE",
	"AWS_ENDPOINT_URL", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
	"AWS_USE_DUALSTACK_ENDPOINT", "AWS_USE_FIPS_ENDPOINT",
}

// ErrNoCredentials is what retrieving credentials fails with when the
// environment holds none; Load itself succeeds, as LoadDefaultConfig
// does, so a client is still built without a network call.
var ErrNoCredentials = errors.New("lambdaconfig: no AWS credentials in the environment: " +
	"want AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Lambda sets them from the function's role) " +
	"or AWS_CONTAINER_CREDENTIALS_FULL_URI / AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")

// ecsContainerEndpoint is where a relative container credentials URI
// points.
const ecsContainerEndpoint = "http://169.254.170.2"

// allowedContainerIPs are the container credentials endpoints
// LoadDefaultConfig trusts over plain HTTP besides loopback: ECS's and EKS
// Pod Identity's.
var allowedContainerIPs = [...]string{"169.254.170.2", "169.254.170.23", "fd00:ec2::23"}

// Load returns the SDK configuration of the environment lookup reads (nil:
// the process's). It makes no network call: container credentials are
// fetched on the first request, as with LoadDefaultConfig.
//
// Where LoadDefaultConfig would fall back to the instance metadata service
// (no credentials in the environment), the credentials fail with
// ErrNoCredentials on the first request instead: a Lambda always has
// them.
func Load(ctx context.Context, lookup Lookup) (aws.Config, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	get := func(name string) string { v, _ := lookup(name); return v }
	for _, r := range Refused {
		if v := get(r.Name); v != "" {
			return aws.Config{}, fmt.Errorf("lambdaconfig: %s is set: %s; a Lambda's clients take their configuration from the Lambda environment only", r.Name, r.Why)
		}
	}
	if err := refuseSharedFiles(get); err != nil {
		return aws.Config{}, err
	}
	src := sources{lookup: lookup}
	var err error
	if src.ignoreEndpoints, err = boolPtr(get, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"); err != nil {
		return aws.Config{}, err
	}
	if src.dualStack, err = endpointState(get, "AWS_USE_DUALSTACK_ENDPOINT", aws.DualStackEndpointStateEnabled, aws.DualStackEndpointStateDisabled); err != nil {
		return aws.Config{}, err
	}
	if src.fips, err = endpointState(get, "AWS_USE_FIPS_ENDPOINT", aws.FIPSEndpointStateEnabled, aws.FIPSEndpointStateDisabled); err != nil {
		return aws.Config{}, err
	}
	cfg := aws.Config{
		Region:        get("AWS_REGION"),
		Logger:        logging.NewStandardLogger(os.Stderr),
		ConfigSources: []any{src},
		AppID:         get("AWS_SDK_UA_APP_ID"),
		// LoadDefaultConfig's defaults, which the clients would also
		// assume if left zero.
		DefaultsMode:                aws.DefaultsModeLegacy,
		AccountIDEndpointMode:       aws.AccountIDEndpointModePreferred,
		RequestChecksumCalculation:  aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation:  aws.ResponseChecksumValidationWhenSupported,
		RequestMinCompressSizeBytes: 10240,
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if v := get("AWS_MAX_ATTEMPTS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return aws.Config{}, fmt.Errorf("lambdaconfig: invalid value AWS_MAX_ATTEMPTS=%s, %w", v, err)
		}
		cfg.RetryMaxAttempts = int(n)
	}
	if v := get("AWS_RETRY_MODE"); v != "" {
		if cfg.RetryMode, err = aws.ParseRetryMode(v); err != nil {
			return aws.Config{}, fmt.Errorf("lambdaconfig: AWS_RETRY_MODE: %w", err)
		}
	}
	if v := get("AWS_ENDPOINT_URL"); v != "" && (src.ignoreEndpoints == nil || !*src.ignoreEndpoints) {
		cfg.BaseEndpoint = aws.String(v)
	}
	if path := get("AWS_CA_BUNDLE"); path != "" {
		if cfg.HTTPClient, err = withCABundle(path); err != nil {
			return aws.Config{}, err
		}
	}
	if cfg.Credentials, err = resolveCredentials(get); err != nil {
		return aws.Config{}, err
	}
	return cfg, nil
}

func resolveCredentials(get func(string) string) (aws.CredentialsProvider, error) {
	key := firstSet(get, "AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY")
	secret := firstSet(get, "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY")
	if key != "" && secret != "" {
		return aws.NewCredentialsCache(credentials.StaticCredentialsProvider{
			Value: aws.Credentials{AccessKeyID: key, SecretAccessKey: secret, SessionToken: get("AWS_SESSION_TOKEN"),
				AccountID: get("AWS_ACCOUNT_ID"), Source: "EnvConfigCredentials"},
			Source: []aws.CredentialSource{aws.CredentialSourceEnvVars},
		}), nil
	}
	endpoint := ""
	if rel := get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); rel != "" {
		endpoint = ecsContainerEndpoint + rel
	} else if full := get("AWS_CONTAINER_CREDENTIALS_FULL_URI"); full != "" {
		if err := checkContainerEndpoint(full); err != nil {
			return nil, err
		}
		endpoint = full
	}
	if endpoint == "" {
		return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, ErrNoCredentials
		}), nil
	}
	token, tokenFile := get("AWS_CONTAINER_AUTHORIZATION_TOKEN"), get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
	provider := endpointcreds.New(endpoint, func(o *endpointcreds.Options) {
		o.AuthorizationToken = token
		if tokenFile != "" {
			// Read on every retrieval: the agent rotates the file.
			o.AuthorizationTokenProvider = endpointcreds.TokenProviderFunc(func() (string, error) {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return "", fmt.Errorf("failed to read authorization token from %v: %v", tokenFile, err)
				}
				return string(b), nil
			})
		}
		o.CredentialSources = []aws.CredentialSource{aws.CredentialSourceHTTP}
	})
	return aws.NewCredentialsCache(provider, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = 5 * time.Minute }), nil
}

// checkContainerEndpoint allows a full container credentials URI over
// HTTP only to loopback and the ECS and EKS agents, as LoadDefaultConfig.
func checkContainerEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("lambdaconfig: AWS_CONTAINER_CREDENTIALS_FULL_URI: invalid URL, %w", err)
	}
	host := u.Hostname()
	if host == "" {
		return errors.New("lambdaconfig: AWS_CONTAINER_CREDENTIALS_FULL_URI has no host")
	}
	if u.Scheme != "http" {
		return nil
	}
	ips := []net.IP{net.ParseIP(host)}
	if ips[0] == nil {
		addrs, err := net.LookupHost(host)
		if err != nil {
			return fmt.Errorf("lambdaconfig: AWS_CONTAINER_CREDENTIALS_FULL_URI: failed to resolve host %q, %v", host, err)
		}
		ips = ips[:0]
		for _, a := range addrs {
			ips = append(ips, net.ParseIP(a))
		}
	}
	for _, ip := range ips {
		if ip == nil || !(ip.IsLoopback() || slices.ContainsFunc(allowedContainerIPs[:], func(a string) bool { return net.ParseIP(a).Equal(ip) })) {
			return fmt.Errorf("lambdaconfig: AWS_CONTAINER_CREDENTIALS_FULL_URI: invalid endpoint host, %q, only loopback/ecs/eks hosts are allowed", host)
		}
	}
	return nil
}

// refuseSharedFiles fails when the default shared config or credentials
// file exists: LoadDefaultConfig would read it. A Lambda has neither.
func refuseSharedFiles(get func(string) string) error {
	home := get("HOME")
	if home == "" {
		return nil
	}
	for _, name := range []string{"config", "credentials"} {
		p := filepath.Join(home, ".aws", name)
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("lambdaconfig: %s exists: shared config files need the SDK's config package; "+
				"a Lambda's clients take their configuration from the Lambda environment only", p)
		}
	}
	return nil
}

// withCABundle is the SDK's default HTTP client trusting only the PEM
// certificates of path (a new pool, not the system's roots), as
// LoadDefaultConfig builds it for AWS_CA_BUNDLE.
func withCABundle(path string) (aws.HTTPClient, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lambdaconfig: AWS_CA_BUNDLE: %w", err)
	}
	var appendErr error
	client := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{}
		}
		if tr.TLSClientConfig.RootCAs == nil {
			tr.TLSClientConfig.RootCAs = x509.NewCertPool()
		}
		if !tr.TLSClientConfig.RootCAs.AppendCertsFromPEM(pem) {
			appendErr = errors.New("lambdaconfig: AWS_CA_BUNDLE: failed to load custom CA bundle PEM file")
		}
	})
	if appendErr != nil {
		return nil, appendErr
	}
	return client, nil
}

// sources answers the service clients' questions about per-service
// endpoints and endpoint variants (aws.Config.ConfigSources), as the
// config package's EnvConfig does.
type sources struct {
	lookup          Lookup
	ignoreEndpoints *bool
	dualStack       aws.DualStackEndpointState
	fips            aws.FIPSEndpointState
}

// GetServiceBaseEndpoint reads AWS_ENDPOINT_URL_<SERVICE>, the service's
// SDK ID upper-cased with spaces as underscores.
func (s sources) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	name := "AWS_ENDPOINT_URL_" + strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_")
	if v, _ := s.lookup(name); v != "" {
		return v, true, nil
	}
	return "", false, nil
}

// GetIgnoreConfiguredEndpoints reads AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
func (s sources) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	if s.ignoreEndpoints == nil {
		return false, false, nil
	}
	return *s.ignoreEndpoints, true, nil
}

// GetUseDualStackEndpoint reads AWS_USE_DUALSTACK_ENDPOINT.
func (s sources) GetUseDualStackEndpoint(context.Context) (aws.DualStackEndpointState, bool, error) {
	return s.dualStack, s.dualStack != aws.DualStackEndpointStateUnset, nil
}

// GetUseFIPSEndpoint reads AWS_USE_FIPS_ENDPOINT.
func (s sources) GetUseFIPSEndpoint(context.Context) (aws.FIPSEndpointState, bool, error) {
	return s.fips, s.fips != aws.FIPSEndpointStateUnset, nil
}

func firstSet(get func(string) string, names ...string) string {
	for _, n := range names {
		if v := get(n); v != "" {
			return v
		}
	}
	return ""
}

func boolPtr(get func(string) string, name string) (*bool, error) {
	v := get(name)
	switch {
	case v == "":
		return nil, nil
	case strings.EqualFold(v, "true"):
		return aws.Bool(true), nil
	case strings.EqualFold(v, "false"):
		return aws.Bool(false), nil
	}
	return nil, fmt.Errorf("lambdaconfig: invalid value for environment variable, %s=%s, need true or false", name, v)
}

// endpointState reads a true/false variable into an endpoint variant's
// state; unset is the zero value of both.
func endpointState[S ~uint](get func(string) string, name string, enabled, disabled S) (S, error) {
	b, err := boolPtr(get, name)
	switch {
	case err != nil || b == nil:
		return 0, err
	case *b:
		return enabled, nil
	}
	return disabled, nil
}
