package lambdatest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/playplane/playplane/shared/awsfn/lambdatest"
)

// typeCheck type-checks the main packages pkgs (import paths or ./dirs
// relative to dir) and every package they import, from source, with the
// files `go build` would compile for linux/goarch with CGO_ENABLED=0 and
// lambdatest.BuildFlags' tags, as lambdatest.Build builds them: go list selects the files (build
// constraints, GOARCH- and cgo-dependent files, the lambda.norpc tag) and
// go/types checks them with goarch's sizes. It also reports what the
// compiler itself refuses before code generation: a function without a
// body in a non-standard package without assembly.
//
// It costs a fraction of lambdatest.Build's cold compile: no code generation, no
// second standard library in the build cache, no link. What only Build
// catches is what comes after type checking (code generation and the
// linker: a missing symbol behind a go:linkname or in assembly); the
// packages a bootstrap links are the ones the amd64 bootstraps link too
// (lambdatest.BuildHere), with the same tags. It lives in this test
// package so that go/types is compiled into this test binary alone.
func typeCheck(ctx context.Context, dir, goarch string, pkgs ...string) error {
	tags, err := buildTags(lambdatest.BuildFlags)
	if err != nil {
		return err
	}
	args := append([]string{"list", "-deps", "-e",
		"-json=ImportPath,Name,Dir,GoFiles,SFiles,Imports,ImportMap,Standard,Module,Error,DepsErrors"},
		"-tags="+tags)
	args = append(args, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	type listed struct {
		ImportPath, Name, Dir string
		GoFiles, SFiles       []string
		Imports               []string // as resolved (vendored paths)
		ImportMap             map[string]string
		Standard              bool
		Module                *struct{ GoVersion string }
		Error                 *struct{ Err string }
		DepsErrors            []*struct{ Err string }
	}
	var list []*listed
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		p := new(listed)
		if err := dec.Decode(p); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("go list output: %w", err)
		}
		if p.Error != nil {
			return fmt.Errorf("%s: %s", p.ImportPath, p.Error.Err)
		}
		for _, e := range p.DepsErrors {
			return fmt.Errorf("%s: %s", p.ImportPath, e.Err)
		}
		list = append(list, p)
	}

	// go list -deps lists every package after its dependencies; each is
	// checked once all of its imports are, on as many goroutines as CPUs.
	type result struct {
		pkg *types.Package
		err error
		// depFailed: an import failed; the error is reported there.
		depFailed bool
		done      chan struct{}
	}
	results := make(map[string]*result, len(list))
	for _, p := range list {
		results[p.ImportPath] = &result{done: make(chan struct{})}
	}
	sizes := types.SizesFor("gc", goarch)
	if sizes == nil {
		return fmt.Errorf("no sizes for GOARCH %s", goarch)
	}
	fset := token.NewFileSet()
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for _, p := range list {
		r := results[p.ImportPath]
		wg.Go(func() {
			defer close(r.done)
			imports := func(path string) (*types.Package, error) {
				if path == "unsafe" {
					return types.Unsafe, nil
				}
				if mapped, ok := p.ImportMap[path]; ok {
					path = mapped
				}
				dep, ok := results[path]
				if !ok {
					return nil, fmt.Errorf("%s imports %s, which go list did not list", p.ImportPath, path)
				}
				<-dep.done
				if dep.err != nil || dep.depFailed {
					r.depFailed = true
					return nil, fmt.Errorf("dependency %s does not type-check", path)
				}
				return dep.pkg, nil
			}
			// Wait for the imports before taking a CPU slot and parsing:
			// only the packages being checked hold their syntax trees.
			for _, path := range p.Imports {
				if dep, ok := results[path]; ok {
					<-dep.done
				}
			}
			sem <- struct{}{}
			defer func() { <-sem }()
			files, err := parseFiles(fset, p.Dir, p.GoFiles, !p.Standard)
			if err != nil {
				r.err = err
				return
			}
			conf := types.Config{
				Importer: importerFunc(imports),
				Sizes:    sizes,
				// The standard library's function bodies compile for every
				// port the toolchain ships: its declarations (the API, with
				// goarch's files and sizes) are what the packages above it
				// are checked against. Its bodies were most of this check's
				// CPU under -race.
				IgnoreFuncBodies: p.Standard,
			}
			if p.Module != nil && p.Module.GoVersion != "" {
				conf.GoVersion = "go" + p.Module.GoVersion
			}
			var errs []error
			conf.Error = func(err error) {
				if len(errs) < 10 {
					errs = append(errs, err)
				}
			}
			pkg, _ := conf.Check(p.ImportPath, fset, files, nil)
			// The standard library's bodyless functions are its own
			// business (the runtime provides them).
			if !p.Standard && len(p.SFiles) == 0 {
				errs = append(errs, missingBodies(fset, files)...)
			}
			if r.depFailed {
				return
			}
			if len(errs) > 0 {
				r.err = fmt.Errorf("%s for linux/%s: %w", p.ImportPath, goarch, errors.Join(errs...))
				return
			}
			r.pkg = pkg
		})
	}
	wg.Wait()
	var errs []error
	for _, p := range list {
		// Where a failure starts, not every importer of it.
		if err := results[p.ImportPath].err; err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// buildTags is the -tags value of flags (go build's flags), found by name
// rather than position: a reordered BuildFlags must not leave the check
// selecting the files of another configuration. Flags naming no tag are an
// error: the shipped build sets lambda.norpc.
func buildTags(flags []string) (string, error) {
	for i, f := range flags {
		switch {
		case f == "-tags" || f == "--tags":
			if i+1 < len(flags) {
				return flags[i+1], nil
			}
		case strings.HasPrefix(f, "-tags="), strings.HasPrefix(f, "--tags="):
			_, v, _ := strings.Cut(f, "=")
			return v, nil
		}
	}
	return "", fmt.Errorf("no -tags in the build flags %q", flags)
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }

// parseFiles parses names in dir, with their comments when comments is set
// (missingBodies reads the go:linkname directives).
func parseFiles(fset *token.FileSet, dir string, names []string, comments bool) ([]*ast.File, error) {
	mode := parser.SkipObjectResolution
	if comments {
		mode |= parser.ParseComments
	}
	files := make([]*ast.File, 0, len(names))
	for _, name := range names {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, mode)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// missingBodies is the compiler's "missing function body" for a package
// compiled without assembly (-complete): a function declared without a
// body must be pulled in by a go:linkname directive.
func missingBodies(fset *token.FileSet, files []*ast.File) []error {
	var errs []error
	for _, f := range files {
		linknamed := map[string]bool{}
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				if fields := strings.Fields(c.Text); len(fields) >= 2 && fields[0] == "//go:linkname" {
					linknamed[fields[1]] = true
				}
			}
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body == nil && !linknamed[fd.Name.Name] {
				errs = append(errs, fmt.Errorf("%s: missing function body", fset.Position(fd.Pos())))
			}
		}
	}
	return errs
}

func TestBuildTags(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		flags []string
		want  string // "" for an error
	}{
		{name: "BuildFlags", flags: lambdatest.BuildFlags, want: "lambda.norpc"},
		{name: "after other flags", flags: []string{"-trimpath", "-ldflags=-s -w", "-tags", "lambda.norpc,x"}, want: "lambda.norpc,x"},
		{name: "joined", flags: []string{"-trimpath", "-tags=lambda.norpc"}, want: "lambda.norpc"},
		{name: "none", flags: []string{"-trimpath", "-ldflags=-s -w"}},
		{name: "dangling", flags: []string{"-trimpath", "-tags"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := buildTags(tt.flags)
			if tt.want == "" {
				if err == nil {
					t.Errorf("buildTags(%q) = %q, want an error", tt.flags, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("buildTags(%q) = %q, %v; want %q", tt.flags, got, err, tt.want)
			}
		})
	}
}
