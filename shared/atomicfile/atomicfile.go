// Package atomicfile replaces small files so that a crash, a kill -9, a
// full disk or a power cut at any moment leaves either the old content or
// the new one under the name, never a mix or a truncated file.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile writes data to a new file beside path, fsyncs it, renames it
// over path and fsyncs the directory, so that once it returns nil the new
// content survives a power cut. On an error before the rename the old file
// is untouched and the new one removed. Unlike os.WriteFile, perm applies
// to a file that already exists too.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("atomicfile.WriteFile: %w", err)
	}
	tmp := f.Name()
	err = f.Chmod(perm)
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
		return fmt.Errorf("atomicfile.WriteFile: %w", err)
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("atomicfile.WriteFile: %w", err)
	}
	return nil
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
