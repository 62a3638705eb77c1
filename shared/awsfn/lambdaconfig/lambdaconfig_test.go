package lambdaconfig_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/playplane/playplane/shared/awsfn/lambdaconfig"
)

// lambdaVars is what Lambda sets for a function's clients.
var lambdaVars = map[string]string{
	"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
	"AWS_ACCESS_KEY_ID": "ASIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token",
	"AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023", "AWS_LAMBDA_FUNCTION_NAME": "fn",
}

func with(extra map[string]string, drop ...string) map[string]string {
	out := map[string]string{}
	for k, v := range lambdaVars {
		if !slices.Contains(drop, k) {
			out[k] = v
		}
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// setEnv replaces every AWS_ variable of the process with vars, and points
// HOME at an empty directory so that neither loader finds shared files.
// The tests using it cannot be parallel: both loaders read the process
// environment.
func setEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	t.Setenv("HOME", t.TempDir())
	for k, v := range vars {
		t.Setenv(k, v)
	}
}

// recorder answers every request with an access-denied error (not
// retried) and keeps the requests.
type recorder struct{ reqs []*http.Request }

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	r.reqs = append(r.reqs, req)
	return &http.Response{StatusCode: 400, Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body: io.NopCloser(strings.NewReader(`{"__type":"com.amazon.coral.service#AccessDeniedException","message":"denied"}`)), Request: req}, nil
}

// wire is what a request carries, less what differs between two requests
// of the same client (invocation id, date, signature).
func wire(t *testing.T, req *http.Request) string {
	t.Helper()
	h := req.Header.Clone()
	h.Del("Amz-Sdk-Invocation-Id")
	h.Del("X-Amz-Date")
	if auth, _, ok := strings.Cut(h.Get("Authorization"), ", Signature="); ok {
		h.Set("Authorization", auth)
	}
	body, _ := io.ReadAll(req.Body)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", req.Method, req.URL)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range h {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(h[k], ","))
	}
	fmt.Fprintf(&b, "\n%s", body)
	return b.String()
}

// calls makes one request of each service our Lambdas use through cfg,
// and returns what went on the wire and the clients' retry settings.
func calls(t *testing.T, cfg aws.Config) []string {
	t.Helper()
	ctx := context.Background()
	rec := &recorder{}
	cfg.HTTPClient = rec
	var out []string
	ddb := dynamodb.NewFromConfig(cfg)
	_, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t")})
	out = append(out, fmt.Sprintf("dynamodb err=%v retryer=%T max=%d endpointDiscovery=%v", err != nil,
		ddb.Options().Retryer, ddb.Options().Retryer.MaxAttempts(), ddb.Options().EndpointDiscovery.EnableEndpointDiscovery))
	q := sqs.NewFromConfig(cfg)
	_, err = q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String("https://sqs.eu-west-1.amazonaws.com/1/q"), MessageBody: aws.String("m")})
	out = append(out, fmt.Sprintf("sqs err=%v retryer=%T max=%d", err != nil, q.Options().Retryer, q.Options().Retryer.MaxAttempts()))
	sm := secretsmanager.NewFromConfig(cfg)
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
	out = append(out, fmt.Sprintf("secretsmanager err=%v retryer=%T max=%d", err != nil, sm.Options().Retryer, sm.Options().Retryer.MaxAttempts()))
	for _, r := range rec.reqs {
		out = append(out, wire(t, r))
	}
	return out
}

// TestLoadMatchesLoadDefaultConfig loads the SDK configuration both ways
// in Lambda-like environments and compares what the clients of each send
// (URL, headers including the user agent and the signature's credential
// scope, body), their retryers, the credentials and the fields of
// aws.Config the clients read.
func TestLoadMatchesLoadDefaultConfig(t *testing.T) {
	creds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The container agent: credentials for the right token only.
		if r.Header.Get("Authorization") != "agent-token" {
			http.Error(w, `{"code":"denied","message":"bad token"}`, http.StatusForbidden)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"AccessKeyId": "ASIACONTAINER", "SecretAccessKey": "s2",
			"Token": "t2", "Expiration": "2099-01-01T00:00:00Z", "AccountId": "123456789012"})
	}))
	defer creds.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("agent-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		vars map[string]string
	}{
		{name: "lambda", vars: lambdaVars},
		{name: "no region", vars: with(nil, "AWS_REGION")},
		{name: "account id", vars: with(map[string]string{"AWS_ACCOUNT_ID": "123456789012"})},
		{name: "old key names", vars: with(map[string]string{"AWS_ACCESS_KEY": "AKIAOLD", "AWS_SECRET_KEY": "old"},
			"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")},
		{name: "retries", vars: with(map[string]string{"AWS_RETRY_MODE": "adaptive", "AWS_MAX_ATTEMPTS": "5"})},
		{name: "max attempts only", vars: with(map[string]string{"AWS_MAX_ATTEMPTS": "1"})},
		{name: "app id", vars: with(map[string]string{"AWS_SDK_UA_APP_ID": "playplane"})},
		{name: "endpoint url", vars: with(map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:9"})},
		{name: "service endpoint urls", vars: with(map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:9",
			"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:8001"})},
		{name: "ignored endpoint urls", vars: with(map[string]string{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "TRUE",
			"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:4566"})},
		{name: "endpoint urls not ignored", vars: with(map[string]string{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "false",
			"AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:4566"})},
		{name: "dual-stack and fips", vars: with(map[string]string{"AWS_USE_DUALSTACK_ENDPOINT": "true", "AWS_USE_FIPS_ENDPOINT": "true"})},
		{name: "fips off", vars: with(map[string]string{"AWS_USE_FIPS_ENDPOINT": "false", "AWS_REGION": "us-gov-west-1"})},
		{name: "ignored variables", vars: with(map[string]string{"AWS_DEFAULT_REGION": "ap-south-1", "AWS_EC2_METADATA_DISABLED": "true",
			"AWS_S3_USE_ARN_REGION": "true", "AWS_RESTRICT_FILE_PERMISSIONS": "user_read_write"})},
		{name: "container full uri, token file", vars: with(map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": creds.URL + "/creds",
			"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile}, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")},
		{name: "container full uri, token", vars: with(map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": creds.URL + "/creds",
			"AWS_CONTAINER_AUTHORIZATION_TOKEN": "agent-token"}, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")},
		{name: "environment keys win over the container", vars: with(map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": creds.URL + "/creds",
			"AWS_CONTAINER_AUTHORIZATION_TOKEN": "agent-token"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.vars)
			ctx := context.Background()
			region := os.Getenv("AWS_REGION")
			if region == "" {
				region = lambdaconfig.DefaultRegion
			}
			want, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
			if err != nil {
				t.Fatalf("LoadDefaultConfig: %v", err)
			}
			got, err := lambdaconfig.Load(ctx, nil)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			compareConfigs(t, got, want)
		})
	}
}

func compareConfigs(t *testing.T, got, want aws.Config) {
	t.Helper()
	ctx := context.Background()
	fields := func(c aws.Config) string {
		return fmt.Sprintf("region=%s appID=%q maxAttempts=%d retryMode=%q retryer=%v baseEndpoint=%v defaultsMode=%q runtime=%+v "+
			"accountIDMode=%q checksums=%v/%v compression=%v/%d clockSkew=%v logger=%T logMode=%v apiOptions=%d authPref=%v "+
			"endpointResolvers=%v/%v bearer=%v interceptors=%+v",
			c.Region, c.AppID, c.RetryMaxAttempts, c.RetryMode, c.Retryer != nil, aws.ToString(c.BaseEndpoint), c.DefaultsMode, c.RuntimeEnvironment,
			c.AccountIDEndpointMode, c.RequestChecksumCalculation, c.ResponseChecksumValidation, c.DisableRequestCompression,
			c.RequestMinCompressSizeBytes, c.DisableClockSkewCorrection, c.Logger, c.ClientLogMode, len(c.APIOptions), c.AuthSchemePreference,
			c.EndpointResolver != nil, c.EndpointResolverWithOptions != nil, c.BearerAuthTokenProvider != nil, c.Interceptors)
	}
	if g, w := fields(got), fields(want); g != w {
		t.Errorf("aws.Config:\n got %s\nwant %s", g, w)
	}
	if (got.HTTPClient == nil) != (want.HTTPClient == nil) {
		t.Errorf("HTTPClient: got %T, want %T", got.HTTPClient, want.HTTPClient)
	}
	if fmt.Sprintf("%T", got.Credentials) != fmt.Sprintf("%T", want.Credentials) {
		t.Errorf("credentials provider: got %T, want %T", got.Credentials, want.Credentials)
	}
	gc, gerr := got.Credentials.Retrieve(ctx)
	wc, werr := want.Credentials.Retrieve(ctx)
	if (gerr != nil) != (werr != nil) || gc != wc {
		t.Errorf("credentials:\n got %+v, %v\nwant %+v, %v", gc, gerr, wc, werr)
	}
	sources := func(c aws.Config) []aws.CredentialSource {
		if p, ok := c.Credentials.(interface{ ProviderSources() []aws.CredentialSource }); ok {
			return p.ProviderSources()
		}
		return nil
	}
	if g, w := sources(got), sources(want); !slices.Equal(g, w) {
		t.Errorf("credential sources: got %v, want %v", g, w)
	}
	if g, w := calls(t, got), calls(t, want); !slices.Equal(g, w) {
		t.Errorf("the clients differ:\n got %q\nwant %q", g, w)
	}
}

// TestLoadTrustsTheCABundleAsLoadDefaultConfig: with AWS_CA_BUNDLE both
// clients trust the same roots.
func TestLoadTrustsTheCABundleAsLoadDefaultConfig(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	var certs bytes.Buffer
	pemEncode(&certs, srv.Certificate())
	if err := os.WriteFile(bundle, certs.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	setEnv(t, with(map[string]string{"AWS_CA_BUNDLE": bundle}))
	want, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("eu-west-1"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := lambdaconfig.Load(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	compareConfigs(t, got, want)
	roots := func(c aws.Config) *x509.CertPool {
		return c.HTTPClient.(*awshttp.BuildableClient).GetTransport().TLSClientConfig.RootCAs
	}
	if !roots(got).Equal(roots(want)) {
		t.Error("the CA bundle's roots differ")
	}
	// And the bundle is what lets the client reach the test server.
	tr := got.HTTPClient.(*awshttp.BuildableClient).GetTransport()
	if _, err := (&http.Client{Transport: tr}).Get(srv.URL); err != nil {
		t.Errorf("a client of Load does not trust the bundle: %v", err)
	}
	if _, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{}}}).Get(srv.URL); err == nil {
		t.Error("the test server is trusted without the bundle: the check above proves nothing")
	}
}

// TestLoadRefusesWhatItCannotHonour: every refused variable fails Load
// with an error naming it, and so does a shared config file.
func TestLoadRefusesWhatItCannotHonour(t *testing.T) {
	t.Parallel()
	for _, r := range lambdaconfig.Refused {
		name := r.Name
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			vars := with(map[string]string{name: "x", "HOME": ""})
			_, err := lambdaconfig.Load(context.Background(), lookup(vars))
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("Load with %s set: %v, want an error naming it", name, err)
			}
		})
	}
	t.Run("shared config file", func(t *testing.T) {
		t.Parallel()
		home := t.TempDir()
		if err := os.MkdirAll(filepath.Join(home, ".aws"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, ".aws", "credentials"), []byte("[default]\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := lambdaconfig.Load(context.Background(), lookup(with(map[string]string{"HOME": home})))
		if err == nil || !strings.Contains(err.Error(), filepath.Join(".aws", "credentials")) {
			t.Errorf("Load with ~/.aws/credentials: %v, want an error naming it", err)
		}
	})
	for _, tc := range []struct{ name, variable, value string }{
		{name: "max attempts", variable: "AWS_MAX_ATTEMPTS", value: "three"},
		{name: "retry mode", variable: "AWS_RETRY_MODE", value: "eager"},
		{name: "dual-stack", variable: "AWS_USE_DUALSTACK_ENDPOINT", value: "yes"},
		{name: "ignore endpoints", variable: "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", value: "1"},
		{name: "container host", variable: "AWS_CONTAINER_CREDENTIALS_FULL_URI", value: "http://192.0.2.1/creds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vars := with(map[string]string{tc.variable: tc.value, "HOME": ""}, "AWS_ACCESS_KEY_ID")
			if _, err := lambdaconfig.Load(context.Background(), lookup(vars)); err == nil || !strings.Contains(err.Error(), tc.variable) {
				t.Errorf("Load with %s=%s: %v, want an error naming it", tc.variable, tc.value, err)
			}
		})
	}
}

// TestLoadWithoutCredentialsFailsOnUse: no credentials in the environment
// builds a configuration (no call at load, as LoadDefaultConfig) whose
// credentials fail with ErrNoCredentials, where the SDK's chain would try
// the instance metadata service.
func TestLoadWithoutCredentialsFailsOnUse(t *testing.T) {
	t.Parallel()
	cfg, err := lambdaconfig.Load(context.Background(), lookup(map[string]string{"AWS_REGION": "eu-west-1"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Credentials.Retrieve(context.Background()); !errors.Is(err, lambdaconfig.ErrNoCredentials) {
		t.Errorf("Retrieve: %v, want ErrNoCredentials", err)
	}
}

// TestEveryVariableOfTheSDKIsDecided reads the pinned config package's
// source: each AWS_ variable LoadDefaultConfig reads is handled, refused
// or ignored here, so an SDK upgrade that adds one fails this test.
func TestEveryVariableOfTheSDKIsDecided(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-sdk-go-v2/config").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	var found []string
	for _, file := range []string{"env_config.go", "resolve_credentials.go"} {
		src, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`"(AWS_[A-Z0-9_]+)"`).FindAllSubmatch(src, -1) {
			found = append(found, string(m[1]))
		}
	}
	if len(found) < 40 {
		t.Fatalf("found only %d variables in %s: the pattern no longer matches the source", len(found), dir)
	}
	for _, name := range found {
		named := func(v lambdaconfig.Variable) bool { return v.Name == name }
		refused, ignored := slices.ContainsFunc(lambdaconfig.Refused, named), slices.ContainsFunc(lambdaconfig.Ignored, named)
		if !refused && !ignored && !slices.Contains(lambdaconfig.Handled, name) {
			t.Errorf("LoadDefaultConfig reads %s, which lambdaconfig neither handles, refuses nor ignores", name)
		}
	}
}

func lookup(vars map[string]string) lambdaconfig.Lookup {
	return func(name string) (string, bool) { v, ok := vars[name]; return v, ok }
}

func pemEncode(w io.Writer, cert *x509.Certificate) {
	_ = pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}
