package nb

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// StateDir returns the folder where a notebook keeps what its cells hand to later cells (results as
// JSON, checkpoints of trained models), in this user's private folder of the system's temporary
// folder (see StateRoot). Each GoNB cell runs as a separate program, so notebooks that train once and
// analyse in later cells need such a place. For values, Memo, Store and Recall do the keying, encoding
// and atomic writing; StateDir is for other files (checkpoints, caches written by a library).
//
// The folder's name holds the notebook's name, the size mode and a hash of config: everything that
// decides what the cached results are (sizes, seeds, hyperparameters, the model's layout). Change any
// of them and the notebook gets a fresh folder, so a cell can never read a checkpoint trained under
// another configuration. config values are hashed through their JSON encoding (exported fields only);
// pass plain values and structs of them. StateDir panics if one cannot be encoded (the notebook
// convention for programming errors).
func StateDir(notebook string, config ...any) string {
	h := sha256.New()
	for i, c := range config {
		b, err := json.Marshal(c)
		if err != nil {
			panic(fmt.Errorf("nb.StateDir(%q): config value %d (%T) cannot be encoded: %w", notebook, i, c, err))
		}
		h.Write(b)
		h.Write([]byte{0})
	}
	mode := "full"
	if Quick() {
		mode = "quick"
	}
	name := strings.NewReplacer("/", "-", string(os.PathSeparator), "-").Replace(notebook)
	return filepath.Join(StateRoot(), fmt.Sprintf("losslab-%s-%s-%x", name, mode, h.Sum(nil)[:6]))
}

// StateRoot returns the folder that holds StateDir's folders, creating it: "losslab-<uid>" in the
// system's temporary folder, mode 0700, so that on a shared machine no other user can plant caches or
// checkpoints where a notebook will read them. A folder under that name that is a symbolic link or
// belongs to another user is never used; the user's cache folder (~/.cache/losslab/state) is, instead.
// It panics (the notebook convention) when neither can be made private.
func StateRoot() string {
	tmp := filepath.Join(os.TempDir(), fmt.Sprintf("losslab-%d", os.Getuid()))
	errTmp := privateDir(tmp)
	if errTmp == nil {
		return tmp
	}
	cache, err := os.UserCacheDir()
	if err == nil {
		cache = filepath.Join(cache, "losslab", "state")
		if err = os.MkdirAll(filepath.Dir(cache), 0o700); err == nil {
			if err = privateDir(cache); err == nil {
				return cache
			}
		}
	}
	panic(fmt.Errorf("nb.StateRoot: no private folder for notebook state: %v; and %v", errTmp, err))
}

// privateDir makes dir a folder of this user with mode 0700, or says why it cannot be one.
func privateDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a folder (%v): not used", dir, st.Mode().Type())
	}
	if owner, ok := fileOwner(st); ok && owner != os.Getuid() {
		return fmt.Errorf("%s belongs to user %d, not to this user (%d): not used", dir, owner, os.Getuid())
	}
	if st.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return err
		}
	}
	return nil
}
