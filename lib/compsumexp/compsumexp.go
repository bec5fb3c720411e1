// Package compsumexp runs the label-noise experiment of Mao, Mohri & Zhong, "Cross-Entropy Loss
// Functions: Theoretical Analysis and Applications", ICML 2023, arXiv:2304.07288, at notebook scale, and
// turns its results into falsifiable claims for lib/verdict.
//
// The comp-sum family Φ^τ (lib/losses.CompSum) runs from the sum-exponential loss (τ = 0) through
// cross-entropy (τ = 1) and generalized cross-entropy (1 < τ < 2) to MAE (τ = 2); its gradient is CE's
// scaled by p_y^(τ-1), so larger τ gives less weight to examples the model finds unlikely, mislabelled
// ones among them. The claims tested are the direction of that trade: under symmetric label noise GCE and
// MAE beat CE and lose less accuracy than it, while on clean labels MAE underfits and GCE and sum-exp stay
// close to CE.
//
// The experiment itself is lib/ldrexp's (tuned arms on a noisy validation split, independent final runs
// on a clean test set), here with the spec's 10-class Gaussian blobs in 20 dimensions and an MLP with two
// ReLU hidden layers of width 64, trained by SGD with momentum and a cosine decay.
package compsumexp

import (
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/ldrexp"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/verdict"
)

// Arm names, as they appear in results and claims.
const (
	SumExp = "sum-exp (τ=0)"
	CE     = "CE (τ=1)"
	GCE    = "GCE (τ=1.7)"
	MAE    = "MAE (τ=2)"
)

// LRs is the learning-rate grid every arm is tuned over (the same budget for each; the comp-sum
// members' gradients differ in scale by p_y^(τ-1), so each needs its own learning rate).
var LRs = []float64{0.001, 0.003, 0.01, 0.03, 0.1, 0.3}

// Default is the full-size experiment: 6000 training, 2000 validation and 2000 clean test examples of 10
// blobs in 20 dimensions (radius 3, spread 1, so that classes overlap), no noise and 40% symmetric
// noise, 40 epochs of batch 128, no weight decay (so that CE can memorise the noise), 5 final runs per arm.
// A final run whose loss diverges (sum-exp's is unbounded) is scored at chance and counted.
func Default() ldrexp.Config {
	arms := make([]ldrexp.Arm, 0, 4)
	for _, a := range []struct {
		name string
		tau  float64
	}{{SumExp, 0}, {CE, 1}, {GCE, 1.7}, {MAE, 2}} {
		g := ldrexp.Grid(LRs, "tau", []float64{a.tau})
		arms = append(arms, ldrexp.Arm{Name: a.name, Objective: "comp-sum", Grid: g})
	}
	return ldrexp.Config{NTrain: 6000, NVal: 2000, NTest: 2000, Classes: 10, Dim: 20, Radius: 3, Spread: 1.0,
		DataSeed: 4, Hidden: []int{64, 64}, Activation: "relu", Epochs: 40, Batch: 128, Runs: 5, TuneSeed: 100, ScoreDiverged: true,
		Noise: []data.NoiseConfig{{Kind: data.Symmetric, Rate: 0}, {Kind: data.Symmetric, Rate: 0.4}},
		Arms:  arms}
}

// Quick is Default at CI sizes: the same code path, far too small to test the paper.
func Quick() ldrexp.Config {
	c := Default()
	c.NTrain, c.NVal, c.NTest, c.Epochs, c.Runs = 512, 256, 256, 2, 3
	return c
}

// Margin is the non-inferiority margin of the clean-data claims, in accuracy, fixed before the run.
const Margin = 0.02

// accOf returns the clean-test accuracies of arm in setting.
func accOf(res []ldrexp.SettingResult, setting, arm string) ([]float64, error) {
	for i := range res {
		if res[i].Setting == setting {
			if a := res[i].Arm(arm); a != nil {
				return a.Test, nil
			}
		}
	}
	return nil, fmt.Errorf("compsumexp: no results for %s in setting %q", arm, setting)
}

// Claims returns the paper's claims on the results of Run(c) (c: Default or Quick, the clean setting first
// and the noisy one second), each a paired comparison across the final runs (run r of every arm and
// setting starts from seed r+1). A noise claim is not testable when CE, the control, does not lose
// clean-test accuracy under the noise by more than 2 standard errors.
func Claims(c ldrexp.Config, res []ldrexp.SettingResult) ([]verdict.Claim, error) {
	if len(c.Noise) != 2 || c.Noise[0].Rate != 0 || c.Noise[1].Rate == 0 {
		return nil, errors.New("compsumexp: Claims wants two settings, no noise then noise")
	}
	clean, noisy := ldrexp.SettingName(c.Noise[0]), ldrexp.SettingName(c.Noise[1])
	acc := map[string][]float64{}
	for _, s := range []string{clean, noisy} {
		for _, a := range []string{SumExp, CE, GCE, MAE} {
			v, err := accOf(res, s, a)
			if err != nil {
				return nil, err
			}
			acc[s+a] = v
		}
	}
	drop := func(arm string) []float64 {
		d := make([]float64, min(len(acc[clean+arm]), len(acc[noisy+arm])))
		for r := range d {
			d[r] = acc[clean+arm][r] - acc[noisy+arm][r]
		}
		return d
	}
	ctl, err := verdict.Decide("compsumexp control", verdict.Claim{Claim: "CE loses accuracy under " + noisy,
		Kind: verdict.Comparison, Method: acc[clean+CE], Baseline: acc[noisy+CE], Paired: true})
	if err != nil {
		return nil, err
	}
	untestable := ""
	if r := ctl.Claims[0]; r.Outcome != verdict.Reproduced {
		untestable = fmt.Sprintf("the control does not show the phenomenon: CE's clean-test accuracy under %s is only %+.3f ± %.3f below its noise-free one", noisy, r.Effect, r.SE)
	}
	beats := func(arm string) verdict.Claim {
		return verdict.Claim{Claim: arm + " beats CE under " + noisy + " label noise (clean-test accuracy)", Kind: verdict.Comparison,
			Method: acc[noisy+arm], Baseline: acc[noisy+CE], Paired: true, Untestable: untestable}
	}
	close := func(arm string) verdict.Claim {
		return verdict.Claim{Claim: arm + " is within the margin of CE on clean labels (clean-test accuracy, non-inferiority)",
			Kind: verdict.NonInferiority, Method: acc[clean+arm], Baseline: acc[clean+CE], Paired: true, Margin: Margin}
	}
	return []verdict.Claim{
		beats(GCE),
		beats(MAE),
		{Claim: "larger τ is more robust: GCE loses less clean-test accuracy than CE from no noise to " + noisy, Kind: verdict.Comparison,
			Method: drop(GCE), Baseline: drop(CE), Paired: true, Lower: true, Untestable: untestable},
		{Claim: "larger τ can underfit: MAE's clean-test accuracy is below CE's on clean labels", Kind: verdict.Comparison,
			Method: acc[clean+MAE], Baseline: acc[clean+CE], Paired: true, Lower: true},
		close(GCE),
		close(SumExp),
	}, nil
}

// WorkedLosses are the comp-sum losses of logits [2, 1, 0.1], label 0, at the τ of WorkedTaus, computed
// in float64 with numpy from the closed form (p_y^(τ-1) - 1)/(1-τ).
var (
	WorkedTaus   = []float64{0, 0.5, 1, 1.5, 1.7, 2, 3}
	WorkedLosses = []float64{0.517448, 0.463695, 0.417030, 0.376422, 0.361675, 0.340999, 0.282859}
)

// WorkedError returns the largest deviation of lib/losses' comp-sum from WorkedLosses.
func WorkedError() (float64, error) {
	in := map[string]*tensors.Tensor{"logits": tensors.FromValue([][]float32{{2, 1, 0.1}}), "labels": tensors.FromValue([]int32{0})}
	worst := 0.0
	for i, tau := range WorkedTaus {
		r, err := losses.Evaluate("comp-sum", in, losses.Params{"tau": tau})
		if err != nil {
			return 0, fmt.Errorf("compsumexp: comp-sum at τ=%g: %w", tau, err)
		}
		worst = math.Max(worst, math.Abs(r.Loss-WorkedLosses[i]))
	}
	return worst, nil
}

// MAESymmetry returns the largest deviation of Σ_k MAE(h, k) from K-1 over the rows of logits (the
// symmetry behind MAE's robustness to symmetric label noise, Ghosh et al. 2017).
func MAESymmetry(logits [][]float32) (float64, error) {
	worst := 0.0
	for _, row := range logits {
		sum := 0.0
		for k := range row {
			r, err := losses.Evaluate("mae", map[string]*tensors.Tensor{
				"logits": tensors.FromValue([][]float32{row}), "labels": tensors.FromValue([]int32{int32(k)})}, nil)
			if err != nil {
				return 0, fmt.Errorf("compsumexp: mae: %w", err)
			}
			sum += r.Loss
		}
		worst = math.Max(worst, math.Abs(sum-float64(len(row)-1)))
	}
	return worst, nil
}
