// Command playplane-gen writes the deploy artifacts that follow from the
// catalogue (functions/catalog/deploygen): template.yaml's function
// resources, Makefile.lambdas and functions/registry. Run it from the
// repository root after changing a catalogue entry:
//
//	go run ./cmd/playplane-gen
//
// It links only the catalogue, so it builds even when a function package
// does not yet compile. functions/catalog/deploygen's tests fail while a
// committed file differs from what it writes.
package main

import (
	"fmt"
	"os"

	"github.com/playplane/playplane/functions/catalog"
	"github.com/playplane/playplane/functions/catalog/deploygen"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "playplane-gen:", err)
		os.Exit(1)
	}
}

func run() error {
	tmpl, err := os.ReadFile(deploygen.TemplatePath)
	if err != nil {
		return err
	}
	files, err := deploygen.Files(catalog.Functions, tmpl)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := os.WriteFile(f.Path, f.Data, 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", f.Path)
	}
	return nil
}
