package landscape

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// fuzzGrid is a small partly computed grid, as EvaluateGrid caches it.
func fuzzGrid() (*Grid, GridSpec) {
	spec := GridSpec{SMin: -1, SMax: 1, NS: 3, TMin: 0, TMax: 0.5, NT: 2}
	g := &Grid{Spec: spec, S: linspace(-1, 1, 3), T: linspace(0, 0.5, 2), Key: "fuzz-key",
		Loss:  [][]float64{{0.5, 0.25, 1e-300}, {3, 0, 0}},
		Error: [][]float64{{0.1, 0, 1}, {0.75, 0, 0}},
		Done:  [][]bool{{true, true, true}, {true, false, false}}}
	g.Checksum = g.sum()
	return g, spec
}

// FuzzGridCache feeds arbitrary bytes to the grid cache reader as the cache of fuzzGrid's key and
// spec: never a panic; either no grid (recompute), an error, or exactly the cached values. Seeds:
// the good cache (added here) and testdata/fuzz/FuzzGridCache.
func FuzzGridCache(f *testing.F) {
	want, spec := fuzzGrid()
	seed := filepath.Join(f.TempDir(), "grid.json")
	if err := SaveJSON(seed, want); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(seed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	if g, err := readGridCache(seed, want.Key, spec); err != nil || g == nil {
		f.Fatalf("the good cache: grid %v, error %v", g, err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "grid.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		g, err := readGridCache(path, want.Key, spec)
		if err != nil || g == nil {
			return
		}
		if !reflect.DeepEqual(g.Loss, want.Loss) || !reflect.DeepEqual(g.Error, want.Error) ||
			!reflect.DeepEqual(g.Done, want.Done) || !reflect.DeepEqual(g.S, want.S) || !reflect.DeepEqual(g.T, want.T) {
			t.Fatalf("accepted a cache holding other values: %+v", g)
		}
	})
}
