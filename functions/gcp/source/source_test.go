package source

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"go/format"
	"go/parser"
	"go/token"
	"maps"
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
)

const repoRoot = "../../.."

func TestFilesAreTheDeployUnit(t *testing.T) {
	t.Parallel()
	files, err := Files(context.Background(), repoRoot, "authorizeplay")
	if err != nil {
		t.Fatal(err)
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.Path
	}
	for _, want := range []string{"go.mod", "go.sum", "function.go", "functions/gcp/unit/unit.go", "functions/authorizeplay/authorizeplay.go",
		"shared/gcpfn/gcpfn.go", "shared/firestore/store.go", "shared/pubsub/push/push.go"} {
		if !slices.Contains(paths, want) {
			t.Errorf("the unit lacks %s", want)
		}
	}
	for _, p := range paths {
		switch {
		case strings.HasSuffix(p, "_test.go"):
			t.Errorf("the unit carries a test: %s", p)
		case strings.HasPrefix(p, "shared/bolt/"), strings.HasPrefix(p, "shared/dynamo/"), strings.HasPrefix(p, "shared/sqs/"),
			strings.HasPrefix(p, "cmd/"), strings.HasPrefix(p, "infra/"), strings.HasPrefix(p, "functions/gcp/source/"):
			t.Errorf("the unit carries %s, which the functions do not import", p)
		case strings.HasPrefix(p, "functions/registry/"), strings.HasPrefix(p, "functions/gcp/gcp"),
			strings.HasPrefix(p, "functions/") && !strings.HasPrefix(p, "functions/authorizeplay/") &&
				!strings.HasPrefix(p, "functions/catalog/") && !strings.HasPrefix(p, "functions/gcp/unit/"):
			t.Errorf("authorizeplay's unit carries %s, another function's code", p)
		case strings.HasPrefix(p, "shared/pubsub/") && !strings.HasPrefix(p, "shared/pubsub/push/"),
			strings.HasPrefix(p, "shared/gcpfn/pubsubbus/"):
			t.Errorf("authorizeplay's unit carries %s, the Pub/Sub bus; authorizeplay publishes nothing", p)
		case strings.HasPrefix(p, RootPackage+"/"):
			t.Errorf("directory %s/ would make the buildpack import the wrong package", RootPackage)
		}
	}
}

// What the buildpack reads of each unit's root package: its name and
// whether it imports the framework's functions package (the declarative
// main); and what makes it the unit of its function: it registers that
// function's Build. (TestUnitBuildsAndServesLikeCloudFunctions compiles
// one; functions/registry compiles the same Erase(Build) for each.)
func TestRootFileRegistersItsFunction(t *testing.T) {
	t.Parallel()
	for _, fn := range catalog.Functions {
		t.Run(fn.Name, func(t *testing.T) {
			t.Parallel()
			src, err := RootFile(fn)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := format.Source(src); err != nil || !bytes.Equal(again, src) {
				t.Errorf("root file is not gofmt'ed (%v):\n%s", err, src)
			}
			root, err := parser.ParseFile(token.NewFileSet(), "function.go", src, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			var imports []string
			for _, imp := range root.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				imports = append(imports, p)
			}
			if root.Name.Name != RootPackage || !slices.Contains(imports, "github.com/GoogleCloudPlatform/functions-framework-go/functions") ||
				!slices.Contains(imports, Registrar) || !slices.Contains(imports, FunctionPackage(fn.Name)) {
				t.Errorf("root package %s imports %v", root.Name.Name, imports)
			}
			bus := "nil"
			if len(fn.Publishes) > 0 {
				bus = "pubsubbus.Make"
			}
			if !bytes.Contains(src, []byte(strconv.Quote(fn.Name)+": fnenv.Erase(function.Build)}, "+bus+")")) {
				t.Errorf("root file does not register %s's Build with bus %s:\n%s", fn.Name, bus, src)
			}
			if slices.Contains(imports, BusMaker) != (len(fn.Publishes) > 0) {
				t.Errorf("root file imports %v; %s publishes %v", imports, fn.Name, fn.Publishes)
			}
		})
	}
}

// Each unit compiles with its own function only, and no package whose
// initialisation every cold start of the unit would pay for nothing
// (unitHeavy).
func TestUnitsLinkOnlyTheirFunction(t *testing.T) {
	t.Parallel()
	for _, fn := range catalog.Functions {
		t.Run(fn.Name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			files, err := Files(context.Background(), repoRoot, fn.Name)
			if err != nil {
				t.Fatal(err)
			}
			if err := WriteTree(dir, files); err != nil {
				t.Fatal(err)
			}
			// The unit's own tree resolves every package its root imports,
			// and the list is what the binary links.
			cmd := exec.Command("go", "list", "-deps", ".")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), OfflineEnv()...)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list in the unit: %v\n%s", err, stderr(err))
			}
			var linksOwn bool
			links := map[string]bool{}
			for pkg := range strings.FieldsSeq(string(out)) {
				linksOwn = linksOwn || pkg == FunctionPackage(fn.Name)
				for _, other := range catalog.Functions {
					if other.Name != fn.Name && (pkg == FunctionPackage(other.Name) || strings.HasPrefix(pkg, FunctionPackage(other.Name)+"/")) {
						t.Errorf("links %s", pkg)
					}
				}
				for _, h := range unitHeavy {
					if pkg == h.prefix || !h.exact && strings.HasPrefix(pkg, h.prefix+"/") {
						links[h.prefix] = true
					}
				}
			}
			if !linksOwn {
				t.Fatalf("does not link %s: the dependency list is not what this test thinks", FunctionPackage(fn.Name))
			}
			for _, h := range unitHeavy {
				if want := h.needs != nil && h.needs(fn); links[h.prefix] && !want {
					t.Errorf("links %s, which it does not need: %s", h.prefix, h.why)
				} else if h.needs != nil && want && !links[h.prefix] {
					t.Errorf("does not link %s: the dependency list is not what this test thinks (%s)", h.prefix, h.why)
				}
			}
		})
	}
}

// unitHeavy are packages (and the packages below them, unless exact) whose
// initialisation costs a share of every cold start (GODEBUG=inittrace=1 on
// a unit), linked only by the units of the functions needs names (none when
// nil).
var unitHeavy = []struct {
	prefix string
	exact  bool
	needs  func(catalog.Function) bool
	why    string
}{
	{prefix: "github.com/santhosh-tekuri/jsonschema", why: "its init compiles every draft's metaschema; catalogfile " +
		"validates with its own interpreter of the schema, admin's records included"},
	{prefix: "cloud.google.com/go/pubsub/v2/apiv1", needs: publishes, why: "the generated Pub/Sub clients, for functions that publish (shared/pubsub)"},
	{prefix: "cloud.google.com/go/pubsub/v2", exact: true, why: "the high-level Pub/Sub client links OpenCensus; units publish " +
		"with the generated clients (shared/pubsub) and receive by push, its streaming pull is shared/pubsub/pull's"},
	{prefix: "go.opencensus.io", why: "came with the high-level Pub/Sub client only: OpenCensus's resource package compiles " +
		"a bounded-repetition regexp at init, 3.0-4.0 ms of a unit's ~11-17 ms package init"},
	{prefix: "github.com/aws/aws-sdk-go-v2/service", why: "AWS service clients: endpoint tables and schemas at init"},
	{prefix: "github.com/aws/aws-sdk-go-v2/config", why: "the AWS default credential chain's clients"},
	{prefix: "github.com/prometheus/client_golang", why: "the Prometheus client serves the local runner's scrape only"},
	{prefix: "go.opentelemetry.io/otel/exporters/otlp/otlptrace", why: "spans leave through telemetry's own OTLP/HTTP exporter"},
	{prefix: "go.opentelemetry.io/proto/otlp/collector/trace", why: "spans leave through telemetry's own OTLP/HTTP exporter"},
	{prefix: "cloud.google.com/go/secretmanager", why: "secrets arrive as Secret Manager bindings of environment variables"},
	{prefix: "cloud.google.com/go/storage", why: "no function reads Cloud Storage"},
	{prefix: "github.com/GoogleCloudPlatform/opentelemetry-operations-go", why: "Google's deprecated Cloud Monitoring exporter; " +
		"metrics reach Cloud Monitoring over OTLP through the Telemetry API (shared/telemetry/googlecloud)"},
	{prefix: "cloud.google.com/go/monitoring", why: "the generated Monitoring client: monitoringpb's init was ~0.76 ms of every " +
		"unit's start; metrics reach Cloud Monitoring over OTLP through the Telemetry API (shared/telemetry/googlecloud)"},
}

func publishes(f catalog.Function) bool { return len(f.Publishes) > 0 }

func TestFilesRefusesAnUnknownFunction(t *testing.T) {
	t.Parallel()
	if _, err := Files(context.Background(), repoRoot, "nosuchfunction"); err == nil {
		t.Fatal("made a unit of a function the catalogue does not deploy")
	}
}

func TestZipIsReproducible(t *testing.T) {
	t.Parallel()
	files := []File{{Path: "go.mod", Data: []byte("module " + Module + "\n")}, {Path: "a/b.go", Data: []byte("package a\n")}}
	var one, two bytes.Buffer
	if err := WriteZip(&one, files); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if err := WriteZip(&two, files); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(one.Bytes(), two.Bytes()) {
		t.Fatal("the same files made different archives: every build would redeploy")
	}
	zr, err := zip.NewReader(bytes.NewReader(one.Bytes()), int64(one.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v; the buildpack needs go.mod writable", f.Name, f.Mode())
		}
	}
}

func TestFilesRefusesAnotherModule(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/other\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Files(context.Background(), dir, "authorizeplay"); err == nil {
		t.Fatal("made a unit of another module")
	}
}

// TestUnitBuildsAndServesLikeCloudFunctions builds authorizeplay's unit as
// the Go buildpack does and starts it as Cloud Functions does: PORT and
// FUNCTION_TARGET, nothing else.
func TestUnitBuildsAndServesLikeCloudFunctions(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the deployed binary")
	}
	ctx := context.Background()
	files, err := Files(ctx, repoRoot, "authorizeplay")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteTree(dir, files); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "server")
	compile := func() error { return Compile(ctx, dir, bin, true) }
	if raceBuild {
		// Linking what the tests' build compiled, this module's packages
		// included (see CompileRace: the unit's tree, seen at the
		// repository's paths through an overlay). What this test checks,
		// the unit's files and go.mod building offline and the entry
		// points starting, is the same with -race: the module has no file
		// that cgo selects or leaves out.
		compile = func() error { return CompileRace(ctx, repoRoot, dir, bin) }
	}
	if err := compile(); err != nil {
		t.Fatal(err)
	}

	t.Run("an entry point starts with no configuration and reports it per request", func(t *testing.T) {
		addr := freePort(t)
		cmd := exec.Command(bin)
		cmd.Env = []string{"PORT=" + addr, "FUNCTION_TARGET=AuthorizePlay", "HOME=" + t.TempDir()}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		resp := getWhenUp(t, "http://127.0.0.1:"+addr+"/v1/sessions")
		defer resp.Body.Close()
		var body struct {
			Error struct{ Code, Reason string } `json:"error"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 500 || body.Error.Reason != "function_unavailable" {
			t.Fatalf("got %d %+v, want a typed 500 function_unavailable", resp.StatusCode, body)
		}
	})

	t.Run("the function's consumer is an entry point too", func(t *testing.T) {
		addr := freePort(t)
		cmd := exec.Command(bin)
		cmd.Env = []string{"PORT=" + addr, "FUNCTION_TARGET=AuthorizePlayConsumer", "HOME=" + t.TempDir()}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		resp := getWhenUp(t, "http://127.0.0.1:"+addr+"/")
		resp.Body.Close()
	})

	// Another function's entry point, or none at all: the unit holds
	// authorizeplay only.
	for _, target := range []string{"Admin", "NoSuchFunction"} {
		t.Run(target+" fails the start", func(t *testing.T) {
			cmd := exec.Command(bin)
			cmd.Env = []string{"PORT=" + freePort(t), "FUNCTION_TARGET=" + target}
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), target) {
				t.Fatalf("started: %v %s", err, out)
			}
		})
	}
}

func stderr(err error) []byte {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.Stderr
	}
	return nil
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func getWhenUp(t *testing.T, url string) *http.Response {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			return resp
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestUnitOverlayShowsTheUnitOnly: through the overlay, the repository
// holds exactly the unit's files. A file of the repository's module the
// unit lacks is deleted (so a unit missing one fails to build, as it
// would in Cloud Build), a file the unit has with other contents or that
// the repository lacks is the unit's, a file both have alike is left as
// it is (so its package keeps its cache key), and neither .git nor a
// nested module is touched.
func TestUnitOverlayShowsTheUnitOnly(t *testing.T) {
	t.Parallel()
	root, unit := t.TempDir(), t.TempDir()
	writeTree(t, root, map[string]string{"go.mod": "module m\n", "go.sum": "a\nb\n", "a/a.go": "package a\n", "a/extra.go": "package a\n",
		"a/a_test.go": "package a\n", "a/data.json": "{}", "b/b.go": "package b\n", "README.md": "",
		".git/HEAD": "ref", "nested/go.mod": "module n\n", "nested/n.go": "package n\n"})
	writeTree(t, unit, map[string]string{"go.mod": "module m\n", "go.sum": "a\n", "a/a.go": "package a\n", "function.go": "package m\n",
		"functions.local/app/main.go": "package main\n", ".overlay.json": "{}"})
	got, err := UnitOverlay(root, unit)
	if err != nil {
		t.Fatal(err)
	}
	at := func(dir, name string) string { return filepath.Join(dir, filepath.FromSlash(name)) }
	want := map[string]string{
		at(root, "go.sum"): at(unit, "go.sum"), at(root, "function.go"): at(unit, "function.go"),
		at(root, "functions.local/app/main.go"): at(unit, "functions.local/app/main.go"),
		at(root, "a/extra.go"):                  "", at(root, "a/a_test.go"): "", at(root, "a/data.json"): "",
		at(root, "b/b.go"): "", at(root, "README.md"): "",
	}
	if !maps.Equal(got, want) {
		t.Errorf("overlay:\n%v\nwant:\n%v", got, want)
	}
}

// TestUnitOverlayBuildSeesNothingElse builds through UnitOverlay, as
// CompileRace does: a unit lacking a file its package needs fails to
// build although the repository has the file, and the files the unit's
// package embeds are the unit's only (the repository's extra embedded
// file, whether plain, under testdata or hidden, is not seen).
func TestUnitOverlayBuildSeesNothingElse(t *testing.T) {
	t.Parallel()
	root, unit := t.TempDir(), t.TempDir()
	const mod = "module m\n\ngo 1.22\n"
	const main = "package main\n\nimport (\n\t\"embed\"\n\t\"fmt\"\n\t\"io/fs\"\n)\n\n" +
		"//go:embed all:static\nvar static embed.FS\n\n" +
		"func main() {\n\t_ = fs.WalkDir(static, \".\", func(p string, d fs.DirEntry, err error) error {\n" +
		"\t\tif err == nil && !d.IsDir() {\n\t\t\tfmt.Println(p)\n\t\t}\n\t\treturn err\n\t})\n\tfmt.Println(helper())\n}\n"
	writeTree(t, root, map[string]string{"go.mod": mod, "app/main.go": main, "app/helper.go": "package main\n\nfunc helper() string { return \"root\" }\n",
		"app/static/a.txt": "a", "app/static/b.txt": "b", "app/static/testdata/t.txt": "t", "app/static/.hidden": "h"})
	build := func(unitFiles map[string]string) (string, error) {
		t.Helper()
		dir := filepath.Join(unit, strconv.Itoa(len(unitFiles)))
		writeTree(t, dir, unitFiles)
		replace, err := UnitOverlay(root, dir)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(map[string]any{"Replace": replace})
		if err != nil {
			t.Fatal(err)
		}
		overlay := filepath.Join(t.TempDir(), "overlay.json")
		if err := os.WriteFile(overlay, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(t.TempDir(), "app")
		// With the test binary's own flags, so the standard library links
		// from the build that made it instead of compiling again.
		args, env := []string{"build"}, offline()
		if raceBuild {
			args, env = append(args, "-race", "-ldflags=-s -w"), append(env, "CGO_ENABLED=1")
		}
		cmd := exec.Command("go", append(args, "-overlay="+overlay, "-o", bin, "./app")...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return string(out), err
		}
		out, err := exec.Command(bin).Output()
		if err != nil {
			t.Fatal(err)
		}
		return string(out), nil
	}
	if out, err := build(map[string]string{"go.mod": mod, "app/main.go": main, "app/static/a.txt": "a"}); err == nil {
		t.Errorf("a unit without app/helper.go built, printing %q", out)
	}
	out, err := build(map[string]string{"go.mod": mod, "app/main.go": main, "app/static/a.txt": "unit's a",
		"app/helper.go": "package main\n\nfunc helper() string { return \"unit\" }\n"})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if want := "static/a.txt\nunit\n"; out != want {
		t.Errorf("the unit's build printed %q, want %q: files outside the unit reached it", out, want)
	}
}

// writeTree writes files (slash-separated paths relative to dir, with
// their contents) under dir, making the directories they need.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
