package atlas

import (
	"math"
	"strings"
	"testing"
)

func TestSpearman(t *testing.T) {
	for _, tc := range []struct {
		x, y []float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, []float64{10, 20, 25, 100}, 1},
		{[]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}, -1},
		// Ties: ranks x = 1, 2.5, 2.5, 4; y = 1, 2, 3, 4: ρ = 0.9487 (Pearson of the ranks).
		{[]float64{1, 2, 2, 3}, []float64{1, 2, 3, 4}, 3 / math.Sqrt(10)},
	} {
		if got := Spearman(tc.x, tc.y); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("Spearman(%v, %v) = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
	if got := Spearman([]float64{1, 2}, []float64{1, 2}); !math.IsNaN(got) {
		t.Errorf("two points: %v, want NaN", got)
	}
	if got := Spearman([]float64{1, 1, 1}, []float64{1, 2, 3}); !math.IsNaN(got) {
		t.Errorf("constant x: %v, want NaN", got)
	}
}

// fake is a record with the given per-run accuracies and top eigenvalues, and pairs whose barrier is
// barrier (matched: matched) at ends of CE 1.
func fake(name string, acc, eig []float64, barrier, matched float64) Record {
	r := Record{Entry: Entry{Name: name}, Label: name, Paper: "p-" + name, Alpha: []float64{0, 0.5, 1}, SliceX: []float64{-1, 0, 1}}
	for i := range acc {
		r.Runs = append(r.Runs, RunResult{TestAccuracy: acc[i], TopEigenvalue: eig[i], Trace: 10 * eig[i], ECE: 0.01 * eig[i],
			Slice: []float64{2, 1, 2 + float64(i)}})
		r.Independent = append(r.Independent, PairResult{A: i, B: (i + 1) % len(acc), Barrier: barrier, Loss: []float64{1, 1 + barrier, 1}})
		r.Matched = append(r.Matched, PairResult{A: i, B: (i + 1) % len(acc), Barrier: matched, Loss: []float64{1, 1 + matched, 1}})
		r.Siblings = append(r.Siblings, PairResult{A: i, B: i, Barrier: matched / 2, Loss: []float64{1, 1 + matched/2, 1}})
	}
	r.Plane = Plane{S: []float64{-1, 0, 1}, T: []float64{-1, 0, 1}, Loss: [][]float64{{3, 2, 3}, {2, 1, 2}, {3, 2, 3}}}
	r.Summary = summarize(&r)
	return r
}

func fakeAtlas() *Atlas {
	return &Atlas{
		Setup: Setup{Model: "mlp-8-3", Train: DataInfo{Name: "blobs"}, Runs: 3},
		Records: []Record{
			fake("sharp", []float64{0.80, 0.81, 0.79}, []float64{40, 41, 39}, 0.9, 0.5),
			fake("mid", []float64{0.85, 0.86, 0.84}, []float64{20, 21, 19}, 0.8, 0.3),
			fake("flat", []float64{0.90, 0.905, 0.91}, []float64{5, 6, 4}, 0.7, 0.05),
			fake("flatter", []float64{0.90, 0.90, 0.91}, []float64{2, 3, 1}, 0.6, 0.01),
		},
		Skipped: []Skip{{Entry: Entry{Name: "dverge"}, Paper: "18-dverge", Reason: "needs an ensemble"}},
	}
}

func TestReading(t *testing.T) {
	a := fakeAtlas()
	a.Records[1].Notes = "trained on clean inputs"
	text := a.Reading()
	for _, want := range []string{
		"compares 4 objectives from 4 papers", "1 was not trained (dverge)",
		"ranges from 0.8 (sharp) to 0.905 (flat)",
		"leads the second, flatter, by 0.0017", "not told apart",
		"ECE is lowest for flatter (0.02) and highest for sharp (0.4)",
		"from 2 (flatter, the flattest) to 40 (sharp, the sharpest)",
		// Ranks of accuracy (sharp 1, mid 2, flatter 3, flat 4) against λ_max (4, 3, 1, 2): Σd² = 18,
		// ρ = 1 − 6·18/(4·15) = −0.8.
		"accuracy and λ_max have Spearman ρ = -0.80 (n = 4): the flatter objectives tend to be the more accurate",
		"lowers it for 4 of 4 objectives", "the runs of flat, flatter are linearly connected",
		// Siblings' barriers are half the matched ones: 0.25, 0.15, 0.025, 0.005 of the ends' CE.
		"linearly connected (barrier ≤ 0.1 of the ends' CE) for flat, flatter.",
		"*Caveat, mid:* trained on clean inputs.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("reading lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "%!") {
		t.Errorf("formatting error in the reading:\n%s", text)
	}
}

func TestFigures(t *testing.T) {
	a := fakeAtlas()
	md, err := a.Table().Markdown()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md, "0.905 ± 0.005") || strings.Count(md, "\n| ") < 5 {
		t.Errorf("table:\n%s", md)
	}
	if md, err := a.SkippedTable().Markdown(); err != nil || !strings.Contains(md, "needs an ensemble") {
		t.Errorf("skipped table (%v):\n%s", err, md)
	}
	for name, f := range map[string]interface{ PNG() ([]byte, error) }{
		"slices": a.Slices(), "paths": a.Paths(), "planes": a.Planes(), "scatter": a.Scatter(TopEigenvalue),
		"scatter barrier": a.Scatter(MatchedBarrier),
	} {
		if _, err := f.PNG(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := a.Scatter("nonsense").PNG(); err == nil || !strings.Contains(err.Error(), "unknown metric") {
		t.Errorf("unknown metric: error %v", err)
	}
}
