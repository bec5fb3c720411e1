package fewshot

import (
	"errors"
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
)

// Embeddings holds one embedding per example of a set: row i is X[i*Dim : (i+1)*Dim].
type Embeddings struct {
	Dim int
	X   []float32
}

// Len is the number of rows.
func (e *Embeddings) Len() int { return len(e.X) / e.Dim }

// Row returns the embedding of example i.
func (e *Embeddings) Row(i int) []float32 { return e.X[i*e.Dim : (i+1)*e.Dim] }

// embedChunk is the number of examples embedded per call (the last chunk is zero-padded to it, so
// one compiled program serves the whole set).
const embedChunk = 500

// Embedder embeds sets with one compiled program; it reads the context's current variable values on
// every call, so one Embedder follows a context through training or along a path of parameters.
type Embedder struct {
	exec *context.Exec
}

// NewEmbedder compiles fn against ctx's variables (which it does not change).
func NewEmbedder(fn EmbedFn, ctx *context.Context) (*Embedder, error) {
	if fn == nil || ctx == nil {
		return nil, errors.New("fewshot.NewEmbedder: the embedding and its context must not be nil")
	}
	bk, err := backend.Get()
	if err != nil {
		return nil, err
	}
	exec, err := context.NewExecAny(bk, ctx.Reuse(), func(ctx *context.Context, x *Node) *Node { return fn(ctx, x) })
	if err != nil {
		return nil, err
	}
	return &Embedder{exec: exec}, nil
}

// Embed returns the embeddings of every example of set under ctx's parameters (which it does not
// change; variables the embedding lacks are an error). It compiles fn each time: use an Embedder to
// embed repeatedly.
func Embed(fn EmbedFn, ctx *context.Context, set *data.Set) (*Embeddings, error) {
	e, err := NewEmbedder(fn, ctx)
	if err != nil {
		return nil, err
	}
	return e.Embed(set)
}

// Embed returns the embeddings of every example of set.
func (e *Embedder) Embed(set *data.Set) (*Embeddings, error) {
	if set == nil || set.Len() == 0 {
		return nil, errors.New("fewshot.Embed: the set is empty")
	}
	n, dim := set.Len(), set.Dim()
	chunk := min(embedChunk, n)
	buf := make([]float32, chunk*dim)
	out := &Embeddings{}
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		clear(buf)
		copy(buf, set.X[lo*dim:hi*dim])
		xT := tensors.FromFlatDataAndDimensions(buf, append([]int{chunk}, set.Shape...)...)
		res, err := e.exec.Exec(xT)
		xT.MustFinalizeAll()
		if err != nil {
			return nil, fmt.Errorf("fewshot.Embed: %w", err)
		}
		if res[0].Rank() != 2 {
			return nil, fmt.Errorf("fewshot.Embed: the embedding must be [B,D], got %s", res[0].Shape())
		}
		flat, err := tensors.CopyFlatData[float32](res[0])
		res[0].MustFinalizeAll()
		if err != nil {
			return nil, err
		}
		out.Dim = len(flat) / chunk
		out.X = append(out.X, flat[:(hi-lo)*out.Dim]...)
	}
	return out, nil
}

// Prototypes returns each way's mean support embedding, [Way][D], for an episode drawn from the set
// that emb embeds.
func Prototypes(emb *Embeddings, ep data.Episode, way int) ([][]float64, error) {
	if err := checkEpisode(emb, ep, way); err != nil {
		return nil, err
	}
	protos := make([][]float64, way)
	counts := make([]int, way)
	for c := range protos {
		protos[c] = make([]float64, emb.Dim)
	}
	for i, s := range ep.Support {
		c := ep.SupportY[i]
		for j, v := range emb.Row(s) {
			protos[c][j] += float64(v)
		}
		counts[c]++
	}
	for c, p := range protos {
		if counts[c] == 0 {
			return nil, fmt.Errorf("fewshot: way %d has no support example", c)
		}
		for j := range p {
			p[j] /= float64(counts[c])
		}
	}
	return protos, nil
}

func checkEpisode(emb *Embeddings, ep data.Episode, way int) error {
	if emb == nil || emb.Dim < 1 {
		return errors.New("fewshot: no embeddings")
	}
	if way < 1 || len(ep.Support) != len(ep.SupportY) || len(ep.Query) != len(ep.QueryY) {
		return fmt.Errorf("fewshot: bad episode (way %d, %d supports with %d labels, %d queries with %d labels)",
			way, len(ep.Support), len(ep.SupportY), len(ep.Query), len(ep.QueryY))
	}
	n := emb.Len()
	for i, s := range ep.Support {
		if s < 0 || s >= n || ep.SupportY[i] < 0 || int(ep.SupportY[i]) >= way {
			return fmt.Errorf("fewshot: support %d (row %d, way %d) is out of range (%d rows, %d ways)", i, s, ep.SupportY[i], n, way)
		}
	}
	for i, q := range ep.Query {
		if q < 0 || q >= n || ep.QueryY[i] < 0 || int(ep.QueryY[i]) > way {
			return fmt.Errorf("fewshot: query %d (row %d, label %d) is out of range (%d rows, %d ways)", i, q, ep.QueryY[i], n, way)
		}
	}
	return nil
}

// SquaredDistances returns ProtoNet's ‖q − p_c‖² from every query of the episode to every prototype,
// [Q][Way].
func SquaredDistances(emb *Embeddings, ep data.Episode, way int) ([][]float64, error) {
	protos, err := Prototypes(emb, ep, way)
	if err != nil {
		return nil, err
	}
	d := make([][]float64, len(ep.Query))
	for i, q := range ep.Query {
		d[i] = make([]float64, way)
		x := emb.Row(q)
		for c, p := range protos {
			s := 0.0
			for j, v := range x {
				t := float64(v) - p[j]
				s += t * t
			}
			d[i][c] = s
		}
	}
	return d, nil
}

// GaussianDistances returns the diagonal-Gaussian class negative log-likelihood (up to a constant) of
// every query under every way's Gaussian prototype, [Q][Way] (our reconstruction of GPAM, Guo et al., arXiv:2410.20320, from its abstract):
//
//	μ_c = mean of the supports,  σ²_c = (1/K) Σ_k (s_ck − μ_c)² + σ₀²,
//	d_c(q) = ½ Σ_j (q_j − μ_cj)²/σ²_cj + ½ Σ_j log σ²_cj.
//
// It is the float64 host counterpart of losses.GaussianPrototypes + losses.GaussianDistances.
func GaussianDistances(emb *Embeddings, ep data.Episode, way int, sigma0Sq float64) ([][]float64, error) {
	if !(sigma0Sq > 0) || math.IsInf(sigma0Sq, 1) {
		return nil, fmt.Errorf("fewshot.GaussianDistances: the variance floor σ₀² = %g must be positive and finite", sigma0Sq)
	}
	mu, err := Prototypes(emb, ep, way)
	if err != nil {
		return nil, err
	}
	variance := make([][]float64, way)
	counts := make([]int, way)
	for c := range variance {
		variance[c] = make([]float64, emb.Dim)
	}
	for i, s := range ep.Support {
		c := ep.SupportY[i]
		for j, v := range emb.Row(s) {
			t := float64(v) - mu[c][j]
			variance[c][j] += t * t
		}
		counts[c]++
	}
	logDet := make([]float64, way)
	for c := range variance {
		for j := range variance[c] {
			variance[c][j] = variance[c][j]/float64(counts[c]) + sigma0Sq
			logDet[c] += math.Log(variance[c][j])
		}
	}
	d := make([][]float64, len(ep.Query))
	for i, q := range ep.Query {
		d[i] = make([]float64, way)
		x := emb.Row(q)
		for c := range mu {
			s := 0.0
			for j, v := range x {
				t := float64(v) - mu[c][j]
				s += t * t / variance[c][j]
			}
			d[i][c] = 0.5 * (s + logDet[c])
		}
	}
	return d, nil
}

// Classify returns the way with the smallest distance, or len(d) (NOTA) when that distance exceeds
// threshold (+Inf: never NOTA).
func Classify(d []float64, threshold float64) int {
	best := 0
	for c, v := range d {
		if v < d[best] {
			best = c
		}
	}
	if len(d) == 0 || d[best] > threshold {
		return len(d)
	}
	return best
}

// Counts tallies (N+1)-way predictions, where label Way means NOTA.
type Counts struct {
	Total, Correct int
	// NOTA queries, NOTA predictions, and NOTA queries predicted NOTA.
	NOTA, PredNOTA, NOTAHit int
}

// Add records one prediction.
func (c *Counts) Add(pred, label, way int) {
	c.Total++
	if pred == label {
		c.Correct++
	}
	if label == way {
		c.NOTA++
	}
	if pred == way {
		c.PredNOTA++
		if label == way {
			c.NOTAHit++
		}
	}
}

// Accuracy is the fraction of correct (N+1)-way predictions (NaN with no predictions).
func (c Counts) Accuracy() float64 { return ratio(c.Correct, c.Total) }

// NOTAPrecision is the fraction of NOTA predictions that are NOTA queries (NaN with none).
func (c Counts) NOTAPrecision() float64 { return ratio(c.NOTAHit, c.PredNOTA) }

// NOTARecall is the fraction of NOTA queries predicted NOTA (NaN with none).
func (c Counts) NOTARecall() float64 { return ratio(c.NOTAHit, c.NOTA) }

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// Score classifies every query of an episode from its distances d [Q][Way] with a NOTA threshold and
// adds the predictions to c.
func Score(c *Counts, d [][]float64, ep data.Episode, way int, threshold float64) {
	for i, row := range d {
		c.Add(Classify(row, threshold), int(ep.QueryY[i]), way)
	}
}

// MeanCI95 returns the mean of xs and the half-width of its normal 95% confidence interval,
// 1.96·s/√n (0 for fewer than two values).
func MeanCI95(xs []float64) (mean, half float64) {
	n := float64(len(xs))
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range xs {
		mean += x
	}
	mean /= n
	if len(xs) < 2 {
		return mean, 0
	}
	ss := 0.0
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, 1.96 * math.Sqrt(ss/(n-1)/n)
}
