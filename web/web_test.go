package web_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/playplane/playplane/web"
)

// TestPageLoadsOnlyVendoredFiles: every script and stylesheet the page
// names is a relative path to a file embedded here, so the page works
// offline and never pulls code from a CDN.
func TestPageLoadsOnlyVendoredFiles(t *testing.T) {
	t.Parallel()
	var refs [][]string
	for _, p := range []struct {
		file string
		min  int
	}{
		{"player/index.html", 4}, // the two libraries, player.js and player.css
		{"player/cmcd.html", 3},  // Shaka Player, dash.js and cmcd.js
	} {
		page, err := fs.ReadFile(web.FS(), p.file)
		if err != nil {
			t.Fatal(err)
		}
		r := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(page), -1)
		if len(r) < p.min {
			t.Fatalf("%s names %d files, want %d: %q", p.file, len(r), p.min, r)
		}
		refs = append(refs, r...)
	}
	for _, m := range refs {
		ref := m[1]
		if strings.Contains(ref, "://") || strings.HasPrefix(ref, "//") {
			t.Errorf("page loads %s from another host", ref)
			continue
		}
		name := strings.TrimPrefix(ref, "../")
		if !strings.HasPrefix(ref, "../") {
			name = "player/" + ref
		}
		if _, err := fs.Stat(web.FS(), name); err != nil {
			t.Errorf("page names %s, not embedded: %v", ref, err)
		}
	}
}

func TestHandlerServesPageAndLibraries(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(web.Handler())
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name, path, contentType, contains string
		status                            int
	}{
		{"page", "/player/", "text/html", "hls.js-1.7.4/hls.min.js", http.StatusOK},
		{"script", "/player/player.js", "text/javascript", "window.playplane", http.StatusOK},
		{"hls.js", "/vendor/hls.js-1.7.4/hls.min.js", "text/javascript", "", http.StatusOK},
		{"dash.js", "/vendor/dashjs-5.2.1/dash.mediaplayer.min.js", "text/javascript", "", http.StatusOK},
		{"dashboard", "/dashboard/", "text/html", "dashboard.js", http.StatusOK},
		{"dashboard script", "/dashboard/dashboard.js", "text/javascript", "window.qoeDashboard", http.StatusOK},
		{"missing", "/player/nope.js", "", "", http.StatusNotFound},
		// A folder without a page is not listed: nothing is linked that
		// way, and a listing only tells a prober what is there.
		{"folder of the libraries", "/vendor/", "", "", http.StatusNotFound},
		{"folder of a library", "/vendor/hls.js-1.7.4/", "", "", http.StatusNotFound},
		{"encoded dot segments", "/player/%2e%2e/web.go", "", "", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.contentType) ||
				!strings.Contains(string(body), tc.contains) {
				t.Fatalf("GET %s: %d %q, want %d %s containing %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.status, tc.contentType, tc.contains)
			}
			if tc.status == http.StatusOK && resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("no nosniff on %s", tc.path)
			}
		})
	}
}

// TestDashboardLoadsOnlyItsOwnFiles: the dashboard draws with plain SVG and
// pulls nothing from elsewhere.
func TestDashboardLoadsOnlyItsOwnFiles(t *testing.T) {
	t.Parallel()
	page, err := fs.ReadFile(web.FS(), "dashboard/index.html")
	if err != nil {
		t.Fatal(err)
	}
	var refs [][]string
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(page), -1) {
		// The empty data: icon keeps the browser from asking for /favicon.ico.
		if m[1] != "data:," {
			refs = append(refs, m)
		}
	}
	if len(refs) != 2 {
		t.Fatalf("dashboard names %q, want dashboard.js and dashboard.css", refs)
	}
	for _, m := range refs {
		if _, err := fs.Stat(web.FS(), "dashboard/"+m[1]); err != nil || strings.Contains(m[1], "/") {
			t.Errorf("dashboard names %s: %v", m[1], err)
		}
	}
}
