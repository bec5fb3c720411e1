package viz

import (
	"fmt"
	"math"
)

// Series is one named sequence of data. Lines and Scatter draw Y against X; Lo and Hi, when set,
// give a shaded band (e.g. mean ± spread across seeds) drawn under the line. Bar and Histogram read
// only Y (one value per category, or the samples to bin).
type Series struct {
	Name   string
	X, Y   []float64
	Lo, Hi []float64 // optional band, same length as Y
}

// XY returns a series of points (x[i], y[i]).
func XY(name string, x, y []float64) Series { return Series{Name: name, X: x, Y: y} }

// Y returns a series with x = 0, 1, 2, ...
func Y(name string, y []float64) Series { return Series{Name: name, X: Range(len(y)), Y: y} }

// Values returns a series that holds only values: the bar heights of Bar, or the samples of
// Histogram.
func Values(name string, v []float64) Series { return Series{Name: name, Y: v} }

// Band returns a series whose line is mean and whose band is mean ± spread.
func Band(name string, x, mean, spread []float64) Series {
	s := Series{Name: name, X: x, Y: mean, Lo: make([]float64, len(mean)), Hi: make([]float64, len(spread))}
	if len(spread) != len(mean) {
		return s // the length mismatch is reported when the series is drawn
	}
	for i, m := range mean {
		s.Lo[i], s.Hi[i] = m-spread[i], m+spread[i]
	}
	return s
}

// MeanBand summarises several runs (e.g. one per seed) of the same curve: the line is the mean over
// runs at each x and the band is mean ± one (sample) standard deviation. runs[r][i] is run r at
// x[i]; non-finite values are left out of the statistics at that x (if a point has no finite value
// it becomes a gap).
func MeanBand(name string, x []float64, runs [][]float64) Series {
	n := len(x)
	s := Series{Name: name, X: x, Y: make([]float64, n), Lo: make([]float64, n), Hi: make([]float64, n)}
	for i := range n {
		var sum, sumSq float64
		var k int
		for _, run := range runs {
			if i < len(run) && isFinite(run[i]) {
				sum += run[i]
				k++
			}
		}
		if k == 0 {
			s.Y[i], s.Lo[i], s.Hi[i] = math.NaN(), math.NaN(), math.NaN()
			continue
		}
		mean := sum / float64(k)
		for _, run := range runs {
			if i < len(run) && isFinite(run[i]) {
				d := run[i] - mean
				sumSq += d * d
			}
		}
		sd := 0.0
		if k > 1 {
			sd = math.Sqrt(sumSq / float64(k-1))
		}
		s.Y[i], s.Lo[i], s.Hi[i] = mean, mean-sd, mean+sd
	}
	return s
}

// Range returns 0, 1, ..., n-1 as float64 (handy x values: steps, epochs, layers).
func Range(n int) []float64 {
	r := make([]float64, n)
	for i := range r {
		r[i] = float64(i)
	}
	return r
}

// Linspace returns n evenly spaced values from lo to hi inclusive.
func Linspace(lo, hi float64, n int) []float64 {
	r := make([]float64, n)
	for i := range r {
		if n == 1 {
			r[i] = lo
			continue
		}
		r[i] = lo + (hi-lo)*float64(i)/float64(n-1)
	}
	return r
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func seriesName(s Series, i int) string {
	if s.Name != "" {
		return fmt.Sprintf("%q", s.Name)
	}
	return fmt.Sprintf("#%d", i)
}

// checkXY validates a series for Lines/Scatter: equal lengths, finite x, at least one finite y.
// It returns the number of points whose y (or band) is not finite.
func checkXY(kind string, s Series, i int, needFinitePoint bool) (gaps int, err error) {
	name := seriesName(s, i)
	if len(s.Y) == 0 {
		return 0, fmt.Errorf("viz: %s: series %s is empty", kind, name)
	}
	if len(s.X) != len(s.Y) {
		return 0, fmt.Errorf("viz: %s: series %s has %d x values but %d y values", kind, name, len(s.X), len(s.Y))
	}
	if (s.Lo == nil) != (s.Hi == nil) || (s.Lo != nil && (len(s.Lo) != len(s.Y) || len(s.Hi) != len(s.Y))) {
		return 0, fmt.Errorf("viz: %s: series %s band needs Lo and Hi both of length %d, got %d and %d",
			kind, name, len(s.Y), len(s.Lo), len(s.Hi))
	}
	for j, x := range s.X {
		if !isFinite(x) {
			return 0, fmt.Errorf("viz: %s: series %s has a non-finite x value (%v) at index %d", kind, name, x, j)
		}
		ok := isFinite(s.Y[j])
		if s.Lo != nil && (!isFinite(s.Lo[j]) || !isFinite(s.Hi[j])) {
			ok = false
		}
		if !ok {
			gaps++
		}
	}
	if needFinitePoint && !anyFinite(s.Y) {
		return 0, fmt.Errorf("viz: %s: series %s has no finite y value (all %d are NaN or Inf)", kind, name, len(s.Y))
	}
	return gaps, nil
}

func anyFinite(v []float64) bool {
	for _, x := range v {
		if isFinite(x) {
			return true
		}
	}
	return false
}

// gapNote is the footnote for series with left-out values.
func gapNote(verb string, names []string, counts []int) string {
	parts := ""
	for i, n := range names {
		if i > 0 {
			parts += ", "
		}
		parts += fmt.Sprintf("%s (%d)", n, counts[i])
	}
	return fmt.Sprintf("NaN/Inf values %s: %s", verb, parts)
}

// runs returns the maximal index ranges [a, b) on which ok is true.
func runs(n int, ok func(i int) bool) [][2]int {
	var out [][2]int
	start := -1
	for i := 0; i <= n; i++ {
		if i < n && ok(i) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			out = append(out, [2]int{start, i})
			start = -1
		}
	}
	return out
}

func log10(x float64) float64 { return math.Log10(x) }
