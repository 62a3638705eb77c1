// Package web holds the player page, the QoE dashboard and the player
// libraries the player loads, embedded so the local runner (and any test)
// serves them from the binary: /player/ is the player, /dashboard/ the QoE
// dashboard (plain JS and SVG, no library), /vendor/ the libraries vendored
// from npm (see vendor/README.md). Nothing is built; the files are served
// as they are.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed player dashboard vendor
var files embed.FS

// FS is the pages and the player's libraries, at player/, dashboard/ and vendor/.
func FS() fs.FS { return files }

// Handler serves FS at /player/, /dashboard/ and /vendor/; mount it on those prefixes
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
