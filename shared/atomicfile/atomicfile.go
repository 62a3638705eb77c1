// Package atomicfile replaces small files so that a crash, a kill -9, a
// full disk or a power cut at any moment leaves either the old content or
// the new one under the name, never a mix or a truncated file.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// WriteFile writes data to a new file beside path, fsyncs it, renames it
// over path and fsyncs the directory, so that once it returns nil the new
// content survives a power cut. On an error before the rename the old file
// is untouched and the new one removed. Unlike os.WriteFile, perm applies
// to a file that already exists too.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	if err := replace(path, data, createTemp, &perm); err != nil {
		return fmt.Errorf("atomicfile.WriteFile: %w", err)
	}
	return nil
}

// Create is WriteFile with what os.Create would leave, for a file a user
// names: an existing file keeps its permission bits and, where this
// process may give it, its owner; a new one gets 0666 less the umask; a
// symbolic link is written through, its target replaced and the link
// kept, as a shell's > writes through it.
func Create(path string, data []byte) error {
	path, err := followLinks(path)
	if err != nil {
		return fmt.Errorf("atomicfile.Create: %w", err)
	}
	st, err := os.Stat(path)
	switch {
	case err == nil:
		perm := st.Mode().Perm()
		err = replace(path, data, func(dir, prefix, suffix string) (*os.File, error) {
			f, err := createTemp(dir, prefix, suffix)
			if err == nil {
				keepOwner(f, st)
			}
			return f, err
		}, &perm)
	case errors.Is(err, fs.ErrNotExist):
		err = replace(path, data, createTempAsCreate, nil)
	}
	if err != nil {
		return fmt.Errorf("atomicfile.Create: %w", err)
	}
	return nil
}

// followLinks is the file path names once its symbolic links are followed,
// a dangling link's target included (os.Create creates it): the name the
// new content goes under, beside the file, so that the rename replaces
// the file rather than the link.
func followLinks(path string) (string, error) {
	for range 40 { // Linux's MAXSYMLINKS
		st, err := os.Lstat(path)
		if err != nil || st.Mode()&fs.ModeSymlink == 0 {
			if errors.Is(err, fs.ErrNotExist) {
				err = nil
			}
			return path, err
		}
		link, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(path), link)
		}
		path = link
	}
	return "", &fs.PathError{Op: "open", Path: path, Err: errors.New("too many levels of symbolic links")}
}

// createTemp makes the temporary file private (os.CreateTemp's 0600) until
// its mode is set, before anything is written: a reader that opened it
// wider could read the content once written.
func createTemp(dir, prefix, suffix string) (*os.File, error) {
	return os.CreateTemp(dir, prefix+"*"+suffix)
}

// createTempAsCreate is os.CreateTemp with the mode os.Create gives, 0666
// less the umask, from the start: the kernel applies the umask, which a
// process can only read by changing it, racing its other threads.
func createTempAsCreate(dir, prefix, suffix string) (*os.File, error) {
	for try := 0; ; try++ {
		name := filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64(), 36)+suffix)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) || try == 100 {
			return f, err
		}
	}
}

// replace puts data under path through a temporary file beside it, made by
// createTemp and given perm unless nil.
func replace(path string, data []byte, createTemp func(dir, prefix, suffix string) (*os.File, error), perm *os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := createTemp(dir, "."+filepath.Base(path)+".", ".tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if perm != nil {
		err = f.Chmod(*perm)
	}
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory: a rename, a create or a remove in it is
// durable only once its directory is.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
