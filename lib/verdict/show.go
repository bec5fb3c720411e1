package verdict

import (
	"fmt"

	"github.com/janpfeifer/gonb/gonbui"
	"github.com/janpfeifer/gonb/gonbui/protocol"

	"github.com/losslab/losslab/lib/nb"
	"github.com/losslab/losslab/lib/viz"
)

// Table is the report as a table: one row per claim.
func (r *Report) Table() *viz.Table {
	t := viz.NewTable(fmt.Sprintf("%s: %s (%s)", r.Paper, r.Verdict, r.Reason),
		"#", "claim", "kind", "runs", "effect", "± SE", "outcome", "reason").Digits(3)
	for i, c := range r.Claims {
		runs, eff, se := any(c.Seeds), any(c.Effect), any(c.SE)
		switch {
		case c.Kind == Exact || c.Kind == Sanity:
			runs, se = "–", "–"
		case c.Outcome == NotTestable && c.Seeds < MinRuns: // nothing measured
			runs, eff, se = "–", "–", "–"
		}
		outcome := string(c.Outcome)
		if c.Kind == Sanity {
			// A sanity check is not a claim of the paper: it holds or fails.
			outcome = "fails"
			if c.Outcome == Reproduced {
				outcome = "holds"
			}
		}
		t.Row(fmt.Sprintf("C%d", i+1), c.Claim, string(c.Kind), runs, eff, se, outcome, c.Reason)
	}
	return t
}

// Figure draws each measured claim (Comparison, NonInferiority with runs) as its effect with a ±2 SE error bar,
// one panel per claim since their units differ; a claim is reproduced when its bar's interval lies above
// 0 (a comparison) or above −margin (non-inferiority, given in the panel's title). Nil when no claim has
// a measured effect (a claim untestable on fewer than MinRuns runs has none).
func (r *Report) Figure() *viz.Figure {
	var panels []*viz.Figure
	for i, c := range r.Claims {
		if c.Kind != Comparison && c.Kind != NonInferiority || c.Outcome == NotTestable && c.Seeds < MinRuns {
			continue // no measured effect
		}
		title := fmt.Sprintf("C%d: %s", i+1, c.Outcome)
		if c.Kind == NonInferiority {
			title = fmt.Sprintf("C%d (margin %.3g): %s", i+1, c.Margin, c.Outcome)
		}
		s := viz.Spread("effect", []float64{c.Effect}, []float64{c.Effect - 2*c.SE}, []float64{c.Effect + 2*c.SE},
			fmt.Sprintf("±2 s.e. over %d runs", c.Seeds))
		groups := []viz.Series{s}
		if c.Kind == NonInferiority {
			// The threshold −margin that the lower end of the interval must clear, drawn beside it.
			groups = append(groups, viz.Series{Name: "−margin (threshold)", Y: []float64{-c.Margin}})
		}
		f := viz.Bar(title, "", "effect (claimed direction > 0)", []string{fmt.Sprintf("C%d", i+1)}, groups...)
		if c.Kind == NonInferiority {
			lo, hi := min(c.Effect-2*c.SE, -c.Margin, 0), max(c.Effect+2*c.SE, 0)
			pad := 0.1 * (hi - lo)
			f.YRange(lo-pad, hi+pad)
		}
		panels = append(panels, f)
	}
	if len(panels) == 0 {
		return nil
	}
	cols := min(len(panels), 4)
	return viz.Panels(fmt.Sprintf("%s: measured effects (positive = the paper's direction)", r.Paper), cols, panels...)
}

// Show shows the report in a notebook cell: a line with the verdict, the table, the figure of effects,
// and the report's JSON as a MIMEType output for tools. Outside a notebook it prints the verdict and the
// table's rows as text.
func (r *Report) Show() error {
	r.Quick = nb.Quick()
	js, err := r.JSON()
	if err != nil {
		return err
	}
	head := fmt.Sprintf("Verdict for %s: %s (%s).", r.Paper, r.Verdict, r.Reason)
	if r.Quick {
		head += " Quick mode (LOSSLAB_QUICK): tiny sizes that check the code path, not the paper."
	}
	if !nb.InNotebook() {
		fmt.Println(head)
		for i, c := range r.Claims {
			fmt.Printf("  C%d [%s] %s: %s (%s)\n", i+1, c.Kind, c.Claim, c.Outcome, c.Reason)
		}
		return nil
	}
	nb.Markdown("**" + head + "**")
	if err := r.Table().Show(); err != nil {
		return err
	}
	if f := r.Figure(); f != nil {
		if err := f.Show(); err != nil {
			return err
		}
	}
	gonbui.SendData(&protocol.DisplayData{Data: map[protocol.MIMEType]any{
		MIMEType:               string(js),
		protocol.MIMETextPlain: head,
	}})
	return nil
}
