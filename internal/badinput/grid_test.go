package badinput

import (
	"encoding/json"
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
	ev, pl, d := gridFixture(t)
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

// TestGridCacheEdited: a cache with the right key but the wrong shape (a row one entry short, a short
// or missing Done), other coordinates, or an edited value is an error naming the cache: never an index
// panic, never a value returned as if computed.
func TestGridCacheEdited(t *testing.T) {
	ev, pl, d := gridFixture(t)
	spec := landscape.GridSpec{SMin: 0, SMax: 1, NS: 3, TMin: 0, TMax: 1, NT: 3}
	good := filepath.Join(t.TempDir(), "grid.json")
	if _, err := landscape.EvaluateGrid(ev, pl, d, spec, landscape.GridOptions{CacheFile: good, MaxNewPoints: 4}); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	edits := map[string]func(g map[string]any){
		"loss row one entry short": func(g map[string]any) { row := g["Loss"].([]any); row[0] = row[0].([]any)[:2] },
		"error rows missing":       func(g map[string]any) { g["Error"] = g["Error"].([]any)[:1] },
		"Done row short":           func(g map[string]any) { row := g["Done"].([]any); row[0] = row[0].([]any)[:1] },
		"Done null":                func(g map[string]any) { g["Done"] = nil },
		"s coordinate edited":      func(g map[string]any) { g["S"].([]any)[1] = 0.7 },
		"loss value edited":        func(g map[string]any) { row := g["Loss"].([]any)[0].([]any); row[0] = row[0].(float64) + 1 },
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			var g map[string]any
			if err := json.Unmarshal(orig, &g); err != nil {
				t.Fatal(err)
			}
			edit(g)
			b, _ := json.Marshal(g)
			cache := filepath.Join(t.TempDir(), "grid.json")
			if err := os.WriteFile(cache, b, 0o644); err != nil {
				t.Fatal(err)
			}
			err := call(t, "landscape.EvaluateGrid", func() error {
				_, err := landscape.EvaluateGrid(ev, pl, d, spec, landscape.GridOptions{CacheFile: cache})
				return err
			})
			wantErr(t, "landscape.EvaluateGrid with an edited cache ("+name+")", err, "cache", cache)
		})
	}
}

// gridFixture is a plane through three briefly trained MLPs on a small blob task, its evaluator and data.
func gridFixture(t *testing.T) (*landscape.Evaluator, *landscape.Plane, *landscape.Data) {
	t.Helper()
	set := blobs(t, 60, 1)
	m := models.NewMLP(3, 8)
	var sets []*landscape.ParamSet
	for seed := range 3 {
		ps, err := landscape.FromContext(trainedSeed(t, m, set, uint64(seed+1)), nil)
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
	return ev, pl, landscape.FromSet(set)
}

// TestGridTooLarge: a grid whose values alone would take more memory than landscape.MaxGridBytes
// (30,000 × 30,000 points: about 15 GB, even when only one point is to be computed) is an error naming
// the size and the limit, not Go's fatal "out of memory".
func TestGridTooLarge(t *testing.T) {
	ev, pl, d := gridFixture(t)
	for _, spec := range []landscape.GridSpec{
		{SMin: 0, SMax: 1, NS: 30000, TMin: 0, TMax: 1, NT: 30000},
		{SMin: 0, SMax: 1, NS: 1 << 40, TMin: 0, TMax: 1, NT: 1 << 40},
	} {
		err := call(t, "landscape.EvaluateGrid", func() error {
			_, err := landscape.EvaluateGrid(ev, pl, d, spec, landscape.GridOptions{MaxNewPoints: 1})
			return err
		})
		wantErr(t, "a 30,000² grid", err, "GB", "MaxGridBytes")
	}
}
