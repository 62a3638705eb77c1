//go:build !unix

package atomicfile

import (
	"io/fs"
	"os"
)

// keepOwner: files have no Unix owner to keep here.
func keepOwner(*os.File, fs.FileInfo) {}
