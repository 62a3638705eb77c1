package source

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"go/parser"
	"go/token"
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
)

const repoRoot = "../../.."

func TestFilesAreTheDeployUnit(t *testing.T) {
	t.Parallel()
	files, err := Files(context.Background(), repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.Path
	}
	for _, want := range []string{"go.mod", "go.sum", "function.go", "functions/gcp/gcp.go", "functions/authorizeplay/authorizeplay.go",
		"shared/gcpfn/gcpfn.go", "shared/firestore/store.go", "shared/pubsub/cloudevent.go"} {
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
		case strings.HasPrefix(p, RootPackage+"/"):
			t.Errorf("directory %s/ would make the buildpack import the wrong package", RootPackage)
		}
	}

	// What the buildpack reads of the root package: its name and whether it
	// imports the framework's functions package (the declarative main).
	root, err := parser.ParseFile(token.NewFileSet(), "function.go", RootFile, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	var imports []string
	for _, imp := range root.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		imports = append(imports, p)
	}
	if root.Name.Name != RootPackage || !slices.Contains(imports, "github.com/GoogleCloudPlatform/functions-framework-go/functions") ||
		!slices.Contains(imports, Registrar) {
		t.Fatalf("root package %s imports %v", root.Name.Name, imports)
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
	if _, err := Files(context.Background(), dir); err == nil {
		t.Fatal("made a unit of another module")
	}
}

// TestUnitBuildsAndServesLikeCloudFunctions builds the unit as the Go
// buildpack does and starts it as Cloud Functions does: PORT and
// FUNCTION_TARGET, nothing else.
func TestUnitBuildsAndServesLikeCloudFunctions(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the deployed binary")
	}
	ctx := context.Background()
	files, err := Files(ctx, repoRoot)
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
		// Linking what the tests' build compiled (see CompileRace). What
		// this test checks, the unit's files and go.mod building offline
		// and the entry points starting, is the same with -race: the
		// module has no file that cgo selects or leaves out.
		compile = func() error { return CompileRace(ctx, dir, bin) }
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

	t.Run("an unknown entry point fails the start", func(t *testing.T) {
		cmd := exec.Command(bin)
		cmd.Env = []string{"PORT=" + freePort(t), "FUNCTION_TARGET=NoSuchFunction"}
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "NoSuchFunction") {
			t.Fatalf("started: %v %s", err, out)
		}
	})
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
