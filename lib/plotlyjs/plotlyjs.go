// Package plotlyjs installs and finds the plotly.js file that LossLab's interactive figures embed
// (lib/viz draws them). It links only the standard library and lib/nb, so the kernel installer can use it
// without linking any machine-learning code.
//
// The file comes from the npm package plotly.js-dist-min at a pinned version, installed once at set-up
// time under nb.Home()/plotly; plotting never touches the network.
package plotlyjs

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/losslab/losslab/lib/nb"
)

// Version is the version of the npm package plotly.js-dist-min that Install installs.
const Version = "4.1.2"

// DirIn is the folder, under a LossLab home folder, where plotly.js is installed.
func DirIn(home string) string { return filepath.Join(home, "plotly") }

// Dir is where the kernel installer puts plotly.js: DirIn(nb.Home()).
func Dir() string { return DirIn(nb.Home()) }

// FileIn is where `npm install --prefix dir plotly.js-dist-min` puts plotly.min.js.
func FileIn(dir string) string {
	return filepath.Join(dir, "node_modules", "plotly.js-dist-min", "plotly.min.js")
}

// Install installs plotly.js-dist-min@Version from the npm registry into dir with
// `npm install --prefix dir` (the kernel installer calls it with Dir()). It needs npm and network access
// at set-up time only. When that version is already there it does nothing.
func Install(dir string) error {
	if data, err := os.ReadFile(filepath.Join(dir, "node_modules", "plotly.js-dist-min", "package.json")); err == nil {
		var pkg struct {
			Version string `json:"version"`
		}
		if json.Unmarshal(data, &pkg) == nil && pkg.Version == Version {
			if _, err := os.Stat(FileIn(dir)); err == nil {
				return nil
			}
		}
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("plotlyjs: installing plotly.js needs npm (Node.js), which is not on PATH: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("plotlyjs: installing plotly.js: %w", err)
	}
	cmd := exec.Command(npm, "install", "--prefix", dir, "--no-audit", "--no-fund", "plotly.js-dist-min@"+Version)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("plotlyjs: npm install plotly.js-dist-min@%s into %s failed: %w\n%s", Version, dir, err, out)
	}
	if _, err := os.Stat(FileIn(dir)); err != nil {
		return fmt.Errorf("plotlyjs: npm install plotly.js-dist-min@%s did not produce %s: %w", Version, FileIn(dir), err)
	}
	return nil
}
