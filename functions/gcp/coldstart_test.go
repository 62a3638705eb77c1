package gcp

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/functions/gcp/source"
	"github.com/playplane/playplane/shared/auth"
)

// helloFunction is the floor: a Functions Framework hello, built and started
// the same way as the deploy unit.
const helloFunction = `package hellofn

import (
	"fmt"
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
)

func init() {
	functions.HTTP("Hello", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "Hello, World!") })
}
`

// firestoreHello is a second floor for the authenticated request: a hello
// that makes a Firestore client on its first request and runs one query,
// as the list of sessions does, and nothing else. Any other path answers
// 401 without making the client, as a unit answers a request without
// credentials: the floor of a binary that links the Firestore client
// (BenchmarkColdStartUnits).
const firestoreHello = `package firestorehello

import (
	"net/http"
	"os"
	"sync"

	"cloud.google.com/go/firestore"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"google.golang.org/api/iterator"
)

var (
	once   sync.Once
	client *firestore.Client
	err    error
)

func init() {
	functions.HTTP("FirestoreHello", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.Error(w, "no credentials", http.StatusUnauthorized)
			return
		}
		once.Do(func() { client, err = firestore.NewClient(r.Context(), os.Getenv("GOOGLE_CLOUD_PROJECT")) })
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		it := client.Collection("hello").Where("account_id", "==", "acct_nobody").Limit(1).Documents(r.Context())
		defer it.Stop()
		if _, err := it.Next(); err != nil && err != iterator.Done {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write([]byte("Hello, Firestore!\n"))
	})
}
`

// coldStartBinaries builds authorizeplay's deploy unit and the hellos
// beside it, as the Go buildpack would (stripped), and returns their paths.
func coldStartBinaries(b *testing.B) (hello, firestoreHelloBin, playplane string) {
	b.Helper()
	ctx := context.Background()
	files, err := source.Files(ctx, "../..", "authorizeplay")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := source.WriteTree(dir, files); err != nil {
		b.Fatal(err)
	}
	playplane = filepath.Join(dir, "bin", "playplane")
	if err := source.Compile(ctx, dir, playplane, true); err != nil {
		b.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"hellofn/hello.go":           []byte(helloFunction),
		"hellofn/app/main.go":        source.MainFor(source.Module + "/hellofn"),
		"firestorehello/hello.go":    []byte(firestoreHello),
		"firestorehello/app/main.go": source.MainFor(source.Module + "/firestorehello"),
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	hello, firestoreHelloBin = filepath.Join(dir, "bin", "hello"), filepath.Join(dir, "bin", "firestorehello")
	for bin, pkg := range map[string]string{hello: "./hellofn/app", firestoreHelloBin: "./firestorehello/app"} {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), source.OfflineEnv()...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("building %s: %v\n%s", pkg, err, out)
		}
	}
	return deployed(b, hello), deployed(b, firestoreHelloBin), deployed(b, playplane)
}

// deployed writes a copy of the binary at path beside it and returns the
// copy's path: a function starts from its image's layer, a file written
// as any other, not from the file the linker has just written, which
// started measurably slower for minutes on this machine (lambdatest's
// deploy, branch lambdacold: 1.40-1.55 against 1.23-1.28 times a copied
// hello for the same bytes).
func deployed(b *testing.B, path string) string {
	b.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	copied := path + "-deployed"
	if err := os.WriteFile(copied, data, 0o755); err != nil {
		b.Fatal(err)
	}
	return copied
}

// firstResponse starts bin with env and returns the time from the start to
// the first response to the request, and how long the same request takes
// once the process is warm; then it stops the process.
func firstResponse(b *testing.B, bin string, env []string, path, authorization string, wantStatus int) (first, warm time.Duration) {
	b.Helper()
	port, client := freePortClient(b)
	req, _ := http.NewRequest("GET", "http://127.0.0.1:"+port+path, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(env, "PORT="+port)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	for {
		resp, err := client.Do(req)
		if err == nil {
			first = time.Since(start)
			resp.Body.Close()
			if resp.StatusCode != wantStatus {
				b.Fatalf("%s %s: status %d, want %d", filepath.Base(bin), path, resp.StatusCode, wantStatus)
			}
			again := time.Now()
			if resp, err = client.Do(req); err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			return first, time.Since(again)
		}
		if time.Since(start) > 10*time.Second {
			b.Fatalf("%s did not answer within 10s: %v", filepath.Base(bin), err)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// freePortClient returns a free loopback port for the process to listen
// on and a client that opens a new connection for every request, as a
// cold start's first caller does.
func freePortClient(b *testing.B) (string, *http.Client) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	return port, &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func fileMB(b *testing.B, path string) float64 {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return float64(st.Size()) / (1 << 20)
}

// BenchmarkColdStart measures process start → first response of
// authorizeplay's deployed binary (FUNCTION_TARGET=AuthorizePlay) against a Functions
// Framework hello built the same way, interleaved in the same run: a 401
// (the function and its clients are built, no store call) and an
// authenticated list of sessions (one Firestore query on the emulator,
// also set against a hello that makes one Firestore query). The goal is at
// most 2× the hello. Run with -benchtime=Nx.
func BenchmarkColdStart(b *testing.B) {
	hello, fsHello, playplane := coldStartBinaries(b)
	env := newTestEnv(b)
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + b.TempDir()}
	helloEnv := append(slices.Clone(base), "FUNCTION_TARGET=Hello")
	fsHelloEnv := append(slices.Clone(base), "FUNCTION_TARGET=FirestoreHello", "FIRESTORE_EMULATOR_HOST="+env.firestore,
		"GOOGLE_CLOUD_PROJECT="+testProject)
	fnEnv := append(slices.Clone(base), "FUNCTION_TARGET=AuthorizePlay", "FIRESTORE_EMULATOR_HOST="+env.firestore)
	for k, v := range env.vars {
		fnEnv = append(fnEnv, k+"="+v)
	}
	tok, err := auth.MintHS256("k1", env.jwtKey, "test-issuer", "playplane", "acct_nobody", time.Hour, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	var helloT, fsHelloT, unauthT, listT, warmT []time.Duration
	b.ResetTimer()
	for b.Loop() {
		h, _ := firstResponse(b, hello, helloEnv, "/", "", 200)
		f, _ := firstResponse(b, fsHello, fsHelloEnv, "/", "", 200)
		u, _ := firstResponse(b, playplane, fnEnv, "/v1/sessions", "", 401)
		l, w := firstResponse(b, playplane, fnEnv, "/v1/sessions", "Bearer "+tok, 200)
		helloT, fsHelloT, unauthT = append(helloT, h), append(fsHelloT, f), append(unauthT, u)
		listT, warmT = append(listT, l), append(warmT, w)
	}
	b.StopTimer()
	h, f, u, l := median(helloT), median(fsHelloT), median(unauthT), median(listT)
	b.ReportMetric(float64(h.Microseconds())/1000, "hello-ms")
	b.ReportMetric(float64(u.Microseconds())/1000, "401-ms")
	b.ReportMetric(float64(l.Microseconds())/1000, "list-ms")
	// The list's own cost once warm: the emulator's query, not start-up.
	b.ReportMetric(float64(median(warmT).Microseconds())/1000, "warm-list-ms")
	b.ReportMetric(float64(u)/float64(h), "401/hello")
	b.ReportMetric(float64(l)/float64(h), "list/hello")
	b.ReportMetric(float64(f.Microseconds())/1000, "fs-hello-ms")
	b.ReportMetric(float64(l)/float64(f), "list/fs-hello")
	// The fastest starts: medians on a shared machine carry its queueing,
	// which falls hardest on the larger binary.
	b.ReportMetric(float64(slices.Min(unauthT))/float64(slices.Min(helloT)), "401/hello-min")
	b.ReportMetric(float64(slices.Min(listT))/float64(slices.Min(fsHelloT)), "list/fs-hello-min")
	b.ReportMetric(fileMB(b, hello), "hello-MB")
	b.ReportMetric(fileMB(b, playplane), "unit-MB")
}

// BenchmarkColdStartUnits measures every function's own deploy unit
// (make gcp-source) against the Functions Framework hello, started
// alternately in the same rounds: process start → the answer to a request
// of its first route without credentials (a 4xx: the function is built,
// its store and bus are not used), in wall time and in CPU time (user +
// system of the process to that answer and the kill right after it, which
// queueing for a core inflates less). Reported per function: the ratios of
// the medians to the hello's (goal ≤ 2) and of the fastest starts. The
// Firestore hello, asked the same request (a 401 before it makes its
// client), is started in the same rounds: x-fs-hello-cpu is the unit's
// median CPU over it, and fs-hello-x-hello-cpu its own over the hello's,
// the part of the ratio that linking the Firestore client alone costs.
func BenchmarkColdStartUnits(b *testing.B) {
	hello, fsHello, _ := coldStartBinaries(b)
	env := newTestEnv(b)
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + b.TempDir()}
	helloEnv := append(slices.Clone(base), "FUNCTION_TARGET=Hello")
	fsHelloEnv := append(slices.Clone(base), "FUNCTION_TARGET=FirestoreHello", "FIRESTORE_EMULATOR_HOST="+env.firestore,
		"GOOGLE_CLOUD_PROJECT="+testProject)
	ctx := context.Background()
	for _, f := range catalog.Functions {
		if f.GCPEntryPoint == "" || len(f.Routes) == 0 {
			continue
		}
		files, err := source.Files(ctx, "../..", f.Name)
		if err != nil {
			b.Fatal(err)
		}
		dir := b.TempDir()
		if err := source.WriteTree(dir, files); err != nil {
			b.Fatal(err)
		}
		unit := filepath.Join(dir, "bin", "playplane")
		if err := source.Compile(ctx, dir, unit, true); err != nil {
			b.Fatal(err)
		}
		unit = deployed(b, unit)
		fnEnv := append(slices.Clone(base), "FUNCTION_TARGET="+f.GCPEntryPoint,
			"FIRESTORE_EMULATOR_HOST="+env.firestore, "PUBSUB_EMULATOR_HOST="+env.pubsub)
		for k, v := range env.vars {
			fnEnv = append(fnEnv, k+"="+v)
		}
		route := f.Routes[0]
		path := strings.NewReplacer("{", "x", "}", "").Replace(route.Path)
		b.Run(f.Name, func(b *testing.B) {
			var helloT, helloCPU, fsCPU, fnT, fnCPU []time.Duration
			refused := func(s int) bool { return s >= 400 && s < 500 }
			for b.Loop() {
				w, c := startToAnswer(b, hello, helloEnv, "GET", "/", func(s int) bool { return s == 200 })
				helloT, helloCPU = append(helloT, w), append(helloCPU, c)
				_, c = startToAnswer(b, fsHello, fsHelloEnv, route.Method, path, refused)
				fsCPU = append(fsCPU, c)
				w, c = startToAnswer(b, unit, fnEnv, route.Method, path, refused)
				fnT, fnCPU = append(fnT, w), append(fnCPU, c)
			}
			b.ReportMetric(float64(median(helloCPU).Microseconds())/1000, "hello-cpu-ms")
			b.ReportMetric(float64(median(fnCPU))/float64(median(helloCPU)), "x-hello-cpu")
			b.ReportMetric(float64(median(fnCPU))/float64(median(fsCPU)), "x-fs-hello-cpu")
			b.ReportMetric(float64(median(fsCPU))/float64(median(helloCPU)), "fs-hello-x-hello-cpu")
			b.ReportMetric(float64(median(fnT))/float64(median(helloT)), "x-hello")
			b.ReportMetric(float64(slices.Min(fnT))/float64(slices.Min(helloT)), "x-hello-min")
			b.ReportMetric(fileMB(b, unit), "unit-MB")
		})
	}
}

// startToAnswer starts bin with env, sends method path (JSON "{}" for a
// body) until the process answers, checks the status, kills the process
// and returns the time to the answer and the process's CPU time.
func startToAnswer(b *testing.B, bin string, env []string, method, path string, ok func(status int) bool) (wall, cpu time.Duration) {
	b.Helper()
	port, client := freePortClient(b)
	cmd := exec.Command(bin)
	cmd.Env = append(env, "PORT="+port)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	for {
		req, _ := http.NewRequest(method, "http://127.0.0.1:"+port+path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err == nil {
			wall = time.Since(start)
			resp.Body.Close()
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if !ok(resp.StatusCode) {
				b.Fatalf("%s %s %s: status %d", filepath.Base(filepath.Dir(filepath.Dir(bin))), method, path, resp.StatusCode)
			}
			return wall, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		if time.Since(start) > 10*time.Second {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			b.Fatalf("%s did not answer within 10s: %v", bin, err)
		}
		time.Sleep(200 * time.Microsecond)
	}
}
