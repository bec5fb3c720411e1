// Package verdict decides a paper notebook's claims the way a reviewer would, by one rule written before
// the run, and reports them in a form both people and tools can read.
//
// Each claim is one falsifiable comparison of the paper's method against its baseline, measured on at
// least MinRuns independent runs (independent initialisations and data orders). Its effect is the mean
// difference method − baseline, signed so that a positive effect is the direction the paper claims, with
// its standard error across runs (of the paired differences when the runs are paired). The outcome:
//
//   - Comparison: "reproduced" when the effect is positive beyond 2 standard errors; "not reproduced"
//     when it is negative beyond 2 standard errors, or when no effect is detectable (|effect| ≤ 2 SE);
//   - NonInferiority: "reproduced" when effect − 2 SE > −Margin (the method is worse by less than a
//     margin stated before the run), otherwise "not reproduced";
//   - Exact: a deterministic or closed-form computation with no randomness; "reproduced" when it holds;
//   - Sanity: a setup or construction check, shown but never counted;
//   - any counted kind is "not testable" when the caller says why the control does not show the
//     phenomenon the method addresses (Claim.Untestable names the measurement that shows it); such a
//     claim may have fewer than MinRuns runs (even none) when too few runs show the phenomenon to
//     measure anything, and then has no effect.
//
// The overall verdict comes from the counted claims only (Comparison, NonInferiority, Exact): "reproduced"
// when every testable claim is reproduced, "not reproduced" when none is, "partly reproduced" in between,
// and "not testable" when no claim is testable or a sanity check fails (the setup is then broken).
//
// Report.Show draws the table of claims, a figure of each measured effect with its ±2 SE interval, and
// emits the report as a display output of MIME type MIMEType (the JSON of Report, as a string), so that
// tools can read the verdicts of committed notebooks:
//
//	r := nb.Must(verdict.Decide("09-ldr",
//		verdict.Claim{Claim: "ALDR beats CE at 60% label noise (test accuracy)", Kind: verdict.Comparison,
//			Method: aldrAcc, Baseline: ceAcc, Paired: true},
//		verdict.Claim{Claim: "the three losses agree without noise (±0.02)", Kind: verdict.NonInferiority,
//			Method: aldrClean, Baseline: ceClean, Paired: true, Margin: 0.02},
//	))
//	nb.Check(r.Show())
package verdict

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/losslab/losslab/lib/landscape"
)

// Kind says how a claim is decided and whether it counts toward the verdict.
type Kind string

// The kinds of claim.
const (
	Comparison     Kind = "comparison"
	NonInferiority Kind = "non-inferiority"
	Exact          Kind = "exact"
	Sanity         Kind = "sanity"
)

// Outcome is a claim's result.
type Outcome string

// The outcomes of a claim.
const (
	Reproduced    Outcome = "reproduced"
	NotReproduced Outcome = "not reproduced"
	NotTestable   Outcome = "not testable"
)

// The overall verdicts.
const (
	VerdictReproduced    = "reproduced"
	VerdictPartly        = "partly reproduced"
	VerdictNotReproduced = "not reproduced"
	VerdictNotTestable   = "not testable"
)

// MinRuns is the fewest independent runs a Comparison or NonInferiority claim is decided on.
const MinRuns = 3

// MIMEType is the MIME type of the report's display output.
const MIMEType = "application/vnd.losslab.verdict+json"

// Claim is one statement of the paper and its measurements.
type Claim struct {
	// Claim says what the paper claims, in words, with the measured quantity, e.g. "ALDR beats CE at
	// 60% label noise (test accuracy)".
	Claim string
	Kind  Kind

	// Method and Baseline hold one value per independent run (Comparison, NonInferiority). Paired: run
	// i of both shares its seed and data, and the effect is the mean of the paired differences.
	Method, Baseline []float64
	Paired           bool
	// Lower: the paper claims the method's value is lower (an error, a loss, a barrier); by default it
	// claims higher.
	Lower bool
	// Margin is the non-inferiority margin (≥ 0, in the values' units), stated before the run.
	Margin float64

	// Holds and Value are the result of an Exact or Sanity check (Value optional, shown as the effect).
	Holds bool
	Value float64

	// Untestable, when set, says why the claim cannot be tested at this scale: which measurement shows
	// that the control does not exhibit the phenomenon. The claim's outcome is then "not testable".
	Untestable string
	// Detail is shown with the outcome, e.g. the setting or the chosen hyperparameters.
	Detail string
}

// Result is a decided claim, as it appears in the report's JSON.
type Result struct {
	Claim string `json:"claim"`
	Kind  Kind   `json:"kind"`
	// Seeds is the number of independent runs (0 for Exact and Sanity checks).
	Seeds int `json:"seeds"`
	// Effect is signed so that positive is the direction the paper claims; SE is its standard error.
	Effect  float64 `json:"effect"`
	SE      float64 `json:"se"`
	Margin  float64 `json:"margin,omitempty"`
	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason"`
	Counted bool    `json:"counted"`
}

// Report is a paper's decided claims and the verdict derived from them.
type Report struct {
	Paper   string   `json:"paper"`
	Verdict string   `json:"verdict"`
	Reason  string   `json:"reason"`
	Claims  []Result `json:"claims"`
	// Quick is true when the notebook ran at CI's reduced sizes (nb.Quick): the numbers check the code
	// path, not the paper.
	Quick bool `json:"quick,omitempty"`
}

// Decide decides each claim and derives the verdict. Bad claims are errors: an unknown kind, fewer than
// MinRuns runs, unequal paired runs, non-finite values, a negative or non-finite margin, an empty text.
func Decide(paper string, claims ...Claim) (*Report, error) {
	if strings.TrimSpace(paper) == "" {
		return nil, fmt.Errorf("verdict.Decide: empty paper id")
	}
	if len(claims) == 0 {
		return nil, fmt.Errorf("verdict.Decide %s: no claims", paper)
	}
	r := &Report{Paper: paper}
	for i, c := range claims {
		res, err := decide(c)
		if err != nil {
			return nil, fmt.Errorf("verdict.Decide %s, claim %d (%q): %w", paper, i+1, c.Claim, err)
		}
		r.Claims = append(r.Claims, res)
	}
	r.Verdict, r.Reason = overall(r.Claims)
	return r, nil
}

// decide decides one claim.
func decide(c Claim) (Result, error) {
	if strings.TrimSpace(c.Claim) == "" {
		return Result{}, fmt.Errorf("the claim has no text")
	}
	res := Result{Claim: c.Claim, Kind: c.Kind, Counted: c.Kind != Sanity}
	switch c.Kind {
	case Exact, Sanity:
		if len(c.Method) > 0 || len(c.Baseline) > 0 {
			return Result{}, fmt.Errorf("a %s check takes Holds (and Value), not runs", c.Kind)
		}
		if math.IsNaN(c.Value) || math.IsInf(c.Value, 0) {
			return Result{}, fmt.Errorf("value is %g", c.Value)
		}
		res.Effect = c.Value
		res.Outcome, res.Reason = NotReproduced, "does not hold"
		if c.Holds {
			res.Outcome, res.Reason = Reproduced, "holds"
		}
		if c.Kind == Sanity {
			res.Reason = "sanity check (not counted): " + res.Reason
		}
	case Comparison, NonInferiority:
		if c.Untestable != "" && min(len(c.Method), len(c.Baseline)) < MinRuns {
			// Too few runs show the phenomenon to measure anything: not testable, with no effect.
			if err := finite(c); err != nil {
				return Result{}, err
			}
			res.Seeds, res.Outcome, res.Reason = min(len(c.Method), len(c.Baseline)), NotTestable, c.Untestable
			break
		}
		eff, se, n, err := effect(c)
		if err != nil {
			return Result{}, err
		}
		res.Effect, res.SE, res.Seeds = eff, se, n
		if c.Kind == Comparison {
			if c.Margin != 0 {
				return Result{}, fmt.Errorf("a comparison has no margin (got %g): use NonInferiority", c.Margin)
			}
			switch {
			case eff > 2*se && eff > 0:
				res.Outcome, res.Reason = Reproduced, fmt.Sprintf("effect %+.4g ± %.2g beyond 2 SE in the claimed direction", eff, se)
			case eff < -2*se:
				res.Outcome, res.Reason = NotReproduced, fmt.Sprintf("effect %+.4g ± %.2g: the opposite direction, beyond 2 SE", eff, se)
			default:
				res.Outcome, res.Reason = NotReproduced, fmt.Sprintf("no detectable effect: %+.4g ± %.2g is within 2 SE of 0", eff, se)
			}
		} else {
			if !(c.Margin >= 0) || math.IsInf(c.Margin, 0) {
				return Result{}, fmt.Errorf("non-inferiority margin %g must be finite and ≥ 0", c.Margin)
			}
			res.Margin = c.Margin
			switch {
			case eff-2*se > -c.Margin && eff >= 0:
				res.Outcome, res.Reason = Reproduced, fmt.Sprintf("effect %+.4g ± %.2g: non-inferior, its lower 2 SE bound %+.3g clears −margin = %.3g", eff, se, eff-2*se, -c.Margin)
			case eff-2*se > -c.Margin:
				res.Outcome, res.Reason = Reproduced, fmt.Sprintf("effect %+.4g ± %.2g: worse by less than the margin %.3g (beyond 2 SE)", eff, se, c.Margin)
			default:
				res.Outcome, res.Reason = NotReproduced, fmt.Sprintf("effect %+.4g ± %.2g: a loss larger than the margin %.3g is not excluded at 2 SE", eff, se, c.Margin)
			}
		}
	default:
		return Result{}, fmt.Errorf("unknown kind %q (want %q, %q, %q or %q)", c.Kind, Comparison, NonInferiority, Exact, Sanity)
	}
	if c.Untestable != "" {
		if c.Kind == Sanity {
			return Result{}, fmt.Errorf("a sanity check is not a claim: it cannot be untestable")
		}
		res.Outcome, res.Reason = NotTestable, c.Untestable
	}
	if c.Detail != "" {
		res.Reason += "; " + c.Detail
	}
	return res, nil
}

// finite says which run of c is not a finite number, if any.
func finite(c Claim) error {
	for _, side := range []struct {
		name string
		v    []float64
	}{{"method", c.Method}, {"baseline", c.Baseline}} {
		for i, x := range side.v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("%s run %d is %g", side.name, i+1, x)
			}
		}
	}
	return nil
}

// effect returns the signed mean difference, its standard error and the number of runs.
func effect(c Claim) (eff, se float64, n int, err error) {
	for _, side := range []struct {
		name string
		v    []float64
	}{{"method", c.Method}, {"baseline", c.Baseline}} {
		if len(side.v) < MinRuns {
			return 0, 0, 0, fmt.Errorf("%d %s runs: a claim is decided on at least %d independent runs", len(side.v), side.name, MinRuns)
		}
	}
	if err := finite(c); err != nil {
		return 0, 0, 0, err
	}
	sign := 1.0
	if c.Lower {
		sign = -1
	}
	if c.Paired {
		if len(c.Method) != len(c.Baseline) {
			return 0, 0, 0, fmt.Errorf("paired runs: %d method and %d baseline values", len(c.Method), len(c.Baseline))
		}
		d := make([]float64, len(c.Method))
		for i := range d {
			d[i] = sign * (c.Method[i] - c.Baseline[i])
		}
		s := landscape.Summarize(d)
		return s.Mean, s.Std / math.Sqrt(float64(len(d))), len(d), nil
	}
	m, b := landscape.Summarize(c.Method), landscape.Summarize(c.Baseline)
	return sign * (m.Mean - b.Mean), math.Sqrt(m.Std*m.Std/float64(m.N) + b.Std*b.Std/float64(b.N)), min(m.N, b.N), nil
}

// overall derives the verdict from the counted claims.
func overall(claims []Result) (verdict, reason string) {
	var repro, notRepro, untestable, counted int
	for _, c := range claims {
		if c.Kind == Sanity {
			if c.Outcome != Reproduced {
				return VerdictNotTestable, fmt.Sprintf("the sanity check %q fails: the setup is broken", c.Claim)
			}
			continue
		}
		counted++
		switch c.Outcome {
		case Reproduced:
			repro++
		case NotReproduced:
			notRepro++
		case NotTestable:
			untestable++
		}
	}
	tally := fmt.Sprintf("%d of %d counted claims reproduced, %d not reproduced, %d not testable", repro, counted, notRepro, untestable)
	switch {
	case counted == 0:
		return VerdictNotTestable, "no counted claims (sanity checks never count)"
	case repro+notRepro == 0:
		return VerdictNotTestable, tally
	case notRepro == 0:
		return VerdictReproduced, tally
	case repro == 0:
		return VerdictNotReproduced, tally
	}
	return VerdictPartly, tally
}

// JSON returns the report as JSON (the content of the MIMEType output).
func (r *Report) JSON() ([]byte, error) {
	return json.Marshal(r)
}

// Parse reads a report from the content of a MIMEType output (the JSON object, or a string holding it,
// as GoNB stores it in a notebook).
func Parse(content []byte) (*Report, error) {
	var s string
	if json.Unmarshal(content, &s) == nil {
		content = []byte(s)
	}
	var r Report
	if err := json.Unmarshal(content, &r); err != nil {
		return nil, fmt.Errorf("verdict.Parse: %w", err)
	}
	if r.Paper == "" || r.Verdict == "" {
		return nil, fmt.Errorf("verdict.Parse: not a verdict report (no paper or verdict)")
	}
	return &r, nil
}
