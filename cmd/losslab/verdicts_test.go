package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/verdict"
)

// writeNotebook writes a notebook whose outputs hold r's report, the way GoNB stores it.
func writeNotebook(t *testing.T, dir, name string, r *verdict.Report) string {
	t.Helper()
	var outputs []any
	if r != nil {
		js, err := r.JSON()
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, map[string]any{"output_type": "display_data", "data": map[string]any{verdict.MIMEType: string(js)}})
	}
	b, _ := json.Marshal(map[string]any{"cells": []any{map[string]any{"cell_type": "code", "outputs": outputs}}})
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerdictList(t *testing.T) {
	dir := t.TempDir()
	r, err := verdict.Decide("99-test",
		verdict.Claim{Claim: "beats the baseline", Kind: verdict.Comparison, Method: []float64{1, 1.1, 0.9}, Baseline: []float64{0, 0.1, -0.1}},
		verdict.Claim{Claim: "on real data", Kind: verdict.Comparison, Untestable: "no data offline"})
	if err != nil {
		t.Fatal(err)
	}
	writeNotebook(t, dir, "99-test.ipynb", r)
	writeNotebook(t, dir, "98-old.ipynb", nil)
	out, err := runCmd(t, "", "verdict", "list", "--claims", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"99-test", "reproduced", "beats the baseline", "not testable", "1 notebook(s) hold no verdict", "98-old.ipynb"} {
		if !strings.Contains(out, want) {
			t.Errorf("verdict list lacks %q:\n%s", want, out)
		}
	}
	js, err := runCmd(t, "", "verdict", "list", "--json", filepath.Join(dir, "99-test.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	var back []verdict.Report
	if err := json.Unmarshal([]byte(js), &back); err != nil || len(back) != 1 || back[0].Paper != "99-test" {
		t.Errorf("--json: %v %s", err, js)
	}
	if _, err := runCmd(t, "", "verdict", "list", filepath.Join(dir, "missing.ipynb")); err == nil {
		t.Errorf("a missing notebook is not an error")
	}
}
