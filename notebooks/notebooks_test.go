// Package notebooks holds LossLab's notebooks; its test runs every one of them headless through the
// `losslab` kernel and fails on any error output, panic, non-zero exit or missing picture.
//
// LOSSLAB_QUICK=1 (set by `go run ./kernel test`) shrinks the notebooks' sizes for CI; the code path is
// the same as a full run. LOSSLAB_NOTEBOOK_TIMEOUT (a Go duration, default 10m) bounds each notebook.
// LOSSLAB_NOTEBOOKS (a comma-separated list of paths relative to this folder) runs only those.
package notebooks

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/losslab/losslab/internal/nbcheck"
	"github.com/losslab/losslab/lib/verdict"
)

func TestNotebooks(t *testing.T) {
	if err := nbcheck.KernelInstalled("losslab"); err != nil {
		t.Fatal(err)
	}
	timeout := 10 * time.Minute
	if v := os.Getenv("LOSSLAB_NOTEBOOK_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("LOSSLAB_NOTEBOOK_TIMEOUT=%q: %v", v, err)
		}
		timeout = d
	}
	var paths []string
	if only := os.Getenv("LOSSLAB_NOTEBOOKS"); only != "" {
		paths = strings.Split(only, ",")
	} else {
		err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != ".") {
				return filepath.SkipDir // .ipynb_checkpoints
			}
			if !d.IsDir() && strings.HasSuffix(path, ".ipynb") {
				paths = append(paths, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(paths) == 0 {
		t.Fatal("no notebooks found under notebooks/")
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(path, ".ipynb"), func(t *testing.T) {
			rep, err := nbcheck.Execute(path, nbcheck.Options{Timeout: timeout, Env: []string{"LOSSLAB_QUICK=" + os.Getenv("LOSSLAB_QUICK")}})
			if err != nil {
				t.Fatal(err)
			}
			t.Log(rep)
			if !rep.OK() {
				t.Fatal(rep)
			}
		})
	}
}

// TestNoFixedTempFolder: no notebook keeps results in a folder of its own under os.TempDir(). Such a
// folder is keyed by at most the size mode, so after a change of sizes or code a later cell silently
// reads old results, and on a shared machine another user can plant them. Notebooks use nb.Memo,
// nb.Store and nb.Recall, or nb.StateDir for files such as checkpoints.
func TestNoFixedTempFolder(t *testing.T) {
	paths, err := filepath.Glob("*.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	papers, _ := filepath.Glob("papers/*.ipynb")
	paths = append(paths, papers...)
	if len(paths) < 2 {
		t.Fatalf("found only %v", paths)
	}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var nb struct {
			Cells []struct {
				CellType string          `json:"cell_type"`
				Source   json.RawMessage `json:"source"`
			} `json:"cells"`
		}
		if err := json.Unmarshal(b, &nb); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for i, c := range nb.Cells {
			var src string
			var lines []string
			if json.Unmarshal(c.Source, &lines) == nil {
				src = strings.Join(lines, "")
			} else {
				_ = json.Unmarshal(c.Source, &src)
			}
			if c.CellType == "code" && strings.Contains(src, "os.TempDir()") {
				t.Errorf("%s, cell %d: writes under os.TempDir(); use nb.Memo, nb.Store/Recall or nb.StateDir", path, i)
			}
		}
	}
}

// TestCommittedVerdicts reads the verdicts committed in the paper notebooks' outputs, as a tool would
// (verdict.ReadNotebook, as `losslab verdict list` does): each must parse, come from a full-size run (never
// quick mode), spell every outcome as the protocol does, and a notebook that decides its claims with
// verdict.Decide and has outputs must hold exactly one.
func TestCommittedVerdicts(t *testing.T) {
	paths, err := filepath.Glob("papers/*.ipynb")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no paper notebooks (%v)", err)
	}
	outcomes := map[verdict.Outcome]bool{verdict.Reproduced: true, verdict.NotReproduced: true, verdict.NotTestable: true}
	for _, path := range paths {
		reports, err := verdict.ReadNotebook(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		for _, r := range reports {
			if r.Quick {
				t.Errorf("%s: the committed verdict comes from a quick-mode run; commit full-size outputs", path)
			}
			for _, c := range r.Claims {
				if !outcomes[c.Outcome] {
					t.Errorf("%s: claim %q has outcome %q", path, c.Claim, c.Outcome)
				}
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var nb struct {
			Cells []struct {
				CellType string            `json:"cell_type"`
				Source   json.RawMessage   `json:"source"`
				Outputs  []json.RawMessage `json:"outputs"`
			} `json:"cells"`
		}
		if err := json.Unmarshal(b, &nb); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		decides, outputs := false, 0
		for _, c := range nb.Cells {
			decides = decides || c.CellType == "code" && strings.Contains(string(c.Source), "verdict.Decide")
			outputs += len(c.Outputs)
		}
		if decides && outputs > 0 && len(reports) != 1 {
			t.Errorf("%s: decides its claims with verdict.Decide but holds %d verdict outputs", path, len(reports))
		}
	}
}
