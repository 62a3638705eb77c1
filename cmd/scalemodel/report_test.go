package main

import (
	"os"
	"strings"
	"testing"
)

// TestDocMatchesTheModel holds docs/scale.md's tables to the model's
// output: change the model, then `go run ./cmd/scalemodel` and paste.
func TestDocMatchesTheModel(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/scale.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- scalemodel:begin -->\n", "<!-- scalemodel:end -->"
	_, rest, ok := strings.Cut(string(doc), begin)
	if !ok {
		t.Fatalf("docs/scale.md has no %q marker", strings.TrimSpace(begin))
	}
	got, _, ok := strings.Cut(rest, end)
	if !ok {
		t.Fatalf("docs/scale.md has no %q marker", end)
	}
	var want strings.Builder
	if err := report(&want); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(got) != strings.TrimSpace(want.String()) {
		t.Errorf("docs/scale.md's tables differ from `go run ./cmd/scalemodel`; regenerate them")
	}
}
