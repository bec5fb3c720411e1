package landscape

import (
	"github.com/losslab/losslab/internal/atomicfile"

	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/losslab/losslab/lib/backend"
)

// DataInfo names a dataset used by a computation and its size.
type DataInfo struct {
	Name string
	N    int
}

// Provenance says how a result was computed, so a plot can be redrawn or compared without recomputing.
type Provenance struct {
	Created   time.Time
	Objective string
	Backend   string
	Data      []DataInfo
	// Checkpoints, Seeds and Notes are filled by the caller where known (e.g. the checkpoint folders of
	// θ_A and θ_B, the seeds of the runs or of random directions).
	Checkpoints []string `json:",omitempty"`
	Seeds       []uint64 `json:",omitempty"`
	Grid        string   `json:",omitempty"`
	Notes       string   `json:",omitempty"`
}

func newProvenance(ev *Evaluator, data []*Data) Provenance {
	p := Provenance{Created: time.Now().UTC().Truncate(time.Second), Backend: backend.Choose().Config}
	if ev != nil {
		p.Objective = ev.LossName()
	}
	for _, d := range data {
		if d != nil {
			p.Data = append(p.Data, DataInfo{Name: d.Name, N: d.Len()})
		}
	}
	return p
}

// SaveJSON writes v as indented JSON to path atomically: to a temporary file in the same folder, synced,
// then renamed over path, so a reader never sees a half-written file.
func SaveJSON(path string, v any) error {
	buf, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("landscape.SaveJSON(%q): %w (NaN values cannot be saved)", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, append(buf, '\n'), 0o600)
}

// LoadJSON reads a JSON file written by SaveJSON into v (a pointer).
func LoadJSON(path string, v any) error {
	buf, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(buf, v); err != nil {
		return fmt.Errorf("landscape.LoadJSON(%q): %w", path, err)
	}
	return nil
}
