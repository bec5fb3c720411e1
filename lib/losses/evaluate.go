package losses

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/losslab/losslab/lib/backend"
)

// Result is what Evaluate computes for one batch.
type Result struct {
	// Loss is the objective's value: the mean of PerExample for per-example objectives.
	Loss float64
	// PerExample holds the per-example losses [B]; nil when the objective is not a per-example mean.
	PerExample []float64
	// Grad holds, for every float input, the gradient of Loss with respect to it, flattened row-major.
	Grad map[string][]float64
	// Shapes holds the dimensions of every input given (and so of its gradient).
	Shapes map[string][]int
}

// Evaluate checks the inputs against the objective's kind, resolves its hyperparameters, and computes the
// loss, the per-example losses and the gradient of the loss with respect to every float input.
//
// Float inputs may be float32 or float64 (all the same dtype; the graph runs in it); integer inputs may be
// int32 or int64 and are passed to the objective as int32. Labels of classification and distillation batches
// must lie in [0,K); 0/1 inputs ("positives", "events", binary "labels") must be 0 or 1.
// Every problem (unknown objective, missing or unknown input, wrong rank, mismatched sizes, wrong dtype,
// NaN input, out-of-range hyperparameter, a failure while building or running the graph) is returned as a
// one-line error. Compiled graphs are cached per objective and hyperparameters (and per shape inside).
func Evaluate(name string, inputs map[string]*tensors.Tensor, p Params) (*Result, error) {
	o, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	params, err := o.Resolve(p)
	if err != nil {
		return nil, err
	}
	order, _, err := checkInputs(o, inputs)
	if err != nil {
		return nil, err
	}
	exec, err := cachedExec(o, params, order)
	if err != nil {
		return nil, err
	}
	args := make([]any, len(order))
	for i, in := range order {
		args[i] = inputs[in.Name]
	}
	outputs, err := safeExec(exec, args)
	if err != nil && strings.Contains(err.Error(), "SetMaxCache") {
		// The executable has compiled its maximum number of shapes (GoMLX's per-Exec limit): start a
		// fresh one for this objective and params, so long notebook sessions keep working.
		dropExec(o, params, order)
		if exec, err = cachedExec(o, params, order); err == nil {
			outputs, err = safeExec(exec, args)
		}
	}
	if err != nil {
		var tooLarge *tooLargeError
		if errors.As(err, &tooLarge) {
			dropExec(o, params, order) // Its graph for these shapes was never finished.
			return nil, tooLarge
		}
		return nil, fmt.Errorf("objective %q: %s", o.Name, backend.FirstLine(err))
	}
	res := &Result{Grad: map[string][]float64{}, Shapes: map[string][]int{}}
	for _, in := range order {
		res.Shapes[in.Name] = append([]int(nil), inputs[in.Name].Shape().Dimensions...)
	}
	flat := make([][]float64, len(outputs))
	for i, t := range outputs {
		flat[i], err = toFloat64(t)
		if err != nil {
			return nil, fmt.Errorf("objective %q: reading output %d: %w", o.Name, i, err)
		}
	}
	res.Loss = flat[0][0]
	next := 1
	if o.PerExample {
		res.PerExample = flat[1]
		next = 2
	}
	for _, in := range order {
		if in.Float {
			res.Grad[in.Name] = flat[next]
			next++
		}
	}
	return res, nil
}

// checkInputs validates the given inputs against the objective's kind and returns the inputs present, in
// the kind's order, and the float dtype used.
func checkInputs(o *Objective, inputs map[string]*tensors.Tensor) ([]Input, dtypes.DType, error) {
	table := o.Kind.Inputs()
	known := make([]string, 0, len(table))
	for _, in := range table {
		known = append(known, in.Name)
	}
	var unknown []string
	for n := range inputs {
		if !contains(known, n) {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, 0, fmt.Errorf("objective %q (kind %s) has no input %s%s; its inputs are: %s",
			o.Name, o.Kind, quoted(unknown[0]), suggest(unknown[0], known), kindSignature(o.Kind))
	}
	var order []Input
	sizes := map[string]int{}
	sizeFrom := map[string]string{}
	floatDType := dtypes.InvalidDType
	for _, in := range table {
		t, ok := inputs[in.Name]
		if !ok || t == nil {
			if in.Optional {
				continue
			}
			return nil, 0, fmt.Errorf("objective %q (kind %s) is missing input %q; its inputs are: %s",
				o.Name, o.Kind, in.Name, kindSignature(o.Kind))
		}
		shape := t.Shape()
		if shape.Rank() != len(in.Dims) {
			return nil, 0, fmt.Errorf("input %q must have rank %d [%s], got shape %v",
				in.Name, len(in.Dims), strings.Join(in.Dims, ","), shape.Dimensions)
		}
		for axis, dimName := range in.Dims {
			d := shape.Dimensions[axis]
			if d == 0 {
				return nil, 0, fmt.Errorf("input %q has an empty axis %s (shape %v)", in.Name, dimName, shape.Dimensions)
			}
			if prev, seen := sizes[dimName]; seen && prev != d {
				return nil, 0, fmt.Errorf("input %q has %s=%d but input %q has %s=%d",
					in.Name, dimName, d, sizeFrom[dimName], dimName, prev)
			}
			sizes[dimName], sizeFrom[dimName] = d, in.Name
		}
		dt := shape.DType
		if in.Float {
			if dt != dtypes.Float32 && dt != dtypes.Float64 {
				return nil, 0, fmt.Errorf("input %q must be float32 or float64, got %s", in.Name, dt)
			}
			if floatDType != dtypes.InvalidDType && dt != floatDType {
				return nil, 0, fmt.Errorf("input %q is %s but other float inputs are %s: use one float dtype", in.Name, dt, floatDType)
			}
			floatDType = dt
			vals, err := toFloat64(t)
			if err != nil {
				return nil, 0, err
			}
			for i, v := range vals {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return nil, 0, fmt.Errorf("input %q has a non-finite value %g at flat index %d", in.Name, v, i)
				}
			}
		} else {
			if dt != dtypes.Int32 && dt != dtypes.Int64 {
				return nil, 0, fmt.Errorf("input %q must be int32 or int64, got %s", in.Name, dt)
			}
		}
		order = append(order, in)
	}
	// Value checks on integer inputs.
	for _, in := range order {
		if in.Float {
			continue
		}
		vals, _ := toFloat64(inputs[in.Name])
		lo, hi, what := 0.0, 1.0, "0 or 1"
		switch {
		case in.Name == "labels" && (o.Kind == Classification || o.Kind == Distillation):
			hi, what = float64(sizes["K"]-1), fmt.Sprintf("a class index in [0,%d)", sizes["K"])
		case in.Name == "labels" && o.Kind == Embedding:
			continue // arbitrary class ids
		}
		for i, v := range vals {
			if v < lo || v > hi {
				return nil, 0, fmt.Errorf("input %q has value %g at index %d: each must be %s", in.Name, v, i, what)
			}
		}
	}
	return order, floatDType, nil
}

func kindSignature(k Kind) string {
	parts := make([]string, 0, 4)
	for _, in := range k.Inputs() {
		t := "int"
		if in.Float {
			t = "float"
		}
		s := fmt.Sprintf("%s %s [%s]", in.Name, t, strings.Join(in.Dims, ","))
		if in.Optional {
			s += " (optional)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var (
	execMu    sync.Mutex
	execCache = map[string]*Exec{}
)

// cacheKey identifies a compiled graph: objective, resolved params and which inputs are present
// (shapes and dtypes are cached by Exec itself).
func cacheKey(o *Objective, params Params, order []Input) string {
	var sb strings.Builder
	sb.WriteString(o.Name)
	names := make([]string, 0, len(params))
	for n := range params {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&sb, "|%s=%v", n, params[n])
	}
	for _, in := range order {
		sb.WriteString("|" + in.Name)
	}
	return sb.String()
}

func cachedExec(o *Objective, params Params, order []Input) (*Exec, error) {
	key := cacheKey(o, params, order)
	execMu.Lock()
	defer execMu.Unlock()
	if e, ok := execCache[key]; ok {
		return e, nil
	}
	b, err := backend.Get()
	if err != nil {
		return nil, err
	}
	graphFn := func(nodes []*Node) []*Node {
		batch := make(Batch, len(order))
		var floats []*Node
		for i, in := range order {
			n := nodes[i]
			if !in.Float && n.DType() != dtypes.Int32 {
				n = ConvertDType(n, dtypes.Int32)
			}
			batch[in.Name] = n
			if in.Float {
				floats = append(floats, nodes[i])
			}
		}
		out := o.Fn(batch, params)
		var loss *Node
		outs := []*Node{nil}
		if o.PerExample {
			if out.Rank() != 1 {
				panicf("objective %q returned shape %s, want per-example losses [B]", o.Name, out.Shape())
			}
			loss = ReduceAllMean(out)
			outs = append(outs, out)
		} else {
			if out.Rank() != 0 {
				panicf("objective %q returned shape %s, want a scalar loss", o.Name, out.Shape())
			}
			loss = out
		}
		outs[0] = loss
		if len(floats) > 0 {
			outs = append(outs, Gradient(loss, floats...)...)
		}
		if err := checkGraphMemory(o, loss.Graph(), order, nodes, outs); err != nil {
			panic(err)
		}
		return outs
	}
	e, err := NewExec(b, graphFn)
	if err != nil {
		return nil, err
	}
	e = e.WithName("losses." + o.Name)
	if len(execCache) > 256 { // Bound memory in long notebook sessions.
		for k, old := range execCache {
			old.Finalize()
			delete(execCache, k)
		}
	}
	execCache[key] = e
	return e, nil
}

// MaxGraphBytes bounds the memory Evaluate lets one evaluation's graph ask for, estimated before it
// runs: the most that the graph's values take at once when they are computed in order and each is freed
// after its last use. Pairwise objectives hold B×B matrices, so a batch of tens of thousands of rows
// needs tens of GB; above this limit Evaluate returns an error naming the estimate instead of dying with
// Go's fatal "out of memory". Evaluate such objectives on smaller batches, or raise the limit on a
// machine with the memory.
var MaxGraphBytes int64 = 4 << 30

// checkGraphMemory returns an error when the graph of objective o on the given inputs needs more
// than MaxGraphBytes at once (see there); outs stay alive to the end.
func checkGraphMemory(o *Objective, g *Graph, order []Input, inputs, outs []*Node) error {
	nodes := g.Nodes()
	size := make([]int64, len(nodes))
	lastUse := make([]int, len(nodes))
	index := make(map[*Node]int, len(nodes))
	var largest *Node
	for i, n := range nodes {
		index[n] = i
		lastUse[i] = i
		if n.NumOutputs() == 1 {
			size[i] = int64(n.Shape().Memory())
			if largest == nil || size[i] > int64(largest.Shape().Memory()) {
				largest = n
			}
		}
		for _, in := range n.Inputs() {
			if k, ok := index[in]; ok {
				lastUse[k] = max(lastUse[k], i)
			}
		}
	}
	for _, n := range append(append([]*Node(nil), inputs...), outs...) {
		if k, ok := index[n]; ok {
			lastUse[k] = len(nodes)
		}
	}
	freeAt := make([][]int, len(nodes)+1)
	for i, l := range lastUse {
		freeAt[l] = append(freeAt[l], i)
	}
	var live, peak int64
	for i := range nodes {
		live += size[i]
		peak = max(peak, live)
		for _, k := range freeAt[i] {
			live -= size[k]
		}
	}
	if peak <= MaxGraphBytes {
		return nil
	}
	shapes := make([]string, len(order))
	for i, in := range order {
		shapes[i] = fmt.Sprintf("%s %v", in.Name, inputs[i].Shape().Dimensions)
	}
	return &tooLargeError{fmt.Sprintf("objective %q on inputs %s needs about %.3g GB at once (its largest value is %s, %.3g GB), more than the limit of %.3g GB (losses.MaxGraphBytes): evaluate it on smaller batches",
		o.Name, strings.Join(shapes, ", "), float64(peak)/1e9, largest.Shape(), float64(largest.Shape().Memory())/1e9, float64(MaxGraphBytes)/1e9)}
}

// tooLargeError is checkGraphMemory's error, raised as a panic from inside the graph function.
type tooLargeError struct{ msg string }

func (e *tooLargeError) Error() string { return e.msg }

// dropExec removes (and finalizes) the cached executable of an objective and params.
func dropExec(o *Objective, params Params, order []Input) {
	key := cacheKey(o, params, order)
	execMu.Lock()
	defer execMu.Unlock()
	if e, ok := execCache[key]; ok {
		e.Finalize()
		delete(execCache, key)
	}
}

// safeExec runs the executable, turning panics into errors.
func safeExec(e *Exec, args []any) (out []*tensors.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = backend.Recovered(r)
		}
	}()
	return e.Exec(args...)
}

// toFloat64 copies a numeric tensor's values into a float64 slice (row-major).
func toFloat64(t *tensors.Tensor) ([]float64, error) {
	var out []float64
	var err error
	switch t.DType() {
	case dtypes.Float32:
		err = tensors.ConstFlatData(t, func(f []float32) {
			out = make([]float64, len(f))
			for i, v := range f {
				out[i] = float64(v)
			}
		})
	case dtypes.Float64:
		err = tensors.ConstFlatData(t, func(f []float64) { out = append([]float64(nil), f...) })
	case dtypes.Int32:
		err = tensors.ConstFlatData(t, func(f []int32) {
			out = make([]float64, len(f))
			for i, v := range f {
				out[i] = float64(v)
			}
		})
	case dtypes.Int64:
		err = tensors.ConstFlatData(t, func(f []int64) {
			out = make([]float64, len(f))
			for i, v := range f {
				out[i] = float64(v)
			}
		})
	default:
		return nil, errors.New("unsupported dtype " + t.DType().String())
	}
	return out, err
}

// TrainLoss adapts a classification objective to GoMLX's train.LossFn signature: labels[0] is an integer
// tensor [B] or [B,1], predictions[0] the logits [B,K]. The returned function gives the mean loss.
// It returns an error for an unknown objective, a non-classification objective, or bad hyperparameters.
func TrainLoss(name string, p Params) (func(labels, predictions []*Node) *Node, error) {
	c, err := ResolveClassifier(name, p)
	if errors.Is(err, ErrNotClassification) {
		return nil, fmt.Errorf("%w; TrainLoss takes only those (use GraphLoss)", err)
	}
	if err != nil {
		return nil, err
	}
	o := c.Objective
	return func(labels, predictions []*Node) *Node {
		if len(labels) < 1 || len(predictions) < 1 {
			panicf("losses.TrainLoss(%q): want labels[0] and predictions[0], got %d labels and %d predictions", o.Name, len(labels), len(predictions))
		}
		logits, y := predictions[0], labels[0]
		if logits.Rank() != 2 {
			panicf("losses.TrainLoss(%q): predictions[0] must be logits [B,K], got shape %s", o.Name, logits.Shape())
		}
		if y.Rank() == 2 && y.Shape().Dimensions[1] == 1 {
			y = Reshape(y, y.Shape().Dimensions[0])
		}
		if y.Rank() != 1 || y.Shape().Dimensions[0] != logits.Shape().Dimensions[0] {
			panicf("losses.TrainLoss(%q): labels[0] must be [B] or [B,1] with B=%d, got shape %s", o.Name, logits.Shape().Dimensions[0], y.Shape())
		}
		if !y.DType().IsInt() {
			panicf("losses.TrainLoss(%q): labels[0] must be an integer tensor, got %s", o.Name, y.DType())
		}
		if y.DType() != dtypes.Int32 {
			y = ConvertDType(y, dtypes.Int32)
		}
		out := c.Loss(logits, y)
		if c.PerExample() {
			return ReduceAllMean(out)
		}
		return out
	}, nil
}

// GraphLoss returns a function building the objective's mean loss from a batch of graph nodes, for
// objectives of any kind. Integer inputs must already be int32.
func GraphLoss(name string, p Params) (func(b Batch) *Node, error) {
	o, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	params, err := o.Resolve(p)
	if err != nil {
		return nil, err
	}
	return func(b Batch) *Node {
		for _, in := range o.Kind.Inputs() {
			if _, ok := b[in.Name]; !ok && !in.Optional {
				panicf("losses.GraphLoss(%q): batch is missing input %q", o.Name, in.Name)
			}
		}
		out := o.Fn(b, params)
		if o.PerExample {
			return ReduceAllMean(out)
		}
		return out
	}, nil
}

// panicf panics with an error, the GoMLX convention for shape problems while building a graph;
// Evaluate and the command turn it back into an error.
func panicf(format string, args ...any) { panic(fmt.Errorf(format, args...)) }
