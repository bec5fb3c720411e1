package proxies

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/losslab/losslab/lib/backend"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestZLossExamples(t *testing.T) {
	y := []float64{2, 1, 0.1}
	l, g := ZLoss(y, 1e-4)
	if lz := LogZ(y); !near(lz, 2.417030, 1e-6) || !near(l, 5.842034e-4, 1e-9) {
		t.Fatalf("log Z %.6f, L_z %.6e", lz, l)
	}
	for i, want := range []float64{3.19e-4, 1.17e-4, 4.8e-5} {
		if !near(g[i], want, 0.01e-4) {
			t.Fatalf("grad %v", g)
		}
	}
	// Shift by c = −5: CE unchanged, z-loss not.
	sh := []float64{-3, -4, -4.9}
	l2, _ := ZLoss(sh, 1e-4)
	if !near(LogZ(sh), -2.582970, 1e-6) || !near(l2, 6.671734e-4, 1e-9) {
		t.Fatalf("shifted: log Z %.6f, L_z %.6e", LogZ(sh), l2)
	}
	// Minimising CE + L_z over the shift c: golden-section search on c gives log Z = 0.
	obj := func(c float64) float64 {
		s := []float64{2 + c, 1 + c, 0.1 + c}
		lz := LogZ(s)
		z, _ := ZLoss(s, 1e-4)
		return lz - s[0] + z
	}
	a, b := -10.0, 10.0
	phi := (math.Sqrt(5) - 1) / 2
	for range 200 {
		c1, c2 := b-phi*(b-a), a+phi*(b-a)
		if obj(c1) < obj(c2) {
			b = c2
		} else {
			a = c1
		}
	}
	c := (a + b) / 2
	if lz := LogZ([]float64{2 + c, 1 + c, 0.1 + c}); !near(lz, 0, 1e-4) {
		t.Fatalf("minimising over the shift: log Z = %g, want 0", lz)
	}
	// The gradient vanishes at log Z = 0.
	_, g0 := ZLoss([]float64{2 - 2.417030, 1 - 2.417030, 0.1 - 2.417030}, 1e-4)
	for _, v := range g0 {
		if math.Abs(v) > 1e-9 {
			t.Fatalf("z-loss gradient at log Z = 0: %v", g0)
		}
	}
}

func TestQKLayerNormBound(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	q := make([]float64, 64)
	k := make([]float64, 64)
	for i := range q {
		q[i] = r.NormFloat64()
		k[i] = 3*q[i] + 1
	}
	lq, lk := LayerNorm(q, nil, 1e-5), LayerNorm(k, nil, 1e-5)
	norm, dot := 0.0, 0.0
	for i := range lq {
		norm += lq[i] * lq[i]
		dot += lq[i] * lk[i]
	}
	// ‖LN(v)‖ = √(d_h·var/(var + ε)); the perfectly aligned k = 3q + 1 gives the logit ‖LN(q)‖·‖LN(k)‖/√d_h.
	vq := 0.0
	mean := 0.0
	for _, v := range q {
		mean += v / 64
	}
	for _, v := range q {
		vq += (v - mean) * (v - mean) / 64
	}
	nq, nk := math.Sqrt(64*vq/(vq+1e-5)), math.Sqrt(64*9*vq/(9*vq+1e-5))
	if !near(math.Sqrt(norm), nq, 1e-9) || !near(nq, 8, 1e-4) || !near(dot/8, nq*nk/8, 1e-9) || dot/8 > QKLogitBound(64, nil, nil) {
		t.Fatalf("‖LN(q)‖ = %.6f (formula %.6f), aligned logit %.6f (formula %.6f)", math.Sqrt(norm), nq, dot/8, nq*nk/8)
	}
	// Scale invariance (up to ε) and the bound with gains.
	q5 := make([]float64, 64)
	for i := range q {
		q5[i] = 5 * q[i]
	}
	l5 := LayerNorm(q5, nil, 1e-5)
	for i := range l5 {
		if !near(l5[i], lq[i], 1e-4) { // up to ε = 1e-5
			t.Fatalf("LN not scale-invariant at %d: %v vs %v", i, l5[i], lq[i])
		}
	}
	if b := QKLogitBound(16, []float64{1, -2}, []float64{0.5, 1.5}); !near(b, 4*2*1.5, 1e-12) {
		t.Fatalf("bound with gains %v", b)
	}
}

func TestLRSensitivityExample(t *testing.T) {
	nan := math.NaN()
	lrs, best, err := LRSensitivity([]float64{3.9, 3.5, 3.3, 3.25, 3.6, nan, nan}, math.Log(32000))
	if err != nil || !near(best, 3.25, 1e-12) || !near(lrs, 2.220997, 1e-6) {
		t.Fatalf("LRS %.6f best %v err %v, want 2.220997, 3.25", lrs, best, err)
	}
	// A loss above ℓ₀ counts as ℓ₀; a flat sweep has LRS 0.
	if lrs, _, _ := LRSensitivity([]float64{2, 2, 2}, 4); lrs != 0 {
		t.Fatalf("flat sweep: %v", lrs)
	}
	if lrs, _, _ := LRSensitivity([]float64{1, 9}, 3); !near(lrs, 1, 1e-12) {
		t.Fatalf("capped: %v, want 1", lrs)
	}
	if _, _, err := LRSensitivity([]float64{nan, math.Inf(1)}, 3); err == nil {
		t.Fatal("all diverged: no error")
	}
	if _, _, err := LRSensitivity(nil, 3); err == nil {
		t.Fatal("empty: no error")
	}
}

func TestDecayStepExample(t *testing.T) {
	for _, c := range []struct {
		lambda      float64
		independent bool
	}{{0.1, false}, {1e-4, true}} {
		th := []float64{1, -2}
		DecayStep(th, []float64{0.3, 0.1}, 1e-3, 0.5, c.lambda, c.independent)
		if !near(th[0], 0.9998, 1e-12) || !near(th[1], -1.99995, 1e-12) {
			t.Fatalf("λ=%g independent=%v: %v, want [0.9998, -1.99995]", c.lambda, c.independent, th)
		}
	}
	// Independent decay does not depend on η.
	_, d1 := DecayRates(1e-3, 0.7, 1e-4, true)
	_, d2 := DecayRates(1e-1, 0.7, 1e-4, true)
	if d1 != d2 {
		t.Fatalf("independent decay changed with η: %v vs %v", d1, d2)
	}
	if s := Schedule(0, 10, 100); !near(s, 0.1, 1e-12) {
		t.Fatalf("warm-up start %v", s)
	}
	if s := Schedule(55, 10, 100); !near(s, 0.5, 1e-12) {
		t.Fatalf("cosine midpoint %v", s)
	}
}

// refLM is an independent float64 forward of the LM: token-mean CE, mean (log Z)², mean log Z, and per
// layer the max |attention logit| and the mean attention entropy.
func refLM(c LMConfig, ps Params, x, y []int32, b int) (ce, z2, logZ float64, maxLogit, ent []float64) {
	c = c.withDefaults()
	t, d, hn := c.Seq, c.Dim, c.Heads
	dh := d / hn
	f := func(i int) []float64 {
		o := make([]float64, len(ps[i].Data))
		for j, v := range ps[i].Data {
			o[j] = float64(v)
		}
		return o
	}
	proj := func(v []float64, w []float64, in, out int) []float64 {
		o := make([]float64, out)
		for a := range out {
			for k := range in {
				o[a] += v[k] * w[k*out+a]
			}
		}
		return o
	}
	gelu := func(v float64) float64 { return 0.5 * v * (1 + math.Erf(v/math.Sqrt2)) }
	emb, pos := f(0), f(1)
	next := 2
	h := make([][]float64, b*t)
	for i := range h {
		h[i] = make([]float64, d)
		for k := range d {
			h[i][k] = emb[int(x[i])*d+k] + pos[(i%t)*d+k]
		}
	}
	for range c.Layers {
		ln1, wq, wk, wv := f(next), f(next+1), f(next+2), f(next+3)
		next += 4
		var gq, gk []float64
		if c.QKNorm {
			gq, gk = f(next), f(next+1)
			next += 2
		}
		wo, ln2, w1, w2 := f(next), f(next+1), f(next+2), f(next+3)
		next += 4
		q, k, v := make([][]float64, b*t), make([][]float64, b*t), make([][]float64, b*t)
		for i := range h {
			xn := LayerNorm(h[i], ln1, 1e-5)
			q[i], k[i], v[i] = proj(xn, wq, d, d), proj(xn, wk, d, d), proj(xn, wv, d, d)
			if c.QKNorm {
				for hd := range hn {
					copy(q[i][hd*dh:], LayerNorm(q[i][hd*dh:(hd+1)*dh], gq, 1e-5))
					copy(k[i][hd*dh:], LayerNorm(k[i][hd*dh:(hd+1)*dh], gk, 1e-5))
				}
			}
		}
		mx, en := 0.0, 0.0
		att := make([][]float64, b*t)
		for i := range att {
			att[i] = make([]float64, d)
		}
		for bb := range b {
			for hd := range hn {
				for i := range t {
					z := make([]float64, i+1)
					m := math.Inf(-1)
					for j := 0; j <= i; j++ {
						for a := range dh {
							z[j] += q[bb*t+i][hd*dh+a] * k[bb*t+j][hd*dh+a]
						}
						z[j] /= math.Sqrt(float64(dh))
						mx = math.Max(mx, math.Abs(z[j]))
						m = math.Max(m, z[j])
					}
					s := 0.0
					for j := range z {
						z[j] = math.Exp(z[j] - m)
						s += z[j]
					}
					for j := range z {
						p := z[j] / s
						if p > 0 {
							en -= p * math.Log(p)
						}
						for a := range dh {
							att[bb*t+i][hd*dh+a] += p * v[bb*t+j][hd*dh+a]
						}
					}
				}
			}
		}
		maxLogit = append(maxLogit, mx)
		ent = append(ent, en/float64(b*hn*t))
		for i := range h {
			o := proj(att[i], wo, d, d)
			for a := range d {
				h[i][a] += o[a]
			}
			u := proj(LayerNorm(h[i], ln2, 1e-5), w1, d, c.FFN)
			for a := range u {
				u[a] = gelu(u[a])
			}
			o = proj(u, w2, c.FFN, d)
			for a := range d {
				h[i][a] += o[a]
			}
		}
	}
	lnf, un := f(next), f(next+1)
	for i := range h {
		lg := proj(LayerNorm(h[i], lnf, 1e-5), un, d, c.Vocab)
		lz := LogZ(lg)
		ce += (lz - lg[y[i]]) / float64(b*t)
		z2 += lz * lz / float64(b*t)
		logZ += lz / float64(b*t)
	}
	return
}

func tinyLM(t *testing.T, qk bool) (*LM, Params, []int32, []int32, int) {
	t.Helper()
	c := LMConfig{Vocab: 7, Seq: 4, Dim: 6, Heads: 2, Layers: 2, FFN: 5, QKNorm: qk}
	m, err := NewLM(c)
	if err != nil {
		t.Fatal(err)
	}
	ps := m.Init(3)
	r := rand.New(rand.NewPCG(4, 4))
	for _, p := range ps {
		for j := range p.Data {
			p.Data[j] += float32(0.3 * r.NormFloat64())
		}
	}
	b := 3
	x, y := make([]int32, b*c.Seq), make([]int32, b*c.Seq)
	for i := range x {
		x[i], y[i] = int32(r.IntN(c.Vocab)), int32(r.IntN(c.Vocab))
	}
	return m, ps, x, y, b
}

func lmArgs(ps Params, x, y []int32, b, seq int) []any {
	var args []any
	for _, p := range ps {
		args = append(args, tensors.FromFlatDataAndDimensions(p.Data, p.Shape...))
	}
	return append(args, tensors.FromFlatDataAndDimensions(x, b, seq), tensors.FromFlatDataAndDimensions(y, b, seq))
}

func TestLMMatchesReferenceAndFiniteDifferences(t *testing.T) {
	for _, qk := range []bool{false, true} {
		m, ps, x, y, b := tinyLM(t, qk)
		k := len(ps)
		alpha := 0.3 // large, so the z-loss term matters in the gradient check
		exec, err := NewExec(backend.Must(), func(in []*Node) []*Node {
			o := m.forward(in[:k], in[k])
			ce, z2, lz := tokenLosses(o.logits, Reshape(in[k+1], in[k+1].Shape().Size()))
			out := []*Node{ce, z2, lz}
			out = append(out, o.maxLogit...)
			out = append(out, o.entropy...)
			return append(out, Gradient(Add(ce, MulScalar(z2, alpha)), in[:k]...)...)
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Exec(lmArgs(ps, x, y, b, m.cfg.Seq)...)
		if err != nil {
			t.Fatal(err)
		}
		sc := func(i int) float64 { return float64(tensors.ToScalar[float32](out[i])) }
		ce, z2, lz, mx, en := refLM(m.cfg, ps, x, y, b)
		if !near(sc(0), ce, 1e-4) || !near(sc(1), z2, 1e-3) || !near(sc(2), lz, 1e-4) {
			t.Fatalf("qk=%v: CE %v/%v, (log Z)² %v/%v, log Z %v/%v", qk, sc(0), ce, sc(1), z2, sc(2), lz)
		}
		for l := range 2 {
			if !near(sc(3+l), mx[l], 1e-4) || !near(sc(5+l), en[l], 1e-4) {
				t.Fatalf("qk=%v layer %d: max logit %v/%v, entropy %v/%v", qk, l, sc(3+l), mx[l], sc(5+l), en[l])
			}
		}
		r := rand.New(rand.NewPCG(8, 8))
		for i, p := range ps {
			g := tensors.MustCopyFlatData[float32](out[7+i])
			for range 3 {
				j := r.IntN(len(p.Data))
				orig := p.Data[j]
				up, down := orig+1e-3, orig-1e-3
				p.Data[j] = up
				c1, q1, _, _, _ := refLM(m.cfg, ps, x, y, b)
				p.Data[j] = down
				c2, q2, _, _, _ := refLM(m.cfg, ps, x, y, b)
				p.Data[j] = orig
				fd := (c1 + alpha*q1 - c2 - alpha*q2) / float64(up-down)
				if !near(fd, float64(g[j]), 2e-3+2e-2*math.Abs(fd)) {
					t.Fatalf("qk=%v: d/d%s[%d] = %v, finite differences %v", qk, p.Name, j, g[j], fd)
				}
			}
		}
	}
}

// TestQKNormBoundsLogits: with qk-layernorm, every attention logit stays within √d_h·max|g_q|·max|g_k|,
// even with huge query/key weights; without it, the same weights give far larger logits.
func TestQKNormBoundsLogits(t *testing.T) {
	for _, qk := range []bool{true, false} {
		m, ps, x, y, b := tinyLM(t, qk)
		var gq, gk []float64
		for _, p := range ps {
			if p.Name == "block_0/query" || p.Name == "block_0/key" {
				for j := range p.Data {
					p.Data[j] *= 100
				}
			}
			if p.Name == "block_0/q_norm/gain" {
				for _, v := range p.Data {
					gq = append(gq, float64(v))
				}
			}
			if p.Name == "block_0/k_norm/gain" {
				for _, v := range p.Data {
					gk = append(gk, float64(v))
				}
			}
		}
		_, _, _, mx, _ := refLM(m.cfg, ps, x, y, b)
		bound := QKLogitBound(3, gq, gk)
		if qk && mx[0] > bound+1e-9 {
			t.Fatalf("qk-LN: max logit %v above the bound %v", mx[0], bound)
		}
		if !qk && mx[0] < 10*QKLogitBound(3, nil, nil) {
			t.Fatalf("without qk-LN the scaled weights gave only %v", mx[0])
		}
	}
}

// TestTrainStepMatchesReference: two AdamW steps with clipping, z-loss and independent decay against a
// float64 update fed the graph's gradient (checked above).
func TestTrainStepMatchesReference(t *testing.T) {
	c, err := Markov(MarkovConfig{Vocab: 7, Support: 3, Length: 400, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewLM(LMConfig{Vocab: 7, Seq: 4, Dim: 6, Heads: 2, Layers: 1, FFN: 5, QKNorm: true})
	if err != nil {
		t.Fatal(err)
	}
	rc := RunConfig{LR: 0.05, Steps: 2, Warmup: 1, Batch: 3, ZLoss: 0.1, WeightDecay: 0.01, Independent: true, Clip: 0.5, Seed: 1, DataSeed: 2, EvalWindows: 4}
	res, err := m.Train(c, rc)
	if err != nil {
		t.Fatal(err)
	}
	k := len(m.specs)
	gradExec, _ := NewExec(backend.Must(), func(in []*Node) []*Node {
		o := m.forward(in[:k], in[k])
		ce, z2, _ := tokenLosses(o.logits, Reshape(in[k+1], in[k+1].Shape().Size()))
		return Gradient(Add(ce, MulScalar(z2, 0.1)), in[:k]...)
	})
	ps := m.Init(1)
	m1, m2 := make([][]float64, k), make([][]float64, k)
	for i, p := range ps {
		m1[i], m2[i] = make([]float64, len(p.Data)), make([]float64, len(p.Data))
	}
	r := rand.New(rand.NewPCG(2, 0xa54ff53a5f1d36f1))
	for step := 1; step <= 2; step++ {
		x, y := windows(r, c.Train, 3, 4)
		out, err := gradExec.Exec(lmArgs(ps, x, y, 3, 4)...)
		if err != nil {
			t.Fatal(err)
		}
		g := make([][]float64, k)
		sq := 0.0
		for i := range g {
			for _, v := range tensors.MustCopyFlatData[float32](out[i]) {
				g[i] = append(g[i], float64(v))
				sq += float64(v) * float64(v)
			}
		}
		if gn := math.Sqrt(sq); !near(gn, res.History[step-1].GradNorm, 1e-4*gn) {
			t.Fatalf("step %d: gradient norm %v, reference %v", step, res.History[step-1].GradNorm, gn)
		}
		scale := math.Min(1, 0.5/(math.Sqrt(sq)+1e-6))
		lr, decay := DecayRates(0.05, Schedule(step-1, 1, 2), 0.01, true)
		for i, p := range ps {
			u := make([]float64, len(p.Data))
			th := make([]float64, len(p.Data))
			for j := range p.Data {
				gj := g[i][j] * scale
				m1[i][j] = 0.9*m1[i][j] + 0.1*gj
				m2[i][j] = 0.95*m2[i][j] + 0.05*gj*gj
				u[j] = m1[i][j] / (1 - math.Pow(0.9, float64(step))) / (math.Sqrt(m2[i][j]/(1-math.Pow(0.95, float64(step)))) + 1e-8)
				th[j] = float64(p.Data[j])
			}
			d := decay
			if len(p.Shape) != 2 {
				d = 0
			}
			for j := range th {
				th[j] -= lr*u[j] + d*th[j]
				p.Data[j] = float32(th[j])
			}
		}
	}
	for i := range ps {
		for j := range ps[i].Data {
			if !near(float64(ps[i].Data[j]), float64(res.Final[i].Data[j]), 2e-5) {
				t.Fatalf("%s[%d]: %v, reference %v", ps[i].Name, j, res.Final[i].Data[j], ps[i].Data[j])
			}
		}
	}
}

func TestMarkovAndErrors(t *testing.T) {
	c, err := Markov(MarkovConfig{Vocab: 16, Support: 3, Length: 20000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Every successor of b is one of b's Support tokens.
	succ := map[int32]map[int32]bool{}
	for i := 2; i < len(c.Train); i++ { // tokens 0 and 1 are drawn uniformly
		if succ[c.Train[i-1]] == nil {
			succ[c.Train[i-1]] = map[int32]bool{}
		}
		succ[c.Train[i-1]][c.Train[i]] = true
	}
	for b, s := range succ {
		if len(s) > 3 {
			t.Fatalf("token %d has %d successors, want ≤ 3", b, len(s))
		}
	}
	if !(c.EntropyRate > 0 && c.EntropyRate < math.Log(3)) {
		t.Fatalf("entropy rate %v outside (0, log 3)", c.EntropyRate)
	}
	if _, err := Markov(MarkovConfig{Vocab: 4, Support: 5, Length: 1000}); err == nil {
		t.Fatal("Support > Vocab: no error")
	}
	m, _ := NewLM(LMConfig{Vocab: 16, Seq: 4, Dim: 4, Heads: 2, Layers: 1})
	for _, rc := range []RunConfig{{LR: 0, Steps: 1, Batch: 1}, {LR: 1, Steps: 0, Batch: 1}, {LR: 1, Steps: 1, Batch: 1, ZLoss: -1}} {
		if _, err := m.Train(c, rc); err == nil {
			t.Fatalf("%+v: no error", rc)
		}
	}
	other, _ := Markov(MarkovConfig{Vocab: 8, Support: 3, Length: 1000})
	if _, err := m.Train(other, RunConfig{LR: 1e-3, Steps: 1, Batch: 1}); err == nil {
		t.Fatal("vocabulary mismatch: no error")
	}
	if _, err := NewLM(LMConfig{Vocab: 16, Seq: 4, Dim: 6, Heads: 4}); err == nil {
		t.Fatal("Heads not dividing Dim: no error")
	}
	// A huge learning rate diverges or not, but never errors.
	res, err := m.Train(c, RunConfig{LR: 1e6, Steps: 3, Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Diverged && !math.IsNaN(res.FinalEval) {
		t.Fatalf("diverged run with final loss %v", res.FinalEval)
	}
}
