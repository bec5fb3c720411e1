package landscape

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/checkpoints"
)

func TestParamArithmetic(t *testing.T) {
	a := randomMLP([]int{3, 4, 2}, dtypes.Float32, 1)
	b := randomMLP([]int{3, 4, 2}, dtypes.Float32, 2)
	fa, fb := a.Flat(), b.Flat()
	sum, err := Add(a, b)
	if err != nil {
		t.Fatal(err)
	}
	diff, _ := Sub(a, b)
	mid, _ := Lerp(a, b, 0.25)
	dot, _ := Dot(a, b)
	wantDot, na, nb := 0.0, 0.0, 0.0
	for i := range fa {
		if got := sum.Flat()[i]; got != fa[i]+fb[i] {
			t.Fatalf("Add[%d] = %g, want %g", i, got, fa[i]+fb[i])
		}
		if got := diff.Flat()[i]; got != fa[i]-fb[i] {
			t.Fatalf("Sub[%d] = %g", i, got)
		}
		if got, want := mid.Flat()[i], 0.75*fa[i]+0.25*fb[i]; math.Abs(got-want) > 1e-15 {
			t.Fatalf("Lerp[%d] = %g, want %g", i, got, want)
		}
		if got := a.Scale(-2).Flat()[i]; got != -2*fa[i] {
			t.Fatalf("Scale[%d] = %g", i, got)
		}
		wantDot += fa[i] * fb[i]
		na += fa[i] * fa[i]
		nb += fb[i] * fb[i]
	}
	if math.Abs(dot-wantDot) > 1e-12 || math.Abs(a.Norm()-math.Sqrt(na)) > 1e-12 {
		t.Fatalf("Dot %g vs %g, Norm %g vs %g", dot, wantDot, a.Norm(), math.Sqrt(na))
	}
	cos, _ := Cosine(a, b)
	if math.Abs(cos-wantDot/math.Sqrt(na*nb)) > 1e-12 {
		t.Fatalf("Cosine %g", cos)
	}
	proj, _ := Project(a, b)
	// a − proj is orthogonal to b.
	res, _ := Sub(a, proj)
	if d, _ := Dot(res, b); math.Abs(d) > 1e-12 {
		t.Fatalf("residual of projection not orthogonal: %g", d)
	}
	if ang, _ := AngleDegrees(a, a); math.Abs(ang) > 1e-6 {
		t.Fatalf("angle(a,a) = %g", ang)
	}
	back, err := a.FromFlat(fa)
	if err != nil || !equalFloats(back.Flat(), fa) {
		t.Fatalf("flat round trip failed: %v", err)
	}
	if _, err := a.FromFlat(fa[1:]); err == nil {
		t.Fatal("FromFlat accepted a short vector")
	}
	if got := a.Groups(); strings.Join(got, ",") != "/dense_0,/dense_1" {
		t.Fatalf("groups %v", got)
	}
	m, err := a.Mask("/dense_1")
	if err != nil {
		t.Fatal(err)
	}
	if m.Lookup("/dense_0/weights").Data[0] != 0 || m.Lookup("/dense_1/weights").Data[0] != a.Lookup("/dense_1/weights").Data[0] {
		t.Fatal("Mask kept the wrong group")
	}
	if _, err := a.Mask("/nope"); err == nil || !strings.Contains(err.Error(), "/nope") {
		t.Fatalf("Mask of unknown group: %v", err)
	}
}

func equalFloats(a, b []float64) bool {
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

func TestCompatibleNamesEveryMismatch(t *testing.T) {
	a := randomMLP([]int{3, 4, 2}, dtypes.Float32, 1)
	b := randomMLP([]int{3, 5, 2}, dtypes.Float32, 1)
	b.Params = append(b.Params, &Param{Scope: "/extra", Var: "w", Shape: []int{1}, DType: dtypes.Float32, Data: []float64{1}})
	b.sort()
	err := a.Compatible(b)
	if err == nil {
		t.Fatal("no error for mismatched sets")
	}
	for _, want := range []string{"/dense_0/weights has shape [3 4] vs [3 5]", "/dense_0/biases", "/dense_1/weights", "/extra/w"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "/dense_1/biases") {
		t.Errorf("error names a matching parameter: %v", err)
	}
	if _, err := Add(a, b); err == nil {
		t.Error("Add accepted incompatible sets")
	}
}

func TestContextAndCheckpointRoundTrip(t *testing.T) {
	sizes := []int{3, 4, 2}
	a := randomMLP(sizes, dtypes.Float32, 3)
	ctx := context.New()
	if err := a.ToContext(ctx); err != nil {
		t.Fatal(err)
	}
	// A non-trainable integer variable (like the global step) must be left out.
	ctx.Checked(false).VariableWithValue("global_step", int64(7)).SetTrainable(false)
	got, err := FromContext(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Compatible(got); err != nil {
		t.Fatal(err)
	}
	// Values went through float32.
	for i, v := range got.Flat() {
		if v != float64(float32(a.Flat()[i])) {
			t.Fatalf("value %d: %g vs %g", i, v, a.Flat()[i])
		}
	}
	dir := t.TempDir()
	h, err := checkpoints.Build(ctx).Dir(dir).Done()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Save(); err != nil {
		t.Fatal(err)
	}
	fromCk, err := FromCheckpoint(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !equalFloats(fromCk.Flat(), got.Flat()) || fromCk.Lookup("/global_step") != nil {
		t.Fatalf("checkpoint round trip differs: %v", fromCk.Names())
	}
	// A checkpoint of another architecture is rejected naming the parameters.
	ctx2 := context.New()
	if err := randomMLP([]int{3, 6, 2}, dtypes.Float32, 4).ToContext(ctx2); err != nil {
		t.Fatal(err)
	}
	dir2 := t.TempDir()
	h2, _ := checkpoints.Build(ctx2).Dir(dir2).Done()
	if err := h2.Save(); err != nil {
		t.Fatal(err)
	}
	other, err := FromCheckpoint(dir2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := fromCk.Compatible(other); err == nil || !strings.Contains(err.Error(), "/dense_1/weights has shape [4 2] vs [6 2]") {
		t.Fatalf("mismatched checkpoints: %v", err)
	}
	if _, err := FromCheckpoint(t.TempDir()+"/missing", nil); err == nil {
		t.Fatal("FromCheckpoint of a missing folder gave no error")
	}
}

func TestNaturalOrder(t *testing.T) {
	if !naturalLess("/dense_2/w", "/dense_10/w") || naturalLess("/dense_10/w", "/dense_2/w") {
		t.Fatal("natural order wrong")
	}
}
