package attack

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/models"
)

// BenchmarkPGD10SmallCNN times PGD-10 (L∞, ε = 0.1, inputs clipped to [0,1], random start) on one batch
// of 256 Fashion-MNIST-sized images (28×28×1, random pixels) against models.CNN with its default
// layout (conv 16, conv 32, dense 64, 10 classes; freshly initialised parameters, which cost the same as
// trained ones). Compilation happens before the timer starts; "s/batch" is the time of one attack.
//
//	go test -tags=noxla -run XXX -bench PGD10 ./lib/attack
func BenchmarkPGD10SmallCNN(b *testing.B) {
	const batch = 256
	model := &models.CNN{Classes: 10}
	ctx := context.New()
	r := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, batch*28*28)
	for i := range x {
		x[i] = r.Float32()
	}
	y := make([]int32, batch)
	for i := range y {
		y[i] = int32(r.IntN(10))
	}
	cfg := PGD(LInf, 0.1, 10)
	cfg.Clip = &Range{0, 1}
	a, err := New(model, ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := a.Run(x, []int{28, 28, 1}, y); err != nil { // compile
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.Run(x, []int{28, 28, 1}, y); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/batch")
	if a.Compiles() != 1 {
		b.Errorf("compiled %d graphs, want 1", a.Compiles())
	}
}
