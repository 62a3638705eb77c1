package lambdatest_test

import (
	"bytes"
	"fmt"
	"maps"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/shared/awsfn/lambdatest"
)

// initHeavy are packages whose initialisation costs milliseconds of every
// cold start (inittrace), kept out of Lambda binaries that do not use them:
// the Prometheus client serves only the runner's scrape (promsink), and the
// JSON Schema library compiles every draft's metaschema at init (~30 ms;
// ~24% of admin's start CPU): catalogfile validates catalogue files and
// admin's records with its own interpreter of the schema, held to the
// library by TestValidatorAgreesWithTheLibrary. gRPC (~1.5 ms), grpc-gateway,
// x/net's HTTP/2 and the protobuf runtime with OTLP's generated types
// (~1.5 ms) came with the SDK's OTLP exporters; spans are encoded and sent
// over OTLP/HTTP by telemetry itself and Lambda metrics leave as EMF, so
// nothing needs them. The SDK's config package links the default
// credential chain's clients (STS, SSO, SSO OIDC, sign-in: ~2.5 ms of
// endpoint tables and schemas at init) and IMDS; a Lambda builds its
// configuration from its environment (awsfn/lambdaconfig) instead. The
// SQS client (~1 ms) only where the catalogue says the function publishes
// (its main imports awsfn/sqsbus, see publishers): consumers get their
// batches from the event source mapping. The Secrets Manager client
// (~0.9 ms) only where the function reads secrets (awsfn/smsecrets).
var initHeavy = map[string][]string{
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager":               append(secretReaders(), "paymentwebhook/lambdahybrid"),
	"github.com/aws/aws-sdk-go-v2/service/sqs":                          publishers(),
	"github.com/aws/aws-sdk-go-v2/config":                               nil,
	"github.com/aws/aws-sdk-go-v2/service/sts":                          nil,
	"github.com/aws/aws-sdk-go-v2/service/sso":                          nil,
	"github.com/aws/aws-sdk-go-v2/service/ssooidc":                      nil,
	"github.com/aws/aws-sdk-go-v2/service/signin":                       nil,
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds":                     nil,
	"github.com/prometheus/client_golang/prometheus":                    nil,
	"github.com/santhosh-tekuri/jsonschema/v6":                          nil,
	"google.golang.org/grpc":                                            {"paymentwebhook/lambdahybrid"}, // Firestore's and Pub/Sub's clients
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime":                 nil,
	"golang.org/x/net/http2":                                            {"paymentwebhook/lambdahybrid"},
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp":   nil,
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp": nil,
	"go.opentelemetry.io/proto/otlp/collector/trace/v1":                 nil,
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace":                 nil,
	"google.golang.org/protobuf/proto":                                  {"paymentwebhook/lambdahybrid"},
}

// TestLambdasLinkNoInitHeavyPackages lists each Lambda main's packages as
// Makefile.aws builds it and refuses a package of initHeavy in a function
// (or a function's main, "paymentwebhook/lambdahybrid") not allowed it.
func TestLambdasLinkNoInitHeavyPackages(t *testing.T) {
	t.Parallel()
	mains := mainDeps(t, lambdatest.RepoRoot(t))
	for _, rel := range slices.Sorted(maps.Keys(mains)) {
		fn, links := path.Base(path.Dir(rel)), mains[rel]
		for _, pkg := range links {
			if schemaSerde(pkg) {
				t.Errorf("%s links %s: %s", rel, pkg, schemaSerdeWhy)
			}
			allowed, heavy := initHeavy[pkg]
			if heavy && !slices.Contains(allowed, fn) && !slices.Contains(allowed, fn+"/"+path.Base(rel)) {
				t.Errorf("%s links %s, whose init every cold start pays", rel, pkg)
			}
		}
	}
}

// schemaSerde tells the packages of the AWS SDK's schema-based
// (de)serialization: a service module that enables it (dynamodb v1.69.0,
// secretsmanager v1.50.0, sqs v1.49.0 on) builds a schema for every shape
// of its API at package init, whether or not the function calls it.
func schemaSerde(pkg string) bool {
	return pkg == "github.com/aws/smithy-go/prelude" ||
		strings.HasPrefix(pkg, "github.com/aws/aws-sdk-go-v2/service/") && strings.HasSuffix(pkg, "/schemas")
}

const schemaSerdeWhy = "the SDK's schema-based (de)serialization, whose package init builds every " +
	"operation's schemas on each cold start (dynamodb's alone 2.7 ms and 587 KB, ~25% of authorizeplay's " +
	"package init); go.mod pins each service module a Lambda links to its last version without it " +
	"(docs/cold-start.md): name such a version in `go get`, not @latest"

// publishers are the functions the catalogue says publish.
func publishers() []string { return functionsWhere(publishes) }

// secretReaders are the functions the catalogue says read secrets.
func secretReaders() []string { return functionsWhere(readsSecrets) }

func publishes(f catalog.Function) bool { return len(f.Publishes) > 0 }

// readsSecrets: its own secrets, or the CDN signing key of any delivery.
func readsSecrets(f catalog.Function) bool { return len(f.Secrets) > 0 || f.SignsURLs }

func functionsWhere(keep func(catalog.Function) bool) []string {
	var out []string
	for _, f := range catalog.Functions {
		if keep(f) {
			out = append(out, f.Name)
		}
	}
	return out
}

// TestMainsLinkWhatTheirFunctionUses: a function that publishes has its
// Lambda main import awsfn/sqsbus (or awsfn.Env.Bus fails its build), and
// one that reads secrets imports awsfn/smsecrets (or a secret named by ARN
// fails its start); the others import neither, as the catalogue says.
func TestMainsLinkWhatTheirFunctionUses(t *testing.T) {
	t.Parallel()
	all := mainDeps(t, lambdatest.RepoRoot(t))
	for _, f := range catalog.Functions {
		deps, ok := all["functions/"+f.Name+"/lambda"]
		if !ok {
			t.Fatalf("%s has no Lambda main (functions/%s/lambda)", f.Name, f.Name)
		}
		for _, tc := range []struct {
			pkg  string
			uses func(catalog.Function) bool
		}{
			{pkg: lambdatest.Module + "/shared/awsfn/sqsbus", uses: publishes},
			{pkg: lambdatest.Module + "/shared/awsfn/smsecrets", uses: readsSecrets},
		} {
			if links, uses := slices.Contains(deps, tc.pkg), tc.uses(f); links != uses {
				t.Errorf("%s: the catalogue says it needs %s: %v; its Lambda main links it: %v", f.Name, tc.pkg, uses, links)
			}
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// mainDeps is, for every Lambda main (functions/*/lambda*, by its
// directory relative to the repository root, slash-separated), the
// packages it links as Makefile.aws builds it (its build tags,
// CGO_ENABLED=0, GOOS=linux), the main itself included, as `go list
// -deps` lists them. One go list serves both tests above, which ran one
// per main and one per function (14, each loading the package graph
// again).
func mainDeps(t *testing.T, root string) map[string][]string {
	t.Helper()
	listed.once.Do(func() {
		mains, err := filepath.Glob(filepath.Join(root, "functions", "*", "lambda*"))
		if err != nil || len(mains) == 0 {
			listed.err = fmt.Errorf("no Lambda mains under functions/: %v", err)
			return
		}
		args := append([]string{"list", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}"}, lambdatest.BuildFlags[:2]...) // the build tags
		for _, dir := range mains {
			args = append(args, "./"+filepath.ToSlash(must(filepath.Rel(root, dir))))
		}
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			listed.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
			return
		}
		listed.deps = map[string][]string{}
		for line := range strings.Lines(string(out)) {
			if f := strings.Fields(line); len(f) > 0 {
				rel, ok := strings.CutPrefix(f[0], lambdatest.Module+"/")
				if !ok {
					listed.err = fmt.Errorf("go list listed %s, outside %s", f[0], lambdatest.Module)
					return
				}
				listed.deps[rel] = f // the main, then what it imports
			}
		}
		if len(listed.deps) != len(mains) {
			listed.err = fmt.Errorf("go list listed %d packages for %d Lambda mains:\n%s", len(listed.deps), len(mains), out)
		}
	})
	if listed.err != nil {
		t.Fatal(listed.err)
	}
	return listed.deps
}

var listed struct {
	once sync.Once
	deps map[string][]string
	err  error
}
