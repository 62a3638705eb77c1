// Package nolinktest holds the tests of a Lambda that links neither
// shared/awsfn/sqsbus nor shared/awsfn/smsecrets: shared/awsfn's own tests
// import both, so there the hooks are always registered. This package must
// never import them (TestThisBinaryLinksNeitherHook).
package nolinktest

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/sethvargo/go-envconfig"

	"github.com/playplane/playplane/shared/awsfn"
	"github.com/playplane/playplane/shared/fnenv"
	"github.com/playplane/playplane/shared/playback"
)

type noFunction struct{}

func (noFunction) Register(*http.ServeMux)                     {}
func (noFunction) Consumers() map[string]playback.BatchHandler { return nil }

func options(vars map[string]string) awsfn.Options {
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "s", "")}
	return awsfn.Options{Lookuper: envconfig.MapLookuper(vars), AWS: &cfg}
}

// A secret named by ARN to a Lambda whose main does not import smsecrets
// fails its start, naming the variable and the import that is missing,
// rather than running without the secret.
func TestSecretARNWithoutTheReaderFailsTheStartByName(t *testing.T) {
	t.Parallel()
	vars := map[string]string{
		"PLAYBACK_TOKEN_KEYS_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:keys-AbCdEf",
		awsfn.EnvTrigger:                 "http",
	}
	_, err := awsfn.New(context.Background(), func(context.Context, fnenv.Env) (awsfn.Function, error) {
		return noFunction{}, nil
	}, options(vars))
	if err == nil {
		t.Fatal("started with a secret ARN and no secret reader linked")
	}
	for _, want := range []string{"PLAYBACK_TOKEN_KEYS_SECRET_ARN", "shared/awsfn/smsecrets"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// Env.Bus in a Lambda whose main does not import sqsbus is an error naming
// the import, never a nil Publisher.
func TestBusWithoutSQSBusNamesTheImport(t *testing.T) {
	t.Parallel()
	env := awsfn.NewEnv(options(nil))
	bus, err := env.Bus(context.Background())
	if err == nil || bus != nil {
		t.Fatalf("Bus() = %v, %v; want no bus and an error", bus, err)
	}
	if !strings.Contains(err.Error(), "shared/awsfn/sqsbus") {
		t.Errorf("error %q does not name shared/awsfn/sqsbus", err)
	}
}

// The two tests above prove something only while this package links
// neither hook.
func TestThisBinaryLinksNeitherHook(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-test", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasSuffix(pkg, "/shared/awsfn/sqsbus") || strings.HasSuffix(pkg, "/shared/awsfn/smsecrets") {
			t.Errorf("the test binary links %s", pkg)
		}
	}
}
