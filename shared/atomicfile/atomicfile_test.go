package atomicfile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/playplane/playplane/shared/atomicfile"
)

func TestWriteFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		old  []byte // nil: no file yet
	}{
		{name: "new file", old: nil},
		{name: "replaces a longer file", old: []byte("an older and much longer content")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "f.json")
			if tc.old != nil {
				if err := os.WriteFile(path, tc.old, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := atomicfile.WriteFile(path, []byte("new"), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != "new" {
				t.Fatalf("content %q, %v", got, err)
			}
			st, err := os.Stat(path)
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("mode %v, %v", st.Mode(), err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Fatalf("%d files in the directory, want the one (no temporary file left)", len(entries))
			}
		})
	}
}

// TestCreate: Create leaves the permission bits os.Create would: an
// existing file's own, 0666 less the umask for a new one.
func TestCreate(t *testing.T) {
	t.Parallel()
	ref := filepath.Join(t.TempDir(), "created")
	f, err := os.Create(ref)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	st, err := os.Stat(ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		existing os.FileMode // 0: no file yet
		want     os.FileMode
	}{
		{"new file", 0, st.Mode().Perm()},
		{"existing private file", 0o600, 0o600},
		{"existing group-writable file", 0o664, 0o664},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "f.json")
			if tc.existing != 0 {
				if err := os.WriteFile(path, []byte("an older and much longer content"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.existing); err != nil {
					t.Fatal(err)
				}
			}
			if err := atomicfile.Create(path, []byte("new")); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != "new" {
				t.Fatalf("content %q, %v", got, err)
			}
			st, err := os.Stat(path)
			if err != nil || st.Mode().Perm() != tc.want {
				t.Fatalf("mode %v, %v; want %v", st.Mode(), err, tc.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Fatalf("%d files in the directory, want the one (no temporary file left)", len(entries))
			}
		})
	}
}

// TestWriteFileFailureKeepsTheOldFile: a write that fails (here: the rename,
// over a directory) leaves the old name as it was and no temporary file.
func TestWriteFileFailureKeepsTheOldFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "taken")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteFile(path, []byte("new"), 0o600); err == nil {
		t.Fatal("renaming a file over a directory succeeded")
	}
	if st, err := os.Stat(path); err != nil || !st.IsDir() {
		t.Fatalf("the old name: %v, %v", st, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("%d entries in the directory, want the one (no temporary file left)", len(entries))
	}
}
