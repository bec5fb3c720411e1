package ldrexp

import (
	"fmt"
	"math"
	"strings"

	"github.com/losslab/losslab/lib/verdict"
	"github.com/losslab/losslab/lib/viz"
)

// GridTable lists the tuning grid of every arm of c.
func GridTable(c Config) *viz.Table {
	t := viz.NewTable("Tuning grids (the same size for every arm)", "arm", "objective", "points", "grid")
	for _, a := range c.Arms {
		var pts []string
		for _, p := range a.Grid {
			pts = append(pts, p.String())
		}
		t.Row(a.Name, a.Objective, len(a.Grid), strings.Join(pts, "; "))
	}
	return t
}

// TuningTable lists, for every setting and arm, the chosen point, the validation accuracy of every grid
// point and the clean-test accuracy of the final runs.
func TuningTable(res []SettingResult) *viz.Table {
	t := viz.NewTable("Tuning on the noisy validation split, and the chosen points", "setting", "labels changed", "arm", "chosen",
		"validation acc", "grid's validation accs", "test acc (mean)", "test acc per run").Digits(3)
	for _, s := range res {
		for _, a := range s.Arms {
			t.Row(s.Setting, s.Changed, a.Arm, a.Chosen, a.Tuning.ValAcc[a.Tuning.Best], RunsText(a.Tuning.ValAcc), Mean(a.Test), RunsText(a.Test))
		}
	}
	return t
}

// AccuracyBars draws the mean ± SE clean-test accuracy of every arm of c in every setting.
func AccuracyBars(c Config, res []SettingResult) (*viz.Figure, error) {
	var cats []string
	samples := make([][][]float64, len(c.Arms))
	for _, s := range res {
		cats = append(cats, s.Setting)
		for i, a := range c.Arms {
			acc, err := Accuracies(res, s.Setting, a.Name)
			if err != nil {
				return nil, err
			}
			samples[i] = append(samples[i], acc)
		}
	}
	var bars []viz.Series
	for i, a := range c.Arms {
		bars = append(bars, viz.MeanSE(a.Name, samples[i]))
	}
	return viz.Bar("Clean-test accuracy of the tuned arms", "label noise (train and validation)", "clean-test accuracy", cats, bars...), nil
}

// CurvePanels draws the clean-test accuracy by epoch of the tuned arms, one panel per setting.
func CurvePanels(c Config, res []SettingResult) *viz.Figure {
	x := viz.Range(c.Epochs)
	for i := range x {
		x[i]++
	}
	var panels []*viz.Figure
	for _, s := range res {
		var ss []viz.Series
		for _, a := range s.Arms {
			ss = append(ss, viz.MeanBand(a.Arm+" ("+a.Chosen+")", x, a.Curves))
		}
		panels = append(panels, viz.Lines(s.Setting+" noise", "epoch", "clean-test accuracy", ss...))
	}
	return viz.Panels(fmt.Sprintf("Clean-test accuracy by epoch, tuned arms (mean ± sd over %d runs)", c.Runs), 3, panels...)
}

// Summary is the closing cell's markdown: the verdict, one line per counted claim, the tuned points and
// runs of every setting, the runs that stalled (below 0.75 of the best run of their arm and setting), and
// the validation accuracy of the official script's defaults (lr 0.01, λ = λ0 = 10) beside the tuned point.
func Summary(c Config, res []SettingResult, r *verdict.Report) string {
	var lines []string
	for i, k := range r.Claims {
		if k.Counted {
			lines = append(lines, fmt.Sprintf("- C%d %s: **%s** (effect %+.3f ± %.3f over %d runs).", i+1, k.Claim, k.Outcome, k.Effect, k.SE, k.Seeds))
		}
	}
	var stalls []string
	for _, s := range res {
		var ch []string
		for _, a := range s.Arms {
			ch = append(ch, fmt.Sprintf("%s %s (%s)", a.Arm, a.Chosen, RunsText(a.Test)))
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, x := range a.Test {
				lo, hi = math.Min(lo, x), math.Max(hi, x)
			}
			if lo < 0.75*hi {
				stalls = append(stalls, fmt.Sprintf("- Under %s, one run of %s (%s) reached only %.3f while its best reached %.3f: a stalled run widens the standard error of the claims that use it.", s.Setting, a.Arm, a.Chosen, lo, hi))
			}
		}
		lines = append(lines, fmt.Sprintf("- %s (%.0f%% of training labels changed), tuned points and the clean-test accuracy of each run: %s.", s.Setting, 100*s.Changed, strings.Join(ch, "; ")))
	}
	lines = append(lines, stalls...)
	for ai, arm := range c.Arms[1:] {
		var vs []string
		for i, p := range arm.Grid {
			if p.LR != 0.01 || (p.Params["lambda"] != 10 && p.Params["lambda0"] != 10) {
				continue
			}
			for _, s := range res {
				a := s.Arms[ai+1]
				vs = append(vs, fmt.Sprintf("%s %.3f (tuned %.3f)", s.Setting, a.Tuning.ValAcc[i], a.Tuning.ValAcc[a.Tuning.Best]))
			}
			lines = append(lines, fmt.Sprintf("- %s at the official default %s, validation accuracy: %s.", arm.Name, p, strings.Join(vs, ", ")))
		}
	}
	scale := fmt.Sprintf("%d training / %d validation / %d test examples of %d blobs in %d dimensions, %d epochs, %d runs per arm and setting, grids of %d points per arm.",
		c.NTrain, c.NVal, c.NTest, c.Classes, c.Dim, c.Epochs, c.Runs, len(c.Arms[0].Grid))
	if r.Quick {
		scale = "Quick mode (LOSSLAB_QUICK): tiny sizes that check the code path, not the paper. " + scale
	}
	return fmt.Sprintf("**Verdict: %s** (%s).\n\n%s\n\nScale: %s", r.Verdict, r.Reason, strings.Join(lines, "\n"), scale)
}
