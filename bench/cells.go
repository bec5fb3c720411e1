package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// runCells times notebook cells through the losslab kernel (bench/cells.py); PyTorch has no peer here, so
// the rows hold LossLab's seconds against the limits.
func runCells(o options, outDir string) ([]*Row, error) {
	reps := o.reps
	if err := os.MkdirAll(filepath.Join(outDir, "logs"), 0o755); err != nil {
		return nil, err
	}
	args := []string{filepath.Join(o.root, "bench", "cells.py"), "--reps", fmt.Sprint(reps),
		"--log", filepath.Join(outDir, "logs", "cells-kernel.log")}
	if o.cold {
		args = append(args, "--cold")
	}
	logf("cells: %d fresh kernel(s) with a warm Go build cache%s", reps, map[bool]string{true: ", then one with an empty cache (rebuilds GoMLX: minutes)"}[o.cold])
	cmd := exec.Command(o.python, args...)
	cmd.Dir = o.root
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("cells.py: %w", err)
	}
	var res map[string][]float64
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return nil, fmt.Errorf("cells.py output: %w", err)
	}
	side := func(key string) *Side {
		s := &Side{Name: "losslab", Latency: true}
		for _, sec := range res[key] {
			s.Samples = append(s.Samples, Sample{Seconds: sec, Work: 1})
		}
		s.Finish()
		return s
	}
	rows := []*Row{
		{Workload: "cell trivial", Unit: "s", LossLab: side("trivial"), Note: "a cell printing one line, in a kernel that already ran cells"},
		{Workload: "cell importing lib/ (warm)", Unit: "s", LossLab: side("lib_warm"), Target: 2, TargetKind: "seconds",
			Note: "imports lib/data, models, train, viz; not the kernel's first cell"},
		{Workload: "first cell, fresh kernel, warm cache", Unit: "s", LossLab: side("first_cell_warm_cache"),
			Note: "the same lib/ cell as the first cell of a new kernel (kernel start not included)"},
	}
	if _, ok := res["first_cell_cold_cache"]; ok {
		rows = append(rows,
			&Row{Workload: "first cell, fresh kernel, cold cache", Unit: "s", LossLab: side("first_cell_cold_cache"),
				Note: "GOCACHE empty: the first cell builds GoMLX and lib/ from source"},
			&Row{Workload: "lib/ cell after the cold first cell", Unit: "s", LossLab: side("lib_after_cold"), Target: 2, TargetKind: "seconds",
				Note: "the next cell must not rebuild GoMLX"})
	}
	for _, r := range rows {
		r.Evaluate()
	}
	return rows, nil
}
