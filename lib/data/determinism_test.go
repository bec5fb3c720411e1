package data

import (
	"slices"
	"testing"
)

// TestDeterminism regenerates every synthetic set and seeded transform twice with one seed and once
// with another: the first two must be identical, the third different.
func TestDeterminism(t *testing.T) {
	base := func(seed uint64) *Set {
		s, _ := Blobs(BlobsConfig{N: 300, Classes: 3, Dim: 2, Seed: seed})
		return s
	}
	surv := func(seed uint64) *Set {
		s, _ := Survival(SurvivalConfig{N: 200, Seed: seed})
		return s
	}
	gens := map[string]func(seed uint64) *Set{
		"blobs": base,
		"moons": func(seed uint64) *Set { s, _ := Moons(MoonsConfig{N: 100, Noise: 0.1, Seed: seed}); return s },
		"spirals": func(seed uint64) *Set {
			s, _ := Spirals(SpiralsConfig{N: 100, Noise: 0.05, Seed: seed})
			return s
		},
		"separable": func(seed uint64) *Set {
			s, _ := Separable(SeparableConfig{N: 100, Margin: 0.1, Seed: seed})
			return s
		},
		"parity": func(seed uint64) *Set {
			s, _ := SparseParity(ParityConfig{N: 100, Bits: 8, K: 3, Seed: seed})
			return s
		},
		"modular": func(seed uint64) *Set {
			s, _, _ := Modular(ModularConfig{P: 11, TrainFrac: 0.5, Seed: seed})
			return s
		},
		"survival": surv,
		"censor": func(seed uint64) *Set {
			s, _, _ := Censor(surv(1), CensorConfig{Rate: 0.3, Seed: seed})
			return s
		},
		"long-tail": func(seed uint64) *Set { s, _ := LongTail(base(1), ImbalanceConfig{Ratio: 5, Seed: seed}); return s },
		"noise": func(seed uint64) *Set {
			s, _, _ := LabelNoise(base(1), NoiseConfig{Rate: 0.2, Seed: seed})
			return s
		},
		"split": func(seed uint64) *Set { s, _, _ := base(1).Split(0.5, seed); return s },
		"shapes": func(seed uint64) *Set {
			s, _ := Shapes(ShapesConfig{N: 20, Noise: 0.1, Seed: seed})
			return &s.Set
		},
	}
	for name, gen := range gens {
		a, b, c := gen(11), gen(11), gen(12)
		if a == nil || b == nil || c == nil {
			t.Fatalf("%s: generation failed", name)
		}
		if !equalSets(a, b) {
			t.Errorf("%s: same seed, different sets", name)
		}
		if equalSets(a, c) {
			t.Errorf("%s: different seeds, same set", name)
		}
	}
	if !slices.Equal(EpochOrder(50, 1, 3), EpochOrder(50, 1, 3)) || slices.Equal(EpochOrder(50, 1, 3), EpochOrder(50, 1, 4)) {
		t.Error("EpochOrder")
	}
}
