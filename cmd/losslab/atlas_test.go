package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tinyAtlas is the flags of an atlas that takes seconds on the fake Fashion-MNIST: an 8-unit MLP,
// 5 steps, the smallest measurements.
func tinyAtlas(out, objectives string) []string {
	return []string{"landscape", "atlas", "-objectives", objectives, "-model", "mlp-8-10", "-runs", "3", "-steps", "5",
		"-batch", "20", "-lr", "0.01", "-n", "100", "-test-n", "50", "-examples", "50", "-alpha", "3", "-lanczos", "2",
		"-trace", "1", "-slice", "3", "-grid", "3", "-picture", "png", "-o", out}
}

func TestLandscapeAtlas(t *testing.T) {
	runs(t) // the fake Fashion-MNIST
	out := filepath.Join(t.TempDir(), "sub", "atlas")
	stdout, err := runCmd(t, "", tinyAtlas(out, "ce,gce:q=0.5")...)
	if err != nil {
		t.Fatal(err)
	}
	var res atlasOutput
	readJSON(t, out+".json", &res)
	a := res.Atlas
	if a == nil || len(a.Records) != 2 || a.Records[0].Label != "ce" || a.Records[1].Label != "gce (q=0.5)" {
		t.Fatalf("records: %+v", a)
	}
	for _, r := range a.Records {
		if len(r.Runs) != 3 || len(r.Independent) != 3 || len(r.Alpha) != 3 || r.Summary.TestAccuracy.N != 3 {
			t.Errorf("%s: %d runs, %d pairs, α %v", r.Label, len(r.Runs), len(r.Independent), r.Alpha)
		}
	}
	if r := a.Records[1]; r.Params["q"] != 0.5 {
		t.Errorf("gce:q=0.5 trained with %v", r.Params)
	}
	if a.Setup.Model != "mlp-8-10" || a.Setup.Runs != 3 || a.Setup.Steps != 5 || a.Setup.Train.N != 100 || a.Setup.Test.N != 50 ||
		len(res.Data) != 2 || res.Data[1].Split != "test" || res.Options["steps"] != "5" || res.Cache != out+".cache" || res.Version == "" {
		t.Errorf("setup %+v, provenance %+v %v", a.Setup, res.Data, res.Options)
	}
	if !slices.Equal(a.Computed, []string{"ce", "gce (q=0.5)"}) || len(a.Cached) != 0 {
		t.Errorf("computed %v, cached %v", a.Computed, a.Cached)
	}
	if !strings.Contains(stdout, "| gce (q=0.5) |") || !strings.Contains(stdout, "2 objectives computed, 0 from the cache") {
		t.Errorf("stdout:\n%s", stdout)
	}
	md, err := os.ReadFile(out + ".md")
	if err != nil || !bytes.Contains(md, []byte("| ce |")) {
		t.Errorf("%s.md: %v\n%s", out, err, md)
	}
	for _, suffix := range []string{"", "-scatter", "-planes"} {
		if _, err := os.Stat(out + suffix + ".png"); err != nil {
			t.Error(err)
		}
	}

	// One objective more: only it is computed, the others come from the cache with the same numbers;
	// a skipped objective is listed with its reason.
	var progress bytes.Buffer
	stderr = &progress
	stdout, err = runCmd(t, "", tinyAtlas(out, "ce,gce:q=0.5,mae,dverge")...)
	stderr = io.Discard
	if err != nil {
		t.Fatal(err)
	}
	var again atlasOutput
	readJSON(t, out+".json", &again)
	b := again.Atlas
	if !slices.Equal(b.Computed, []string{"mae"}) || !slices.Equal(b.Cached, []string{"ce", "gce (q=0.5)"}) ||
		len(b.Skipped) != 1 || b.Skipped[0].Entry.Name != "dverge" {
		t.Fatalf("second atlas: computed %v, cached %v, skipped %v", b.Computed, b.Cached, b.Skipped)
	}
	if b.Records[1].Summary.TestAccuracy != a.Records[1].Summary.TestAccuracy || len(b.Records[2].Runs) != 3 {
		t.Errorf("cached record changed: %+v, was %+v", b.Records[1].Summary.TestAccuracy, a.Records[1].Summary.TestAccuracy)
	}
	if got := strings.Count(progress.String(), "trained"); got != 3 {
		t.Errorf("the second atlas trained %d runs (and siblings), want mae's 3; progress:\n%s", got, progress.String())
	}
	if !strings.Contains(stdout, "1 objectives computed, 2 from the cache") || !strings.Contains(stdout, "dverge") {
		t.Errorf("stdout:\n%s", stdout)
	}

	// -cache elsewhere: computed again there.
	other := filepath.Join(t.TempDir(), "records")
	if _, err := runCmd(t, "", append(tinyAtlas(out, "ce"), "-cache", other, "-picture", "svg")...); err != nil {
		t.Fatal(err)
	}
	readJSON(t, out+".json", &again)
	if !slices.Equal(again.Atlas.Computed, []string{"ce"}) || again.Cache != other {
		t.Errorf("-cache %s: computed %v, cache %s", other, again.Atlas.Computed, again.Cache)
	}
	if files, _ := filepath.Glob(filepath.Join(other, "ce-*.json")); len(files) != 1 {
		t.Errorf("-cache %s holds %v", other, files)
	}
}

func TestLandscapeAtlasErrors(t *testing.T) {
	runs(t)
	out := filepath.Join(t.TempDir(), "x")
	cases := []struct {
		edit []string
		want string
	}{
		{[]string{"-objectives", "ce,cee"}, `unknown objective "cee" (did you mean "ce"?)`},
		{[]string{"-objectives", "infonce"}, "kind retrieval"},
		{[]string{"-objectives", "gce:q=2"}, "q=2 is out of range"},
		{[]string{"-objectives", "gce:q"}, `-objectives "gce:q"`},
		{[]string{"-objectives", "ce,ce"}, "listed twice"},
		{[]string{"-objectives", ","}, "names no objective"},
		{[]string{"-runs", "2"}, "-runs 2, need ≥ 3"},
		{[]string{"-model", "mlp-8"}, "-model mlp-8 predicts 8 classes but fashion-mnist has 10"},
		{[]string{"-model", "resnet"}, "cannot rebuild model"},
		{[]string{"-epochs", "2"}, "not both"},
		{[]string{"-steps", "0"}, "-steps 0 needs -epochs"},
		{[]string{"-lr", "0"}, "-lr 0 must be > 0"},
		{[]string{"-alpha", "2"}, "Alpha (2)"},
		{[]string{"-data", "mnist"}, `unknown -data "mnist"`},
		{[]string{"-picture", "gif"}, `unknown -picture format "gif"`},
		{[]string{"-speed", "2"}, "flag provided but not defined: -speed"},
		{[]string{"extra"}, "takes no positional arguments"},
	}
	for _, c := range cases {
		_, err := runCmd(t, "", append(tinyAtlas(out, "ce"), c.edit...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want it to contain %q", c.edit, err, c.want)
		}
	}
	if _, err := runCmd(t, "", "landscape", "atlas", "-objectives", "ce"); err == nil || !strings.Contains(err.Error(), "needs -o OUT") {
		t.Errorf("no -o: %v", err)
	}
	if _, err := os.Stat(out + ".json"); err == nil {
		t.Errorf("a failed atlas wrote %s.json", out)
	}

	// -h lists the flags with their defaults and runs nothing.
	stdout, err := runCmd(t, "", "landscape", "atlas", "-h")
	if err != nil || !strings.Contains(stdout, "-objectives string") || !strings.Contains(stdout, `(default "all")`) ||
		!strings.Contains(stdout, "(default 3)") || !strings.Contains(stdout, "OUT.cache") {
		t.Errorf("-h: %v\n%s", err, stdout)
	}
}
