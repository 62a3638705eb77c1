package providercheck

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestOnlyTestsImportIt: this is test support; a package of infra/ that
// imported it outside its tests would ship go/parser and the checks with
// the stacks.
func TestOnlyTestsImportIt(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const self = "github.com/playplane/playplane/infra/internal/providercheck"
	for line := range strings.Lines(string(out)) {
		pkg, imports, _ := strings.Cut(strings.TrimSpace(line), " ")
		if slices.Contains(strings.Fields(imports), self) {
			t.Errorf("%s imports %s outside its tests", pkg, self)
		}
	}
}

// TestDownloadSaysWhyItFailed: a go command that fails before it writes
// its JSON (here on a bad GOFLAGS) has said why on its standard error,
// which the error must carry. Not parallel: it sets the environment.
func TestDownloadSaysWhyItFailed(t *testing.T) {
	t.Setenv("GOFLAGS", "-nosuchflagforprovidercheck")
	_, err := download("example.com/nosuchmodule")
	if err == nil || !strings.Contains(err.Error(), "nosuchflagforprovidercheck") {
		t.Fatalf("download with a bad GOFLAGS: %v, want the go command's reason", err)
	}
}
