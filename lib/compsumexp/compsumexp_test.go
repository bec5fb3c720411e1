package compsumexp

import (
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/ldrexp"
	"github.com/losslab/losslab/lib/verdict"
)

func TestConfigs(t *testing.T) {
	for _, c := range []ldrexp.Config{Default(), Quick()} {
		if err := c.Check(); err != nil {
			t.Fatal(err)
		}
		if c.Runs < verdict.MinRuns || len(c.Arms) != 4 || !c.ScoreDiverged {
			t.Errorf("%d runs, %d arms", c.Runs, len(c.Arms))
		}
		for _, a := range c.Arms {
			if len(a.Grid) != len(LRs) {
				t.Errorf("arm %s: grid %v", a.Name, a.Grid)
			}
		}
	}
	if q := Quick(); q.NTrain >= Default().NTrain || q.Epochs >= Default().Epochs {
		t.Error("Quick is not smaller than Default")
	}
}

// fake returns results where every arm's clean-test accuracy in run r is base[arm] + 0.001·r (+ the
// noise drop of the arm in the noisy setting).
func fake(c ldrexp.Config, base, drop map[string]float64) []ldrexp.SettingResult {
	var res []ldrexp.SettingResult
	for i, n := range c.Noise {
		s := ldrexp.SettingResult{Setting: ldrexp.SettingName(n)}
		for _, a := range c.Arms {
			var v []float64
			for r := range c.Runs {
				x := base[a.Name] + 0.001*float64(r*r)
				if i == 1 {
					x -= drop[a.Name] + 0.002*float64(r%2)
				}
				v = append(v, x)
			}
			s.Arms = append(s.Arms, ldrexp.ArmResult{Arm: a.Name, Test: v})
		}
		res = append(res, s)
	}
	return res
}

func decide(t *testing.T, c ldrexp.Config, res []ldrexp.SettingResult) []verdict.Result {
	t.Helper()
	claims, err := Claims(c, res)
	if err != nil {
		t.Fatal(err)
	}
	r, err := verdict.Decide("test", claims...)
	if err != nil {
		t.Fatal(err)
	}
	return r.Claims
}

func TestClaimsFollowTheResults(t *testing.T) {
	c := Quick()
	// The paper's picture: CE loses 20 points under noise, GCE 5, MAE 8; MAE underfits clean data.
	paper := fake(c, map[string]float64{SumExp: 0.9, CE: 0.9, GCE: 0.895, MAE: 0.8},
		map[string]float64{SumExp: 0.25, CE: 0.2, GCE: 0.05, MAE: 0.08})
	for i, r := range decide(t, c, paper) {
		if r.Outcome != verdict.Reproduced {
			t.Errorf("claim %d %q: %s (%s)", i+1, r.Claim, r.Outcome, r.Reason)
		}
	}
	// The opposite picture: GCE and MAE lose more than CE, MAE is as good as CE, GCE and sum-exp 5 points worse.
	against := fake(c, map[string]float64{SumExp: 0.85, CE: 0.9, GCE: 0.85, MAE: 0.9},
		map[string]float64{SumExp: 0.2, CE: 0.1, GCE: 0.2, MAE: 0.2})
	for i, r := range decide(t, c, against) {
		if r.Outcome == verdict.Reproduced || r.Outcome == verdict.NotTestable {
			t.Errorf("claim %d %q: %s against the paper's picture", i+1, r.Claim, r.Outcome)
		}
	}
	// CE does not lose accuracy under noise: the noise claims are not testable, the clean ones still decided.
	flat := fake(c, map[string]float64{SumExp: 0.9, CE: 0.9, GCE: 0.9, MAE: 0.8}, map[string]float64{})
	for i, r := range decide(t, c, flat) {
		noiseClaim := i < 3
		if (r.Outcome == verdict.NotTestable) != noiseClaim {
			t.Errorf("claim %d %q: %s with a flat control", i+1, r.Claim, r.Outcome)
		}
	}
}

func TestClaimsErrors(t *testing.T) {
	c := Quick()
	res := fake(c, map[string]float64{}, map[string]float64{})
	res[1].Arms = res[1].Arms[:2]
	if _, err := Claims(c, res); err == nil || !strings.Contains(err.Error(), GCE) {
		t.Errorf("missing arm: got %v", err)
	}
	c.Noise[0], c.Noise[1] = c.Noise[1], c.Noise[0]
	if _, err := Claims(c, fake(c, map[string]float64{}, map[string]float64{})); err == nil {
		t.Error("noisy setting first was accepted")
	}
}

func TestClosedForms(t *testing.T) {
	if e, err := WorkedError(); err != nil || e > 1e-5 {
		t.Errorf("worked example: deviation %g, %v", e, err)
	}
	if e, err := MAESymmetry([][]float32{{2, 1, 0.1}, {-3, 0, 5, 1}}); err != nil || e > 1e-5 {
		t.Errorf("MAE symmetry: deviation %g, %v", e, err)
	}
	// The check can fail: CE is not symmetric, and a wrong table entry is seen.
	WorkedLosses[2] += 0.01
	defer func() { WorkedLosses[2] -= 0.01 }()
	if e, _ := WorkedError(); e < 0.009 {
		t.Errorf("a wrong worked value went unnoticed (deviation %g)", e)
	}
}
