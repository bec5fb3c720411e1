package train

import (
	"bufio"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/models"
)

// BenchmarkTrainStepMLP measures one training step (forward, backward, Adam update, metrics) of an
// MLP 784-256-256-10 at batch 256 on random Fashion-MNIST-shaped data, through the same path as Run.
// It reports examples/s and the process's peak resident memory (VmHWM) in MB.
//
//	go test -tags=noxla -run XXX -bench TrainStepMLP ./lib/train
func BenchmarkTrainStepMLP(b *testing.B) {
	const n, d, batch = 2048, 784, 256
	r := rand.New(rand.NewPCG(1, 2))
	set := &data.Set{Name: "random", Shape: []int{d}, Classes: 10, X: make([]float32, n*d), Y: make([]int32, n), IDs: make([]int32, n)}
	for i := range set.X {
		set.X[i] = r.Float32()
	}
	for i := range set.Y {
		set.Y[i], set.IDs[i] = int32(r.IntN(10)), int32(i)
	}
	cfg := Config{Model: models.NewMLP(10, 256, 256), Train: set, Optimizer: Adam(1e-3), BatchSize: batch, Steps: 1 << 30, Silent: true}
	rn, err := newRunner(cfg)
	if err != nil {
		b.Fatal(err)
	}
	bk := mustBackend()
	st := newStepper(rn.newTrainer(bk), set, rn.batch, 1, 1)
	for range 3 { // Compile and warm up.
		if _, _, err := st.step(); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := st.step(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "examples/s")
	if mb := peakRSSMB(); mb > 0 {
		b.ReportMetric(mb, "peak-MB")
	}
}

// peakRSSMB returns the process's peak resident set size in MB from /proc/self/status (0 if unknown).
func peakRSSMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			fields := strings.Fields(rest)
			if kb, err := strconv.ParseFloat(fields[0], 64); err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}

// BenchmarkTrainStepMLPManual is the reference for BenchmarkTrainStepMLP: the same MLP and batch with its
// backward pass written by hand with DotGeneral and a plain SGD update, no Trainer, no metrics. Run both
// in one command to compare them under the same machine load:
//
//	go test -tags=noxla -run XXX -bench 'TrainStepMLP' ./lib/train
func BenchmarkTrainStepMLPManual(b *testing.B) {
	exec := MustNewExec(mustBackend(), func(in []*Node) []*Node {
		x, y, w1, w2, w3 := in[0], in[1], in[2], in[3], in[4]
		mm := func(a, b *Node) *Node { return DotGeneral(a, []int{1}, nil, b, []int{0}, nil) }
		h1p := mm(x, w1)
		h1 := Max(h1p, ZerosLike(h1p))
		h2p := mm(h1, w2)
		h2 := Max(h2p, ZerosLike(h2p))
		lg := mm(h2, w3)
		dl := Sub(Softmax(lg, -1), y)
		dw3 := DotGeneral(h2, []int{0}, nil, dl, []int{0}, nil)
		dh2 := Mul(DotGeneral(dl, []int{1}, nil, w3, []int{1}, nil), ConvertDType(GreaterThan(h2p, ZerosLike(h2p)), h2p.DType()))
		dw2 := DotGeneral(h1, []int{0}, nil, dh2, []int{0}, nil)
		dh1 := Mul(DotGeneral(dh2, []int{1}, nil, w2, []int{1}, nil), ConvertDType(GreaterThan(h1p, ZerosLike(h1p)), h1p.DType()))
		dw1 := DotGeneral(x, []int{0}, nil, dh1, []int{0}, nil)
		return []*Node{Sub(w1, MulScalar(dw1, 0.001)), Sub(w2, MulScalar(dw2, 0.001)), Sub(w3, MulScalar(dw3, 0.001))}
	})
	x := tensors.FromShape(shapes.Make(dtypes.Float32, 256, 784))
	y := tensors.FromShape(shapes.Make(dtypes.Float32, 256, 10))
	w1 := tensors.FromShape(shapes.Make(dtypes.Float32, 784, 256))
	w2 := tensors.FromShape(shapes.Make(dtypes.Float32, 256, 256))
	w3 := tensors.FromShape(shapes.Make(dtypes.Float32, 256, 10))
	exec.MustExec(x, y, w1, w2, w3)
	b.ResetTimer()
	for b.Loop() {
		out := exec.MustExec(x, y, w1, w2, w3)
		for _, t := range out {
			t.MustFinalizeAll()
		}
	}
	b.ReportMetric(float64(b.N*256)/b.Elapsed().Seconds(), "examples/s")
}
