package eqnetexp

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/data"
)

// blobs returns n examples of two Gaussian classes in d dimensions that only the first feature separates.
func blobs(n, d int, seed uint64) *data.Set {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := &data.Set{Name: "blobs", Shape: []int{d}, Classes: 2, X: make([]float32, n*d), Y: make([]int32, n), IDs: make([]int32, n)}
	for i := range n {
		s.Y[i], s.IDs[i] = int32(i%2), int32(i)
		for j := range d {
			s.X[i*d+j] = float32(rng.NormFloat64())
		}
		s.X[i*d] = float32(rng.NormFloat64()*0.3 + 2*float64(2*(i%2)-1))
	}
	return s
}

// TestTrainArms: every arm learns a separable task (accuracy well above chance at 4 bits), and
// the same seed gives the same model.
func TestTrainArms(t *testing.T) {
	c := Config{Dims: []int{4, 8, 8, 2}, Bits: []int{2, 4, 8}, EvalBits: []int{2, 4}, EdgeBits: 8, Runs: 3, StaticMargin: 0.01, FloatMargin: 0.02}
	tr, te := blobs(64, 4, 1), blobs(64, 4, 2)
	tc := Training{Epochs: 10, Batch: 16, LR: 5e-3, Cands: 5, ChanCands: 2}
	s4, err := c.Uniform(4, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, arm := range []Arm{Float, Static, SandwichCE, GPG, GPGWDR} {
		ctx, err := c.TrainArm(arm, 4, tr, tc, 7)
		if err != nil {
			t.Fatalf("%s: %v", arm, err)
		}
		sub := s4
		if arm == Float {
			sub = nil
		}
		acc, err := c.Accuracy(ctx, sub, te)
		if err != nil {
			t.Fatal(err)
		}
		if acc < 0.9 {
			t.Errorf("%s: 4-bit accuracy %.3f on blobs", arm, acc)
		}
	}
	a, _ := c.TrainArm(GPGWDR, 0, tr, tc, 3)
	b, _ := c.TrainArm(GPGWDR, 0, tr, tc, 3)
	wa, _, _ := hostWeights(a, 1)
	wb, _, _ := hostWeights(b, 1)
	for i := range wa {
		if wa[i] != wb[i] {
			t.Fatalf("same seed, different weights at %d: %g vs %g", i, wa[i], wb[i])
		}
	}
	if _, err := c.TrainArm("qat", 2, tr, tc, 1); err == nil || !strings.Contains(err.Error(), "unknown arm") {
		t.Errorf("unknown arm: %v", err)
	}
	if _, err := c.TrainArm(Static, 3, tr, tc, 1); err == nil {
		t.Error("static at a bit-width outside Bits: no error")
	}
}

// TestRunDecides: Run tunes every model on validation and returns Runs paired runs whose accuracies the
// claims take.
func TestRunDecides(t *testing.T) {
	c := Config{Dims: []int{4, 8, 8, 2}, Bits: []int{2, 4, 8}, EvalBits: []int{4}, EdgeBits: 8, Runs: 3, StaticMargin: 0.01, FloatMargin: 0.02}
	s := Setup{Train: blobs(64, 4, 1), Val: blobs(32, 4, 3), Test: blobs(64, 4, 2), LRs: []float64{1e-9, 5e-3},
		Training: Training{Epochs: 4, Batch: 16, Cands: 5, ChanCands: 2}, TuneSeed: 99}
	steps := 0
	res, err := c.Run(s, func(string) { steps++ })
	if err != nil {
		t.Fatal(err)
	}
	if steps != 4*2+4*3 || len(res.Runs) != 3 {
		t.Fatalf("%d trainings, %d runs", steps, len(res.Runs))
	}
	for name, lr := range res.LR {
		if lr != 5e-3 {
			t.Errorf("%s tuned to lr %g (validation %.3f): the untrainable 1e-9 won", name, lr, res.ValAcc[name])
		}
	}
	if _, err := c.Claims(res.Runs); err != nil {
		t.Fatal(err)
	}
	if res.Runs[0].Float == res.Runs[1].Float && res.Runs[0].Supernet[4] == res.Runs[1].Supernet[4] && res.Runs[0].Kurt == res.Runs[1].Kurt {
		t.Error("runs 1 and 2 look identical: are the seeds independent?")
	}
}
