package genmeasure

import (
	"encoding/json"
	"math"
)

// measureJSON is Measure's JSON form: a NaN or infinite value (a margin measure when γ ≤ 0) is null.
type measureJSON struct {
	Name  string   `json:"name"`
	Value *float64 `json:"value"`
	Kind  string   `json:"kind"`
}

// MarshalJSON writes a non-finite Value as null, which encoding/json cannot represent otherwise.
func (m Measure) MarshalJSON() ([]byte, error) {
	j := measureJSON{Name: m.Name, Kind: m.Kind}
	if !math.IsNaN(m.Value) && !math.IsInf(m.Value, 0) {
		v := m.Value
		j.Value = &v
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON wrote; null becomes NaN.
func (m *Measure) UnmarshalJSON(b []byte) error {
	var j measureJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	m.Name, m.Kind, m.Value = j.Name, j.Kind, math.NaN()
	if j.Value != nil {
		m.Value = *j.Value
	}
	return nil
}
