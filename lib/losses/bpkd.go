package losses

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// BPKD, boundary-privileged knowledge distillation for semantic segmentation: Liu et al.,
// "BPKD: Boundary Privileged Knowledge Distillation For Semantic Segmentation", WACV 2024
// (arXiv 2306.08075). The official repository has no training code: the losses follow the paper's
// method figure (Fig. 3) as we read it; the body loss is our (and a third-party port's) reading of
// it as channel-wise distillation, and every default is unverified.
//
// Layout: logits are [B,h,w,C] (channels last); label maps are int [B,H,W] with H = s·h, W = s·w.
// Labels outside [0,C) (e.g. the ignore index 255) are ignored.

func init() {
	Register(Objective{
		Name: "bpkd", Paper: "25-bpkd", Kind: Distillation,
		Summary: "BPKD λ_E·edge KD + λ_B·body CWD on one image whose pixels are the rows (row-major, width W); CE not included",
		Params: []Param{
			{Name: "tau", Default: 4, Min: 0, Max: math.Inf(1), MinOpen: true, Doc: "distillation temperature τ"},
			{Name: "alpha", Default: 2, Min: 0, Max: math.Inf(1), Doc: "edge-loss weight α (a scalar here)"},
			{Name: "radius", Default: 1, Min: 1, Max: math.Inf(1), Integer: true,
				Doc: "radius r of the (2r+1)² structuring element of the edge band (unverified; third-party code uses 3)"},
			{Name: "lambda_e", Default: 1, Min: 0, Max: math.Inf(1), Doc: "weight of the edge loss"},
			{Name: "lambda_b", Default: 1, Min: 0, Max: math.Inf(1), Doc: "weight of the body loss"},
			{Name: "width", Default: 0, Min: 0, Max: math.Inf(1), Integer: true,
				Doc: "image width W (the B rows are an H×W image in row-major order); 0: a square image, W = √B"},
			{Name: "per_class", Default: 0, Min: 0, Max: 1, Integer: true,
				Doc: "edge-loss normalisation: 0 by all edge-mask pixels (\"total\"), 1 per class"},
		},
		Fn: func(b Batch, p Params) *Node {
			student, teacher, labels := b["student"], b["teacher"], b["labels"]
			if student.Rank() != 2 || !teacher.Shape().Equal(student.Shape()) {
				panicf("bpkd: student and teacher must both be [B,K], got %s and %s", student.Shape(), teacher.Shape())
			}
			np, k := student.Shape().Dimensions[0], student.Shape().Dimensions[1]
			w := int(p["width"])
			if w == 0 {
				w = int(math.Round(math.Sqrt(float64(np))))
			}
			if w < 1 || np%w != 0 {
				panicf("bpkd: the %d rows (pixels) do not form an image of width %d; set width", np, w)
			}
			h := np / w
			s4 := Reshape(student, 1, h, w, k)
			t4 := Reshape(teacher, 1, h, w, k)
			edge := BPKDEdgeMask(Reshape(labels, 1, h, w), k, int(p["radius"]), 1, student.DType())
			alpha := Scalar(student.Graph(), student.DType(), p["alpha"])
			le := BPKDEdgeLoss(s4, t4, edge, p["tau"], alpha, p["per_class"] == 1)
			lb := BPKDBodyLoss(s4, t4, edge, p["tau"])
			return Add(MulScalar(le, p["lambda_e"]), MulScalar(lb, p["lambda_b"]))
		},
	})
}

// bpkdBand returns the constant [n,n] 0/1 matrix A[i,j] = 1[|i-j| <= r].
func bpkdBand(g *Graph, n, r int, dtype dtypes.DType) *Node {
	a := make([][]float64, n)
	for i := range a {
		a[i] = make([]float64, n)
		for j := range a[i] {
			if bpkdAbs(i-j) <= r {
				a[i][j] = 1
			}
		}
	}
	return ConvertDType(Const(g, a), dtype)
}

// bpkdPool returns the constant [n/s, n] average-pooling matrix P[i,j] = 1/s for j in block i.
func bpkdPool(g *Graph, n, s int, dtype dtypes.DType) *Node {
	p := make([][]float64, n/s)
	for i := range p {
		p[i] = make([]float64, n)
		for j := i * s; j < (i+1)*s; j++ {
			p[i][j] = 1 / float64(s)
		}
	}
	return ConvertDType(Const(g, p), dtype)
}

func bpkdAbs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// bpkdSeparable applies the [H',H] matrix a along axis 1 and the [W',W] matrix b along axis 2 of x [B,H,W,C].
func bpkdSeparable(a, b, x *Node) *Node {
	return Einsum("jw,biwc->bijc", b, Einsum("ih,bhwc->biwc", a, x))
}

// BPKDEdgeMask returns BPKD's soft edge mask M_E [B,h,w,C] (in dtype, no gradient) from an integer label
// map [B,H,W] with numClasses classes (other values are ignored pixels), the band radius r and the
// stride s = H/h = W/w of the logits:
//
//	G = one-hot(Y) (all zeros at ignored pixels),   E = dilate_r(G) - erode_r(G)   (per class)
//	dilate_r(G) = 1[Σ_{window} G > 0],   erode_r(G) = 1 - 1[Σ_{window ∩ image} (1 - G) > 0]
//	M_E = avgpool_s(E · valid)
//
// with a (2r+1)×(2r+1) square window; pixels outside the image never erode (the max-pool with -∞
// padding of the paper's erosion). The window sums are products with constant band matrices along H and then W
// (the square window is bpkdSeparable), and the pooling is a product with block-averaging matrices: no
// Slice or Pad is involved, so it runs on every backend. The body mask is M_B = 1 - M_E.
func BPKDEdgeMask(labels *Node, numClasses, radius, stride int, dtype dtypes.DType) *Node {
	if labels.Rank() != 3 || !labels.DType().IsInt() {
		panicf("BPKDEdgeMask: labels must be an integer map [B,H,W], got %s", labels.Shape())
	}
	if numClasses < 1 || radius < 0 || stride < 1 {
		panicf("BPKDEdgeMask: need numClasses >= 1, radius >= 0 and stride >= 1, got %d, %d, %d", numClasses, radius, stride)
	}
	hh, ww := labels.Shape().Dimensions[1], labels.Shape().Dimensions[2]
	if hh%stride != 0 || ww%stride != 0 {
		panicf("BPKDEdgeMask: the label map %dx%d is not a multiple of the stride %d", hh, ww, stride)
	}
	g := labels.Graph()
	gOne := OneHot(labels, numClasses, dtype)    // [B,H,W,C]; zeros for labels outside [0,C)
	valid := InsertAxes(ReduceSum(gOne, -1), -1) // [B,H,W,1]
	ah, aw := bpkdBand(g, hh, radius, dtype), bpkdBand(g, ww, radius, dtype)
	zero := ScalarZero(g, dtype)
	dilate := ConvertDType(GreaterThan(bpkdSeparable(ah, aw, gOne), zero), dtype)
	erode := OneMinus(ConvertDType(GreaterThan(bpkdSeparable(ah, aw, OneMinus(gOne)), zero), dtype))
	e := Mul(Sub(dilate, erode), valid)
	if stride > 1 {
		e = bpkdSeparable(bpkdPool(g, hh, stride, dtype), bpkdPool(g, ww, stride, dtype), e)
	}
	return StopGradient(e)
}

// checkSeg checks student and teacher logits [B,h,w,C] and a mask of the same shape.
func checkSeg(what string, student, teacher, mask *Node) {
	if student.Rank() != 4 || !teacher.Shape().Equal(student.Shape()) {
		panicf("%s: student and teacher logits must both be [B,h,w,C], got %s and %s (resize the teacher first)", what, student.Shape(), teacher.Shape())
	}
	if !mask.Shape().Equal(student.Shape()) {
		panicf("%s: the edge mask must be [B,h,w,C] like the logits (%s), got %s", what, student.Shape(), mask.Shape())
	}
}

// BPKDEdgeLoss returns BPKD's edge loss (scalar) from student and teacher logits Z^S, Z^T [B,h,w,C] and
// the edge mask M [B,h,w,C] (BPKDEdgeMask):
//
//	P = softmax_C((Z ⊙ M)/τ)   (for both networks; pre-mask filtering)
//	φ_bi = τ² Σ_c P^T_bic log(P^T_bic / P^S_bic)              (per-pixel KL, [B,h,w])
//	S_bc = Σ_i M_bic φ_bi                                      (post-mask filtering, sum over space)
//	L_E = (1/B) Σ_b Σ_c α_c S_bc / max(1, Σ_{c,i} M_bic)       ("total" normalisation)
//	L_E = (1/B) Σ_b Σ_c α_c S_bc / max(1, Σ_i M_bic)           (perClass = true, the third-party code's)
//
// α is a scalar node or a [C] vector of per-class weights. Masked-out logits become 0, so both
// distributions are uniform there and contribute no KL. Both softmaxes are log-softmaxes.
func BPKDEdgeLoss(student, teacher, edge *Node, tau float64, alpha *Node, perClass bool) *Node {
	checkSeg("BPKDEdgeLoss", student, teacher, edge)
	if !(tau > 0) {
		panicf("BPKDEdgeLoss: tau=%g must be > 0", tau)
	}
	bsz, c := student.Shape().Dimensions[0], student.Shape().Dimensions[3]
	if alpha.Rank() > 1 || (alpha.Rank() == 1 && alpha.Shape().Dimensions[0] != c) {
		panicf("BPKDEdgeLoss: alpha must be a scalar or [C] = [%d], got %s", c, alpha.Shape())
	}
	edge = StopGradient(edge)
	logPS := LogSoftmax(DivScalar(Mul(student, edge), tau), -1)
	logPT := LogSoftmax(DivScalar(Mul(teacher, edge), tau), -1)
	phi := MulScalar(ReduceSum(Mul(Exp(logPT), Sub(logPT, logPS)), -1), tau*tau) // [B,h,w]
	s := ReduceSum(Mul(edge, InsertAxes(phi, -1)), 1, 2)                         // [B,C]
	s = Mul(s, ConvertDType(alpha, s.DType()))
	var perImage *Node
	if perClass {
		n := MaxScalar(ReduceSum(edge, 1, 2), 1) // [B,C]
		perImage = ReduceSum(Div(s, n), -1)
	} else {
		n := MaxScalar(ReduceSum(edge, 1, 2, 3), 1) // [B]
		perImage = Div(ReduceSum(s, -1), n)
	}
	return DivScalar(ReduceAllSum(perImage), float64(bsz))
}

// BPKDBodyLoss returns BPKD's body loss (scalar): channel-wise distillation (a softmax over the h·w
// positions of each channel) of the body-masked logits, with M_B = 1 - M_E:
//
//	Q_bc· = softmax over positions i of (Z ⊙ M_B)_bic / τ
//	L_B = τ²/(B·C) Σ_{b,c} Σ_i Q^T_bci log(Q^T_bci / Q^S_bci)
//
// With no edges (M_E ≡ 0) this is plain CWD of the full logits, invariant to adding a constant to a
// student channel.
func BPKDBodyLoss(student, teacher, edge *Node, tau float64) *Node {
	checkSeg("BPKDBodyLoss", student, teacher, edge)
	if !(tau > 0) {
		panicf("BPKDBodyLoss: tau=%g must be > 0", tau)
	}
	dims := student.Shape().Dimensions
	bsz, hw, c := dims[0], dims[1]*dims[2], dims[3]
	body := OneMinus(StopGradient(edge))
	flat := func(z *Node) *Node { return LogSoftmax(DivScalar(Reshape(Mul(z, body), bsz, hw, c), tau), 1) }
	logQS, logQT := flat(student), flat(teacher)
	kl := ReduceAllSum(Mul(Exp(logQT), Sub(logQT, logQS)))
	return MulScalar(kl, tau*tau/float64(bsz*c))
}

// SegmentationCE returns the mean cross-entropy over the valid pixels of logits [B,H,W,C] (already
// upsampled to the label resolution, e.g. with GoMLX's Interpolate) and an integer label map [B,H,W];
// labels outside [0,C) (the ignore index 255) contribute nothing and are not counted (0 if no pixel is
// valid). This is the CE term of BPKD's total loss L = CE + λ_B·L_B + λ_E·L_E.
func SegmentationCE(logits, labels *Node) *Node {
	if logits.Rank() != 4 || labels.Rank() != 3 {
		panicf("SegmentationCE: want logits [B,H,W,C] and labels [B,H,W], got %s and %s", logits.Shape(), labels.Shape())
	}
	d := logits.Shape().Dimensions
	for i := range 3 {
		if labels.Shape().Dimensions[i] != d[i] {
			panicf("SegmentationCE: labels %s do not match the logits' [B,H,W] = %v", labels.Shape(), d[:3])
		}
	}
	oh := OneHot(labels, d[3], logits.DType()) // zeros for ignored labels
	valid := ReduceSum(oh, -1)
	logp := LogSoftmax(logits, -1)
	total := Neg(ReduceAllSum(Mul(logp, oh)))
	return Div(total, MaxScalar(ReduceAllSum(valid), 1))
}
