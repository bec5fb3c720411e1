package nb

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// StateDir returns the folder where a notebook keeps what its cells hand to later cells (results as
// JSON, checkpoints of trained models), under the system's temporary folder. Each GoNB cell runs as a
// separate program, so notebooks that train once and analyse in later cells need such a place.
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
	return filepath.Join(os.TempDir(), fmt.Sprintf("losslab-%s-%s-%x", name, mode, h.Sum(nil)[:6]))
}
