package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestAtlasSizesMatchPeer checks that the atlas workload does the same work on both sides: the sizes
// in bench/worker.go (full and -quick) equal those written in bench/torch_peer.py.
func TestAtlasSizesMatchPeer(t *testing.T) {
	src, err := os.ReadFile("torch_peer.py")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		quick bool
	}{{"ATLAS_SIZES", false}, {"ATLAS_QUICK", true}} {
		m := regexp.MustCompile(`(?s)` + c.name + ` = dict\((.*?)\)`).FindSubmatch(src)
		if m == nil {
			t.Fatalf("torch_peer.py defines no %s = dict(...)", c.name)
		}
		py := map[string]int{}
		for _, kv := range strings.Split(string(m[1]), ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			n, err := strconv.Atoi(v)
			if !ok || err != nil {
				t.Fatalf("%s: cannot read %q", c.name, kv)
			}
			py[k] = n
		}
		s := sizesFor(c.quick, 0).Atlas
		goSizes := map[string]int{"runs": s.Runs, "hidden": s.Hidden, "steps": s.Steps, "batch": s.Batch, "train": s.Train,
			"test": s.Test, "alpha": s.Alpha, "path_examples": s.PathExamples, "power_iters": s.PowerIters,
			"hessian_examples": s.HessianExamples}
		if len(py) != len(goSizes) {
			t.Errorf("%s has %d sizes, atlasSizes %d: %v", c.name, len(py), len(goSizes), py)
		}
		for k, v := range goSizes {
			if py[k] != v {
				t.Errorf("%s[%q] = %d, bench/worker.go has %d", c.name, k, py[k], v)
			}
		}
	}
}
