package losses

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// refEdgeMask is a float64 reference of BPKD's edge mask by explicit windows: labels [H][W] of one
// image, result [h][w][C].
func refEdgeMask(lab [][]int, nc, r, s int) [][][]float64 {
	hh, ww := len(lab), len(lab[0])
	e := make([][][]float64, hh)
	for y := range hh {
		e[y] = make([][]float64, ww)
		for x := range ww {
			e[y][x] = make([]float64, nc)
			if lab[y][x] < 0 || lab[y][x] >= nc {
				continue
			}
			for c := range nc {
				dil, ero := 0.0, 1.0
				for dy := -r; dy <= r; dy++ {
					for dx := -r; dx <= r; dx++ {
						yy, xx := y+dy, x+dx
						if yy < 0 || yy >= hh || xx < 0 || xx >= ww {
							continue
						}
						if lab[yy][xx] == c {
							dil = 1
						} else {
							ero = 0
						}
					}
				}
				e[y][x][c] = dil - ero
			}
		}
	}
	out := make([][][]float64, hh/s)
	for i := range out {
		out[i] = make([][]float64, ww/s)
		for j := range out[i] {
			out[i][j] = make([]float64, nc)
			for c := range nc {
				for y := i * s; y < (i+1)*s; y++ {
					for x := j * s; x < (j+1)*s; x++ {
						out[i][j][c] += e[y][x][c] / float64(s*s)
					}
				}
			}
		}
	}
	return out
}

func hbLogSoftmax(x []float64) []float64 {
	l := RefLogSumExp(x)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = v - l
	}
	return out
}

// refBPKD returns L_E (total or per class) and L_B for one image: logits zs, zt [h][w][C], mask m.
func refBPKD(zs, zt, m [][][]float64, tau, alpha float64, perClass bool) (le, lb float64) {
	h, w, nc := len(zs), len(zs[0]), len(zs[0][0])
	sc := make([]float64, nc)
	nTot, nCls := 0.0, make([]float64, nc)
	for y := range h {
		for x := range w {
			ps, pt := make([]float64, nc), make([]float64, nc)
			for c := range nc {
				ps[c], pt[c] = zs[y][x][c]*m[y][x][c]/tau, zt[y][x][c]*m[y][x][c]/tau
			}
			ls, lt := hbLogSoftmax(ps), hbLogSoftmax(pt)
			phi := 0.0
			for c := range nc {
				phi += math.Exp(lt[c]) * (lt[c] - ls[c])
			}
			phi *= tau * tau
			for c := range nc {
				sc[c] += m[y][x][c] * phi
				nTot += m[y][x][c]
				nCls[c] += m[y][x][c]
			}
		}
	}
	for c := range nc {
		if perClass {
			le += alpha * sc[c] / math.Max(1, nCls[c])
		} else {
			le += alpha * sc[c] / math.Max(1, nTot)
		}
	}
	for c := range nc {
		qs, qt := make([]float64, 0, h*w), make([]float64, 0, h*w)
		for y := range h {
			for x := range w {
				qs = append(qs, zs[y][x][c]*(1-m[y][x][c])/tau)
				qt = append(qt, zt[y][x][c]*(1-m[y][x][c])/tau)
			}
		}
		ls, lt := hbLogSoftmax(qs), hbLogSoftmax(qt)
		for i := range ls {
			lb += math.Exp(lt[i]) * (lt[i] - ls[i])
		}
	}
	lb *= tau * tau / float64(nc)
	return le, lb
}

// bpkdImage turns rows (pixels, row-major) [H·W, C] into [H][W][C].
func bpkdImage(a Arr, w int) [][][]float64 {
	h := a.Shape[0] / w
	out := make([][][]float64, h)
	for y := range h {
		out[y] = make([][]float64, w)
		for x := range w {
			out[y][x] = a.Row(y*w + x)
		}
	}
	return out
}

func refBPKDObjective(in map[string]Arr, p Params) (float64, []float64) {
	n := in["student"].Shape[0]
	w := int(p["width"])
	if w == 0 {
		w = int(math.Round(math.Sqrt(float64(n))))
	}
	lab := make([][]int, n/w)
	for y := range lab {
		lab[y] = make([]int, w)
		for x := range w {
			lab[y][x] = in["labels"].Int(y*w + x)
		}
	}
	m := refEdgeMask(lab, in["student"].Shape[1], int(p["radius"]), 1)
	le, lb := refBPKD(bpkdImage(in["student"], w), bpkdImage(in["teacher"], w), m, p["tau"], p["alpha"], p["per_class"] == 1)
	return p["lambda_e"]*le + p["lambda_b"]*lb, nil
}

// bpkdSpec is a 6×6 worked example as rows: labels by column (0–2: class 0, 3–5: class 1).
func bpkdSpec(studentShift func(x, y int) (float64, float64)) map[string]Arr {
	var s, tt [][]float64
	var lab []float64
	for y := range 6 {
		for x := range 6 {
			fx, fy := float64(x), float64(y)
			tt = append(tt, []float64{2 - 0.8*fx, -2 + 0.8*fx})
			a, b := 1-0.3*fx+0.1*fy, -1+0.3*fx
			if studentShift != nil {
				da, db := studentShift(x, y)
				a, b = a+da, b+db
			}
			s = append(s, []float64{a, b})
			lab = append(lab, float64(x/3))
		}
	}
	return map[string]Arr{"student": Mat(s...), "teacher": Mat(tt...), "labels": Vec(lab...)}
}

func TestBPKDReference(t *testing.T) {
	in := bpkdSpec(nil)
	for _, p := range []Params{nil, {"per_class": 1, "tau": 2, "lambda_b": 0.5}, {"radius": 2, "alpha": 1, "lambda_e": 3}} {
		CheckObjective(t, "bpkd", in, p, refBPKDObjective)
	}
	// A 3-class 4×6 image (width 6), with a non-square layout.
	var st, te, lb3 []float64
	for i := range 24 {
		for c := range 3 {
			st = append(st, math.Sin(float64(3*i+c)))
			te = append(te, 1.5*math.Cos(float64(2*i+c)))
		}
		lb3 = append(lb3, float64(((i%6)/2+i/12)%3))
	}
	in3 := map[string]Arr{"student": {Shape: []int{24, 3}, Data: st}, "teacher": {Shape: []int{24, 3}, Data: te}, "labels": Vec(lb3...)}
	CheckObjective(t, "bpkd", in3, Params{"width": 6}, refBPKDObjective)
	CheckFinite(t, "bpkd", map[string]Arr{"student": in["student"].Scaled(1e4), "teacher": in["teacher"].Scaled(1e4), "labels": in["labels"]}, nil)
}

// bpkdParts evaluates L_E (total and per class) and L_B of that example through the graph functions.
func bpkdParts(t *testing.T, in map[string]Arr, h, w, c, stride int) (leTot, lePer, lb float64, mask []float64) {
	t.Helper()
	lab := make([]int32, len(in["labels"].Data))
	for i, v := range in["labels"].Data {
		lab[i] = int32(v)
	}
	out := runGraph(t, func(s, tt, l *Node) []*Node {
		m := BPKDEdgeMask(l, c, 1, stride, s.DType())
		alpha := Scalar(s.Graph(), s.DType(), 2)
		return []*Node{BPKDEdgeLoss(s, tt, m, 4, alpha, false), BPKDEdgeLoss(s, tt, m, 4, alpha, true), BPKDBodyLoss(s, tt, m, 4), m}
	}, hbTensor(in["student"].Data, 1, h, w, c), hbTensor(in["teacher"].Data, 1, h, w, c),
		tensors.FromFlatDataAndDimensions(lab, 1, h*stride, w*stride))
	return out[0][0], out[1][0], out[2][0], out[3]
}

// Properties 1–9 on hand-worked numbers.
func TestBPKDWorkedNumbers(t *testing.T) {
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.7g, want %.7g", what, got, want)
		}
	}
	leT, leP, lb, mask := bpkdParts(t, bpkdSpec(nil), 6, 6, 2, 1)
	// Property 1: the edge band is columns 2 and 3, for both classes.
	for i, v := range mask {
		x := (i / 2) % 6
		want := 0.0
		if x == 2 || x == 3 {
			want = 1
		}
		if v != want {
			t.Errorf("edge mask at pixel %d (column %d) class %d = %g, want %g", i/2, x, i%2, v, want)
		}
	}
	// Property 2.
	near("L_E total", leT, 0.209537, 1e-6)
	near("L_E per class", leP, 0.419074, 1e-6)
	near("L_B", lb, 0.353935, 1e-6)
	// Property 3: identity.
	same := bpkdSpec(nil)
	same["student"] = same["teacher"]
	a, b, c, _ := bpkdParts(t, same, 6, 6, 2, 1)
	near("L_E(Z,Z)", a, 0, 1e-12)
	near("L_E per class (Z,Z)", b, 0, 1e-12)
	near("L_B(Z,Z)", c, 0, 1e-12)
	// Property 4: one class everywhere: M_E ≡ 0, L_E = 0, L_B = CWD on full logits.
	single := bpkdSpec(nil)
	single["labels"] = Vec(make([]float64, 36)...)
	a, _, cwd, m := bpkdParts(t, single, 6, 6, 2, 1)
	near("L_E single class", a, 0, 0)
	near("L_B single class (plain CWD)", cwd, 0.355077, 1e-6)
	for _, v := range m {
		if v != 0 {
			t.Fatalf("single-class mask not zero: %v", m)
		}
	}
	// Property 5: CWD invariant to a per-channel constant on the student.
	shifted := bpkdSpec(func(x, y int) (float64, float64) { return 0.7, -1.3 })
	shifted["labels"] = single["labels"]
	_, _, cwd2, _ := bpkdParts(t, shifted, 6, 6, 2, 1)
	near("L_B single class, shifted channels", cwd2, 0.355077, 1e-6)
	// Property 6: locality of L_E (pixel (0,0) has M_E = 0 for every class).
	p6 := bpkdSpec(func(x, y int) (float64, float64) {
		if x == 0 && y == 0 {
			return 5, -3
		}
		return 0, 0
	})
	a, _, _, _ = bpkdParts(t, p6, 6, 6, 2, 1)
	near("L_E with pixel (0,0) perturbed", a, 0.209537, 1e-6)
	// Property 7: locality of L_B (pixel (row 0, column 2) is pure edge).
	p7 := bpkdSpec(func(x, y int) (float64, float64) {
		if x == 2 && y == 0 {
			return 5, -3
		}
		return 0, 0
	})
	_, _, c, _ = bpkdParts(t, p7, 6, 6, 2, 1)
	near("L_B with pixel (0,2) perturbed", c, 0.353935, 1e-6)
	// Property 8: soft mask with 2×2 pooling of an 8×8 map split at column 4.
	lab8 := make([]int32, 64)
	for i := range lab8 {
		if i%8 >= 4 {
			lab8[i] = 1
		}
	}
	out := runGraph(t, func(l *Node) *Node { return BPKDEdgeMask(l, 2, 1, 2, dtypes.Float64) }, tensors.FromFlatDataAndDimensions(lab8, 1, 8, 8))
	for i, v := range out[0] {
		col := (i / 2) % 4
		want := 0.0
		if col == 1 || col == 2 {
			want = 0.5
		}
		if v != want {
			t.Errorf("pooled mask entry %d (pooled column %d) = %g, want %g", i, col, v, want)
		}
	}
	// Property 9: ignored pixels (255) are never edges; both losses ≥ 0.
	lab := make([]int32, 36)
	for i := range lab {
		lab[i] = int32((i % 6) / 3)
		if i%6 == 2 {
			lab[i] = 255 // the would-be class-0 edge column is ignored
		}
	}
	out = runGraph(t, func(l *Node) *Node { return BPKDEdgeMask(l, 2, 1, 1, dtypes.Float64) }, tensors.FromFlatDataAndDimensions(lab, 1, 6, 6))
	labs := make([][]int, 6)
	for y := range 6 {
		labs[y] = make([]int, 6)
		for x := range 6 {
			labs[y][x] = int(lab[y*6+x])
		}
	}
	ref := refEdgeMask(labs, 2, 1, 1)
	for i, v := range out[0] {
		px := i / 2
		if px%6 == 2 && v != 0 {
			t.Errorf("ignored pixel %d has edge value %g", px, v)
		}
		if want := ref[px/6][px%6][i%2]; v != want {
			t.Errorf("mask with ignored pixels [%d] = %g, reference %g", i, v, want)
		}
	}
	if leT < 0 || leP < 0 || lb < 0 {
		t.Errorf("negative loss: %g %g %g", leT, leP, lb)
	}
}

// Property 9 for the CE term: ignored pixels contribute nothing and are not counted.
func TestSegmentationCE(t *testing.T) {
	logits := []float64{2, -1, 0.5, 0.3, -0.2, 1.1, 0.9, 0.4}
	labels := []int32{0, 255, 1, 0}
	out := runGraph(t, SegmentationCE, hbTensor(logits, 1, 2, 2, 2), tensors.FromFlatDataAndDimensions(labels, 1, 2, 2))
	want := (refCE(logits[0:2], 0) + refCE(logits[4:6], 1) + refCE(logits[6:8], 0)) / 3
	if math.Abs(out[0][0]-want) > 1e-12 {
		t.Errorf("segmentation CE = %g, want %g (ignored pixel excluded)", out[0][0], want)
	}
}
