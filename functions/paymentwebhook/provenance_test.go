package paymentwebhook

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// TestStripeFixturesHaveProvenance: every Stripe fixture in testdata/stripe
// is a row of its PROVENANCE.md, and is still the file that row hashes: a
// fixture added, or edited, without saying where it comes from fails here.
func TestStripeFixturesHaveProvenance(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "stripe")
	doc, err := os.ReadFile(filepath.Join(dir, "PROVENANCE.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // file → sha256 the provenance gives
	for _, m := range regexp.MustCompile("(?m)^\\| ([a-z_.]+\\.json) \\| `[a-z_.]+` \\| `([0-9a-f]{64})` \\|$").FindAllSubmatch(doc, -1) {
		rows[string(m[1])] = string(m[2])
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		name := filepath.Base(f)
		names = append(names, name)
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(raw)
		switch want, ok := rows[name]; {
		case !ok:
			t.Errorf("%s has no row in PROVENANCE.md", name)
		case want != hex.EncodeToString(sum[:]):
			t.Errorf("%s is not the file PROVENANCE.md hashes (%s); its sha256 is %x", name, want, sum)
		}
	}
	for name := range rows {
		if !slices.Contains(names, name) {
			t.Errorf("PROVENANCE.md lists %s, which testdata/stripe does not hold", name)
		}
	}
	for _, n := range shapeNames {
		if !slices.Contains(names, n+".json") {
			t.Errorf("the tests read shape %s, which testdata/stripe does not hold", n)
		}
	}
}
