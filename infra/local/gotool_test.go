// Package local_test holds infra/local/gotool.sh, make test's -toolexec
// wrapper, to what it lists and what it skips.
package local_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// write writes files (path: content) under dir.
func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fixture is a copy of the repository's three modules in miniature (the
// main module, infra/ and pulumi/), with gotool.sh at its place and a
// third-party module example.com/dep replaced by a local directory, so
// that go list needs no network. extra adds or overrides files.
func fixture(t *testing.T, extra map[string]string) string {
	t.Helper()
	script, err := os.ReadFile("gotool.sh")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "a repo")
	mod := func(path, rel string) string {
		return "module " + path + "\n\ngo 1.26.0\n\nrequire example.com/dep v0.0.0\n\nreplace example.com/dep => " + rel + "dep\n"
	}
	files := map[string]string{
		"infra/local/gotool.sh": string(script),
		"dep/go.mod":            "module example.com/dep\n\ngo 1.26.0\n",
		"dep/plain/plain.go":    "package plain\n",
		"dep/racy/racy.go":      "package racy\n",
		"dep/testonly/t.go":     "package testonly\n",
		"dep/deep/deep.go":      "package deep\n",
		"dep/viadeep/v.go":      "package viadeep\n\nimport _ \"example.com/dep/deep\"\n",
		"go.mod":                mod("github.com/playplane/playplane", "./"),
		"a/a.go":                "package a\n\nimport (\n\t_ \"example.com/dep/plain\"\n\t_ \"example.com/dep/viadeep\"\n)\n",
		"a/race.go":             "//go:build race\n\npackage a\n\nimport _ \"example.com/dep/racy\"\n",
		"a/a_test.go":           "package a_test\n\nimport _ \"example.com/dep/testonly\"\n",
		"infra/go.mod":          mod("github.com/playplane/playplane/infra", "../"),
		"infra/i/i.go":          "package i\n",
		"pulumi/go.mod":         mod("github.com/playplane/playplane/pulumi", "../"),
		"pulumi/main.go":        "package main\n\nfunc main() {}\n",
	}
	for k, v := range extra {
		files[k] = v
	}
	write(t, root, files)
	return root
}

// TestImportsListsWhatTheVettedBuildsImport: `gotool.sh imports` lists
// every third-party package one of our packages imports directly, in the
// builds make test vets: the unit stage's is -race, so a file built only
// under the race tag counts (its import's facts would otherwise be an
// empty file, and our package's printf and lostcancel checks would lose
// them without a word); one reached only through another third-party
// package is not listed.
func TestImportsListsWhatTheVettedBuildsImport(t *testing.T) {
	t.Parallel()
	root := fixture(t, nil)
	out, err := exec.Command("sh", filepath.Join(root, "infra/local/gotool.sh"), "imports").Output()
	if err != nil {
		t.Fatalf("gotool.sh imports: %v", err)
	}
	got := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		got[p] = true
	}
	for _, p := range []string{"example.com/dep/plain", "example.com/dep/viadeep", "example.com/dep/racy", "example.com/dep/testonly"} {
		if !got[p] {
			t.Errorf("%s is imported by one of our packages, not listed in %q", p, out)
		}
	}
	if got["example.com/dep/deep"] {
		t.Errorf("example.com/dep/deep is imported by a third-party package only, listed in %q", out)
	}
}

// TestImportsFailsLoudly: when go list fails, `gotool.sh imports` exits
// non-zero (make test's unit stage and infra/test.sh then stop), rather
// than printing a short list.
func TestImportsFailsLoudly(t *testing.T) {
	t.Parallel()
	root := fixture(t, map[string]string{"a/broken.go": "package a\n\nimport _ \"example.com/dep/missing\"\n"})
	cmd := exec.Command("sh", filepath.Join(root, "infra/local/gotool.sh"), "imports")
	if out, err := cmd.Output(); err == nil {
		t.Fatalf("gotool.sh imports succeeded with an import go list cannot resolve: %q", out)
	}
}

// TestVetSkipsOnlyUnlistedThirdParty runs gotool.sh as the go command
// runs it for vet (TOOLEXEC_IMPORTPATH, the vet.cfg last, in a directory
// with a space) around a stand-in vet that writes "facts" to vet.out:
// only a third-party package not listed gets an empty vet.out instead; our
// packages (test variants and external test packages included), the
// standard library and listed packages run the tool.
func TestVetSkipsOnlyUnlistedThirdParty(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a dir")
	vet := filepath.Join(dir, "vet")
	write(t, dir, map[string]string{"vet": "#!/bin/sh\nfor last in \"$@\"; do :; done\nprintf facts >\"${last%vet.cfg}vet.out\"\n"})
	if err := os.Chmod(vet, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, pkg string
		runs      bool
	}{
		{name: "ours", pkg: "github.com/playplane/playplane/shared/telemetry", runs: true},
		{name: "our module root", pkg: "github.com/playplane/playplane", runs: true},
		{name: "a test variant of ours", pkg: "github.com/playplane/playplane/shared/x [github.com/playplane/playplane/shared/x.test]", runs: true},
		{name: "an external test package", pkg: "github.com/playplane/playplane/shared/x_test [github.com/playplane/playplane/shared/x.test]", runs: true},
		{name: "the standard library", pkg: "net/http", runs: true},
		{name: "the standard library's vendored", pkg: "vendor/golang.org/x/net/http2/hpack", runs: true},
		{name: "listed third-party", pkg: "example.com/dep/plain", runs: true},
		{name: "a listed package in a test variant", pkg: "example.com/dep/plain [github.com/playplane/playplane/a.test]", runs: true},
		{name: "unlisted third-party", pkg: "example.com/dep/deep", runs: false},
		{name: "a name that only starts like ours", pkg: "github.com/playplane/playplane2/x", runs: false},
		{name: "a prefix of a listed package", pkg: "example.com/dep/pla", runs: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			obj := filepath.Join(t.TempDir(), "b 001") + "/"
			if err := os.Mkdir(obj, 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("sh", "gotool.sh", vet, "-unsafeptr=false", obj+"vet.cfg")
			cmd.Env = append(os.Environ(), "TOOLEXEC_IMPORTPATH="+tc.pkg,
				"PLAYPLANE_VET_FACTS=example.com/dep/plain example.com/dep/viadeep")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("gotool.sh: %v\n%s", err, out)
			}
			b, err := os.ReadFile(obj + "vet.out")
			if err != nil {
				t.Fatalf("no vet.out: %v", err)
			}
			if ran := string(b) == "facts"; ran != tc.runs {
				t.Errorf("vet ran: %v, want %v (vet.out %q)", ran, tc.runs, b)
			}
		})
	}
}
