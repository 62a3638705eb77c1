// Package web holds the player page and the player libraries it loads,
// embedded so the local runner (and any test) serves them from the binary:
// /player/ is the page, /vendor/ the libraries vendored from npm (see
// vendor/README.md). Nothing is built; the files are served as they are.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed player vendor
var files embed.FS

// FS is the page and its libraries, at player/ and vendor/.
func FS() fs.FS { return files }

// Handler serves FS at /player/ and /vendor/; mount it on both prefixes
// (or at the root). The page finds the API at its own origin unless its
// URL names another (?api=), so the same files also serve a page on a
// second origin.
func Handler() http.Handler {
	files := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Embedded files have no modification time, so nothing would
		// revalidate a cached copy: always ask again after a rebuild.
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}
