package eqnetexp

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/verdict"
)

func TestValidate(t *testing.T) {
	for _, c := range []Config{Default(), Quick()} {
		if err := c.Validate(); err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
	}
	bad := map[string]func(*Config){
		"Dims":     func(c *Config) { c.Dims = []int{196, 10} },
		"EvalBits": func(c *Config) { c.EvalBits = []int{5} },
		"EdgeBits": func(c *Config) { c.EdgeBits = 6 },
		"Runs":     func(c *Config) { c.Runs = 2 },
		"margins":  func(c *Config) { c.FloatMargin = -1 },
		"hold 8":   func(c *Config) { c.Bits = []int{2, 4} },
	}
	for want, mut := range bad {
		c := Default()
		mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
}

// TestUniformQuantisesHiddenLayers: a b-bit subnet puts every layer but the first and last at b bits
// (the old notebook's MLP quantised only its one middle layer), and all of them when EdgeBits is 0.
func TestUniformQuantisesHiddenLayers(t *testing.T) {
	c := Default()
	s, err := c.Uniform(2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.LowLayers(); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("low layers %v, want [1 2]", got)
	}
	if s[0].WBits != 8 || s[3].WBits != 8 || s[3].ABits != 8 || s[0].ABits != 0 {
		t.Errorf("edges %+v %+v, want 8/8 and an unquantised network input", s[0], s[3])
	}
	if !s[1].AAsym || s[1].ABits != 2 || s[1].WForm != 3 {
		t.Errorf("layer 1 %+v", s[1])
	}
	c.EdgeBits = 0
	s, _ = c.Uniform(4, 0)
	if got := s.LowLayers(); !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Errorf("EdgeBits 0: low layers %v", got)
	}
	if _, err := c.Uniform(5, 0); err == nil {
		t.Error("5 bits not in the list: no error")
	}
	if _, err := c.Uniform(4, 4); err == nil {
		t.Error("form 4: no error")
	}
}

func TestSandwich(t *testing.T) {
	c := Default()
	rng := rand.New(rand.NewPCG(1, 2))
	sawLow := false
	for range 50 {
		subs := c.Sandwich(rng)
		if len(subs) != 3 {
			t.Fatalf("%d subnets", len(subs))
		}
		for l, lc := range subs[0] {
			if lc.WBits != 8 || (l > 0 && lc.ABits != 8) {
				t.Fatalf("max subnet layer %d: %+v", l, lc)
			}
		}
		for _, k := range []int{1, 2} {
			n := len(subs[k])
			if subs[k][0].WBits != 8 || subs[k][n-1].WBits != 8 || subs[k][n-1].ABits != 8 {
				t.Fatalf("subnet %d: edges %+v %+v not 8/8", k, subs[k][0], subs[k][n-1])
			}
		}
		for l := 1; l < len(subs[2])-1; l++ {
			if subs[2][l].WBits != 2 || subs[2][l].ABits != 2 {
				t.Fatalf("min subnet layer %d: %+v", l, subs[2][l])
			}
		}
		sawLow = sawLow || subs[1][1].WBits < 8
	}
	if !sawLow {
		t.Error("the random subnet never drew a low bit-width")
	}
}

func TestEncode(t *testing.T) {
	c := Config{Dims: []int{4, 3, 2}, Bits: []int{2, 8}, EvalBits: []int{2}, EdgeBits: 0, Runs: 3}
	s, err := c.Uniform(2, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Encode([]Subnet{s}, 5)
	if err != nil {
		t.Fatal(err)
	}
	nf := c.Fields() // 2 + 4 + 3 + 2 + 5 = 16
	if nf != 16 || len(got) != 2*nf {
		t.Fatalf("fields %d, len %d", nf, len(got))
	}
	l0, l1 := got[:nf], got[nf:]
	// layer 0: 2-bit weights (one-hot 0), sym/channel (one-hot 2), range [-2, 1], per-channel scale
	// 2/sqrt(1·12/3) = 1; its input is not quantised.
	want0 := []float32{1, 0, 1, 0, 0, 0, -2, 1, 1, 0, 0, 0, 0, 0, 0, 0}
	if !slices.Equal(l0, want0) {
		t.Errorf("layer 0 %v, want %v", l0, want0)
	}
	// layer 1: input at 2 bits unsigned [0, 3], scale 1/sqrt(3·5·3) = 1/sqrt(45); quantised, symmetric.
	if l1[9] != 1 || l1[11] != 0 || l1[12] != 3 || l1[14] != 0 || l1[15] != 1 {
		t.Errorf("layer 1 activation fields %v", l1[9:])
	}
	if d := float64(l1[13]) - 0.149071198; d > 1e-6 || d < -1e-6 {
		t.Errorf("activation gradient scale %v, want 1/sqrt(45)", l1[13])
	}
	if _, err := c.Encode([]Subnet{s[:1]}, 5); err == nil {
		t.Error("short subnet: no error")
	}
	s[1].ABits = 4
	if _, err := c.Encode([]Subnet{s}, 5); err == nil || !strings.Contains(err.Error(), "activation bits 4") {
		t.Errorf("bits outside the list: %v", err)
	}
}

func TestClaims(t *testing.T) {
	c := Default()
	runs := make([]Run, 3)
	for i := range runs {
		d := 0.001 * float64(i)
		runs[i] = Run{Float: 0.85 + d, Kurt: 0.1, KurtCE: 1,
			Static:     map[int]float64{2: 0.70 + d, 4: 0.83 + d},
			Supernet:   map[int]float64{2: 0.75 + d, 4: 0.80 + d},
			SandwichCE: map[int]float64{2: 0.72 + d, 4: 0.82}}
	}
	claims, err := c.Claims(runs)
	if err != nil {
		t.Fatal(err)
	}
	r, err := verdict.Decide("27-eqnet", claims...)
	if err != nil {
		t.Fatal(err)
	}
	want := []verdict.Outcome{verdict.Reproduced, verdict.NotReproduced, verdict.NotReproduced, verdict.Reproduced, verdict.Reproduced}
	if len(r.Claims) != len(want) {
		t.Fatalf("%d claims, want %d", len(r.Claims), len(want))
	}
	for i, w := range want {
		if r.Claims[i].Outcome != w {
			t.Errorf("claim %q: %s, want %s (%s)", r.Claims[i].Claim, r.Claims[i].Outcome, w, r.Claims[i].Reason)
		}
	}
	if r.Claims[4].Counted {
		t.Error("the WDR kurtosis check is counted")
	}
	delete(runs[1].Static, 4)
	if _, err := c.Claims(runs); err == nil || !strings.Contains(err.Error(), "run 1 has no static") {
		t.Errorf("missing accuracy: %v", err)
	}
}
