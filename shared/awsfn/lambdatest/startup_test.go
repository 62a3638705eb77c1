package lambdatest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/playplane/playplane/shared/awsfn"
	"github.com/playplane/playplane/shared/awsfn/lambdatest"
	"github.com/playplane/playplane/shared/awssecrets/fakesm"
)

// bootstrap is one built Lambda binary and how to start it.
type bootstrap struct {
	name  string // function directory, or "hello"
	path  string
	size  int64
	env   []string
	event []byte // an HTTP API event of one of its routes, without credentials
	// deployed is the environment template.yaml gives the Lambda: the
	// <NAME>_SECRET_ARN variables of the secrets it reads.
	deployed map[string]string
}

// trap is a loopback listener standing in for DynamoDB and SQS: it counts
// the connections a starting function opens. There must be none.
type trap struct {
	addr  string
	conns atomic.Int64
}

func newTrap(tb testing.TB) *trap {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tr := &trap{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tr.conns.Add(1)
			c.Close()
		}
	}()
	tb.Cleanup(func() { ln.Close() })
	return tr
}

// lambdaEnv is what Lambda sets in every execution environment (without
// AWS_CA_BUNDLE, which makes loading the SDK configuration ~30× slower).
func lambdaEnv(name string) []string {
	return []string{
		"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=ASIAEXAMPLE", "AWS_SECRET_ACCESS_KEY=example", "AWS_SESSION_TOKEN=example",
		"AWS_LAMBDA_FUNCTION_NAME=" + name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + name, "AWS_LAMBDA_LOG_STREAM_NAME=2026/11/23/[$LATEST]0",
		"LAMBDA_TASK_ROOT=/var/task", "TZ=:UTC", "LANG=en_US.UTF-8",
	}
}

func routeEvent(tb testing.TB, r lambdatest.Route) []byte {
	tb.Helper()
	path := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(r.Path, "ses_startup")
	ev := lambdaevents.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: r.Key(), RawPath: path,
		Headers: map[string]string{"content-type": "application/json", "host": "api.example.com"},
		RequestContext: lambdaevents.APIGatewayV2HTTPRequestContext{RequestID: "startup-req", Stage: "$default",
			HTTP: lambdaevents.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.Method, Path: path, Protocol: "HTTP/1.1", SourceIP: "203.0.113.7"}},
	}
	if r.Method == "POST" {
		ev.Body = "{}"
	}
	b, err := json.Marshal(ev)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// buildBootstraps builds the hello floor and the binary of every HTTP
// Lambda of the template for this machine, with the tags and linker flags
// of Makefile.aws: exactly as it ships when shipped is set (cold starts are
// measured on those), else as lambdatest.BuildHere builds (-race under
// `make test`, linking the packages the tests' build compiled).
func buildBootstraps(tb testing.TB, tr *trap, shipped bool) (hello bootstrap, fns []bootstrap) {
	tb.Helper()
	root := lambdatest.RepoRoot(tb)
	dir := tb.TempDir()
	compile := lambdatest.BuildHere
	if shipped {
		compile = func(ctx context.Context, dir, pkg, out string) error {
			return lambdatest.Build(ctx, dir, pkg, out, runtime.GOARCH)
		}
	}
	build := func(name, pkg string) bootstrap {
		linked := filepath.Join(dir, name, "linked")
		if err := compile(context.Background(), root, pkg, linked); err != nil {
			tb.Fatal(err)
		}
		out := deploy(tb, linked, filepath.Join(dir, name, "bootstrap"))
		if err := os.Remove(linked); err != nil {
			tb.Fatal(err)
		}
		fi, err := os.Stat(out)
		if err != nil {
			tb.Fatal(err)
		}
		return bootstrap{name: name, path: out, size: fi.Size(), env: lambdaEnv(name)}
	}
	hello = build("hello", "./shared/awsfn/lambdatest/testdata/hello")
	hello.event = routeEvent(tb, lambdatest.Route{Method: "GET", Path: "/v1/hello"})

	tm := lambdatest.LoadTemplate(tb)
	fnsByID := tm.Functions()
	for _, id := range slices.Sorted(maps.Keys(fnsByID)) {
		// The HTTP Lambda of each function: its queue and job Lambdas run
		// the same binary and start the same way.
		if trigger, _ := tm.TriggerOf(id); trigger != awsfn.TriggerHTTP {
			continue
		}
		codeURI := filepath.ToSlash(filepath.Clean(*fnsByID[id].CodeUri))
		b := build(strings.Split(codeURI, "/")[1], "./"+codeURI)
		for name, value := range lambdatest.SampleVars(tb, id) {
			if strings.HasPrefix(value, "<") {
				value = devSecret(tb, name)
			}
			b.env = append(b.env, name+"="+value)
		}
		b.env = append(b.env, "DYNAMODB_ENDPOINT=http://"+tr.addr, "SQS_ENDPOINT=http://"+tr.addr)
		b.event = routeEvent(tb, tm.Routes(id)[0])
		b.deployed = tm.Env(id)
		fns = append(fns, b)
	}
	return hello, fns
}

// deploy writes the bytes of the bootstrap src into a new file dst, as
// extracting the deployment package does on Lambda, and returns dst. The
// Go linker writes its output through a memory mapping, and for minutes
// after that a start of the file costs more in the kernel than a start of
// the same bytes written with write(2): authorizeplay's bootstrap took
// 1.50 and 1.55 x hello's median CPU from the just-linked file against
// 1.28 from its copy (two runs of 30 alternating rounds; 1.40 and 1.44
// against 1.23 and 1.27 in two earlier ones), and 1.41 against 1.39 nine
// minutes after linking. The benchmarks start what they have just built,
// so they measured that state, which no Lambda has and which costs the
// larger binaries the most.
func deploy(tb testing.TB, src, dst string) string {
	tb.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dst
}

// devSecret stands in for a secret events/aws/env.json leaves for the
// developer to fill in.
func devSecret(tb testing.TB, name string) string {
	tb.Helper()
	if name != "CLOUDFRONT_PRIVATE_KEY" {
		tb.Fatalf("events/aws/env.json leaves %s to fill in; the test has no stand-in for it", name)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func startOnce(tb testing.TB, b bootstrap) (time.Duration, lambdaevents.APIGatewayV2HTTPResponse) {
	tb.Helper()
	start, resp := startMeasured(tb, b)
	return start.Elapsed, resp
}

// startMeasured is startOnce with the start's CPU time too.
func startMeasured(tb testing.TB, b bootstrap) (lambdatest.Start, lambdaevents.APIGatewayV2HTTPResponse) {
	tb.Helper()
	start, err := lambdatest.StartOnce(b.path, b.env, b.event, 30*time.Second)
	if err != nil {
		tb.Fatalf("%s: %v\n%s", b.name, err, start.Output)
	}
	var resp lambdaevents.APIGatewayV2HTTPResponse
	if start.Invocation.Error || json.Unmarshal(start.Invocation.Response, &resp) != nil {
		tb.Fatalf("%s answered %s\n%s", b.name, start.Invocation.Response, start.Output)
	}
	return start, resp
}

// TestBootstrapsStartWithoutNetwork runs every function's bootstrap against
// the emulated runtime API, with DynamoDB and SQS pointed at a trap: the
// first request (one the function answers without its store) gets a typed
// 4xx, and nothing was dialled on the way.
func TestBootstrapsStartWithoutNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts every bootstrap")
	}
	t.Parallel()
	tr := newTrap(t)
	hello, fns := buildBootstraps(t, tr, false)
	elapsed, resp := startOnce(t, hello)
	if resp.StatusCode != 200 || resp.Body != "hello" {
		t.Fatalf("hello answered %+v", resp)
	}
	t.Logf("%-15s %9d bytes  first response after %v", hello.name, hello.size, elapsed)
	for _, b := range fns {
		elapsed, resp := startOnce(t, b)
		if resp.StatusCode < 400 || resp.StatusCode >= 500 || resp.Headers["Content-Type"] != "application/json" ||
			!strings.Contains(resp.Body, `"code"`) {
			t.Errorf("%s: first response %d %s, want a typed 4xx", b.name, resp.StatusCode, resp.Body)
		}
		t.Logf("%-15s %9d bytes  first response after %v (%d)", b.name, b.size, elapsed, resp.StatusCode)
	}
	if n := tr.conns.Load(); n != 0 {
		t.Errorf("starting the functions opened %d connections to DynamoDB or SQS", n)
	}

	// Deployed, a function gets its secrets' ARNs (template.yaml) and reads
	// the values from Secrets Manager on the first invocation: the same
	// binaries, given <NAME>_SECRET_ARN instead of the values where the
	// template names the secret, answer the same way, reading each secret
	// once.
	sm := fakesm.New(t)
	wantCalls := 0
	for _, b := range fns {
		var env []string
		for _, kv := range b.env {
			name, value, _ := strings.Cut(kv, "=")
			if strings.HasSuffix(name, "_SECRET_ARN") {
				// env.json blanks them for sam local; here they name the secrets.
				continue
			}
			if ref, ok := awsfn.SecretARNs[name]; ok && hasKey(b.deployed, ref) {
				arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + b.name + "/" + name + "-AbC123"
				sm.Put(arn, value)
				kv = ref + "=" + arn
				wantCalls++
			}
			env = append(env, kv)
		}
		b.env = append(env, "SECRETSMANAGER_ENDPOINT="+sm.URL)
		elapsed, resp := startOnce(t, b)
		if resp.StatusCode < 400 || resp.StatusCode >= 500 || !strings.Contains(resp.Body, `"code"`) {
			t.Errorf("%s with secret ARNs: first response %d %s, want a typed 4xx", b.name, resp.StatusCode, resp.Body)
		}
		t.Logf("%-15s secrets by ARN, first response after %v (%d)", b.name, elapsed, resp.StatusCode)
	}
	if wantCalls == 0 || sm.Calls() != int64(wantCalls) {
		t.Errorf("%d Secrets Manager calls for %d secrets, want one each", sm.Calls(), wantCalls)
	}
	if n := tr.conns.Load(); n != 0 {
		t.Errorf("starting the functions opened %d connections to DynamoDB or SQS", n)
	}
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkColdStart measures process start → first response of each
// function's stripped bootstrap against the hello floor, starting the two
// alternately so that both see the same machine load. Reported: medians
// (ms), their ratio (goal ≤ 1.5), the ratio of the fastest starts, the
// ratio of the median CPU times (user + system, which queueing for a core
// inflates less than wall time) and the stripped sizes.
func BenchmarkColdStart(b *testing.B) {
	tr := newTrap(b)
	hello, fns := buildBootstraps(b, tr, true)
	for _, fn := range fns {
		b.Run(fn.name, func(b *testing.B) {
			var floor, took, floorCPU, tookCPU []time.Duration
			for b.Loop() {
				s, _ := startMeasured(b, hello)
				floor, floorCPU = append(floor, s.Elapsed), append(floorCPU, s.CPU)
				s, _ = startMeasured(b, fn)
				took, tookCPU = append(took, s.Elapsed), append(tookCPU, s.CPU)
			}
			f, m := median(floor), median(took)
			b.ReportMetric(float64(m)/float64(time.Millisecond), "ms/start")
			b.ReportMetric(float64(f)/float64(time.Millisecond), "hello-ms/start")
			b.ReportMetric(float64(m)/float64(f), "x-hello")
			// The fastest start of each: on a machine shared with other
			// load the medians carry its queueing, which falls hardest on
			// the larger binary; the minima are the closest to a quiet one.
			b.ReportMetric(float64(slices.Min(took))/float64(slices.Min(floor)), "x-hello-min")
			b.ReportMetric(float64(median(tookCPU))/float64(median(floorCPU)), "x-hello-cpu")
			b.ReportMetric(float64(fn.size)/(1<<20), "MiB")
			b.ReportMetric(float64(hello.size)/(1<<20), "hello-MiB")
		})
	}
	if n := tr.conns.Load(); n != 0 {
		b.Errorf("starting the functions opened %d connections to DynamoDB or SQS", n)
	}
}

// BenchmarkColdStartBeside is BenchmarkColdStart with a second build of
// each function started in the same rounds: LAMBDATEST_BEFORE names a
// directory of bootstraps built the same way from another commit, one file
// per function directory (authorizeplay, ...), so that a change is
// measured before and after under the same load. Reported with a before-
// prefix for the other build.
func BenchmarkColdStartBeside(b *testing.B) {
	dir := os.Getenv("LAMBDATEST_BEFORE")
	if dir == "" {
		b.Skip("LAMBDATEST_BEFORE names no directory of bootstraps to compare with")
	}
	tr := newTrap(b)
	hello, fns := buildBootstraps(b, tr, true)
	for _, fn := range fns {
		before := fn
		// Written anew like the others, whichever way the file there was.
		before.path = deploy(b, filepath.Join(dir, fn.name), filepath.Join(b.TempDir(), fn.name, "bootstrap"))
		fi, err := os.Stat(before.path)
		if err != nil {
			b.Fatal(err)
		}
		before.size = fi.Size()
		b.Run(fn.name, func(b *testing.B) {
			var floor, took, was []lambdatest.Start
			for b.Loop() {
				s, _ := startMeasured(b, hello)
				floor = append(floor, s)
				s, _ = startMeasured(b, before)
				was = append(was, s)
				s, _ = startMeasured(b, fn)
				took = append(took, s)
			}
			cpu := func(ss []lambdatest.Start) time.Duration {
				ds := make([]time.Duration, len(ss))
				for i, s := range ss {
					ds[i] = s.CPU
				}
				return median(ds)
			}
			fastest := func(ss []lambdatest.Start) time.Duration {
				return slices.MinFunc(ss, func(a, b lambdatest.Start) int { return int(a.Elapsed - b.Elapsed) }).Elapsed
			}
			b.ReportMetric(float64(cpu(floor))/float64(time.Millisecond), "hello-cpu-ms")
			b.ReportMetric(float64(cpu(took))/float64(cpu(floor)), "x-hello-cpu")
			b.ReportMetric(float64(cpu(was))/float64(cpu(floor)), "before-x-hello-cpu")
			b.ReportMetric(float64(fastest(took))/float64(fastest(floor)), "x-hello-min")
			b.ReportMetric(float64(fastest(was))/float64(fastest(floor)), "before-x-hello-min")
			b.ReportMetric(float64(fn.size)/(1<<20), "MiB")
			b.ReportMetric(float64(before.size)/(1<<20), "before-MiB")
		})
	}
}
