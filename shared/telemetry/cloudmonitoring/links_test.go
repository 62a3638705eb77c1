package cloudmonitoring_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/playplane/playplane/functions/catalog"
)

// TestOnlyTheCloudFunctionsUnitsLinkIt: the Lambda mains write EMF lines
// and must not carry Cloud Monitoring's client (size, cold start); every
// Cloud Functions deploy unit must, or googlecloud would be refused there.
// A unit's generated root file imports its function and functions/gcp/unit
// (functions/gcp/source), so unit is what every deployed function links;
// functions/gcp only registers them all for the local runner.
func TestOnlyTheCloudFunctionsUnitsLinkIt(t *testing.T) {
	t.Parallel()
	const module = "github.com/playplane/playplane/"
	const this = module + "shared/telemetry/cloudmonitoring"
	mains := map[string]bool{module + "functions/gcp/unit": true}
	for _, fn := range catalog.Functions {
		for _, store := range []string{catalog.StoreDynamo, catalog.StoreFirestore} {
			main := catalog.LambdaMain(fn.Name, store)
			if _, err := os.Stat(filepath.Join("..", "..", "..", main)); err == nil {
				mains[module+main] = false
			}
		}
	}
	args := []string{"list", "-f", `{{.ImportPath}} {{join .Deps " "}}`}
	for m := range mains {
		args = append(args, m)
	}
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(mains) || len(mains) < 3 {
		t.Fatalf("go list answered %d packages for %d mains", len(lines), len(mains))
	}
	for _, line := range lines {
		pkg, deps, _ := strings.Cut(line, " ")
		links := strings.Contains(" "+deps+" ", " "+this+" ")
		if links != mains[pkg] {
			t.Errorf("%s links %s: %v, want %v", pkg, this, links, mains[pkg])
		}
	}
}
