package badinput

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/losslab/losslab/lib/landscape"
	"github.com/losslab/losslab/lib/models"
)

// TestGridCacheDamaged complements lib/landscape's TestGridResumeIdentical (an interrupted grid resumes
// to the same values): a cache file cut short is an error naming the cache, not a panic and not a
// silent restart; a cache of another grid is ignored and the grid recomputed.
func TestGridCacheDamaged(t *testing.T) {
	set := blobs(t, 60, 1)
	m := models.NewMLP(3, 8)
	var sets []*landscape.ParamSet
	for seed := range 3 {
		res := trainedSeed(t, m, set, uint64(seed+1))
		ps, err := landscape.FromContext(res, nil)
		if err != nil {
			t.Fatal(err)
		}
		sets = append(sets, ps)
	}
	ev, err := landscape.NewEvaluator(landscape.FromModel(m), sets[0], landscape.Config{})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := landscape.PlaneThrough(sets[0], sets[1], sets[2])
	if err != nil {
		t.Fatal(err)
	}
	d := landscape.FromSet(set)
	spec := landscape.GridSpec{SMin: 0, SMax: 1, NS: 3, TMin: 0, TMax: 1, NT: 3}
	cache := filepath.Join(t.TempDir(), "grid.json")
	part, err := landscape.EvaluateGrid(ev, pl, d, spec, landscape.GridOptions{CacheFile: cache, MaxNewPoints: 4})
	if err != nil {
		t.Fatal(err)
	}
	if part.Complete {
		t.Fatal("a grid stopped after 4 of 9 points says it is complete")
	}
	st, err := os.Stat(cache)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(cache, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	err = call(t, "landscape.EvaluateGrid", func() error {
		_, err := landscape.EvaluateGrid(ev, pl, d, spec, landscape.GridOptions{CacheFile: cache})
		return err
	})
	wantErr(t, "landscape.EvaluateGrid with a truncated cache", err, "cache", cache)

	// A cache written for another grid does not leak into this one.
	if err := os.Remove(cache); err != nil {
		t.Fatal(err)
	}
	other := spec
	other.NS = 2
	if _, err := landscape.EvaluateGrid(ev, pl, d, other, landscape.GridOptions{CacheFile: cache}); err != nil {
		t.Fatal(err)
	}
	g, err := landscape.EvaluateGrid(ev, pl, d, spec, landscape.GridOptions{CacheFile: cache})
	if err != nil {
		t.Fatal(err)
	}
	if !g.Complete || len(g.S) != 3 {
		t.Fatalf("grid over another grid's cache: complete %v, %d columns; want a full 3×3 grid", g.Complete, len(g.S))
	}
}
