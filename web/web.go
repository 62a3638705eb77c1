// Package web holds the player page, the QoE dashboard and the player
// libraries the player loads, embedded so the local runner (and any test)
// serves them from the binary: /player/ is the player, /dashboard/ the QoE
// dashboard (plain JS and SVG, no library), /vendor/ the libraries vendored
// from npm (see vendor/README.md). Nothing is built; the files are served
// as they are.
package web

import (
	"cmp"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
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
	server := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A folder without a page would be listed: nothing links to one,
		// and a listing only tells a prober what is there.
		if strings.HasSuffix(r.URL.Path, "/") {
			dir := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
			if _, err := fs.Stat(files, path.Join(cmp.Or(dir, "."), "index.html")); err != nil {
				http.NotFound(w, r)
				return
			}
		}
		// Embedded files have no modification time, so nothing would
		// revalidate a cached copy: always ask again after a rebuild.
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		server.ServeHTTP(w, r)
	})
}
