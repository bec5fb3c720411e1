package landscape

import (
	"os"
	"strconv"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// BenchmarkGridMLP evaluates a 21×21 filter-normalised random plane around a random 784-256-256-10 MLP on
// N random test-like inputs (N from $LOSSLAB_BENCH_N, default 200; the full run uses 10000) and
// reports grid points per second and the number of compiled programs (1 means no per-point recompiles).
// Batch size and points per call come from $LOSSLAB_BENCH_BATCH (default 1000) and $LOSSLAB_BENCH_K (8).
//
//	LOSSLAB_BENCH_N=10000 go test -tags=noxla -run '^$' -bench GridMLP -benchtime 1x ./lib/landscape/
func BenchmarkGridMLP(b *testing.B) {
	envInt := func(name string, def int) int {
		if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
			return v
		}
		return def
	}
	n := envInt("LOSSLAB_BENCH_N", 200)
	sizes := []int{784, 256, 256, 10}
	theta := randomMLP(sizes, dtypes.Float32, 1)
	d := randomData(n, 784, 10, 2)
	ev, err := NewEvaluator(mlpForward(sizes, dtypes.Float32), theta,
		Config{BatchSize: envInt("LOSSLAB_BENCH_BATCH", 1000), PointsPerCall: envInt("LOSSLAB_BENCH_K", 8)})
	if err != nil {
		b.Fatal(err)
	}
	pl, err := RandomPlane(theta, 3, DirectionOptions{})
	if err != nil {
		b.Fatal(err)
	}
	spec := GridSpec{SMin: -1, SMax: 1, NS: 21, TMin: -1, TMax: 1, NT: 21}
	b.ResetTimer()
	for range b.N {
		g, err := EvaluateGrid(ev, pl, d, spec, GridOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if !g.Complete {
			b.Fatal("grid incomplete")
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(21*21*b.N)/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(float64(ev.Compilations()), "compilations")
	b.ReportMetric(float64(n), "examples")
}
