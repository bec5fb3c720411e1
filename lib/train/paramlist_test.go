package train

import (
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestParamListLayout: Zeros follows a layout, CheckLayout names the first parameter that differs
// (name, shape or number of values), and Tensors copies the values.
func TestParamListLayout(t *testing.T) {
	layout := ParamList{{Name: "w", Shape: []int{2, 3}}, {Name: "b", Shape: []int{3}}}
	z := layout.Zeros()
	if len(z) != 2 || len(z[0].Data) != 6 || len(z[1].Data) != 3 || z[1].Name != "b" || !slices.Equal(z[0].Shape, []int{2, 3}) {
		t.Fatalf("Zeros: %+v", z)
	}
	if err := z.CheckLayout(layout); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		bad  func(ParamList)
		want string
	}{
		{func(p ParamList) { p[1].Name = "c" }, "parameter 1 is c"},
		{func(p ParamList) { p[0].Shape = []int{3, 2} }, "parameter 0 is w [3 2]"},
		{func(p ParamList) { p[1].Data = p[1].Data[:2] }, "(2 values)"},
	} {
		p := z.Clone()
		c.bad(p)
		if err := p.CheckLayout(layout); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one saying %q", err, c.want)
		}
	}
	if err := z[:1].CheckLayout(layout); err == nil {
		t.Error("one parameter of two accepted")
	}
	z[0].Data[4] = 7
	ts := z.Tensors()
	z[0].Data[4] = 0
	if got := tensors.MustCopyFlatData[float32](ts[0]); got[4] != 7 || !slices.Equal(ts[0].Shape().Dimensions, []int{2, 3}) {
		t.Errorf("Tensors: %v %v", got, ts[0].Shape())
	}
}
