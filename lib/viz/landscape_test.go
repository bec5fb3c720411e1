package viz

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/landscape"
)

func TestLandscapeHelpers(t *testing.T) {
	alpha := []float64{0, 0.5, 1, 0.25} // a refinement point appended out of order
	b, err := landscape.Barriers([]float64{0, 0.5, 1}, []float64{1, 2, 1})
	if err != nil {
		t.Fatal(err)
	}
	p := &landscape.Path{Alpha: alpha, GridSize: 3, Curves: []landscape.Curve{
		{Data: "train", Loss: []float64{1, 2, 1, 1.7}, Error: []float64{0.1, 0.3, 0.1, 0.2}, LossBarrier: b, ErrorBarrier: b},
		{Data: "test", Loss: []float64{1.1, 2.2, 1.1, 1.8}, Error: []float64{0.1, 0.3, 0.1, 0.2}, LossBarrier: b, ErrorBarrier: b},
	}}
	l := &landscape.Layerwise{Rows: []string{"dense_0", "dense_1"}, Alpha: []float64{0, 0.5, 1}, Gap: [][]float64{{0, 0.4, 0}, {0, 0.1, 0}}}
	g := &landscape.Grid{S: []float64{-1, 0, 1}, T: []float64{-1, 0, 1},
		Loss:  [][]float64{{2, 1, 2}, {1, 0, 1}, {2, 1, 2}},
		Error: [][]float64{{.2, .1, .2}, {.1, 0, .1}, {.2, .1, .2}},
		Done:  [][]bool{{true, true, true}, {true, true, true}, {true, true, false}},
		Marks: []landscape.Mark{{Name: "A", S: 0, T: 0}}}
	for name, f := range map[string]*Figure{
		"path-loss":  LandscapePath("LMC", p, "loss"),
		"path-error": LandscapePath("LMC", p, "error"),
		"layerwise":  LayerwiseLMC("layer-wise", l),
		"grid":       LandscapeGrid("plane", g, "loss"),
	} {
		svg, err := f.SVG()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := xml.Unmarshal(svg, new(any)); err != nil {
			t.Fatalf("%s: SVG is not well-formed: %v", name, err)
		}
		if name == "path-loss" && !strings.Contains(string(svg), "barrier 1 at α=0.50") {
			t.Errorf("path legend should state the barrier")
		}
	}
	if LandscapePath("x", p, "accuracy").Err() == nil || LandscapeGrid("x", g, "nope").Err() == nil {
		t.Error("an unknown metric must be an error")
	}
	if LandscapePath("x", nil, "loss").Err() == nil {
		t.Error("nil path must be an error")
	}
	x, y := sortedXY(alpha, p.Curves[0].Loss)
	if x[1] != 0.25 || y[1] != 1.7 || x[3] != 1 {
		t.Errorf("sortedXY: %v %v", x, y)
	}
}

// TestLandscapeGridNamesMarks checks that the legend names each mark of a plane (it used to say only
// "marks"), and that PCA snapshots become one trajectory.
func TestLandscapeGridNamesMarks(t *testing.T) {
	g := &landscape.Grid{S: []float64{0, 1}, T: []float64{0, 1}, Loss: [][]float64{{1, 2}, {3, 4}},
		Marks: []landscape.Mark{{Name: "θ_A", S: 0, T: 0}, {Name: "trained model", S: 1, T: 1}}}
	info := parseSVG(t, mustSVG(t, LandscapeGrid("plane", g, "loss")))
	if !info.hasText("θ_A") || !info.hasText("trained model") || info.hasText("marks") {
		t.Errorf("legend should name the marks θ_A and trained model, not say marks; texts %q", info.texts)
	}
	g.Marks = []landscape.Mark{{Name: "snapshot 0", S: 0, T: 0}, {Name: "snapshot 1", S: 1, T: 1}}
	info = parseSVG(t, mustSVG(t, LandscapeGrid("plane", g, "loss")))
	if !info.hasText("training trajectory (2 snapshots, projected)") {
		t.Errorf("PCA snapshots should be one trajectory; texts %q", info.texts)
	}
}
