package bpkdexp

import (
	"math"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/verdict"
)

func tiny() Config {
	c := Quick()
	c.NTrain, c.NVal, c.NTest, c.Batch = 16, 8, 8, 8
	c.LRs, c.Runs = []float64{3e-3}, 2
	return c
}

func TestCheck(t *testing.T) {
	bad := []func(*Config){
		func(c *Config) { c.Stride = 5 },
		func(c *Config) { c.Classes = 3 },
		func(c *Config) { c.NVal = 1 },
		func(c *Config) { c.LRs = nil },
		func(c *Config) { c.LRs = []float64{-1} },
		func(c *Config) { c.Tau = 0 },
		func(c *Config) { c.Runs = 0 },
	}
	for i, f := range bad {
		c := tiny()
		f(&c)
		if err := c.Check(); err == nil {
			t.Errorf("case %d: bad config %+v accepted", i, c)
		}
	}
	if err := Default().Check(); err != nil {
		t.Fatal(err)
	}
}

func TestNearBoundaryAndScore(t *testing.T) {
	c := tiny()
	c.Size = 8
	b := make([]uint8, 64)
	b[3*8+3] = 1
	band := nearBoundary(b, 1, 8, 2)
	n := 0
	for _, v := range band {
		if v {
			n++
		}
	}
	if n != 25 {
		t.Fatalf("band of one pixel at distance 2 has %d pixels, want 25", n)
	}
	s := &split{n: 1, y: make([]int32, 64), band: band}
	for i := 32; i < 64; i++ {
		s.y[i] = 1
	}
	sc := score(c, s, s.y)
	if sc.MIoU != 1 || sc.Boundary != 1 || sc.Interior != 1 {
		t.Fatalf("perfect prediction scores %+v", sc)
	}
	pred := make([]int32, 64) // all background: IoU 0.5 for class 0, 0 for class 1
	sc = score(c, s, pred)
	if math.Abs(sc.MIoU-0.25) > 1e-12 || math.Abs(sc.Pixel-0.5) > 1e-12 {
		t.Fatalf("all-background prediction scores %+v, want mIoU 0.25, pixel 0.5", sc)
	}
}

func TestBilinearRowsSumToOne(t *testing.T) {
	for _, m := range [][][]float32{bilinear(24, 6), bilinear(8, 2)} {
		for i, r := range m {
			s := float32(0)
			for _, v := range r {
				s += v
			}
			if math.Abs(float64(s-1)) > 1e-6 {
				t.Fatalf("row %d sums to %g", i, s)
			}
		}
	}
}

func TestExperimentRunsArePairedAndIndependent(t *testing.T) {
	c := tiny()
	res, err := Experiment(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tuning) != len(Arms)*len(c.LRs) || len(res.Runs) != len(Arms)*c.Runs {
		t.Fatalf("%d tuning runs, %d runs", len(res.Tuning), len(res.Runs))
	}
	ce := res.Values("ce", miou)
	if len(ce) != c.Runs {
		t.Fatalf("CE values %v", ce)
	}
	// Independent initialisations: the CE runs differ; distillation weights differ between runs.
	if ce[0] == ce[1] && res.Runs[0].Pred != nil && equal(res.Runs[0].Pred, res.Runs[len(Arms)].Pred) {
		t.Errorf("two CE runs gave identical results: shared initialisation or order?")
	}
	bp := []Run{}
	for _, r := range res.Runs {
		if r.Arm == "bpkd" {
			bp = append(bp, r)
		}
	}
	if bp[0].Lambdas == bp[1].Lambdas {
		t.Errorf("BPKD runs share their initial-loss weights %v: shared initialisation", bp[0].Lambdas)
	}
	for _, r := range res.Runs {
		if r.Test.MIoU < 0 || r.Test.MIoU > 1 || math.IsNaN(r.Test.MIoU) {
			t.Errorf("run %+v has mIoU %g", r, r.Test.MIoU)
		}
	}
	claims := res.Claims()
	if len(claims) != 4 || claims[3].Kind != verdict.Sanity {
		t.Fatalf("claims %+v", claims)
	}
	if _, err := verdict.Decide("25-bpkd", claims...); err != nil {
		t.Fatal(err)
	}
}

func TestWeakTeacherMakesClaimsUntestable(t *testing.T) {
	r := &Result{Config: tiny(), Teacher: Scores{MIoU: 0.5}, Chosen: map[string]float64{}}
	for run := range 3 {
		for _, arm := range Arms {
			r.Runs = append(r.Runs, Run{Arm: arm, Run: run, Test: Scores{MIoU: 0.48 + 0.01*float64(run)}})
		}
	}
	cl := r.Claims()
	if cl[3].Holds {
		t.Fatalf("gap %g counted as a strong teacher", cl[3].Value)
	}
	for _, c := range cl[:3] {
		if !strings.Contains(c.Untestable, "teacher") {
			t.Errorf("claim %q not marked untestable under a weak teacher", c.Claim)
		}
	}
	r.Teacher.MIoU = 0.9
	for _, c := range r.Claims()[:3] {
		if c.Untestable != "" {
			t.Errorf("claim %q untestable under a strong teacher", c.Claim)
		}
	}
}

func TestUnknownArm(t *testing.T) {
	d, err := Prepare(tiny())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Student("cwd", 0, 1e-3); err == nil || !strings.Contains(err.Error(), "unknown arm") {
		t.Fatalf("unknown arm: err %v", err)
	}
}

func equal(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
