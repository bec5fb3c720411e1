package verdict

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

// TestEffectByHand checks effects and standard errors against values worked out by hand.
func TestEffectByHand(t *testing.T) {
	// Paired: differences 0.02, 0.04, 0.03 → mean 0.03, sd 0.01, SE 0.01/√3.
	r, err := Decide("00-test", Claim{Claim: "m > b", Kind: Comparison, Paired: true,
		Method: []float64{0.62, 0.64, 0.63}, Baseline: []float64{0.60, 0.60, 0.60}})
	if err != nil {
		t.Fatal(err)
	}
	c := r.Claims[0]
	if !near(c.Effect, 0.03) || !near(c.SE, 0.01/math.Sqrt(3)) || c.Seeds != 3 {
		t.Errorf("paired: effect %g ± %g on %d runs, want 0.03 ± %g on 3", c.Effect, c.SE, c.Seeds, 0.01/math.Sqrt(3))
	}
	if c.Outcome != Reproduced || r.Verdict != VerdictReproduced {
		t.Errorf("paired effect 5.2 SE above 0: outcome %q, verdict %q", c.Outcome, r.Verdict)
	}
	// Unpaired, lower is claimed: method {1,2,3} (mean 2, var 1), baseline {4,6,8,10} (mean 7, var 20/3).
	// effect = −(2 − 7) = 5, SE = √(1/3 + (20/3)/4) = √2.
	r, err = Decide("00-test", Claim{Claim: "m < b", Kind: Comparison, Lower: true,
		Method: []float64{1, 2, 3}, Baseline: []float64{4, 6, 8, 10}})
	if err != nil {
		t.Fatal(err)
	}
	c = r.Claims[0]
	if !near(c.Effect, 5) || !near(c.SE, math.Sqrt(2)) || c.Seeds != 3 {
		t.Errorf("unpaired: effect %g ± %g on %d runs, want 5 ± √2 on 3", c.Effect, c.SE, c.Seeds)
	}
	if c.Outcome != Reproduced { // 5 > 2√2
		t.Errorf("unpaired 5 ± 1.41: outcome %q", c.Outcome)
	}
}

// TestOutcomes checks each branch of the rule, at and around its thresholds.
func TestOutcomes(t *testing.T) {
	runs := func(mean float64) []float64 { return []float64{mean - 1, mean, mean + 1} } // sd 1, SE √(2/3) unpaired
	se := math.Sqrt(2.0 / 3)
	cases := []struct {
		name string
		c    Claim
		want Outcome
	}{
		{"beyond 2 SE", Claim{Kind: Comparison, Method: runs(2.1 * se), Baseline: runs(0)}, Reproduced},
		{"within 2 SE", Claim{Kind: Comparison, Method: runs(1.9 * se), Baseline: runs(0)}, NotReproduced},
		{"opposite", Claim{Kind: Comparison, Method: runs(-2.1 * se), Baseline: runs(0)}, NotReproduced},
		{"lower claimed, method lower", Claim{Kind: Comparison, Lower: true, Method: runs(-2.1 * se), Baseline: runs(0)}, Reproduced},
		{"non-inferior", Claim{Kind: NonInferiority, Margin: 1, Method: runs(-1 + 2.1*se), Baseline: runs(0)}, Reproduced},
		{"inferiority not excluded", Claim{Kind: NonInferiority, Margin: 1, Method: runs(-1 + 1.9*se), Baseline: runs(0)}, NotReproduced},
		{"untestable", Claim{Kind: Comparison, Method: runs(5), Baseline: runs(0), Untestable: "the control shows no forgetting (accuracy 0.30 in every arm)"}, NotTestable},
		{"untestable without runs", Claim{Kind: Comparison, Untestable: "no real benchmark table is available offline"}, NotTestable},
		{"exact holds", Claim{Kind: Exact, Holds: true, Value: 1e-9}, Reproduced},
		{"exact fails", Claim{Kind: Exact}, NotReproduced},
	}
	for _, tc := range cases {
		tc.c.Claim = tc.name
		r, err := Decide("00-test", tc.c)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := r.Claims[0].Outcome; got != tc.want {
			t.Errorf("%s: outcome %q (effect %g ± %g), want %q", tc.name, got, r.Claims[0].Effect, r.Claims[0].SE, tc.want)
		}
	}
}

// TestOverall checks the verdict rule: sanity checks never count, a failed one makes the verdict
// "not testable", and the verdict follows the counted outcomes.
func TestOverall(t *testing.T) {
	yes := Claim{Claim: "yes", Kind: Exact, Holds: true}
	no := Claim{Claim: "no", Kind: Exact}
	nt := Claim{Claim: "nt", Kind: Exact, Holds: true, Untestable: "control flat"}
	okSanity := Claim{Claim: "setup", Kind: Sanity, Holds: true}
	badSanity := Claim{Claim: "setup", Kind: Sanity}
	cases := []struct {
		claims []Claim
		want   string
	}{
		{[]Claim{yes, okSanity}, VerdictReproduced},
		{[]Claim{no, okSanity}, VerdictNotReproduced},
		{[]Claim{yes, no}, VerdictPartly},
		{[]Claim{yes, nt}, VerdictReproduced},
		{[]Claim{nt}, VerdictNotTestable},
		{[]Claim{okSanity}, VerdictNotTestable}, // a sanity check alone decides nothing
		{[]Claim{yes, badSanity}, VerdictNotTestable},
		{[]Claim{no, okSanity, okSanity, okSanity}, VerdictNotReproduced}, // passing sanity checks do not make it "partly"
	}
	for i, tc := range cases {
		r, err := Decide("00-test", tc.claims...)
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict != tc.want {
			t.Errorf("case %d: verdict %q (%s), want %q", i, r.Verdict, r.Reason, tc.want)
		}
	}
}

// TestBadClaims checks that each malformed claim is an error naming the problem.
func TestBadClaims(t *testing.T) {
	three := []float64{1, 2, 3}
	cases := []struct {
		c    Claim
		want string
	}{
		{Claim{Claim: "x", Kind: Comparison, Method: []float64{1, 2}, Baseline: three}, "at least 3"},
		{Claim{Claim: "x", Kind: Comparison, Method: []float64{1, math.NaN(), 3}, Baseline: three}, "NaN"},
		{Claim{Claim: "x", Kind: Comparison, Paired: true, Method: []float64{1, 2, 3, 4}, Baseline: three}, "paired"},
		{Claim{Claim: "x", Kind: NonInferiority, Margin: -0.1, Method: three, Baseline: three}, "margin"},
		{Claim{Claim: "x", Kind: NonInferiority, Margin: math.Inf(1), Method: three, Baseline: three}, "margin"},
		{Claim{Claim: "x", Kind: Comparison, Margin: 0.1, Method: three, Baseline: three}, "NonInferiority"},
		{Claim{Claim: "x", Kind: "vibes"}, "unknown kind"},
		{Claim{Claim: "x", Kind: Exact, Method: three}, "Holds"},
		{Claim{Claim: "x", Kind: Sanity, Holds: true, Untestable: "?"}, "sanity"},
		{Claim{Claim: " ", Kind: Exact}, "no text"},
	}
	for _, tc := range cases {
		_, err := Decide("00-test", tc.c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("claim %+v: error %v, want one mentioning %q", tc.c, err, tc.want)
		}
	}
	if _, err := Decide("00-test"); err == nil {
		t.Errorf("no claims accepted")
	}
}

// TestJSON checks the report's JSON: the field names and spellings tools rely on, and Parse of both the
// object and the string GoNB stores.
func TestJSON(t *testing.T) {
	r, err := Decide("09-ldr",
		Claim{Claim: "a", Kind: Comparison, Method: []float64{1, 1.1, 0.9}, Baseline: []float64{0, 0.1, -0.1}},
		Claim{Claim: "b", Kind: Sanity, Holds: true})
	if err != nil {
		t.Fatal(err)
	}
	js, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(js, &raw); err != nil {
		t.Fatal(err)
	}
	claims := raw["claims"].([]any)
	first := claims[0].(map[string]any)
	for _, k := range []string{"claim", "kind", "seeds", "effect", "se", "outcome", "reason"} {
		if _, ok := first[k]; !ok {
			t.Errorf("claim JSON lacks %q: %s", k, js)
		}
	}
	if raw["paper"] != "09-ldr" || raw["verdict"] != "reproduced" || first["outcome"] != "reproduced" {
		t.Errorf("JSON %s", js)
	}
	asString, _ := json.Marshal(string(js))
	for _, content := range [][]byte{js, asString} {
		back, err := Parse(content)
		if err != nil {
			t.Fatal(err)
		}
		if back.Verdict != r.Verdict || len(back.Claims) != 2 || back.Claims[0].Effect != r.Claims[0].Effect {
			t.Errorf("Parse round trip: %+v", back)
		}
	}
	if _, err := Parse([]byte(`{"x": 1}`)); err == nil {
		t.Errorf("Parse accepted a JSON object that is not a report")
	}
}

// TestShowPieces checks that the table and the figure render.
func TestShowPieces(t *testing.T) {
	r, err := Decide("09-ldr",
		Claim{Claim: "ALDR beats CE at 60% noise (test accuracy)", Kind: Comparison, Paired: true,
			Method: []float64{0.60, 0.61, 0.59}, Baseline: []float64{0.55, 0.54, 0.56}},
		Claim{Claim: "no loss without noise", Kind: NonInferiority, Margin: 0.02,
			Method: []float64{0.60, 0.61, 0.59}, Baseline: []float64{0.60, 0.60, 0.61}},
		Claim{Claim: "formula matches closed form", Kind: Exact, Holds: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Table().Err(); err != nil {
		t.Fatal(err)
	}
	f := r.Figure()
	if f == nil {
		t.Fatal("no figure for two measured claims")
	}
	if _, err := f.PNG(); err != nil {
		t.Fatal(err)
	}
	if err := r.Show(); err != nil { // outside a notebook: text
		t.Fatal(err)
	}
}

// TestNonInferiorityWording checks that a non-inferiority claim whose method is better is not described
// as "worse by less than the margin", and that sanity checks read "holds"/"fails" in the table.
func TestNonInferiorityWording(t *testing.T) {
	r, err := Decide("00-test",
		Claim{Claim: "better", Kind: NonInferiority, Margin: 0.1, Paired: true,
			Method: []float64{0.61, 0.62, 0.60}, Baseline: []float64{0.60, 0.60, 0.60}},
		Claim{Claim: "slightly worse", Kind: NonInferiority, Margin: 0.1, Paired: true,
			Method: []float64{0.59, 0.58, 0.595}, Baseline: []float64{0.60, 0.60, 0.60}},
		Claim{Claim: "setup", Kind: Sanity, Holds: true})
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Claims[0]; c.Outcome != Reproduced || strings.Contains(c.Reason, "worse") {
		t.Errorf("better method: %s (%s)", c.Outcome, c.Reason)
	}
	if c := r.Claims[1]; c.Outcome != Reproduced || !strings.Contains(c.Reason, "worse by less than the margin") {
		t.Errorf("slightly worse method: %s (%s)", c.Outcome, c.Reason)
	}
	if s, err := r.Table().Markdown(); err != nil || !strings.Contains(s, "holds") {
		t.Errorf("sanity row does not read holds (%v):\n%s", err, s)
	}
}

// TestFigurePNG writes the figure of TestShowPieces' report to LOSSLAB_VERDICT_PNG when set (to look at it).
func TestFigurePNG(t *testing.T) {
	path := os.Getenv("LOSSLAB_VERDICT_PNG")
	if path == "" {
		t.Skip("LOSSLAB_VERDICT_PNG not set")
	}
	r, err := Decide("00-test",
		Claim{Claim: "a", Kind: Comparison, Paired: true, Method: []float64{0.60, 0.61, 0.59}, Baseline: []float64{0.55, 0.54, 0.56}},
		Claim{Claim: "b", Kind: NonInferiority, Margin: 0.02, Method: []float64{0.60, 0.61, 0.59}, Baseline: []float64{0.60, 0.60, 0.61}})
	if err != nil {
		t.Fatal(err)
	}
	png, err := r.Figure().PNG()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestUnmeasuredClaimShown checks that a not-testable claim without runs gets dashes, not zeros, in the
// table, and that the figure still draws the measured claim.
func TestUnmeasuredClaimShown(t *testing.T) {
	r, err := Decide("00-test",
		Claim{Claim: "measured", Kind: Comparison, Method: []float64{1, 1.1, 0.9}, Baseline: []float64{0, 0.1, -0.1}},
		Claim{Claim: "unmeasured", Kind: Comparison, Untestable: "no data offline"})
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Figure(); f == nil || f.Err() != nil {
		t.Fatalf("figure: %v", f)
	}
	md, err := r.Table().Markdown()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(md, "\n") {
		if strings.Contains(line, "unmeasured") && (!strings.Contains(line, "–") || strings.Contains(line, "| 0 |")) {
			t.Errorf("unmeasured row: %s", line)
		}
	}
}

// TestUntestableWithFewRuns checks that a claim the control makes untestable needs no measured runs:
// when the phenomenon shows in fewer than MinRuns runs there is nothing to measure, and the claim is
// "not testable" with no effect (a testable claim with as few runs stays an error).
func TestUntestableWithFewRuns(t *testing.T) {
	for _, runs := range [][]float64{nil, {0.2}, {0.1, 0.3}} {
		r, err := Decide("00-test", Claim{Claim: "x", Kind: Comparison, Method: runs, Baseline: runs, Paired: true,
			Untestable: "the control groks in only 1 of 5 runs"})
		if err != nil {
			t.Fatalf("%d runs: %v", len(runs), err)
		}
		c := r.Claims[0]
		if c.Outcome != NotTestable || c.Seeds != len(runs) || c.Effect != 0 || c.SE != 0 || r.Verdict != VerdictNotTestable {
			t.Errorf("%d runs: %+v, verdict %q; want not testable with no effect", len(runs), c, r.Verdict)
		}
		if f := r.Figure(); f != nil {
			t.Errorf("%d runs: a figure of an effect that was never measured", len(runs))
		}
	}
	if _, err := Decide("00-test", Claim{Claim: "x", Kind: Comparison, Method: []float64{1, math.NaN()}, Baseline: []float64{1, 2},
		Untestable: "flat"}); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("an untestable claim's NaN run must still be an error, got %v", err)
	}
}
