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
