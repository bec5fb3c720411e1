package viz

import (
	"strings"
	"testing"
	"time"

	"github.com/losslab/losslab/lib/landscape"
	"github.com/losslab/losslab/lib/train"
)

// fakeLive is a live figure with a hand-moved clock that records what it shows.
func fakeLive(final bool) (*live, *time.Time, *[]string) {
	clock := time.Unix(0, 0)
	var shown []string
	l := &live{show: func(id, body string) {
		if id != "d1" {
			panic("wrong display id " + id)
		}
		shown = append(shown, body)
	}, now: func() time.Time { return clock }, every: 3 * time.Second, final: final, id: "d1", last: clock}
	return l, &clock, &shown
}

// TestLiveTraining checks that live curves redraw at most every few seconds, not every step, and end as
// the figure Training draws for the finished run.
func TestLiveTraining(t *testing.T) {
	l, clock, shown := fakeLive(false)
	res := &train.Result{}
	watch := func(done bool) {
		l.update(done, func() *Figure { return liveTrainingFigure("run", res) })
	}
	for step := 1; step <= 20; step++ {
		res.History = append(res.History, train.StepRecord{Step: step, Loss: 2 / float64(step), Accuracy: 0.5})
		*clock = clock.Add(time.Second)
		watch(false)
	}
	watch(true)
	watch(true)             // a second "done" draws nothing more
	if len(*shown) != 6+1 { // at 3, 6, ..., 18 s, and the final figure
		t.Fatalf("%d redraws, want 7 (every 3 s over 20 s, and the end)", len(*shown))
	}
	want, err := Training("run", res).htmlBody(false)
	if err != nil {
		t.Fatal(err)
	}
	if last := (*shown)[len(*shown)-1]; last != want {
		t.Errorf("the final live figure differs from Training's figure of the finished run")
	}
	if (*shown)[0] == want {
		t.Errorf("the first redraw (after 3 of 20 steps) already shows the finished run")
	}

	// Quick mode: only the final figure.
	l, clock, shown = fakeLive(true)
	for range 10 {
		*clock = clock.Add(time.Minute)
		watch(false)
	}
	watch(true)
	if len(*shown) != 1 {
		t.Errorf("quick mode: %d redraws, want only the final one", len(*shown))
	}
}

// TestLiveGridWaitsForPoints checks that a live grid draws nothing before its first point and then a
// contour with the missing points grey.
func TestLiveGridWaitsForPoints(t *testing.T) {
	g := &landscape.Grid{S: []float64{0, 1}, T: []float64{0, 1}, Loss: [][]float64{{1, 2}, {3, 4}}, Done: [][]bool{{false, false}, {false, false}}}
	w := LiveGrid("grid", "loss")
	w(g, false) // outside a notebook: nothing, and no panic
	l, clock, shown := fakeLive(false)
	draw := func(done bool) { l.update(done, func() *Figure { return liveGridFigure("grid", "loss", g) }) }
	*clock = clock.Add(time.Hour)
	draw(false)
	if len(*shown) != 0 {
		t.Fatalf("drew %d figures before any point was computed", len(*shown))
	}
	g.Done[0][0], g.Done[0][1], g.Done[1][0] = true, true, true
	*clock = clock.Add(time.Hour)
	draw(false)
	if len(*shown) != 1 || !strings.Contains((*shown)[0], "grey: 1 NaN/Inf grid values") {
		t.Errorf("a partly computed grid should show with its missing point grey; got %d figures", len(*shown))
	}
}

// TestLivePath checks that a live path draws nothing before its first point, then its curves on the
// whole α axis without barriers, and ends as LandscapePath's figure.
func TestLivePath(t *testing.T) {
	p := &landscape.Path{Curves: []landscape.Curve{{Data: "train"}, {Data: "test"}}}
	LivePath("path", "loss")(p, false) // outside a notebook: nothing, and no panic
	l, clock, shown := fakeLive(false)
	draw := func(done bool) { l.update(done, func() *Figure { return livePathFigure("path", "loss", p, done) }) }
	*clock = clock.Add(time.Hour)
	draw(false)
	if len(*shown) != 0 {
		t.Fatalf("drew %d figures before any point was computed", len(*shown))
	}
	p.Alpha = []float64{0, 0.25}
	p.Curves[0].Loss, p.Curves[0].Error = []float64{0.3, 0.9}, []float64{0.1, 0.3}
	p.Curves[1].Loss, p.Curves[1].Error = []float64{0.4, 1.0}, []float64{0.1, 0.4}
	*clock = clock.Add(time.Hour)
	draw(false)
	if len(*shown) != 1 || !strings.Contains((*shown)[0], "computing") {
		t.Fatalf("partial path: %d figures, want one whose legend says the path is still computing", len(*shown))
	}
	f := livePathFigure("path", "loss", p, false)
	if f.xRange == nil || f.xRange[0] != 0 || f.xRange[1] != 1 {
		t.Errorf("partial path: x range %v, want the whole α axis [0, 1]", f.xRange)
	}
	p.Alpha = []float64{0, 0.25, 0.5, 0.75, 1}
	p.Curves[0].Loss = []float64{0.3, 0.9, 1.2, 0.8, 0.35}
	p.Curves[1].Loss = []float64{0.4, 1.0, 1.3, 0.9, 0.45}
	for i := range p.Curves {
		b, err := landscape.Barriers(p.Alpha, p.Curves[i].Loss)
		if err != nil {
			t.Fatal(err)
		}
		p.Curves[i].LossBarrier = b
		p.Curves[i].Error = []float64{0.1, 0.3, 0.5, 0.3, 0.1}
	}
	draw(true)
	want, err := LandscapePath("path", p, "loss").htmlBody(false)
	if err != nil {
		t.Fatal(err)
	}
	if last := (*shown)[len(*shown)-1]; last != want {
		t.Errorf("the final live figure differs from LandscapePath's figure of the finished path")
	}
}

// TestXRange checks that XRange fixes the x axis of a line plot, and that a bad range is an error.
func TestXRange(t *testing.T) {
	svg, err := Lines("x", "x", "y", XY("a", []float64{0.2, 0.4}, []float64{1, 2})).XRange(0, 1).SVG()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(svg), ">1<") && !strings.Contains(string(svg), ">1.0<") {
		t.Errorf("x axis fixed to [0, 1] has no tick at 1")
	}
	if err := Lines("x", "x", "y", XY("a", []float64{0.2, 0.4}, []float64{1, 2})).XRange(1, 0).Err(); err == nil {
		t.Errorf("XRange(1, 0) accepted")
	}
}
