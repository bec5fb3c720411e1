package viz

import (
	"html"
	"time"

	"github.com/losslab/losslab/lib/landscape"
	"github.com/losslab/losslab/lib/nb"
	"github.com/losslab/losslab/lib/train"

	"github.com/janpfeifer/gonb/gonbui"
)

// Live pictures: a figure that redraws in place in its notebook cell while work runs, the way the
// progress bar does, and ends as the static figure that drawing the finished result would give.
//
//	cfg.Watch = viz.LiveTraining("MLP on Fashion-MNIST")
//	res, err := train.Run(cfg) // the cell shows the loss and accuracy curves growing
//
// Redraws come at most every LiveEvery (an SVG of a long run takes tens of milliseconds to draw, which
// is nothing next to a few seconds of training). Outside a notebook the watchers do nothing; in quick
// mode (nb.Quick, as in CI) they draw only the final figure.

// LiveEvery is the shortest time between two redraws of a live figure.
var LiveEvery = 3 * time.Second

// LiveTraining returns a watcher for train.Config.Watch that shows the run's curves, as Training(title,
// res) draws them, growing while it trains.
func LiveTraining(title string) func(res *train.Result, done bool) {
	l := newLive()
	return func(res *train.Result, done bool) {
		l.update(done, func() *Figure { return liveTrainingFigure(title, res) })
	}
}

// liveTrainingFigure is Training(title, res), or nil before the first step.
func liveTrainingFigure(title string, res *train.Result) *Figure {
	if len(res.History) == 0 {
		return nil
	}
	return Training(title, res)
}

// LiveGrid returns a watcher for landscape.GridOptions.Watch that shows the grid's filled contour of
// metric ("loss" or "error"), as LandscapeGrid draws it, filling in as points are computed (the points
// not computed yet are grey).
func LiveGrid(title, metric string) func(g *landscape.Grid, done bool) {
	l := newLive()
	return func(g *landscape.Grid, done bool) {
		l.update(done, func() *Figure { return liveGridFigure(title, metric, g) })
	}
}

// liveGridFigure is LandscapeGrid(title, g, metric), or nil while no point of g is computed.
func liveGridFigure(title, metric string, g *landscape.Grid) *Figure {
	for _, row := range g.Done {
		for _, d := range row {
			if d {
				return LandscapeGrid(title, g, metric)
			}
		}
	}
	return nil
}

// LivePath returns a watcher for landscape.PathOptions.Watch that shows the path's curves of metric
// ("loss" or "error"), as LandscapePath draws them, growing from α = 0 as points are computed (the α axis
// stays at [0, 1] meanwhile), and ends with LandscapePath's figure, barriers in the legend.
func LivePath(title, metric string) func(p *landscape.Path, done bool) {
	l := newLive()
	return func(p *landscape.Path, done bool) {
		l.update(done, func() *Figure { return livePathFigure(title, metric, p, done) })
	}
}

// livePathFigure is LandscapePath(title, p, metric) when done; before that, the curves so far on a fixed
// α axis (their barriers are not known yet), or nil before the first point.
func livePathFigure(title, metric string, p *landscape.Path, done bool) *Figure {
	if done {
		return LandscapePath(title, p, metric)
	}
	if len(p.Alpha) == 0 {
		return nil
	}
	var series []Series
	for _, c := range p.Curves {
		y := c.Loss
		if metric == "error" {
			y = c.Error
		}
		x, ys := sortedXY(p.Alpha, y)
		series = append(series, XY(c.Data+" (computing…)", x, ys))
	}
	return Lines(title, "α (0 = A, 1 = B)", pathYLabel(metric), series...).XRange(0, 1)
}

// live is the state of one live figure: its display and when it was last drawn.
type live struct {
	show   func(id, body string) // replaces the display id's content (gonbui.UpdateHTML in a notebook)
	now    func() time.Time
	every  time.Duration
	final  bool // draw only the final figure (quick mode)
	id     string
	last   time.Time
	closed bool
}

func newLive() *live {
	l := &live{now: time.Now, every: LiveEvery, final: nb.Quick()}
	if gonbui.IsNotebook {
		l.show = gonbui.UpdateHTML
		l.id = "losslab-live-" + gonbui.UniqueID()
	}
	l.last = l.now()
	return l
}

// update redraws the figure that fig returns (nil: nothing to draw yet) when done, or when LiveEvery
// has passed since the last draw; after done it does nothing.
func (l *live) update(done bool, fig func() *Figure) {
	if l.show == nil || l.closed {
		return
	}
	if !done && (l.final || l.now().Sub(l.last) < l.every) {
		return
	}
	l.closed = done
	f := fig()
	if f == nil {
		return
	}
	body, err := f.htmlBody(false)
	if err != nil {
		body = `<pre class="losslab-error" style="color:#b00020;white-space:pre-wrap">` + html.EscapeString(err.Error()) + `</pre>`
	}
	l.show(l.id, body)
	l.last = l.now()
}
