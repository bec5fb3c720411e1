package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{5}, 5},
		{[]float64{nan, 7, math.Inf(1), 1}, 4}, // non-finite values are left out
	} {
		if got := Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if got := Median(nil); !math.IsNaN(got) {
		t.Errorf("Median(nil) = %v, want NaN", got)
	}
	in := []float64{3, 1, 2}
	Median(in)
	if in[0] != 3 || in[1] != 1 {
		t.Errorf("Median reordered its input: %v", in)
	}
}

func TestRatio(t *testing.T) {
	if got := Ratio(1, 4); got != 0.25 {
		t.Errorf("Ratio(1, 4) = %v", got)
	}
	for _, c := range [][2]float64{{0, 1}, {1, 0}, {-1, 2}, {math.NaN(), 1}, {1, math.Inf(1)}} {
		if got := Ratio(c[0], c[1]); !math.IsNaN(got) {
			t.Errorf("Ratio(%v, %v) = %v, want NaN", c[0], c[1], got)
		}
	}
}

func TestSideFinish(t *testing.T) {
	s := &Side{Samples: []Sample{{Seconds: 2, Work: 10, Compiles: 1}, {Seconds: 1, Work: 10}, {Seconds: 4, Work: 10}}}
	s.Finish()
	if s.Median != 5 { // rates 5, 10, 2.5
		t.Errorf("median rate = %v, want 5", s.Median)
	}
	if s.RunCompiles != 1 {
		t.Errorf("RunCompiles = %d, want 1", s.RunCompiles)
	}
	l := &Side{Latency: true, Samples: []Sample{{Seconds: 3, Work: 1}, {Seconds: 1, Work: 1}, {Seconds: 2, Work: 1}}}
	l.Finish()
	if l.Median != 2 {
		t.Errorf("latency median = %v, want 2 seconds", l.Median)
	}
	if r := (Sample{Seconds: 0, Work: 3}).Rate(); !math.IsNaN(r) {
		t.Errorf("a zero-second sample has rate %v, want NaN", r)
	}
}

func TestRowEvaluate(t *testing.T) {
	mk := func(m float64) *Side { return &Side{Median: m} }
	r := &Row{LossLab: mk(30), Peer: mk(100), Target: 0.25, TargetKind: "ratio"}
	r.Evaluate()
	if r.Ratio != 0.3 || r.Met == nil || !*r.Met {
		t.Errorf("30 vs 100 against ≥0.25: ratio %v met %v", r.Ratio, r.Met)
	}
	r = &Row{LossLab: mk(20), Peer: mk(100), Target: 0.25, TargetKind: "ratio"}
	r.Evaluate()
	if r.Met == nil || *r.Met {
		t.Errorf("20 vs 100 against ≥0.25 should not be met (ratio %v)", r.Ratio)
	}
	r = &Row{LossLab: mk(1.5), Target: 2, TargetKind: "seconds"}
	r.Evaluate()
	if !math.IsNaN(r.Ratio) || r.Met == nil || !*r.Met {
		t.Errorf("1.5 s against ≤2 s: ratio %v met %v", r.Ratio, r.Met)
	}
	r = &Row{LossLab: mk(2.5), Target: 2, TargetKind: "seconds"}
	r.Evaluate()
	if r.Met == nil || *r.Met {
		t.Error("2.5 s against ≤2 s should not be met")
	}
	r = &Row{LossLab: mk(math.NaN()), Peer: mk(3), Target: 0.1, TargetKind: "ratio"}
	r.Evaluate()
	if r.Met != nil {
		t.Error("a missing median must leave the target undecided, not met or failed")
	}
}

func sampleReport() *Report {
	l := &Side{Name: "losslab", Samples: []Sample{{Seconds: 1, Work: 2500}, {Seconds: 1, Work: 3000}}, PeakRSSMB: 300, SetupCompiles: 2}
	p := &Side{Name: "pytorch", Samples: []Sample{{Seconds: 1, Work: 10000}}, PeakRSSMB: 700}
	lat := &Side{Name: "losslab", Latency: true, Samples: []Sample{{Seconds: 1.25, Work: 1}}}
	for _, s := range []*Side{l, p, lat} {
		s.Finish()
	}
	rows := []*Row{
		{Workload: "train-mlp", Unit: "examples/s", LossLab: l, Peer: p, Target: 0.25, TargetKind: "ratio", Note: "a note"},
		{Workload: "cell", Unit: "s", LossLab: lat, Target: 2, TargetKind: "seconds"},
	}
	for _, r := range rows {
		r.Evaluate()
	}
	return &Report{Date: "2026-11-26", Rows: rows}
}

func TestTable(t *testing.T) {
	var b strings.Builder
	sampleReport().Table(&b)
	out := b.String()
	for _, want := range []string{"train-mlp", "2,750", "10,000", "0.275×", "≥ 0.25×", "yes", "300 / 700", "2 / 0", "1.25", "≤ 2 s", "— / —", "train-mlp: a note"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	rep := sampleReport()
	path := filepath.Join(t.TempDir(), "sub", "results.json")
	if err := rep.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Rows []struct {
			Workload string   `json:"workload"`
			Ratio    *float64 `json:"ratio"`
			Met      *bool    `json:"met"`
			LossLab  struct {
				Median float64 `json:"median"`
			} `json:"losslab"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("results.json does not parse: %v\n%s", err, b)
	}
	if len(got.Rows) != 2 || got.Rows[0].Ratio == nil || *got.Rows[0].Ratio != 0.275 || got.Rows[0].LossLab.Median != 2750 {
		t.Errorf("first row read back wrong: %s", b)
	}
	if got.Rows[1].Ratio != nil { // NaN (no peer) is written as null
		t.Errorf("latency row ratio = %v, want null", *got.Rows[1].Ratio)
	}
	if got.Rows[1].Met == nil || !*got.Rows[1].Met {
		t.Error("latency row lost its met flag")
	}
}

func TestParseOnly(t *testing.T) {
	if m, err := parseOnly(""); err != nil || m != nil {
		t.Errorf(`parseOnly("") = %v, %v; want all workloads (nil)`, m, err)
	}
	m, err := parseOnly("pgd, grid")
	if err != nil || !m["pgd"] || !m["grid"] || len(m) != 2 {
		t.Errorf("parseOnly(pgd, grid) = %v, %v", m, err)
	}
	if _, err := parseOnly("pgd,nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown workload not rejected: %v", err)
	}
}

func TestNum(t *testing.T) {
	for in, want := range map[float64]string{1234567: "1,234,567", 999: "999", 12.345: "12.3", 1.2345: "1.23", 0.01234: "0.0123"} {
		if got := num(in); got != want {
			t.Errorf("num(%v) = %q, want %q", in, got, want)
		}
	}
	if got := num(math.NaN()); got != "n/a" {
		t.Errorf("num(NaN) = %q", got)
	}
}
