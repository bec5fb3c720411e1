package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Sample is one timed repetition of one side of a workload.
type Sample struct {
	Seconds float64 `json:"seconds"`
	// Work is how many units (examples, points, attacks, ...) the repetition did.
	Work float64 `json:"work"`
	// Compiles is the number of graphs compiled during this repetition (LossLab only; 0 is the goal).
	Compiles int `json:"compiles"`
	// Check is a value of the computation (a loss, an eigenvalue) to compare the two sides.
	Check float64 `json:"check"`
}

// Rate is the throughput of a sample in units per second.
func (s Sample) Rate() float64 {
	if s.Seconds <= 0 {
		return math.NaN()
	}
	return s.Work / s.Seconds
}

// Side is the measurement of one implementation of a workload.
type Side struct {
	Name    string   `json:"name"` // "losslab", "losslab per-point", "pytorch"
	Samples []Sample `json:"samples"`
	// Median of the samples' rates (units per second).
	Median float64 `json:"median"`
	// SetupSeconds covers loading data and compiling/warming up (one untimed repetition).
	SetupSeconds float64 `json:"setup_seconds"`
	// PeakRSSMB is the process's peak resident memory (VmHWM), shared by the sides that ran in one
	// process.
	PeakRSSMB float64 `json:"peak_rss_mb"`
	// SetupCompiles and RunCompiles count graph compilations during setup and during the timed repetitions.
	SetupCompiles int `json:"setup_compiles"`
	RunCompiles   int `json:"run_compiles"`
	// Info holds what the side reported about itself (BLAS, threads, sizes).
	Info map[string]any `json:"info,omitempty"`
	// Latency marks a side whose median is of seconds per repetition (lower is better), not of rates.
	Latency bool `json:"latency,omitempty"`
}

// Finish computes the median rate (or, for a latency side, the median seconds) and the number of compilations of the timed repetitions.
func (s *Side) Finish() {
	rates := make([]float64, len(s.Samples))
	s.RunCompiles = 0
	for i, x := range s.Samples {
		rates[i] = x.Rate()
		if s.Latency {
			rates[i] = x.Seconds
		}
		s.RunCompiles += x.Compiles
	}
	s.Median = Median(rates)
}

// Row is one line of the results table: LossLab against a reference side.
type Row struct {
	Workload string  `json:"workload"`
	Unit     string  `json:"unit"`
	LossLab  *Side   `json:"losslab"`
	Peer     *Side   `json:"peer,omitempty"` // nil when there is no PyTorch peer (cell latency)
	Ratio    float64 `json:"ratio"`          // LossLab median ÷ peer median (NaN without a peer)
	// Target is the minimum ratio the issue asks for (0: none); for latency rows, the maximum seconds.
	Target float64 `json:"target"`
	// TargetKind is "ratio" (higher is better) or "seconds" (latency, lower is better) or "".
	TargetKind string `json:"target_kind,omitempty"`
	Met        *bool  `json:"met,omitempty"`
	Note       string `json:"note,omitempty"`
}

// Evaluate fills Ratio and Met from the sides' medians.
func (r *Row) Evaluate() {
	r.Ratio = math.NaN()
	if r.LossLab != nil && r.Peer != nil {
		r.Ratio = Ratio(r.LossLab.Median, r.Peer.Median)
	}
	r.Met = nil
	switch r.TargetKind {
	case "ratio":
		if !math.IsNaN(r.Ratio) {
			met := r.Ratio >= r.Target
			r.Met = &met
		}
	case "seconds":
		if r.LossLab != nil && !math.IsNaN(r.LossLab.Median) {
			met := r.LossLab.Median <= r.Target
			r.Met = &met
		}
	}
}

// Median returns the median of the finite values (NaN when there are none).
func Median(v []float64) float64 {
	var x []float64
	for _, f := range v {
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			x = append(x, f)
		}
	}
	if len(x) == 0 {
		return math.NaN()
	}
	sort.Float64s(x)
	n := len(x)
	if n%2 == 1 {
		return x[n/2]
	}
	return (x[n/2-1] + x[n/2]) / 2
}

// Ratio returns a ÷ b, or NaN when either is not a positive finite number.
func Ratio(a, b float64) float64 {
	if !(a > 0) || !(b > 0) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return math.NaN()
	}
	return a / b
}

// Report is what results.json holds.
type Report struct {
	Date    string         `json:"date"`
	Machine map[string]any `json:"machine"`
	Flags   map[string]any `json:"flags"`
	Rows    []*Row         `json:"rows"`
	// LoadBefore and LoadAfter are /proc/loadavg at the start and end of the run.
	LoadBefore string `json:"load_before"`
	LoadAfter  string `json:"load_after"`
	// Peer says which torch, BLAS library and threads the PyTorch side used.
	Peer string `json:"peer,omitempty"`
}

// WriteJSON writes the report to path (creating its folder), NaN and ±Inf written as null.
func (rep *Report) WriteJSON(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := marshalNaNSafe(rep)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// Table writes the results as an aligned text table.
func (rep *Report) Table(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\tunit\tLossLab\tPyTorch\tratio\ttarget\tmet\tpeak MB (L / T)\tcompiles (setup / timed)")
	for _, r := range rep.Rows {
		peer, peerMB := "—", "—"
		if r.Peer != nil {
			peer, peerMB = num(r.Peer.Median), fmt.Sprintf("%.0f", r.Peer.PeakRSSMB)
		}
		lmed, lmb, comp := "—", "—", "—"
		switch {
		case r.LossLab != nil && r.LossLab.Latency:
			lmed = num(r.LossLab.Median) // seconds; memory and compilations belong to the kernel's cell programs
		case r.LossLab != nil:
			lmed, lmb = num(r.LossLab.Median), fmt.Sprintf("%.0f", r.LossLab.PeakRSSMB)
			comp = fmt.Sprintf("%d / %d", r.LossLab.SetupCompiles, r.LossLab.RunCompiles)
		}
		ratio := "—"
		if !math.IsNaN(r.Ratio) {
			ratio = fmt.Sprintf("%.3f×", r.Ratio)
		}
		target := ""
		switch r.TargetKind {
		case "ratio":
			target = fmt.Sprintf("≥ %g×", r.Target)
		case "seconds":
			target = fmt.Sprintf("≤ %g s", r.Target)
		}
		met := ""
		if r.Met != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*r.Met]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s / %s\t%s\n", r.Workload, r.Unit, lmed, peer, ratio, target, met, lmb, peerMB, comp)
	}
	tw.Flush()
	for _, r := range rep.Rows {
		if r.Note != "" {
			fmt.Fprintf(w, "  %s: %s\n", r.Workload, r.Note)
		}
	}
}

// num formats a throughput with three significant digits and thousands separators.
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v >= 1000:
		return group(fmt.Sprintf("%.0f", v))
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// group inserts thousands separators into a string of digits (with an optional sign).
func group(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign + b.String()
}

// today is the date stamp of a report.
func today() string { return time.Now().UTC().Format("2006-01-02 15:04 UTC") }
