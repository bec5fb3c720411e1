package atlas

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/losslab/losslab/lib/landscape"
)

// ConnectedFraction is the relative barrier below which Reading calls two runs linearly connected: the
// CE barrier at most this fraction of the mean CE of the two ends.
const ConnectedFraction = 0.1

// Spearman returns the rank correlation of x and y (ties get their average rank); NaN when fewer than
// three pairs are given or one variable is constant.
func Spearman(x, y []float64) float64 {
	if len(x) != len(y) || len(x) < 3 {
		return math.NaN()
	}
	rx, ry := ranks(x), ranks(y)
	mx, my := landscape.Summarize(rx).Mean, landscape.Summarize(ry).Mean
	var sxy, sxx, syy float64
	for i := range rx {
		dx, dy := rx[i]-mx, ry[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && v[idx[j]] == v[idx[i]] {
			j++
		}
		for k := i; k < j; k++ {
			r[idx[k]] = float64(i+j+1) / 2
		}
		i = j
	}
	return r
}

// relBarrier is the mean over pairs of barrier / (mean CE of the two ends).
func relBarrier(ps []PairResult) float64 {
	if len(ps) == 0 {
		return math.NaN()
	}
	var v []float64
	for _, p := range ps {
		ends := (p.Loss[0] + p.Loss[len(p.Loss)-1]) / 2
		v = append(v, p.Barrier/ends)
	}
	return landscape.Summarize(v).Mean
}

// Reading writes what the atlas shows, in Markdown, computed from its numbers: the accuracy ranking and
// whether its top is resolved by the runs, calibration, flatness and its rank correlation with accuracy,
// and connectivity before and after weight matching and between siblings.
func (a *Atlas) Reading() string {
	var b strings.Builder
	n := len(a.Records)
	papers := map[string]bool{}
	for _, r := range a.Records {
		papers[r.Paper] = true
	}
	fmt.Fprintf(&b, "The atlas compares %d objectives from %d papers (%s on %s, %d runs each, the same initialisations for every objective).",
		n, len(papers), a.Setup.Model, a.Setup.Train.Name, a.Setup.Runs)
	if len(a.Skipped) > 0 {
		var names []string
		for _, s := range a.Skipped {
			names = append(names, label(s.Entry))
		}
		verb := "were"
		if len(names) == 1 {
			verb = "was"
		}
		fmt.Fprintf(&b, " %d %s not trained (%s); the table of skipped objectives says why.", len(a.Skipped), verb, strings.Join(names, ", "))
	}
	b.WriteString("\n\n")
	if n == 0 {
		return b.String()
	}
	byAcc := append([]Record(nil), a.Records...)
	sort.SliceStable(byAcc, func(i, j int) bool { return byAcc[i].Summary.TestAccuracy.Mean > byAcc[j].Summary.TestAccuracy.Mean })
	best, worst := byAcc[0], byAcc[n-1]
	fmt.Fprintf(&b, "**Accuracy.** Test accuracy ranges from %.4g (%s) to %.4g (%s).",
		worst.Summary.TestAccuracy.Mean, worst.Label, best.Summary.TestAccuracy.Mean, best.Label)
	if n > 1 {
		second := byAcc[1]
		gap := best.Summary.TestAccuracy.Mean - second.Summary.TestAccuracy.Mean
		noise := 2 * math.Hypot(se(best.Summary.TestAccuracy), se(second.Summary.TestAccuracy))
		verdict := "more than twice the combined standard error (%.2g): with these runs the top of the ranking is resolved"
		if gap <= noise {
			verdict = "within twice the combined standard error (%.2g): with these runs the two are not told apart"
		}
		fmt.Fprintf(&b, " The best, %s, leads the second, %s, by %.2g, "+verdict+".", best.Label, second.Label, gap, noise)
	}
	b.WriteString("\n\n")

	lowest := func(get func(r Record) float64) (lo, hi Record) {
		lo, hi = a.Records[0], a.Records[0]
		for _, r := range a.Records[1:] {
			if get(r) < get(lo) {
				lo = r
			}
			if get(r) > get(hi) {
				hi = r
			}
		}
		return lo, hi
	}
	ece := func(r Record) float64 { return r.Summary.ECE.Mean }
	lo, hi := lowest(ece)
	fmt.Fprintf(&b, "**Calibration.** ECE is lowest for %s (%.3g) and highest for %s (%.3g).\n\n", lo.Label, ece(lo), hi.Label, ece(hi))

	eig := func(r Record) float64 { return r.Summary.TopEigenvalue.Mean }
	lo, hi = lowest(eig)
	fmt.Fprintf(&b, "**Flatness.** The top Hessian eigenvalue of the cross-entropy runs from %.3g (%s, the flattest) to %.3g (%s, the sharpest).",
		eig(lo), lo.Label, eig(hi), hi.Label)
	acc := make([]float64, n)
	eigs := make([]float64, n)
	matched := make([]float64, n)
	for i, r := range a.Records {
		acc[i], eigs[i], matched[i] = r.Summary.TestAccuracy.Mean, eig(r), r.Summary.MatchedBarrier.Mean
	}
	b.WriteString(correlation(" Across objectives, accuracy and λ_max", Spearman(acc, eigs), n, "flatter", "sharper"))
	b.WriteString("\n\n")

	var lowered int
	var connected, siblingsConnected []string
	haveMatched := 0
	for _, r := range a.Records {
		if len(r.Matched) > 0 {
			haveMatched++
			if r.Summary.MatchedBarrier.Mean < r.Summary.Barrier.Mean {
				lowered++
			}
			if relBarrier(r.Matched) <= ConnectedFraction {
				connected = append(connected, r.Label)
			}
		}
		if relBarrier(r.Siblings) <= ConnectedFraction {
			siblingsConnected = append(siblingsConnected, r.Label)
		}
	}
	bar := func(r Record) float64 { return r.Summary.Barrier.Mean }
	lo, hi = lowest(bar)
	fmt.Fprintf(&b, "**Connectivity.** Between independent runs the test-CE barrier runs from %.3g (%s) to %.3g (%s).",
		bar(lo), lo.Label, bar(hi), hi.Label)
	if haveMatched > 0 {
		fmt.Fprintf(&b, " Weight matching lowers it for %d of %d objectives; after matching, %s.", lowered, haveMatched,
			listOrNone(connected, "the runs of %[1]s are linearly connected (barrier ≤ %[2]g of the ends' CE)", "no objective's runs are linearly connected (barrier ≤ %[1]g of the ends' CE)"))
		b.WriteString(correlation(" Across objectives, accuracy and the matched barrier", Spearman(acc, matched), n, "better connected", "worse connected"))
	}
	fmt.Fprintf(&b, " Data-order siblings from one initialisation: %s.\n",
		listOrNone(siblingsConnected, "linearly connected (barrier ≤ %[2]g of the ends' CE) for %[1]s", "no objective's siblings are linearly connected (barrier ≤ %[1]g of the ends' CE)"))
	for _, r := range a.Records {
		if r.Notes != "" {
			fmt.Fprintf(&b, "\n*Caveat, %s:* %s.\n", r.Label, r.Notes)
		}
	}
	return b.String()
}

// listOrNone fills some with the names (%[1]s) and ConnectedFraction (%[2]g), or none with
// ConnectedFraction (%[1]g).
func listOrNone(names []string, some, none string) string {
	if len(names) == 0 {
		return fmt.Sprintf(none, ConnectedFraction)
	}
	return fmt.Sprintf(some, strings.Join(names, ", "), ConnectedFraction)
}

// correlation words a rank correlation of accuracy with a quantity (low: lowLabel, high: highLabel).
func correlation(what string, rho float64, n int, lowLabel, highLabel string) string {
	switch {
	case n < 4 || math.IsNaN(rho):
		return fmt.Sprintf("%s: %d objectives are too few for a rank correlation.", what, n)
	case rho <= -0.5:
		return fmt.Sprintf("%s have Spearman ρ = %.2f (n = %d): the %s objectives tend to be the more accurate.", what, rho, n, lowLabel)
	case rho >= 0.5:
		return fmt.Sprintf("%s have Spearman ρ = %.2f (n = %d): the %s objectives tend to be the more accurate.", what, rho, n, highLabel)
	}
	return fmt.Sprintf("%s have Spearman ρ = %.2f (n = %d): no clear monotone relation.", what, rho, n)
}
