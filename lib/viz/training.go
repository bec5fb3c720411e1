package viz

import (
	"fmt"
	"sort"

	"github.com/losslab/losslab/lib/train"
)

// Training plots a lib/train result: loss and accuracy against the step, each with the
// training values (per batch, averaged over a moving window of about 2% of the run so the trend shows
// through the batch noise) and, when the run evaluated a test set, the test values.
func Training(title string, res *train.Result) *Figure {
	return TrainingRuns(title, map[string]*train.Result{"": res})
}

// TrainingRuns compares several runs (e.g. one per objective) in the same two panels; names label the
// runs in the legends.
func TrainingRuns(title string, runs map[string]*train.Result) *Figure {
	if len(runs) == 0 {
		return errFigure(title, fmt.Errorf("viz: Training %q: no runs", title))
	}
	var loss, acc []Series
	for _, name := range sortedKeys(runs) {
		res := runs[name]
		if res == nil {
			return errFigure(title, fmt.Errorf("viz: Training %q: run %q is nil", title, name))
		}
		prefix := ""
		if name != "" {
			prefix = name + ": "
		}
		var sx, sl, sa, ex, el, ea []float64
		for _, h := range res.History {
			sx, sl, sa = append(sx, float64(h.Step)), append(sl, h.Loss), append(sa, h.Accuracy)
		}
		window := max(1, len(sx)/50)
		sl, sa = movingMean(sl, window), movingMean(sa, window)
		trainName := prefix + "train (per batch)"
		if window > 1 {
			trainName = fmt.Sprintf("%strain (mean of %d batches)", prefix, window)
		}
		for _, e := range res.Evals {
			ex, el, ea = append(ex, float64(e.Step)), append(el, e.Loss), append(ea, e.Accuracy)
		}
		if len(sx) > 0 {
			loss = append(loss, XY(trainName, sx, sl))
			acc = append(acc, XY(trainName, sx, sa))
		}
		if len(ex) > 0 {
			loss = append(loss, XY(prefix+"test", ex, el))
			acc = append(acc, XY(prefix+"test", ex, ea))
		}
	}
	if len(loss) == 0 {
		return errFigure(title, fmt.Errorf("viz: Training %q: the runs have no history", title))
	}
	return Panels(title, 2,
		Lines("Loss", "step", "loss (nats)", loss...),
		Lines("Accuracy", "step", "accuracy (fraction)", acc...)).Size(2*PanelWidth+360, PanelHeight+70)
}

// movingMean averages each value with the window-1 values before it (fewer at the start). NaNs are kept
// as gaps: a window holding one yields NaN.
func movingMean(v []float64, window int) []float64 {
	if window <= 1 {
		return v
	}
	out := make([]float64, len(v))
	sum := 0.0
	for i, x := range v {
		sum += x
		if i >= window {
			sum -= v[i-window]
		}
		out[i] = sum / float64(min(i+1, window))
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
