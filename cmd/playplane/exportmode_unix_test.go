//go:build unix

package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestExportFileMode: `export -o` leaves FILE the permission bits
// os.Create gave it before exports were put in place by a rename: an
// existing file keeps its own, a new one gets 0666 less the umask. They
// all became 0644. Not parallel: the umask is the process's, and 027 tells
// os.Create's 0640 from that 0644.
func TestExportFileMode(t *testing.T) {
	old := syscall.Umask(0o027)
	defer syscall.Umask(old)
	cfg := Config{DataDir: t.TempDir()}
	if _, err := run(t, cfg, "import", "--store=bolt", writeFile(t, "catalogue.json", cliCatalogue)); err != nil {
		t.Fatal(err)
	}
	created := filepath.Join(t.TempDir(), "created")
	f, err := os.Create(created)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	st, err := os.Stat(created)
	if err != nil {
		t.Fatal(err)
	}
	asCreated := st.Mode().Perm()
	for _, tc := range []struct {
		name     string
		existing os.FileMode // 0: no file yet
		want     os.FileMode
	}{
		{"new file", 0, asCreated},
		{"existing private file", 0o600, 0o600},
		{"existing group-writable file", 0o664, 0o664},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "export.json")
			if tc.existing != 0 {
				if err := os.WriteFile(out, []byte("{}"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(out, tc.existing); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := run(t, cfg, "export", "--store=bolt", "-o", out); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Mode().Perm(); got != tc.want {
				t.Fatalf("mode %v, want %v", got, tc.want)
			}
		})
	}
}
