package landscape

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/checkpoints"

	"github.com/losslab/losslab/lib/train"
)

// Param is one named parameter tensor, held on the host in float64.
type Param struct {
	// Scope and Var locate the variable in a GoMLX context, e.g. Scope "/dense_0", Var "weights".
	Scope, Var string
	// Group is the parameter group (a layer by default: the variable's scope).
	Group string
	// Shape is the tensor's shape; DType its dtype in the model (values here are always float64).
	Shape []int
	DType dtypes.DType
	// Data holds the values in row-major order, len = prod(Shape).
	Data []float64
}

// Name is the parameter's full name, "scope/var" (the GoMLX scope-and-name).
func (p *Param) Name() string { return context.JoinScope(p.Scope, p.Var) }

func (p *Param) shapeString() string { return fmt.Sprintf("%v", p.Shape) }

// ParamSet is a model's parameters as named, grouped tensors: a point in parameter space. Parameters are
// kept sorted by name, so two sets from the same model line up. All arithmetic is float64 on the host.
type ParamSet struct {
	Params []*Param
	// State holds the model's non-trainable float variables that go with the point but are not
	// parameters: BatchNorm's moving statistics ("moving_mean", "moving_variance"). Arithmetic never
	// mixes it: a combination keeps the State of its first operand, and the engine uses the base
	// point's State (or re-estimates BatchNorm statistics at each point, see Config.BatchNorm).
	State []*Param `json:",omitempty"`
}

// Size is the total number of scalars, P.
func (ps *ParamSet) Size() int {
	n := 0
	for _, p := range ps.Params {
		n += len(p.Data)
	}
	return n
}

// Names lists the parameter names in order.
func (ps *ParamSet) Names() []string {
	out := make([]string, len(ps.Params))
	for i, p := range ps.Params {
		out[i] = p.Name()
	}
	return out
}

// Groups lists the distinct group names in order of first appearance (parameters are sorted by name, so
// for scopes "dense_0", "dense_1", ... this is layer order; up to 10 layers, then natural order).
func (ps *ParamSet) Groups() []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range ps.Params {
		if !seen[p.Group] {
			seen[p.Group] = true
			out = append(out, p.Group)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return naturalLess(out[i], out[j]) })
	return out
}

// Lookup returns the parameter with the given full name ("/dense_0/weights"), or nil.
func (ps *ParamSet) Lookup(name string) *Param {
	for _, p := range ps.Params {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// Regroup assigns each parameter to the group returned by fn (given the parameter) and returns ps.
func (ps *ParamSet) Regroup(fn func(p *Param) string) *ParamSet {
	for _, p := range ps.Params {
		p.Group = fn(p)
	}
	return ps
}

// Clone returns a deep copy.
func (ps *ParamSet) Clone() *ParamSet {
	out := &ParamSet{Params: make([]*Param, len(ps.Params))}
	for i, p := range ps.Params {
		q := *p
		q.Shape = append([]int(nil), p.Shape...)
		q.Data = append([]float64(nil), p.Data...)
		out.Params[i] = &q
	}
	out.State = cloneParams(ps.State)
	return out
}

func cloneParams(in []*Param) []*Param {
	if in == nil {
		return nil
	}
	out := make([]*Param, len(in))
	for i, p := range in {
		q := *p
		q.Shape = append([]int(nil), p.Shape...)
		q.Data = append([]float64(nil), p.Data...)
		out[i] = &q
	}
	return out
}

// Zeros returns a set with the same names, groups and shapes, all values 0.
func (ps *ParamSet) Zeros() *ParamSet {
	out := ps.Clone()
	for _, p := range out.Params {
		clear(p.Data)
	}
	return out
}

// ParamFilter selects which context variables become parameters.
type ParamFilter func(v *context.Variable) bool

// DefaultFilter keeps trainable float variables, leaving out the optimizers', the metrics' and the
// trainer's state (scopes "/optimizers", "/AdamOptimizer", lib/train's momentum scope, "/metrics",
// "/trainer") and the global step.
func DefaultFilter(v *context.Variable) bool {
	return v.Trainable && isModelFloat(v)
}

// isModelFloat tells a model's float variables from the optimizer's, metrics' and RNG's (lib/train's
// rule, which also decides what train.Config.Init copies).
func isModelFloat(v *context.Variable) bool { return v.DType().IsFloat() && train.IsModelVariable(v) }

// stateFilter selects the non-trainable model float variables kept as a ParamSet's State.
func stateFilter(v *context.Variable) bool { return !v.Trainable && isModelFloat(v) }

// FromContext reads the parameters of a live context: the variables kept by filter (DefaultFilter if nil),
// grouped by scope (for lib/models' models: one group per layer, "/dense_0", "/conv_1", ...). The
// model's non-trainable float variables not kept by filter (BatchNorm's moving statistics) go into
// State. Variables without a value yet are an error (initialise the model first).
func FromContext(ctx *context.Context, filter ParamFilter) (*ParamSet, error) {
	if ctx == nil {
		return nil, fmt.Errorf("landscape.FromContext: nil context")
	}
	if filter == nil {
		filter = DefaultFilter
	}
	ps := &ParamSet{}
	var errs []string
	for v := range ctx.IterVariables() {
		keep := filter(v)
		if !keep && !stateFilter(v) {
			continue
		}
		t, err := v.Value()
		if err != nil || t == nil {
			errs = append(errs, fmt.Sprintf("%s has no value (initialise the variables first)", v.ScopeAndName()))
			continue
		}
		data, err := tensorToFloat64(t)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", v.ScopeAndName(), err))
			continue
		}
		p := &Param{Scope: v.Scope(), Var: v.Name(), Group: v.Scope(),
			Shape: append([]int(nil), t.Shape().Dimensions...), DType: t.DType(), Data: data}
		if keep {
			ps.Params = append(ps.Params, p)
		} else {
			ps.State = append(ps.State, p)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("landscape.FromContext: %s", strings.Join(errs, "; "))
	}
	if len(ps.Params) == 0 {
		return nil, fmt.Errorf("landscape.FromContext: the context has no trainable float variables (scope %q)", ctx.Scope())
	}
	ps.sort()
	return ps, nil
}

// FromCheckpoint reads the parameters saved in a checkpoint folder, keeping the variables selected by
// filter (DefaultFilter if nil). dir is one of lib/train's checkpoint folders ("…/step-00000100", read
// with train.LoadCheckpoint so that trainable flags, hence BatchNorm's State, are restored), a run's
// checkpoint folder holding such step folders (the latest step is read), or a plain GoMLX checkpoints
// folder (its latest checkpoint; every variable there counts as trainable).
func FromCheckpoint(dir string, filter ParamFilter) (ps *ParamSet, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("landscape.FromCheckpoint(%q): %v", dir, r)
		}
	}()
	var ctx *context.Context
	if path, ok := train.CheckpointPath(dir); ok {
		dir = path
		if ctx, err = train.LoadCheckpoint(dir); err != nil {
			return nil, fmt.Errorf("landscape.FromCheckpoint(%q): %w", dir, err)
		}
	} else {
		ctx = context.New()
		if _, err := checkpoints.Load(ctx).Dir(dir).Immediate().Done(); err != nil {
			return nil, fmt.Errorf("landscape.FromCheckpoint(%q): %w", dir, err)
		}
	}
	ps, err = FromContext(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("landscape.FromCheckpoint(%q): %w", dir, err)
	}
	return ps, nil
}

// ToContext writes the values into the matching variables of ctx (creating the ones that are missing),
// converted to each parameter's dtype.
func (ps *ParamSet) ToContext(ctx *context.Context) error {
	all := append(append([]*Param{}, ps.Params...), ps.State...)
	for k, p := range all {
		t, err := p.Tensor()
		if err != nil {
			return err
		}
		trainable := k < len(ps.Params)
		v := ctx.GetVariableByScopeAndName(p.Scope, p.Var)
		if v == nil {
			ctx.InAbsPath(p.Scope).Checked(false).VariableWithValue(p.Var, t).SetTrainable(trainable)
			continue
		}
		if !v.Shape().Equal(t.Shape()) {
			return fmt.Errorf("landscape: variable %s has shape %s, parameter has %s", p.Name(), v.Shape(), t.Shape())
		}
		if err := v.SetValue(t); err != nil {
			return fmt.Errorf("landscape: setting %s: %w", p.Name(), err)
		}
	}
	return nil
}

// Tensor returns the parameter as a tensor of its dtype.
func (p *Param) Tensor() (*tensors.Tensor, error) {
	return float64ToTensor(p.Data, p.DType, p.Shape)
}

func (ps *ParamSet) sort() {
	sort.Slice(ps.Params, func(i, j int) bool { return naturalLess(ps.Params[i].Name(), ps.Params[j].Name()) })
	sort.Slice(ps.State, func(i, j int) bool { return naturalLess(ps.State[i].Name(), ps.State[j].Name()) })
}

// LookupState returns the State variable with the given full name, or nil.
func (ps *ParamSet) LookupState(name string) *Param {
	for _, p := range ps.State {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// Compatible returns nil if other has exactly the same parameter names and shapes, else one error naming
// every missing, extra and mismatched parameter.
func (ps *ParamSet) Compatible(other *ParamSet) error {
	if ps == nil || other == nil {
		return fmt.Errorf("landscape: nil parameter set")
	}
	mine := map[string]*Param{}
	for _, p := range ps.Params {
		mine[p.Name()] = p
	}
	theirs := map[string]*Param{}
	for _, p := range other.Params {
		theirs[p.Name()] = p
	}
	var problems []string
	for _, p := range ps.Params {
		q, ok := theirs[p.Name()]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s %s missing from the second set", p.Name(), p.shapeString()))
		case !equalInts(p.Shape, q.Shape):
			problems = append(problems, fmt.Sprintf("%s has shape %s vs %s", p.Name(), p.shapeString(), q.shapeString()))
		}
	}
	for _, q := range other.Params {
		if _, ok := mine[q.Name()]; !ok {
			problems = append(problems, fmt.Sprintf("%s %s missing from the first set", q.Name(), q.shapeString()))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("landscape: incompatible parameter sets (%d problems): %s", len(problems), strings.Join(problems, "; "))
	}
	if len(ps.Params) != len(other.Params) {
		return fmt.Errorf("landscape: incompatible parameter sets: duplicate names")
	}
	// Same names; make sure the order matches too (it does for sets built here, which are sorted).
	for i := range ps.Params {
		if ps.Params[i].Name() != other.Params[i].Name() {
			return fmt.Errorf("landscape: parameter sets list the same names in a different order (%s vs %s)",
				ps.Params[i].Name(), other.Params[i].Name())
		}
	}
	return nil
}

func checkAll(sets ...*ParamSet) error {
	for i := 1; i < len(sets); i++ {
		if err := sets[0].Compatible(sets[i]); err != nil {
			return err
		}
	}
	return nil
}

// combine returns Σ_i w_i sets_i (sets assumed compatible).
func combine(weights []float64, sets []*ParamSet) *ParamSet {
	out := sets[0].Zeros()
	for k, s := range sets {
		w := weights[k]
		if w == 0 {
			continue
		}
		for i, p := range s.Params {
			dst := out.Params[i].Data
			for j, v := range p.Data {
				dst[j] += w * v
			}
		}
	}
	return out
}

// Combine returns the linear combination Σ_i weights[i]·sets[i].
func Combine(weights []float64, sets ...*ParamSet) (*ParamSet, error) {
	if len(sets) == 0 || len(weights) != len(sets) {
		return nil, fmt.Errorf("landscape.Combine: %d weights for %d sets", len(weights), len(sets))
	}
	if err := checkAll(sets...); err != nil {
		return nil, err
	}
	return combine(weights, sets), nil
}

// Add returns a + b.
func Add(a, b *ParamSet) (*ParamSet, error) { return Combine([]float64{1, 1}, a, b) }

// Sub returns a − b.
func Sub(a, b *ParamSet) (*ParamSet, error) { return Combine([]float64{1, -1}, a, b) }

// Lerp returns (1 − α)·a + α·b.
func Lerp(a, b *ParamSet, alpha float64) (*ParamSet, error) {
	return Combine([]float64{1 - alpha, alpha}, a, b)
}

// Scale returns c·ps.
func (ps *ParamSet) Scale(c float64) *ParamSet { return combine([]float64{c}, []*ParamSet{ps}) }

// Dot returns ⟨a, b⟩ over all parameters.
func Dot(a, b *ParamSet) (float64, error) {
	if err := a.Compatible(b); err != nil {
		return 0, err
	}
	return dot(a, b), nil
}

func dot(a, b *ParamSet) float64 {
	s := 0.0
	for i, p := range a.Params {
		q := b.Params[i].Data
		for j, v := range p.Data {
			s += v * q[j]
		}
	}
	return s
}

// Norm returns the Euclidean norm ‖ps‖.
func (ps *ParamSet) Norm() float64 { return math.Sqrt(dot(ps, ps)) }

// Cosine returns ⟨a,b⟩/(‖a‖‖b‖); an error if either is zero.
func Cosine(a, b *ParamSet) (float64, error) {
	d, err := Dot(a, b)
	if err != nil {
		return 0, err
	}
	na, nb := a.Norm(), b.Norm()
	if na == 0 || nb == 0 {
		return 0, fmt.Errorf("landscape.Cosine: zero vector (norms %g, %g)", na, nb)
	}
	return d / (na * nb), nil
}

// AngleDegrees returns the angle between a and b in degrees, arccos of their cosine.
func AngleDegrees(a, b *ParamSet) (float64, error) {
	c, err := Cosine(a, b)
	if err != nil {
		return 0, err
	}
	return math.Acos(math.Max(-1, math.Min(1, c))) * 180 / math.Pi, nil
}

// Project returns the projection of a onto the line of b: (⟨a,b⟩/⟨b,b⟩)·b.
func Project(a, b *ParamSet) (*ParamSet, error) {
	d, err := Dot(a, b)
	if err != nil {
		return nil, err
	}
	bb := dot(b, b)
	if bb == 0 {
		return nil, fmt.Errorf("landscape.Project: projecting onto a zero vector")
	}
	return b.Scale(d / bb), nil
}

// Mask returns a copy of ps with every parameter outside the given groups set to 0. Unknown group names
// are an error.
func (ps *ParamSet) Mask(groups ...string) (*ParamSet, error) {
	known := map[string]bool{}
	for _, g := range ps.Groups() {
		known[g] = true
	}
	keep := map[string]bool{}
	for _, g := range groups {
		if !known[g] {
			return nil, fmt.Errorf("landscape: unknown parameter group %q (groups: %s)", g, strings.Join(ps.Groups(), ", "))
		}
		keep[g] = true
	}
	out := ps.Clone()
	for _, p := range out.Params {
		if !keep[p.Group] {
			clear(p.Data)
		}
	}
	return out, nil
}

// Flat returns all values concatenated in parameter order (a vector of length Size()).
func (ps *ParamSet) Flat() []float64 {
	out := make([]float64, 0, ps.Size())
	for _, p := range ps.Params {
		out = append(out, p.Data...)
	}
	return out
}

// FromFlat returns a set with ps's names, groups and shapes holding the values of the flat vector v.
func (ps *ParamSet) FromFlat(v []float64) (*ParamSet, error) {
	if len(v) != ps.Size() {
		return nil, fmt.Errorf("landscape.FromFlat: vector has %d values, the parameter set has %d", len(v), ps.Size())
	}
	out := ps.Clone()
	off := 0
	for _, p := range out.Params {
		copy(p.Data, v[off:off+len(p.Data)])
		off += len(p.Data)
	}
	return out, nil
}

// HasNaN returns the name of the first parameter holding a NaN or Inf, or "".
func (ps *ParamSet) HasNaN() string {
	for _, p := range ps.Params {
		for _, v := range p.Data {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return p.Name()
			}
		}
	}
	return ""
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func prod(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// naturalLess compares strings treating runs of digits as numbers ("dense_2" < "dense_10").
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		if da != "" && db != "" {
			if len(da) != len(db) {
				return len(da) < len(db)
			}
			if da != db {
				return da < db
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitPrefix(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

func tensorToFloat64(t *tensors.Tensor) ([]float64, error) {
	switch t.DType() {
	case dtypes.Float32:
		f, err := tensors.CopyFlatData[float32](t)
		if err != nil {
			return nil, err
		}
		out := make([]float64, len(f))
		for i, v := range f {
			out[i] = float64(v)
		}
		return out, nil
	case dtypes.Float64:
		return tensors.CopyFlatData[float64](t)
	default:
		return nil, fmt.Errorf("unsupported dtype %s (want float32 or float64)", t.DType())
	}
}

func float64ToTensor(data []float64, dtype dtypes.DType, shape []int) (*tensors.Tensor, error) {
	switch dtype {
	case dtypes.Float32:
		f := make([]float32, len(data))
		for i, v := range data {
			f[i] = float32(v)
		}
		return tensors.FromFlatDataAndDimensions(f, shape...), nil
	case dtypes.Float64:
		return tensors.FromFlatDataAndDimensions(append([]float64(nil), data...), shape...), nil
	default:
		return nil, fmt.Errorf("landscape: unsupported dtype %s (want float32 or float64)", dtype)
	}
}
