package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/losses"
)

func runCmd(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(args, strings.NewReader(stdin), &out)
	return out.String(), err
}

func TestObjectiveList(t *testing.T) {
	out, err := runCmd(t, "", "objective", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ce", "hinge", "mse", "gce", "mae", "sum-exp", "ldr-kl", "ldr-kl-code", "aldr-kl",
		"aldr-kl-code", "z-loss", "logit-z-reg", "ce-logit-z", "ca-calib"} {
		if !strings.Contains(out, "\n"+name+" ") {
			t.Errorf("objective list does not show %q", name)
		}
	}
	js, err := runCmd(t, "", "objective", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var infos []losses.ObjectiveInfo
	if err := json.Unmarshal([]byte(js), &infos); err != nil {
		t.Fatalf("list --json is not valid JSON: %v", err)
	}
	if len(infos) != len(losses.All()) {
		t.Errorf("list --json has %d entries, registry %d", len(infos), len(losses.All()))
	}
	for _, in := range infos {
		if in.Name == "gce" && (len(in.Params) != 1 || in.Params[0].Default != 0.7 || *in.Params[0].Max != 1 || !in.Params[0].MinOpen) {
			t.Errorf("gce descriptor: %+v", in.Params)
		}
	}
}

func TestObjectiveEval(t *testing.T) {
	out, err := runCmd(t, `{"logits": [[2, 1, 0.1], [0.5, -1, 2]], "labels": [0, 2]}`, "objective", "eval", "gce", "--set", "q=0.7")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Loss       float64                `json:"loss"`
		PerExample []float64              `json:"per_example"`
		Grad       map[string][][]float64 `json:"grad"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	// Worked example for Mao, Mohri & Zhong (arXiv:2304.07288): GCE(q=0.7) of [2,1,0.1], y=0 is 0.361675, gradient [-0.254667, 0.181056, 0.073612].
	if math.Abs(res.PerExample[0]-0.361675) > 1e-6 || len(res.PerExample) != 2 {
		t.Errorf("per_example = %v", res.PerExample)
	}
	if math.Abs(res.Loss-(res.PerExample[0]+res.PerExample[1])/2) > 1e-15 {
		t.Errorf("loss %g is not the mean of %v", res.Loss, res.PerExample)
	}
	g := res.Grad["logits"]
	if len(g) != 2 || len(g[0]) != 3 || math.Abs(2*g[0][0]-(-0.254667)) > 1e-6 {
		t.Errorf("grad = %v (want [2][3], gradient of the mean)", g)
	}
	// Flags before the name, --float32, and a batch-level objective (no per_example).
	out, err = runCmd(t, `{"logits": [[2, 1, 0.1], [0.5, -1, 2]], "labels": [1, 2]}`, "objective", "eval", "--float32", "ca-calib")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "per_example") || !strings.Contains(out, `"grad":{"logits":[[`) {
		t.Errorf("ca-calib output: %s", out)
	}
}

func TestErrors(t *testing.T) {
	batch := `{"logits": [[2, 1, 0.1]], "labels": [0]}`
	cases := []struct {
		stdin string
		args  []string
		want  string
	}{
		{batch, []string{"objective", "eval", "ldr-kll"}, `unknown objective "ldr-kll" (did you mean "ldr-kl"?)`},
		{batch, []string{"objective", "eval", "gce", "--set", "q=3"}, "q=3 is out of range"},
		{batch, []string{"objective", "eval", "gce", "--set", "q"}, "not of the form name=value"},
		{batch, []string{"objective", "eval", "gce", "--set", "qq=0.5"}, `no hyperparameter "qq" (did you mean "q"?)`},
		{batch, []string{"objective", "eval", "gce", "--seed", "3"}, "takes no --seed"},
		{batch, []string{"objective", "eval"}, "takes one objective NAME"},
		{batch, []string{"objective", "eval", "ce", "--bogus"}, "flag provided but not defined: -bogus"},
		{`{"logits": [[2, 1, 0.1]]`, []string{"objective", "eval", "ce"}, "invalid JSON"},
		{``, []string{"objective", "eval", "ce"}, "no JSON object"},
		{batch + batch, []string{"objective", "eval", "ce"}, "exactly one JSON object"},
		{`{"logits": [[2, 1, 0.1]]}`, []string{"objective", "eval", "ce"}, `missing input "labels"`},
		{`{"logits": [[2, 1], [0]], "labels": [0, 1]}`, []string{"objective", "eval", "ce"}, "rectangular"},
		{`{"logits": [2, 1, 0.1], "labels": [0]}`, []string{"objective", "eval", "ce"}, `input "logits" must have rank 2`},
		{`{"logits": [[2, 1, 0.1]], "labels": [0.5]}`, []string{"objective", "eval", "ce"}, "must hold integers"},
		{`{"logits": [[2, 1, 0.1]], "labels": [7]}`, []string{"objective", "eval", "ce"}, "class index in [0,3)"},
		{`{"logits": [["a", 1, 0.1]], "labels": [0]}`, []string{"objective", "eval", "ce"}, "is a string"},
		{`{"logits": [[2, 1, 0.1]], "labels": [0], "weights": [1]}`, []string{"objective", "eval", "ce"}, `no input "weights"`},
		{`{"logits": [[2, 1, 0.1]], "labels": [0], "` + strings.Repeat("k", 1<<20) + `": [1]}`, []string{"objective", "eval", "ce"}, `no input "kkkk`},
		{`{"logits": [[2, 1, 0.1]], "labels": [0], "` + strings.Repeat("k", 1<<20) + `": [[1], []]}`, []string{"objective", "eval", "ce"}, `input "kkkk`},
		{batch, []string{"objective", "eval", "gce", "--set", strings.Repeat("q", 1<<20) + "=1"}, `no hyperparameter "qqqq`},
		{batch, []string{"objective", "eval", "gce", "--set", "q=" + strings.Repeat("1", 1<<20) + "x"}, `q="1111`},
		{batch, []string{"objectiv", "list"}, "unknown command"},
		{batch, []string{"objective", "lst"}, "unknown verb"},
		{batch, []string{"objective", "list", "extra"}, "takes no arguments"},
	}
	for _, c := range cases {
		_, err := runCmd(t, c.stdin, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.100v: error %.300v, want it to contain %q", c.args, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error spans lines: %.300q", c.args, err)
		}
		if len(err.Error()) > 1000 {
			t.Errorf("%.100v: error of %d bytes echoes the input: %.300q…", c.args, len(err.Error()), err)
		}
	}
}

func TestHelp(t *testing.T) {
	out, err := runCmd(t, "")
	if err != nil || !strings.Contains(out, "losslab objective eval NAME") || !strings.Contains(out, "losslab landscape interpolate -a CKPT -b CKPT") {
		t.Errorf("help: %q, %v", out, err)
	}
	out, err = runCmd(t, "", "landscape", "plane", "-h")
	if err != nil || !strings.Contains(out, "Usage: losslab landscape plane -a CKPT") || !strings.Contains(out, "-random") || !strings.Contains(out, "(default 11)") {
		t.Errorf("landscape plane -h: %q, %v", out, err)
	}
}
