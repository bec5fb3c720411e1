package train

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/tensors"
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

// Zeros returns a list with the names and shapes of ps and all values 0 (ps may be a layout whose
// Data is nil).
func (ps ParamList) Zeros() ParamList {
	out := make(ParamList, len(ps))
	for i, p := range ps {
		n := 1
		for _, d := range p.Shape {
			n *= d
		}
		out[i] = Param{Name: p.Name, Shape: slices.Clone(p.Shape), Data: make([]float32, n)}
	}
	return out
}

// CheckLayout returns an error unless ps has the names and shapes of layout, in its order, with
// prod(shape) values each.
func (ps ParamList) CheckLayout(layout ParamList) error {
	if len(ps) != len(layout) {
		return fmt.Errorf("%d parameters, want %d", len(ps), len(layout))
	}
	for i, want := range layout {
		p := ps[i]
		n := 1
		for _, d := range want.Shape {
			n *= d
		}
		if p.Name != want.Name || !slices.Equal(p.Shape, want.Shape) || len(p.Data) != n {
			return fmt.Errorf("parameter %d is %s %v (%d values), want %s %v", i, p.Name, p.Shape, len(p.Data), want.Name, want.Shape)
		}
	}
	return nil
}

// Tensors returns the parameters as tensors (copies of the data), in order.
func (ps ParamList) Tensors() []*tensors.Tensor {
	out := make([]*tensors.Tensor, len(ps))
	for i, p := range ps {
		out[i] = tensors.FromFlatDataAndDimensions(p.Data, p.Shape...)
	}
	return out
}
