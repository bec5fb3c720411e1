package swiss

import (
	"fmt"
	"math/rand/v2"
)

// Model kinds of the synthetic score matrix.
const (
	Generalist      = "generalist"
	EarlySpecialist = "early specialist"
	LateSpecialist  = "late specialist"
)

// Synthetic returns the notebook's synthetic score matrix (M = 16 models, K = 6 benchmarks), its model
// names and kinds: twelve generalists #0–#11 with R_mk = a_m + 0.03·ε_mk (a_m evenly spaced in
// [0.55, 0.75], ε standard normal), and four specialists #12–#15 at base levels 0.35, 0.36, 0.37,
// 0.38 except on their strong benchmarks: #12 scores (0.95, 0.93) and #13 (0.93, 0.95) on D_1–D_2
// (early strength), #14 (0.95, 0.93) and #15 (0.93, 0.95) on D_5–D_6 (late strength).
func Synthetic(seed uint64) (R [][]float64, names, kinds []string) {
	const M, K = 16, 6
	rng := rand.New(rand.NewPCG(seed, 0x5e))
	R = make([][]float64, 0, M)
	for m := range 12 {
		a := 0.55 + 0.2*float64(m)/11
		row := make([]float64, K)
		for k := range K {
			row[k] = a + 0.03*rng.NormFloat64()
		}
		R = append(R, row)
		names = append(names, fmt.Sprintf("G%02d", m))
		kinds = append(kinds, Generalist)
	}
	strong := [4][2]float64{{0.95, 0.93}, {0.93, 0.95}, {0.95, 0.93}, {0.93, 0.95}}
	for i := range 4 {
		row := make([]float64, K)
		for k := range row {
			row[k] = 0.35 + 0.01*float64(i)
		}
		first := 0 // D_1–D_2
		kind, name := EarlySpecialist, "E"
		if i >= 2 {
			first = 4 // D_5–D_6
			kind, name = LateSpecialist, "L"
		}
		row[first], row[first+1] = strong[i][0], strong[i][1]
		R = append(R, row)
		names = append(names, fmt.Sprintf("%s%02d", name, 12+i))
		kinds = append(kinds, kind)
	}
	return R, names, kinds
}
