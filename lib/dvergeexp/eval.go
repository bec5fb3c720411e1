package dvergeexp

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/attack"
	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
)

// pgd returns PGD images of set (radius eps, PGDSteps steps of 2·eps/PGDSteps from a random start drawn
// with seed, clipped to [0, 1]) crafted against model.
func (c Config) pgd(model models.Model, ctx *context.Context, set *data.Set, eps float64, seed uint64) (*data.Set, error) {
	cfg := attack.PGD(attack.LInf, eps, c.PGDSteps)
	cfg.StepSize, cfg.Seed, cfg.Clip = 2*eps/float64(c.PGDSteps), int64(seed), &attack.Range{Min: 0, Max: 1}
	a, err := attack.Cached(model, ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("dvergeexp: PGD against %s: %w", model.Name(), err)
	}
	res, err := a.Run(set.X, set.Shape, set.Y)
	if err != nil {
		return nil, fmt.Errorf("dvergeexp: PGD against %s: %w", model.Name(), err)
	}
	adv := set.Clone()
	adv.X = res.Adv
	return adv, nil
}

// scorer returns the accuracies of the M members and then of the ensemble on a set, compiled once per
// set size.
func (c Config) scorer(ctx *context.Context) (func(s *data.Set) ([]float64, error), error) {
	a := c.arch()
	exec, err := context.NewExecAny(backend.Must(), ctx.Reuse(), func(ctx *context.Context, x, y *Node) []*Node {
		ls := ensemble{a: a, M: c.Members}.members(ctx, x)
		var accs []*Node
		for _, l := range append(ls, losses.DVERGEEnsembleLogProbs(ls)) {
			accs = append(accs, ReduceAllMean(ConvertDType(Equal(ArgMax(l, -1, dtypes.Int32), y), dtypes.Float64)))
		}
		return accs
	})
	if err != nil {
		return nil, fmt.Errorf("dvergeexp: compiling the scorer: %w", err)
	}
	return func(s *data.Set) ([]float64, error) {
		out, err := exec.Exec(tensors.FromFlatDataAndDimensions(s.X, append([]int{s.Len()}, s.Shape...)...), tensors.FromValue(s.Y))
		if err != nil {
			return nil, fmt.Errorf("dvergeexp: scoring: %w", err)
		}
		accs := make([]float64, len(out))
		for i, t := range out {
			accs[i] = tensors.ToScalar[float64](t)
			t.MustFinalizeAll()
		}
		return accs, nil
	}, nil
}

// evaluate scores the ensemble in ctx: on validation always, on the test set (with the transferability
// matrix) when full.
func (c Config) evaluate(s *Splits, st *state, ctx *context.Context, full bool) (EpochEval, error) {
	var ev EpochEval
	score, err := c.scorer(ctx)
	if err != nil {
		return ev, err
	}
	m := c.Members
	accs, err := score(s.Val)
	if err != nil {
		return ev, err
	}
	ev.ValClean = accs[m]
	if accs, err = score(st.valAdv); err != nil {
		return ev, err
	}
	ev.ValTransfer = accs[m]
	if !full {
		return ev, nil
	}
	if accs, err = score(s.Test); err != nil {
		return ev, err
	}
	ev.Clean, ev.Members = accs[m], accs[:m]
	if accs, err = score(st.testAdv); err != nil {
		return ev, err
	}
	ev.Transfer = accs[m]
	for i := range m {
		adv, err := c.pgd(member{a: c.arch(), I: i}, ctx, s.Test, c.AttackEps, st.seed)
		if err != nil {
			return ev, err
		}
		if accs, err = score(adv); err != nil {
			return ev, err
		}
		ev.Matrix = append(ev.Matrix, accs[:m])
	}
	ev.Sibling, ev.WhiteBox = offDiagonal(ev.Matrix)
	return ev, nil
}

// offDiagonal returns the mean off-diagonal and the mean diagonal entry of a square matrix (n ≥ 2).
func offDiagonal(mat [][]float64) (off, diag float64) {
	n := len(mat)
	for i := range mat {
		for j := range mat[i] {
			if i == j {
				diag += mat[i][j] / float64(n)
			} else {
				off += mat[i][j] / float64(n*(n-1))
			}
		}
	}
	return off, diag
}

// sweep returns the test accuracy under the surrogate's PGD at every SweepEps of the baseline and of
// both arms' last ensembles.
func (c Config) sweep(s *Splits, st *state) (base, control, dv []float64, err error) {
	sm := models.NewMLP(c.Classes, c.Hidden...)
	scorers := make([]func(*data.Set) ([]float64, error), 3)
	for k, ctx := range []*context.Context{st.base, st.finals[Control], st.finals[DVERGE]} {
		if scorers[k], err = c.scorer(ctx); err != nil {
			return nil, nil, nil, err
		}
	}
	out := make([][]float64, 3)
	for _, eps := range c.SweepEps {
		adv, err := c.pgd(sm, st.surrogate, s.Test, eps, st.seed)
		if err != nil {
			return nil, nil, nil, err
		}
		for k, score := range scorers {
			accs, err := score(adv)
			if err != nil {
				return nil, nil, nil, err
			}
			out[k] = append(out[k], accs[c.Members])
		}
	}
	return out[0], out[1], out[2], nil
}
