package eqnetexp

import (
	"fmt"
	"math"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/eqnet"
	"github.com/losslab/losslab/lib/models"
)

// TestSupernetMatchesHost: the supernet's logits for a subnet equal an MLP computed on the host with
// eqnet.QuantizeValue applied to every weight (with the subnet's form's step and offset) and every
// hidden input, in each of the four forms.
func TestSupernetMatchesHost(t *testing.T) {
	c := Config{Dims: []int{3, 4, 2}, Bits: []int{2, 8}, EvalBits: []int{2}, Runs: 3}
	ws := [][]float32{{0.3, -0.7, 0.5, 0.1, -0.2, 0.9, -0.4, 0.6, 0.05, -0.8, 0.25, 0.45}, {0.5, -0.3, -0.6, 0.2, 0.7, 0.1, -0.25, 0.8}}
	x := []float32{1, -0.5, 0.8, 0.2, 0.9, -1}
	ctx := context.New()
	tabs := make([]map[string][]float32, 2)
	for l := range 2 {
		out := c.Dims[l+1]
		ctx.In(fmt.Sprintf("dense_%d", l)).VariableWithValue(models.WeightsVar, tensors.FromFlatDataAndDimensions(ws[l], c.Dims[l], out))
		tab := map[string][]float32{}
		for i, name := range channelTables {
			v := make([]float32, 2*out)
			for j := range v {
				v[j] = 0.1 + 0.03*float32(j) + 0.01*float32(i)
				if strings.HasPrefix(name, "w_b") {
					v[j] = -0.05 * float32(j%3)
				}
			}
			tab[name] = v
		}
		tab["w_s_sym_l"], tab["w_s_asym_l"], tab["w_b_asym_l"] = []float32{0.3, 0.01}, []float32{0.25, 0.012}, []float32{0.1, -0.02}
		tab["a_s_sym"], tab["a_s_asym"], tab["a_b_asym"] = []float32{0.4, 0.02}, []float32{0.35, 0.015}, []float32{0.2, 0.01}
		if err := c.SetTables(ctx, l, tab); err != nil {
			t.Fatal(err)
		}
		tabs[l] = tab
	}
	exec := context.MustNewExec(backend.Must(), ctx, func(ctx *context.Context, x, cfg *Node) *Node { return c.Supernet(ctx, x, cfg, 0) })
	for _, b := range []int{2, 8} {
		bi := 0
		if b == 8 {
			bi = 1
		}
		for f := range Forms {
			s, err := c.Uniform(b, f)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := c.Encode([]Subnet{s}, 2)
			if err != nil {
				t.Fatal(err)
			}
			got := tensors.MustCopyFlatData[float32](exec.MustExec(tensors.FromFlatDataAndDimensions(x, 2, 3),
				tensors.FromFlatDataAndDimensions(enc, 1, 2, c.Fields()))[0])
			for r := range 2 {
				h := []float64{float64(x[3*r]), float64(x[3*r+1]), float64(x[3*r+2])}
				for l := range 2 {
					tab, in, out := tabs[l], c.Dims[l], c.Dims[l+1]
					if l > 0 {
						as, ab := tab["a_s_sym"][bi], float32(0)
						if f >= 2 {
							as, ab = tab["a_s_asym"][bi], tab["a_b_asym"][bi]
						}
						for i := range h {
							h[i] = eqnet.QuantizeValue(h[i], float64(as), float64(ab), b, false)
						}
					}
					next := make([]float64, out)
					for j := range out {
						var sc, wb float32
						switch f {
						case 0:
							sc = tab["w_s_sym_ch"][bi*out+j]
						case 1:
							sc = tab["w_s_sym_l"][bi]
						case 2:
							sc, wb = tab["w_s_asym_ch"][bi*out+j], tab["w_b_asym_ch"][bi*out+j]
						case 3:
							sc, wb = tab["w_s_asym_l"][bi], tab["w_b_asym_l"][bi]
						}
						for i := range in {
							next[j] += h[i] * eqnet.QuantizeValue(float64(ws[l][i*out+j]), float64(sc), float64(wb), b, true)
						}
						if l == 0 {
							next[j] = math.Max(next[j], 0)
						}
					}
					h = next
				}
				for j := range 2 {
					if d := math.Abs(float64(got[2*r+j]) - h[j]); d > 1e-5 {
						t.Errorf("%d bits, %s, row %d logit %d: graph %g, host %g", b, Forms[f], r, j, got[2*r+j], h[j])
					}
				}
			}
		}
	}
	if err := c.SetTables(ctx, 0, map[string][]float32{"w_s_sym_ch": {1}}); err == nil {
		t.Error("a short table: no error")
	}
}
