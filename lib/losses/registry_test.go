package losses

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/losslab/losslab/lib/backend"
)

func backendForTest(t *testing.T) backends.Backend {
	t.Helper()
	b, err := backend.Get()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLookupSuggests(t *testing.T) {
	for name, want := range map[string]string{"ldr-kll": `"ldr-kl"`, "zloss": `"z-loss"`, "gce2": `"gce"`} {
		_, err := Lookup(name)
		if err == nil || !strings.Contains(err.Error(), "did you mean "+want) {
			t.Errorf("Lookup(%q) error = %v, want a suggestion of %s", name, err, want)
		}
	}
	if _, err := Lookup("completely-different-thing"); err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("Lookup of a far name: %v (want an error without a suggestion)", err)
	}
}

func TestResolveParams(t *testing.T) {
	o := mustLookup(t, "gce")
	if p, err := o.Resolve(nil); err != nil || p["q"] != 0.7 {
		t.Errorf("Resolve(nil) = %v, %v; want q=0.7", p, err)
	}
	for _, bad := range []Params{{"q": 1.5}, {"q": 0}, {"q": math.NaN()}} {
		if _, err := o.Resolve(bad); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("Resolve(%v) error = %v, want out of range", bad, err)
		}
	}
	if _, err := mustLookup(t, "ldr-kl").Resolve(Params{"lamda": 1}); err == nil || !strings.Contains(err.Error(), `did you mean "lambda"`) {
		t.Errorf("unknown param error = %v", err)
	}
	if _, err := mustLookup(t, "aldr-kl-code").Resolve(Params{"softplus": 0.5}); err == nil || !strings.Contains(err.Error(), "integer") {
		t.Errorf("non-integer softplus error = %v", err)
	}
	if _, err := mustLookup(t, "ce").Resolve(Params{"tau": 1}); err == nil || !strings.Contains(err.Error(), "takes no hyperparameters") {
		t.Errorf("ce with a param: %v", err)
	}
	// ±Inf is outside every range, and the message shows the range as the listing does, "(0, inf)".
	for _, c := range []struct {
		obj, param string
		v          float64
		rng        string
	}{
		{"kd", "temperature", math.Inf(1), "(0, inf)"},
		{"hinge", "margin", math.Inf(1), "[0, inf)"},
		{"z-loss", "b", math.Inf(1), "(-inf, inf)"},
		{"z-loss", "b", math.Inf(-1), "(-inf, inf)"},
	} {
		_, err := mustLookup(t, c.obj).Resolve(Params{c.param: c.v})
		if err == nil || !strings.Contains(err.Error(), "finite") || !strings.Contains(err.Error(), c.rng) {
			t.Errorf("%s with %s=%g: error %v, want one saying it must be finite, in %s", c.obj, c.param, c.v, err, c.rng)
		}
	}
	// Evaluate reports the same.
	if _, err := Evaluate("aldr-kl", ToTensors(t, "aldr-kl", smallBatch(), 32), Params{"alpha": 1}); err == nil || !strings.Contains(err.Error(), "alpha=1 is out of range") {
		t.Errorf("Evaluate with alpha=1: %v", err)
	}
}

func TestEvaluateErrors(t *testing.T) {
	good := func() map[string]*tensors.Tensor { return ToTensors(t, "ce", smallBatch(), 32) }
	cases := []struct {
		what   string
		mutate func(m map[string]*tensors.Tensor)
		want   string
	}{
		{"missing input", func(m map[string]*tensors.Tensor) { delete(m, "labels") }, `missing input "labels"`},
		{"unknown input", func(m map[string]*tensors.Tensor) { m["logit"] = m["logits"]; delete(m, "logits") }, `no input "logit" (did you mean "logits"?)`},
		{"wrong rank", func(m map[string]*tensors.Tensor) { m["logits"] = tensors.FromValue([]float32{1, 2}) }, `input "logits" must have rank 2`},
		{"mismatched B", func(m map[string]*tensors.Tensor) { m["labels"] = tensors.FromValue([]int32{0, 1}) }, `B=2 but input "logits" has B=4`},
		{"int logits", func(m map[string]*tensors.Tensor) { m["logits"] = tensors.FromValue([][]int32{{1, 2}}) }, `must be float32 or float64, got Int32`},
		{"float labels", func(m map[string]*tensors.Tensor) { m["labels"] = tensors.FromValue([]float32{0, 1, 0, 1}) }, `must be int32 or int64, got Float32`},
		{"label out of range", func(m map[string]*tensors.Tensor) { m["labels"] = tensors.FromValue([]int64{0, 3, 1, 1}) }, `value 3 at index 1`},
		{"negative label", func(m map[string]*tensors.Tensor) { m["labels"] = tensors.FromValue([]int32{0, -1, 1, 1}) }, `value -1 at index 1`},
		{"NaN logit", func(m map[string]*tensors.Tensor) {
			m["logits"] = tensors.FromValue([][]float32{{1, float32(math.NaN())}, {1, 2}, {0, 0}, {1, 1}})
		}, `non-finite value NaN`},
		{"empty batch", func(m map[string]*tensors.Tensor) {
			m["logits"] = tensors.FromShape(shapesOf(dtypes.Float32, 0, 3))
			m["labels"] = tensors.FromShape(shapesOf(dtypes.Int32, 0))
		}, `empty axis B`},
	}
	for _, c := range cases {
		m := good()
		c.mutate(m)
		_, err := Evaluate("ce", m, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error = %v, want it to contain %q", c.what, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error is not one line: %q", c.what, err)
		}
	}
	// Mixed float dtypes in a kind with two float inputs (distillation).
	if o := findKind(Distillation); o != nil {
		m := map[string]*tensors.Tensor{
			"student": tensors.FromValue([][]float32{{1, 2}}),
			"teacher": tensors.FromValue([][]float64{{1, 2}}),
			"labels":  tensors.FromValue([]int32{0}),
		}
		if _, err := Evaluate(o.Name, m, nil); err == nil || !strings.Contains(err.Error(), "use one float dtype") {
			t.Errorf("mixed float dtypes: %v", err)
		}
	}
	if _, err := Evaluate("no-such-loss", good(), nil); err == nil {
		t.Error("unknown objective accepted")
	}
}

func findKind(k Kind) *Objective {
	for _, o := range All() {
		if o.Kind == k {
			return o
		}
	}
	return nil
}

// TestEvaluateCaches checks that repeated evaluations reuse the compiled executable.
func TestEvaluateCaches(t *testing.T) {
	EvalArr(t, "ce", smallBatch(), nil, 32)
	execMu.Lock()
	n := len(execCache)
	execMu.Unlock()
	EvalArr(t, "ce", smallBatch(), nil, 32)
	EvalArr(t, "ce", hugeBatch(), nil, 64)
	execMu.Lock()
	defer execMu.Unlock()
	if len(execCache) != n {
		t.Errorf("cache grew from %d to %d entries for the same objective and params", n, len(execCache))
	}
}

// TestEveryObjective checks every registered objective's descriptor and that it evaluates to finite
// values on a generic batch of its kind (in float32 and float64), including large logits.
func TestEveryObjective(t *testing.T) {
	all := All()
	if len(all) < 14 {
		t.Errorf("only %d objectives registered", len(all))
	}
	for _, o := range all {
		if o.Summary == "" || o.Paper == "" || strings.Contains(o.Summary, "\n") {
			t.Errorf("%s: summary %q / paper %q", o.Name, o.Summary, o.Paper)
		}
		if o.Paper != "baseline" {
			if _, err := os.Stat("/work/shared/papers"); err == nil {
				if m, _ := filepath.Glob(filepath.Join("/work/shared/papers", o.Paper+".md")); len(m) == 0 {
					t.Errorf("%s: paper id %q has no spec file", o.Name, o.Paper)
				}
			}
		}
		for _, scale := range []float64{1, 1e4} {
			in := genericBatch(o.Kind, scale)
			CheckFinite(t, o.Name, in, nil)
		}
	}
}

// genericBatch builds a small valid batch of the kind (B = 4, K = D = N = 3), float values scaled.
func genericBatch(k Kind, scale float64) map[string]Arr {
	vals := []float64{0.3, -1.2, 2.0, 0.7, 1.1, -0.4, -0.9, 0.5, 1.6, 0.2, -0.3, 0.8}
	in := map[string]Arr{}
	for _, spec := range k.Inputs() {
		if spec.Optional {
			continue
		}
		shape := []int{4}
		if len(spec.Dims) == 2 {
			shape = []int{4, 3}
		}
		n := shape[0] * (map[bool]int{true: shape[len(shape)-1], false: 1}[len(shape) == 2])
		a := Arr{Shape: shape, Data: make([]float64, n)}
		for i := range a.Data {
			switch {
			case spec.Name == "times":
				a.Data[i] = float64(i + 1)
			case spec.Float:
				a.Data[i] = vals[(i+len(spec.Name))%len(vals)] * scale
			case spec.Name == "labels" && (k == Classification || k == Distillation):
				a.Data[i] = float64(i % 3)
			case spec.Name == "labels": // binary {0,1}; embedding ids with two examples per class
				a.Data[i] = float64(i % 2)
			default: // 0/1 indicators: at least one 1 and one 0 per row.
				a.Data[i] = float64((i + 1) % 2)
			}
		}
		in[spec.Name] = a
	}
	return in
}

func TestTrainAndGraphLoss(t *testing.T) {
	if _, err := TrainLoss("ldr-kll", nil); err == nil || !strings.Contains(err.Error(), "did you mean") {
		t.Errorf("TrainLoss unknown name: %v", err)
	}
	if _, err := TrainLoss("gce", Params{"q": 2}); err == nil {
		t.Error("TrainLoss accepted q=2")
	}
	if o := findKind(Retrieval); o != nil {
		if _, err := TrainLoss(o.Name, nil); err == nil || !strings.Contains(err.Error(), "GraphLoss") {
			t.Errorf("TrainLoss(%s) of kind %s: %v", o.Name, o.Kind, err)
		}
	}
	b := smallBatch()
	for _, name := range []string{"ce", "gce", "aldr-kl-code", "ca-calib"} {
		want := EvalArr(t, name, b, Params{}, 64).Loss
		fn, err := TrainLoss(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		gl, err := GraphLoss(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		out := execFloat64(t, func(x []*Node) []*Node {
			return []*Node{
				fn([]*Node{x[1]}, []*Node{x[0]}),
				gl(Batch{"logits": x[0], "labels": ConvertDType(Reshape(x[1], 4), dtypes.Int32)}),
			}
		}, tensors.FromFlatDataAndDimensions(b["logits"].Data, 4, 3), tensors.FromValue([][]int64{{0}, {2}, {1}, {1}}))
		if math.Abs(out[0][0]-want) > 1e-12 || math.Abs(out[1][0]-want) > 1e-12 {
			t.Errorf("%s: TrainLoss %g, GraphLoss %g, Evaluate %g", name, out[0][0], out[1][0], want)
		}
	}
}

func shapesOf(dt dtypes.DType, dims ...int) shapes.Shape { return shapes.Make(dt, dims...) }

// TestSafeExec checks that panics while building or running a graph come back as one-line errors.
func TestSafeExec(t *testing.T) {
	for _, p := range []any{"a plain string panic", errors.New("an error panic\nwith a second line")} {
		e, err := NewExec(backendForTest(t), func(x *Node) *Node { panic(p) })
		if err != nil {
			t.Fatal(err)
		}
		_, err = safeExec(e, []any{tensors.FromValue([]float32{1})})
		if err == nil {
			t.Fatalf("panic %v not turned into an error", p)
		}
		if msg := backend.FirstLine(err); strings.Contains(msg, "\n") || !strings.Contains(msg, "panic") {
			t.Errorf("panic %q gave error %q", p, msg)
		}
	}
}

// TestEvaluateCacheLimit checks that Evaluate keeps working after an executable reaches GoMLX's
// per-Exec limit of compiled shapes.
func TestEvaluateCacheLimit(t *testing.T) {
	o := mustLookup(t, "mse")
	in := smallBatch()
	EvalArr(t, "mse", in, nil, 64)
	order, _, err := checkInputs(o, ToTensors(t, "mse", in, 64))
	if err != nil {
		t.Fatal(err)
	}
	params, _ := o.Resolve(nil)
	e, err := cachedExec(o, params, order)
	if err != nil {
		t.Fatal(err)
	}
	e.SetMaxCache(1)
	EvalArr(t, "mse", in, nil, 32) // a second shape (dtype) for the same executable
	EvalArr(t, "mse", hugeBatch(), nil, 64)
}

func TestSuggestPrefersTranspositionsAndIsDeterministic(t *testing.T) {
	if d := editDistance("gec", "gce"); d != 1 {
		t.Errorf("editDistance(gec, gce) = %d, want 1", d)
	}
	for range 20 {
		if got := suggest("gec", []string{"gpg", "gce", "mae"}); got != ` (did you mean "gce"?)` {
			t.Fatalf("suggest(gec) = %q", got)
		}
	}
}
