package verdict

import (
	"encoding/json"
	"fmt"
	"os"
)

// ReadNotebook returns the reports a Jupyter notebook's outputs hold (MIMEType display outputs, as
// Report.Show emits them), in cell order; none when the notebook has no verdict output (or no outputs).
func ReadNotebook(path string) ([]*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("verdict.ReadNotebook: %w", err)
	}
	var nb struct {
		Cells []struct {
			Outputs []struct {
				Data map[string]json.RawMessage `json:"data"`
			} `json:"outputs"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(b, &nb); err != nil {
		return nil, fmt.Errorf("verdict.ReadNotebook %s: not a notebook: %w", path, err)
	}
	var out []*Report
	for i, c := range nb.Cells {
		for _, o := range c.Outputs {
			raw, ok := o.Data[MIMEType]
			if !ok {
				continue
			}
			r, err := Parse(raw)
			if err != nil {
				return nil, fmt.Errorf("verdict.ReadNotebook %s, cell %d: %w", path, i, err)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// Counts returns how many counted claims were reproduced, not reproduced and not testable.
func (r *Report) Counts() (reproduced, notReproduced, notTestable int) {
	for _, c := range r.Claims {
		if !c.Counted {
			continue
		}
		switch c.Outcome {
		case Reproduced:
			reproduced++
		case NotReproduced:
			notReproduced++
		case NotTestable:
			notTestable++
		}
	}
	return
}
