package proxyexp

import (
	"fmt"
	"math"
	"strings"

	"github.com/losslab/losslab/lib/verdict"
)

// Summary writes the closing summary of the notebook in Markdown: the verdict, one line per counted
// claim, the pilot, the LR sensitivity of every arm, the diverged runs and the scale. quick marks a
// run at CI's reduced sizes.
func Summary(c Config, res *Result, r *verdict.Report, quick bool) (string, error) {
	var lines []string
	for i, cl := range r.Claims {
		if !cl.Counted {
			continue
		}
		line := fmt.Sprintf("- C%d %s: **%s** (effect %+.3f ± %.3f over %d paired runs).", i+1, cl.Claim, cl.Outcome, cl.Effect, cl.SE, cl.Seeds)
		if cl.Outcome == verdict.NotTestable {
			line = fmt.Sprintf("- C%d %s: **%s** — %s.", i+1, cl.Claim, cl.Outcome, cl.Reason)
		}
		lines = append(lines, line)
	}
	lines = append(lines, "- Pilot (one baseline run per learning rate, seeds outside the claims'): "+strings.Join(pilotLines(c, res), "; ")+".")
	var lrsText, div []string
	for _, a := range c.Arms {
		v, err := res.LRS(a.Name)
		if err != nil {
			return "", err
		}
		m, se := MeanSE(v)
		lrsText = append(lrsText, fmt.Sprintf("%s %.3f ± %.3f", a.Name, m, se))
		n := 0
		for _, x := range res.Runs {
			if x.Arm == a.Name && x.Diverged {
				n++
			}
		}
		div = append(div, fmt.Sprintf("%s %d", a.Name, n))
	}
	lines = append(lines, "- LR sensitivity, mean ± s.e. over the runs: "+strings.Join(lrsText, ", ")+".")
	lines = append(lines, fmt.Sprintf("- Diverged runs (NaN loss) of %d per arm: %s.", len(c.LRs)*res.NumRuns(), strings.Join(div, ", ")))
	scale := fmt.Sprintf("%s (sequence %d, batch %d, %d warm-up steps), %d learning rates from %g to %g, %d independent runs per arm and learning rate, on a synthetic order-2 Markov language with %d tokens.",
		res.Scale.Name, res.Scale.Seq, res.Scale.Batch, res.Scale.Warmup, len(c.LRs), c.LRs[0], c.LRs[len(c.LRs)-1], res.NumRuns(), c.Markov.Vocab)
	if quick {
		scale = "Quick mode (LOSSLAB_QUICK): tiny sizes that check the code path, not the paper. " + scale
	}
	return fmt.Sprintf("**Verdict: %s** (%s).\n\n%s\n\nScale: %s", r.Verdict, r.Reason, strings.Join(lines, "\n"), scale), nil
}

// pilotLines describes each candidate scale of the pilot: where the growth factor was first reached,
// and the largest growth over the grid.
func pilotLines(c Config, res *Result) []string {
	var pil []string
	for _, p := range res.Pilots {
		hi := 0.0
		for _, g := range p.Growth {
			hi = math.Max(hi, g)
		}
		f := "no learning rate ≤ " + fmt.Sprint(c.MaxFocusLR) + " reached the growth factor"
		if p.Focus > 0 {
			f = fmt.Sprintf("growth ≥ %g× first at η = %g", c.Growth, p.Focus)
		}
		pil = append(pil, fmt.Sprintf("%s: %s (largest growth over the grid %.3g×)", p.Scale, f, hi))
	}
	return pil
}
