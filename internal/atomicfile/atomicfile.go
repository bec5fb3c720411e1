// Package atomicfile writes files so that a reader never sees a half-written one: the data goes to a
// temporary file in the same folder, is synced to disk, and the temporary file is then renamed over the
// target (a rename within one file system replaces the name in one step).
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write writes data to path with permissions perm, atomically: a reader (or a crash) sees either the old
// file or the whole new one, never a part. Concurrent writers of one path each write their own temporary
// file, and the last rename wins. The folder must exist. On error nothing is left behind and the old
// file, if any, is unchanged; the error names path.
func Write(path string, data []byte, perm os.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
			err = fmt.Errorf("writing %s: %w", path, err)
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
