package catalogfile

import (
	"testing"

	"github.com/playplane/playplane/shared/storetest"
)

// BenchmarkParse is the file check of an import, per title.
func BenchmarkParse(b *testing.B) {
	data := storetest.CatalogueFile(storetest.BenchTitles())
	for b.Loop() {
		if _, err := Parse("bench.json", data); err != nil {
			b.Fatal(err)
		}
	}
}
