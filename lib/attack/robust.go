package attack

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/nb"
)

// DefaultBatchSize is the batch size of RobustAccuracy when Config.BatchSize is 0.
const DefaultBatchSize = 256

// maxCached bounds the attacks kept by Cached (each holds compiled graphs).
const maxCached = 32

// Cached returns an Attack for (model, ctx, cfg), reusing one made earlier for the same model and
// context and a configuration that compiles to the same graph (ε, α, Seed and BatchSize may differ:
// they are graph inputs or host-side settings). Models whose type is not comparable (a struct value
// holding slices) are not cached.
func Cached(model models.Model, ctx *context.Context, cfg Config) (*Attack, error) {
	if model == nil || ctx == nil {
		return nil, errors.New("attack: model and context must not be nil")
	}
	_, params, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	if !reflect.TypeOf(model).Comparable() {
		return New(model, ctx, cfg)
	}
	key := cacheKey{model: model, ctx: ctx, graph: cfg.graphKey(params)}
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if a, ok := cache[key]; ok {
		// Shares the compiled graphs; carries this call's ε, α, seed and batch size.
		return &Attack{model: a.model, cfg: cfg, obj: a.obj, params: a.params, compiled: a.compiled}, nil
	}
	a, err := New(model, ctx, cfg)
	if err != nil {
		return nil, err
	}
	if len(cache) >= maxCached {
		for k, old := range cache {
			old.exec.Finalize()
			delete(cache, k)
		}
	}
	cache[key] = a
	return a, nil
}

// RobustAccuracy attacks every example of set in batches of cfg.BatchSize (default 256) and returns the
// clean accuracy and the robust accuracy (the fraction classified correctly both clean and under
// attack). Batch i uses the random-start seed cfg.Seed + i, so the result is fixed by the seed. A
// progress bar (nb.NewProgress) shows the batches done and the running robust accuracy.
//
// For per-example objectives the last, partial batch is padded with copies of its first example (their
// results are ignored), so the whole set runs on one compiled graph.
func RobustAccuracy(model models.Model, ctx *context.Context, set *data.Set, cfg Config) (clean, robust float64, err error) {
	if set == nil || set.Len() == 0 {
		return 0, 0, errors.New("attack: the data set is empty")
	}
	if err := set.Validate(); err != nil {
		return 0, 0, fmt.Errorf("attack: %w", err)
	}
	if set.Classes < 1 {
		return 0, 0, fmt.Errorf("attack: set %q has no class labels", set.Name)
	}
	a, err := Cached(model, ctx, cfg)
	if err != nil {
		return 0, 0, err
	}
	bs := cfg.BatchSize
	if bs == 0 {
		bs = DefaultBatchSize
	}
	n, dim := set.Len(), set.Dim()
	if !a.obj.PerExample || n < bs {
		bs = min(bs, n)
	}
	batches := (n + bs - 1) / bs
	p := nb.NewProgress(batches, fmt.Sprintf("%s ε=%g on %s", attackName(cfg), cfg.Epsilon, set.Name))
	defer p.Done()
	var nClean, nRobust int
	x := make([]float32, bs*dim)
	y := make([]int32, bs)
	for i := 0; i < batches; i++ {
		lo, hi := i*bs, min((i+1)*bs, n)
		m := hi - lo
		xb, yb := x, y
		switch {
		case m == bs:
			copy(xb, set.X[lo*dim:hi*dim])
			copy(yb, set.Y[lo:hi])
		case a.obj.PerExample:
			copy(xb, set.X[lo*dim:hi*dim])
			copy(yb, set.Y[lo:hi])
			for j := m; j < bs; j++ {
				copy(xb[j*dim:(j+1)*dim], set.X[lo*dim:(lo+1)*dim])
				yb[j] = set.Y[lo]
			}
		default:
			xb, yb = set.X[lo*dim:hi*dim], set.Y[lo:hi]
		}
		res, err := a.run(xb, set.Shape, yb, cfg.Seed+int64(i))
		if err != nil {
			return 0, 0, fmt.Errorf("%w (batch %d of %d of %q)", err, i+1, batches, set.Name)
		}
		for j := 0; j < m; j++ {
			if res.CleanCorrect[j] {
				nClean++
			}
			if res.RobustCorrect[j] {
				nRobust++
			}
		}
		p.Add(1, fmt.Sprintf("clean %.3f robust %.3f", float64(nClean)/float64(hi), float64(nRobust)/float64(hi)))
	}
	return float64(nClean) / float64(n), float64(nRobust) / float64(n), nil
}

// attackName is "FGSM-linf", "PGD-10-l2", ... for progress labels.
func attackName(cfg Config) string {
	norm := cfg.Norm
	if norm == "" {
		norm = LInf
	}
	if cfg.Steps == 1 && !cfg.RandomStart {
		return "FGSM-" + string(norm)
	}
	return fmt.Sprintf("PGD-%d-%s", cfg.Steps, norm)
}
