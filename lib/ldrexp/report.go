package ldrexp

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/verdict"
)

// Accuracies returns the clean-test accuracy of each final run of arm in setting.
func Accuracies(res []SettingResult, setting, arm string) ([]float64, error) {
	for i := range res {
		if res[i].Setting == setting {
			if a := res[i].Arm(arm); a != nil {
				return a.Test, nil
			}
		}
	}
	return nil, fmt.Errorf("ldrexp: no results for %s in %s", arm, setting)
}

// RunsText lists accuracies with three decimals, e.g. "0.584 0.587 0.589".
func RunsText(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, fmt.Sprintf("%.3f", x))
	}
	return strings.Join(s, " ")
}

// Mean returns the mean of xs (NaN for none).
func Mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// claimData collects the per-run accuracies the claims need, remembering the first missing one.
type claimData struct {
	res []SettingResult
	err error
}

func (d *claimData) acc(setting, arm string) []float64 {
	a, err := Accuracies(d.res, setting, arm)
	if err != nil && d.err == nil {
		d.err = err
	}
	return a
}

// chosen lists the tuned point of every arm in setting, for a claim's detail.
func (d *claimData) chosen(setting string) string {
	var s []string
	for i := range d.res {
		if d.res[i].Setting == setting {
			for _, a := range d.res[i].Arms {
				s = append(s, a.Arm+" "+a.Chosen)
			}
		}
	}
	return "tuned: " + strings.Join(s, ", ")
}

// worst returns, for each run, the arm's lowest accuracy over the settings of c.
func (d *claimData) worst(c Config, arm string) []float64 {
	w := make([]float64, c.Runs)
	for r := range w {
		w[r] = math.Inf(1)
		for _, n := range c.Noise {
			if a := d.acc(SettingName(n), arm); r < len(a) {
				w[r] = math.Min(w[r], a[r])
			}
		}
	}
	return w
}

// Report decides the notebook's claims (named name in the verdict) from the results of c: LDR-KL and
// ALDR-KL are non-inferior to CE within margin without noise (c.Noise[0]) and beat it under the two noisy
// settings (c.Noise[1], c.Noise[2]); ALDR-KL's worst accuracy over the settings beats LDR-KL's; and three
// sanity checks (LDR-KL at c = 0, λ = 1 is CE − log K; the code forms match the official numpy values;
// CE learns the noise-free task). The arms must be named "CE", "LDR-KL" and "ALDR-KL".
//
// A noise claim is untestable when the control does not show the phenomenon: CE does not lose clean-test
// accuracy under that noise by more than 2 SE (the same rule, unpaired: the training labels differ).
func Report(name string, c Config, res []SettingResult, margin float64) (*verdict.Report, error) {
	if len(c.Noise) != 3 {
		return nil, fmt.Errorf("ldrexp: the report wants 3 noise settings (none, then two noisy ones), got %d", len(c.Noise))
	}
	d := &claimData{res: res}
	clean, uni, pair := SettingName(c.Noise[0]), SettingName(c.Noise[1]), SettingName(c.Noise[2])
	var cerr error
	control := func(noisy string) string {
		r, err := verdict.Decide(name+" control", verdict.Claim{Claim: "CE loses accuracy under " + noisy, Kind: verdict.Comparison,
			Method: d.acc(clean, "CE"), Baseline: d.acc(noisy, "CE")})
		if err != nil {
			cerr = errors.Join(cerr, err)
			return ""
		}
		if k := r.Claims[0]; k.Outcome != verdict.Reproduced {
			return fmt.Sprintf("the control does not show the phenomenon: CE's clean-test accuracy under %s is %+.3f ± %.3f below its noise-free one", noisy, k.Effect, k.SE)
		}
		return ""
	}
	comparison := func(claim, setting, method, baseline string) verdict.Claim {
		return verdict.Claim{Claim: claim, Kind: verdict.Comparison, Method: d.acc(setting, method),
			Baseline: d.acc(setting, baseline), Paired: true, Untestable: control(setting), Detail: d.chosen(setting)}
	}
	var lerr [4]error
	var ce, ldr1, code, acode float64
	ce, lerr[0] = closedForm("ce", nil)
	ldr1, lerr[1] = closedForm("ldr-kl", losses.Params{"lambda": 1, "margin": 0})
	code, lerr[2] = closedForm("ldr-kl-code", nil)
	acode, lerr[3] = closedForm("aldr-kl-code", nil)
	claims := []verdict.Claim{
		{Claim: "LDR-KL is competitive with CE without label noise (clean-test accuracy, non-inferiority)", Kind: verdict.NonInferiority,
			Method: d.acc(clean, "LDR-KL"), Baseline: d.acc(clean, "CE"), Paired: true, Margin: margin, Detail: d.chosen(clean)},
		{Claim: "ALDR-KL is competitive with CE without label noise (clean-test accuracy, non-inferiority)", Kind: verdict.NonInferiority,
			Method: d.acc(clean, "ALDR-KL"), Baseline: d.acc(clean, "CE"), Paired: true, Margin: margin, Detail: d.chosen(clean)},
		comparison("LDR-KL beats CE under "+uni+" label noise (clean-test accuracy)", uni, "LDR-KL", "CE"),
		comparison("ALDR-KL beats CE under "+uni+" label noise (clean-test accuracy)", uni, "ALDR-KL", "CE"),
		comparison("LDR-KL beats CE under "+pair+" label noise (clean-test accuracy)", pair, "LDR-KL", "CE"),
		comparison("ALDR-KL beats CE under "+pair+" label noise (clean-test accuracy)", pair, "ALDR-KL", "CE"),
		{Claim: "ALDR-KL's adaptivity makes it more stable than LDR-KL (worst clean-test accuracy over the settings)", Kind: verdict.Comparison,
			Method: d.worst(c, "ALDR-KL"), Baseline: d.worst(c, "LDR-KL"), Paired: true},
		{Claim: "LDR-KL with c = 0, λ = 1 equals CE − log K (f = [2, 1, 0.1], y = 0)", Kind: verdict.Sanity,
			Holds: math.Abs(ldr1-(ce-math.Log(3))) < 1e-5, Value: ldr1 - (ce - math.Log(3))},
		{Claim: "the code-form LDR-KL and ALDR-KL match the numpy values −0.451523 and −0.843628 (to 1e-4)", Kind: verdict.Sanity,
			Holds: math.Abs(code+0.451523) < 1e-4 && math.Abs(acode+0.843628) < 1e-4, Value: math.Max(math.Abs(code+0.451523), math.Abs(acode+0.843628))},
		{Claim: "CE learns the noise-free task (clean-test accuracy above 2/K)", Kind: verdict.Sanity,
			Holds: Mean(d.acc(clean, "CE")) > 2/float64(c.Classes), Value: Mean(d.acc(clean, "CE"))},
	}
	if err := errors.Join(d.err, cerr, errors.Join(lerr[:]...)); err != nil {
		return nil, err
	}
	return verdict.Decide(name, claims...)
}
