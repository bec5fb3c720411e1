package train

import (
	"fmt"
	"slices"
)

// ParamList is a model's full parameter set on the host, in the model's order — what Params returns,
// and what packages that train on host-side parameters (lib/grokking, lib/proxies) pass around.
type ParamList []Param

// Clone returns a deep copy.
func (ps ParamList) Clone() ParamList {
	out := make(ParamList, len(ps))
	for i, p := range ps {
		out[i] = Param{Name: p.Name, Shape: slices.Clone(p.Shape), Data: slices.Clone(p.Data)}
	}
	return out
}

// LerpParams returns (1 − t)·a + t·b, parameter by parameter (computed in float64, stored as
// float32). The two lists must hold the same names and sizes in the same order.
func LerpParams(a, b ParamList, t float64) (ParamList, error) {
	if len(a) != len(b) {
		return nil, fmt.Errorf("train.LerpParams: %d and %d parameters", len(a), len(b))
	}
	out := a.Clone()
	for i := range a {
		if a[i].Name != b[i].Name || len(a[i].Data) != len(b[i].Data) {
			return nil, fmt.Errorf("train.LerpParams: parameter %d is %s %v in one set and %s %v in the other", i, a[i].Name, a[i].Shape, b[i].Name, b[i].Shape)
		}
		for j := range out[i].Data {
			out[i].Data[j] = float32((1-t)*float64(a[i].Data[j]) + t*float64(b[i].Data[j]))
		}
	}
	return out, nil
}
