// Package graphtest runs small GoMLX graphs for tests: one call builds, compiles and runs a graph
// function on LossLab's backend and returns its outputs as float64 values.
package graphtest

import (
	"fmt"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/losslab/losslab/lib/backend"
)

// Run executes fn (any function graph.NewExecAny accepts) once on args and returns each output flattened
// row-major to float64; float32, float64, int32 and int64 outputs of any rank are accepted. Errors fail the test.
func Run(t testing.TB, fn any, args ...any) [][]float64 {
	t.Helper()
	b, err := backend.Get()
	if err != nil {
		t.Fatal(err)
	}
	e, err := graph.NewExecAny(b, fn)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Finalize()
	outs, err := e.Exec(args...)
	if err != nil {
		t.Fatal(err)
	}
	res := make([][]float64, len(outs))
	for i, o := range outs {
		res[i], err = floats(o)
		if err != nil {
			t.Fatalf("output %d: %v", i, err)
		}
	}
	return res
}

// floats copies a float32, float64, int32 or int64 tensor into a flat []float64.
func floats(o *tensors.Tensor) ([]float64, error) {
	var out []float64
	switch o.DType() {
	case dtypes.Float32:
		tensors.MustConstFlatData(o, func(flat []float32) {
			for _, v := range flat {
				out = append(out, float64(v))
			}
		})
	case dtypes.Float64:
		tensors.MustConstFlatData(o, func(flat []float64) { out = append(out, flat...) })
	case dtypes.Int32:
		tensors.MustConstFlatData(o, func(flat []int32) {
			for _, v := range flat {
				out = append(out, float64(v))
			}
		})
	case dtypes.Int64:
		tensors.MustConstFlatData(o, func(flat []int64) {
			for _, v := range flat {
				out = append(out, float64(v))
			}
		})
	default:
		return nil, fmt.Errorf("graphtest: output of dtype %s, want a float or int32/int64 tensor", o.DType())
	}
	return out, nil
}
