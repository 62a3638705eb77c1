package atomicfile_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
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

// TestCreateWritesThroughSymbolicLinks: as os.Create (and a shell's >)
// writes through a link, Create replaces the file a link names and keeps
// the link; renaming over the link's own name turned it into a file of its
// own and left the target as it was.
func TestCreateWritesThroughSymbolicLinks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// links made in order, each name → target; the first names the
		// file Create is given, the file written is "real/target.json"
		links    [][2]string
		existing bool
	}{
		{name: "relative link", links: [][2]string{{"out.json", "real/target.json"}}, existing: true},
		{name: "absolute link", links: [][2]string{{"out.json", "ABS/real/target.json"}}, existing: true},
		{name: "chain of links", links: [][2]string{{"out.json", "mid.json"}, {"mid.json", "real/target.json"}}, existing: true},
		{name: "dangling link", links: [][2]string{{"out.json", "real/target.json"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "real"), 0o755); err != nil {
				t.Fatal(err)
			}
			target := filepath.Join(dir, "real", "target.json")
			if tc.existing {
				if err := os.WriteFile(target, []byte("old"), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			for _, l := range tc.links {
				to := strings.Replace(l[1], "ABS", dir, 1)
				if err := os.Symlink(to, filepath.Join(dir, l[0])); err != nil {
					t.Fatal(err)
				}
			}
			name := filepath.Join(dir, tc.links[0][0])
			if err := atomicfile.Create(name, []byte("new")); err != nil {
				t.Fatal(err)
			}
			if st, err := os.Lstat(name); err != nil || st.Mode()&os.ModeSymlink == 0 {
				t.Fatalf("%s is no longer a link: %v, %v", name, st.Mode(), err)
			}
			got, err := os.ReadFile(target)
			if err != nil || string(got) != "new" {
				t.Fatalf("the link's target holds %q, %v; want the new content", got, err)
			}
			if st, err := os.Stat(target); tc.existing && (err != nil || st.Mode().Perm() != 0o640) {
				t.Fatalf("target mode %v, %v; want its own 0640", st.Mode(), err)
			}
			if entries, _ := os.ReadDir(filepath.Join(dir, "real")); len(entries) != 1 {
				t.Fatalf("%d files beside the target, want it alone (no temporary file left)", len(entries))
			}
		})
	}
}

// TestCreateKeepsTheOwner: os.Create over another user's file (root
// exporting into it) leaves it theirs; a rename of a new file over it made
// it root's.
func TestCreateKeepsTheOwner(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("only root may give a file to another user")
	}
	path := filepath.Join(t.TempDir(), "export.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	const uid, gid = 4321, 8765
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Create(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if sys.Uid != uid || sys.Gid != gid || st.Mode().Perm() != 0o644 {
		t.Fatalf("owner %d:%d mode %v, want %d:%d 0644", sys.Uid, sys.Gid, st.Mode().Perm(), uid, gid)
	}
}
