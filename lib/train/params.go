package train

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Param is one named model parameter, copied to the host.
type Param struct {
	// Name is the GoMLX scope-and-name, e.g. "/dense_0/weights".
	Name  string
	Shape []int
	// Data holds the values in row-major order, len = prod(Shape).
	Data []float32
}

// ParamVariables returns the model's parameters as context variables: the trainable float32
// variables, in creation order (which follows the model's layer order). Optimizer state, the global
// step and BatchNorm's moving averages are not trainable and are left out.
func ParamVariables(ctx *context.Context) []*context.Variable {
	var out []*context.Variable
	for v := range ctx.IterVariables() {
		if v.Trainable && v.DType() == dtypes.Float32 {
			out = append(out, v)
		}
	}
	return out
}

// Params returns copies of the model's parameters (see ParamVariables), in order.
func Params(ctx *context.Context) ([]Param, error) {
	vars := ParamVariables(ctx)
	if len(vars) == 0 {
		return nil, fmt.Errorf("train.Params: the context has no trainable float32 variables (build or train the model first)")
	}
	out := make([]Param, 0, len(vars))
	for _, v := range vars {
		t, err := v.Value()
		if err != nil || t == nil {
			return nil, fmt.Errorf("train.Params: %s has no value (initialise the model first): %v", v.ScopeAndName(), err)
		}
		out = append(out, Param{Name: v.ScopeAndName(), Shape: slices.Clone(v.Shape().Dimensions), Data: tensors.MustCopyFlatData[float32](t)})
	}
	return out, nil
}

// SetParams writes params into the context's variables of the same names. Every parameter must match
// an existing variable's shape; variables not named are left unchanged.
func SetParams(ctx *context.Context, params []Param) error {
	for _, p := range params {
		scope, name := context.SplitScope(p.Name)
		v := ctx.GetVariableByScopeAndName(scope, name)
		if v == nil {
			return fmt.Errorf("train.SetParams: no variable %q in the context", p.Name)
		}
		want := v.Shape()
		if want.DType != dtypes.Float32 || !slices.Equal(want.Dimensions, p.Shape) || len(p.Data) != want.Size() {
			return fmt.Errorf("train.SetParams: %s has shape %s, got shape %v with %d values", p.Name, want, p.Shape, len(p.Data))
		}
		if err := v.SetValue(tensors.FromFlatDataAndDimensions(slices.Clone(p.Data), p.Shape...)); err != nil {
			return fmt.Errorf("train.SetParams: %s: %w", p.Name, err)
		}
	}
	return nil
}

// NumParams returns the total number of scalars in the model's parameters.
func NumParams(ctx *context.Context) int {
	n := 0
	for _, v := range ParamVariables(ctx) {
		n += v.Shape().Size()
	}
	return n
}

// Flat returns the model's parameters concatenated into one vector, in ParamVariables order.
func Flat(ctx *context.Context) ([]float32, error) {
	out := make([]float32, 0, NumParams(ctx))
	for _, v := range ParamVariables(ctx) {
		t, err := v.Value()
		if err != nil || t == nil {
			return nil, fmt.Errorf("train.Flat: %s has no value (initialise the model first): %v", v.ScopeAndName(), err)
		}
		tensors.MustConstFlatData(t, func(d []float32) { out = append(out, d...) })
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("train.Flat: the context has no trainable float32 variables (build or train the model first)")
	}
	return out, nil
}

// SetFlat is the inverse of Flat: it splits flat into the model's parameters, in ParamVariables order.
func SetFlat(ctx *context.Context, flat []float32) error {
	vars := ParamVariables(ctx)
	if n := NumParams(ctx); len(flat) != n || n == 0 {
		return fmt.Errorf("train.SetFlat: got a vector of %d values, the model has %d parameters", len(flat), n)
	}
	pos := 0
	for _, v := range vars {
		n := v.Shape().Size()
		t := tensors.FromShape(shapes.Make(dtypes.Float32, v.Shape().Dimensions...))
		tensors.MustMutableFlatData(t, func(d []float32) { copy(d, flat[pos:pos+n]) })
		pos += n
		if err := v.SetValue(t); err != nil {
			return fmt.Errorf("train.SetFlat: %s: %w", v.ScopeAndName(), err)
		}
	}
	return nil
}

// ParamLayout returns the names and sizes of the parameters, in the order Flat concatenates them:
// parameter i occupies flat[offset_i : offset_i+sizes[i]].
func ParamLayout(ctx *context.Context) (names []string, sizes []int) {
	for _, v := range ParamVariables(ctx) {
		names = append(names, v.ScopeAndName())
		sizes = append(sizes, v.Shape().Size())
	}
	return names, sizes
}
