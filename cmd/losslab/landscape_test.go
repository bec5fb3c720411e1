package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/landscape"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// The landscape tests run on a small fake Fashion-MNIST (learnable: each class lights its own rows of
// the image) and on tiny MLPs trained on it with lib/train, so they need neither the real data set nor
// minutes of training.

var fixture struct {
	once             sync.Once
	err              error
	dir              string
	runA, runB, runC string // mlp-8-10 from seeds 1 and 2 (steps 0, 10, 20); mlp-16-10 (step 1)
	// Checkpoints of other data: 2-D blobs of 10 classes, 784-D blobs of 3 classes.
	runBlobs2D, runBlobs3 string
	runLN                 string // mlp-8-10-gelu-layernorm (step 1)
}

func TestMain(m *testing.M) {
	stderr = io.Discard
	code := m.Run()
	if fixture.dir != "" {
		_ = os.RemoveAll(fixture.dir)
	}
	os.Exit(code)
}

// runs returns the fixture's run folders, training them at the first call.
func runs(t *testing.T) (a, b, c string) {
	t.Helper()
	fixture.once.Do(func() { fixture.err = makeFixture() })
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	return fixture.runA, fixture.runB, fixture.runC
}

func makeFixture() error {
	dir, err := os.MkdirTemp("", "losslab-cli-test-")
	if err != nil {
		return err
	}
	fixture.dir = dir
	fashion := filepath.Join(dir, "fashion")
	if err := writeFakeFashion(fashion); err != nil {
		return err
	}
	if err := os.Setenv(data.FashionMNISTEnv, fashion); err != nil {
		return err
	}
	set, err := data.FashionMNIST("train")
	if err != nil {
		return err
	}
	blobs2D, err := data.Blobs(data.BlobsConfig{N: 50, Classes: 10, Dim: 2})
	if err != nil {
		return err
	}
	blobs3, err := data.Blobs(data.BlobsConfig{N: 50, Classes: 3, Dim: 784})
	if err != nil {
		return err
	}
	fixture.runA, fixture.runB, fixture.runC = filepath.Join(dir, "run-a"), filepath.Join(dir, "run-b"), filepath.Join(dir, "run-c")
	fixture.runBlobs2D, fixture.runBlobs3 = filepath.Join(dir, "blobs-2d"), filepath.Join(dir, "blobs-3")
	fixture.runLN = filepath.Join(dir, "run-ln")
	for _, r := range []struct {
		model models.Model
		set   *data.Set
		seed  uint64
		dir   string
		steps []int
	}{
		{models.NewMLP(10, 8), set, 1, fixture.runA, []int{0, 10, 20}},
		{models.NewMLP(10, 8), set, 2, fixture.runB, []int{0, 10, 20}},
		{models.NewMLP(10, 16), set, 3, fixture.runC, []int{1}},
		{models.NewMLP(10, 8), blobs2D, 1, fixture.runBlobs2D, []int{1}},
		{models.NewMLP(3, 8), blobs3, 1, fixture.runBlobs3, []int{1}},
		{&models.MLP{Hidden: []int{8}, Classes: 10, Activation: "gelu", Norm: "layernorm"}, set, 1, fixture.runLN, []int{1}},
	} {
		_, err := train.Run(train.Config{Model: r.model, Train: r.set, Steps: r.steps[len(r.steps)-1], BatchSize: 50,
			Optimizer: train.Adam(0.01), Seed: r.seed, CheckpointDir: r.dir, CheckpointSteps: r.steps, Silent: true})
		if err != nil {
			return err
		}
	}
	return nil
}

// writeFakeFashion writes idx files of 400 training and 200 test images: class y lights rows 2y+3 and
// 2y+4, on top of noise.
func writeFakeFashion(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, split := range []struct {
		prefix string
		n      int
	}{{"train", 400}, {"t10k", 200}} {
		images := binary.BigEndian.AppendUint32(nil, 0x803)
		images = binary.BigEndian.AppendUint32(images, uint32(split.n))
		images = binary.BigEndian.AppendUint32(images, 28)
		images = binary.BigEndian.AppendUint32(images, 28)
		labels := binary.BigEndian.AppendUint32(nil, 0x801)
		labels = binary.BigEndian.AppendUint32(labels, uint32(split.n))
		for i := range split.n {
			y := i % 10
			for p := range 784 {
				v := (i*131 + p*71) % 97
				if row := p / 28; row == 2*y+3 || row == 2*y+4 {
					v += 150
				}
				images = append(images, byte(v))
			}
			labels = append(labels, byte(y))
		}
		if err := os.WriteFile(filepath.Join(dir, split.prefix+"-images-idx3-ubyte"), images, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, split.prefix+"-labels-idx1-ubyte"), labels, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// checkpointLoss evaluates a checkpoint with lib/train (not through the landscape engine) on n
// examples of a split, chosen as the command chooses them.
func checkpointLoss(t *testing.T, run string, step int, split string, n int) float64 {
	t.Helper()
	c, err := train.FindCheckpoint(run, step)
	if err != nil {
		t.Fatal(err)
	}
	m := models.NewMLP(10, 8)
	ctx, err := train.LoadCheckpointFor(m, c.Path)
	if err != nil {
		t.Fatal(err)
	}
	set, err := data.FashionMNIST(split, data.WithSubset(n))
	if err != nil {
		t.Fatal(err)
	}
	met, err := train.Evaluate(m, ctx, set)
	if err != nil {
		t.Fatal(err)
	}
	return met.Loss
}

// checkPictures checks that OUT.svg is an SVG and OUT.png a PNG.
func checkPictures(t *testing.T, out string) {
	t.Helper()
	svg, err := os.ReadFile(out + ".svg")
	if err != nil || !bytes.Contains(svg[:min(len(svg), 200)], []byte("<svg")) || !bytes.HasSuffix(bytes.TrimSpace(svg), []byte("</svg>")) {
		t.Errorf("%s.svg is not an SVG file (%v): %.100q", out, err, svg)
	}
	f, err := os.Open(out + ".png")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Errorf("%s.png: %v", out, err)
	} else if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 200 {
		t.Errorf("%s.png is only %v", out, b)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

func TestLandscapeInterpolate(t *testing.T) {
	runA, runB, _ := runs(t)
	out := filepath.Join(t.TempDir(), "sub", "ab")
	stdout, err := runCmd(t, "", "landscape", "interpolate", "-a", runA+"@10", "-b", runB, "-points", "5", "-n", "100", "-o", out+".json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "barrier B_lin") || !strings.Contains(stdout, out+".png") {
		t.Errorf("stdout:\n%s", stdout)
	}
	var res interpolateOutput
	readJSON(t, out+".json", &res)
	if len(res.Inputs) != 2 || res.Inputs[0].Step != 10 || res.Inputs[1].Step != 20 || res.Model != "mlp-8-10" ||
		res.Objective.Name != "ce" || len(res.Data) != 1 || res.Data[0].N != 100 || res.Data[0].Split != "test" ||
		res.Version == "" || res.Options["points"] != "5" || res.Alignment != nil || res.Repaired != nil {
		t.Errorf("provenance: %+v", res.provenance)
	}
	p := res.Path
	if len(p.Alpha) != 5 || len(p.Curves) != 1 || len(p.Curves[0].Loss) != 5 {
		t.Fatalf("path: %+v", p)
	}
	c := p.Curves[0]
	// The path's ends are the two checkpoints: their losses as lib/train evaluates them.
	if want := checkpointLoss(t, runA, 10, "test", 100); !near(c.Loss[0], want, 1e-5) {
		t.Errorf("loss at α=0 is %g, checkpoint A's loss %g", c.Loss[0], want)
	}
	if want := checkpointLoss(t, runB, 20, "test", 100); !near(c.Loss[4], want, 1e-5) {
		t.Errorf("loss at α=1 is %g, checkpoint B's loss %g", c.Loss[4], want)
	}
	// The barriers are those of the curve saved with them, and consistent with each other.
	b, err := landscape.Barriers(p.Alpha, c.Loss)
	if err != nil {
		t.Fatal(err)
	}
	if b.Linear != c.LossBarrier.Linear || b.Mean != c.LossBarrier.Mean || b.Midpoint != c.LossBarrier.Midpoint {
		t.Errorf("saved barriers %+v, recomputed %+v", c.LossBarrier, b)
	}
	if b.Linear < 0 || b.Linear < b.Midpoint || b.Mean < b.Midpoint {
		t.Errorf("barriers inconsistent: %+v", b)
	}
	checkPictures(t, out)

	// Weight matching keeps B's function; REPAIR leaves the ends of the path as they are; refinement adds
	// α values but the ends stay the ends.
	out2 := filepath.Join(t.TempDir(), "matched")
	stdout, err = runCmd(t, "", "landscape", "interpolate", "-a", runA+"@10", "-b", runB, "-points", "3", "-n", "100",
		"-match", "weight", "-repair", "-refine", "-stats", "100", "-picture", "svg", "-o", out2)
	if err != nil {
		t.Fatal(err)
	}
	var m interpolateOutput
	readJSON(t, out2+".json", &m)
	if m.Alignment == nil || m.Alignment.Method != "weight" || !(m.Alignment.MaxLogitChange < 1e-3) || m.Repaired == nil {
		t.Fatalf("matched: alignment %+v, repaired %v", m.Alignment, m.Repaired != nil)
	}
	mc, rc := m.Path.Curves[0], m.Repaired.Curves[0]
	ib := slices.Index(m.Path.Alpha, 1)
	if len(m.Path.Alpha) <= 3 || !near(mc.Loss[ib], c.Loss[4], 1e-4) || !near(mc.Loss[0], c.Loss[0], 1e-6) {
		t.Errorf("matched path α %v, ends %g, %g; plain ends %g, %g", m.Path.Alpha, mc.Loss[0], mc.Loss[ib], c.Loss[0], c.Loss[4])
	}
	if ends := fmt.Sprintf("loss %.4f (A) %.4f (B)", c.Loss[0], c.Loss[4]); strings.Count(stdout, ends) != 2 {
		t.Errorf("stdout does not give the ends (%s) of the matched and the repaired path:\n%s", ends, stdout)
	}
	if !near(rc.Loss[0], mc.Loss[0], 1e-4) || !near(rc.Loss[2], mc.Loss[ib], 1e-4) {
		t.Errorf("REPAIR moved the ends: %v, plain %v", rc.Loss, mc.Loss)
	}
	if _, err := os.Stat(out2 + ".png"); err == nil {
		t.Errorf("-picture svg wrote a PNG too")
	}

	// Both splits: one curve each, in the order given.
	out3 := filepath.Join(t.TempDir(), "splits")
	if _, err := runCmd(t, "", "landscape", "interpolate", "-a", runA+"@10", "-b", runB, "-points", "3", "-n", "100",
		"-split", "train,test", "-picture", "svg", "-o", out3); err != nil {
		t.Fatal(err)
	}
	var two interpolateOutput
	readJSON(t, out3+".json", &two)
	if len(two.Path.Curves) != 2 || two.Path.Curves[0].Data != "train" || two.Path.Curves[1].Data != "test" ||
		len(two.Data) != 2 || two.Data[0].Split != "train" {
		t.Fatalf("-split train,test: curves %d, data %+v", len(two.Path.Curves), two.Data)
	}
	if want := checkpointLoss(t, runA, 10, "train", 100); !near(two.Path.Curves[0].Loss[0], want, 1e-5) {
		t.Errorf("train loss at α=0 is %g, checkpoint A's %g", two.Path.Curves[0].Loss[0], want)
	}
	if !near(two.Path.Curves[1].Loss[0], c.Loss[0], 1e-6) {
		t.Errorf("test loss at α=0 is %g with two splits, %g with one", two.Path.Curves[1].Loss[0], c.Loss[0])
	}
}

func TestLandscapePlane(t *testing.T) {
	runA, runB, _ := runs(t)
	dir := t.TempDir()
	// Random filter-normalised plane: its centre is checkpoint A.
	out := filepath.Join(dir, "random")
	if _, err := runCmd(t, "", "landscape", "plane", "-a", runA, "-random", "-grid", "3", "-span", "0.5", "-n", "100", "-o", out); err != nil {
		t.Fatal(err)
	}
	var res planeOutput
	readJSON(t, out+".json", &res)
	g := res.Grid
	if g == nil || len(g.Loss) != 3 || len(g.Loss[1]) != 3 || !g.Complete || g.S[1] != 0 || g.T[1] != 0 || g.S[0] != -0.5 {
		t.Fatalf("grid: %+v", g)
	}
	if want := checkpointLoss(t, runA, 20, "test", 100); !near(g.Loss[1][1], want, 1e-5) {
		t.Errorf("loss at the plane's centre %g, checkpoint's loss %g", g.Loss[1][1], want)
	}
	if res.Kind != "random filter" || len(res.Inputs) != 1 || len(g.Provenance.Seeds) != 2 {
		t.Errorf("kind %q, inputs %+v, seeds %v", res.Kind, res.Inputs, g.Provenance.Seeds)
	}
	if _, err := os.Stat(out + ".partial.json"); err == nil {
		t.Errorf("a complete grid left %s.partial.json", out)
	}
	checkPictures(t, out)

	// -max-points stops early and keeps the points; the same command again finishes with the same values.
	part := filepath.Join(dir, "part")
	args := []string{"landscape", "plane", "-a", runA, "-random", "-grid", "3", "-span", "0.5", "-n", "100", "-picture", "png", "-o", part}
	stdout, err := runCmd(t, "", append(args, "-max-points", "4")...)
	if err != nil || !strings.Contains(stdout, "4 of 9 points computed") {
		t.Fatalf("-max-points 4: %v\n%s", err, stdout)
	}
	if _, err := os.Stat(part + ".partial.json"); err != nil {
		t.Fatalf("no partial grid kept: %v", err)
	}
	var first planeOutput
	readJSON(t, part+".json", &first)
	if first.Grid.Complete {
		t.Errorf("the grid stopped at 4 points says it is complete")
	}
	var progress bytes.Buffer
	stderr = &progress
	_, err = runCmd(t, "", args...)
	stderr = io.Discard
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "went on from the 4 points of "+part+".partial.json") {
		t.Errorf("the second run did not go on from the first's points; its progress:\n%s", progress.String())
	}
	var resumed planeOutput
	readJSON(t, part+".json", &resumed)
	if !resumed.Grid.Complete || !slices.EqualFunc(resumed.Grid.Loss, g.Loss, func(a, b []float64) bool { return slices.Equal(a, b) }) {
		t.Errorf("resumed grid %v (complete %v), fresh grid %v", resumed.Grid.Loss, resumed.Grid.Complete, g.Loss)
	}
	if _, err := os.Stat(part + ".partial.json"); err == nil {
		t.Errorf("the completed grid left %s.partial.json", part)
	}

	// Three checkpoints: the marks are where the plane was built from, inside the grid.
	out = filepath.Join(dir, "three")
	if _, err := runCmd(t, "", "landscape", "plane", "-a", runA, "-b", runB, "-c", runA+"@0", "-grid", "3", "-n", "50", "-picture", "png", "-o", out); err != nil {
		t.Fatal(err)
	}
	res = planeOutput{}
	readJSON(t, out+".json", &res)
	if len(res.Marks) != 3 || res.Marks[1].S <= 0 || len(res.Inputs) != 3 || res.Inputs[2].Step != 0 {
		t.Fatalf("three-point plane: marks %+v, inputs %+v", res.Marks, res.Inputs)
	}
	for _, mk := range res.Marks {
		if mk.S < res.Grid.Spec.SMin || mk.S > res.Grid.Spec.SMax || mk.T < res.Grid.Spec.TMin || mk.T > res.Grid.Spec.TMax {
			t.Errorf("mark %+v outside the grid %+v", mk, res.Grid.Spec)
		}
	}

	// PCA of a run: one mark per checkpoint, two variance ratios.
	out = filepath.Join(dir, "pca")
	if _, err := runCmd(t, "", "landscape", "plane", "-pca", runA, "-grid", "3", "-n", "50", "-picture", "png,html", "-o", out); err != nil {
		t.Fatal(err)
	}
	if page, err := os.ReadFile(out + ".html"); err != nil || !bytes.HasPrefix(page, []byte("<!DOCTYPE html>")) {
		t.Errorf("%s.html: %v, %.100q", out, err, page)
	}
	res = planeOutput{}
	readJSON(t, out+".json", &res)
	if len(res.Marks) != 3 || len(res.ExplainedVariance) != 2 || len(res.Inputs) != 3 || res.Inputs[2].Step != 20 {
		t.Errorf("PCA plane: marks %+v, variance %v, inputs %+v", res.Marks, res.ExplainedVariance, res.Inputs)
	}
}

func TestLandscapeCurvature(t *testing.T) {
	runA, _, _ := runs(t)
	out := filepath.Join(t.TempDir(), "curv")
	stdout, err := runCmd(t, "", "landscape", "curvature", "-a", runA, "-top", "2", "-trace", "3", "-n", "100", "-o", out)
	if err != nil {
		t.Fatal(err)
	}
	var res curvatureOutput
	readJSON(t, out+".json", &res)
	if len(res.TopEigenvalues) != 2 || !(res.TopEigenvalues[0] >= res.TopEigenvalues[1]) || !(res.TopEigenvalues[0] > 0) ||
		res.Trace == nil || math.IsNaN(*res.Trace) || res.Density != nil || res.LanczosSteps != 16 || res.Params != 784*8+8+8*10+10 {
		t.Errorf("curvature: %+v\n%s", res, stdout)
	}
	if want := checkpointLoss(t, runA, 20, "train", 100); !near(res.Loss, want, 1e-5) {
		t.Errorf("loss %g, checkpoint's loss %g", res.Loss, want)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "ReLU") {
		t.Errorf("a ReLU network's spectrum carries no warning: %q", res.Notes)
	}
	checkPictures(t, out)

	// A smooth network's spectrum needs no warning.
	smooth := filepath.Join(t.TempDir(), "smooth")
	if _, err := runCmd(t, "", "landscape", "curvature", "-a", fixture.runLN, "-top", "1", "-trace", "0", "-n", "50", "-picture", "svg", "-o", smooth); err != nil {
		t.Fatal(err)
	}
	var sres curvatureOutput
	readJSON(t, smooth+".json", &sres)
	if len(sres.Notes) != 0 || sres.Model != "mlp-8-10-gelu-layernorm" {
		t.Errorf("gelu network: model %s, notes %q", sres.Model, sres.Notes)
	}

	// The density: its Ritz values lie below the largest eigenvalue Lanczos found with more steps.
	out = filepath.Join(t.TempDir(), "density")
	if _, err := runCmd(t, "", "landscape", "curvature", "-a", runA, "-top", "1", "-steps", "30", "-trace", "0", "-density",
		"-vectors", "1", "-slq-steps", "8", "-n", "100", "-o", out); err != nil {
		t.Fatal(err)
	}
	res = curvatureOutput{}
	readJSON(t, out+".json", &res)
	if res.Density == nil || len(res.Density.Nodes) != 1 || res.Trace != nil {
		t.Fatalf("density: %+v", res)
	}
	if _, hi := res.Density.Range(); hi > res.TopEigenvalues[0]*(1+1e-3) {
		t.Errorf("density reaches %g, above the top eigenvalue %g", hi, res.TopEigenvalues[0])
	}
	checkPictures(t, out)
}

func TestLandscapeErrors(t *testing.T) {
	runA, runB, runC := runs(t)
	out := filepath.Join(t.TempDir(), "x")
	empty := t.TempDir()
	damaged := filepath.Join(t.TempDir(), "step-00000003")
	if err := os.MkdirAll(damaged, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(damaged, train.MetaFile), []byte(`{"step": 3, "model": "mlp-8-10"`), 0o644); err != nil {
		t.Fatal(err)
	}
	stepA, err := train.FindCheckpoint(runA, 20)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"interpolate", "-a", runA, "-b", runB}, "needs -o OUT"},
		{[]string{"interpolate", "-a", runA, "-o", out}, "needs two checkpoints"},
		{[]string{"interpolate", "-a", runA, "-b", runB + "-nope", "-o", out}, "no such folder " + runB + "-nope"},
		{[]string{"interpolate", "-a", runA, "-b", empty, "-o", out}, "holds no LossLab checkpoint"},
		{[]string{"interpolate", "-a", runA + "@7", "-b", runB, "-o", out}, "no checkpoint of step 7"},
		{[]string{"interpolate", "-a", runA + "@x", "-b", runB, "-o", out}, "must be a step number"},
		{[]string{"interpolate", "-a", filepath.Join(stepA.Path, train.MetaFile), "-b", runB, "-o", out}, "losslab.json is a file; give its run folder or step folder"},
		{[]string{"interpolate", "-a", stepA.Path, "-b", damaged, "-o", out}, damaged + "/losslab.json is damaged"},
		{[]string{"interpolate", "-a", runA, "-b", runC, "-o", out}, "holds mlp-8-10 but " + runC},
		{[]string{"interpolate", "-a", runA, "-b", runB, "-model", "mlp-4-10", "-o", out}, "holds model mlp-8-10, not mlp-4-10"},
		{[]string{"interpolate", "-a", runA, "-b", runB, "-objective", "cee", "-o", out}, `unknown objective "cee" (did you mean "ce"?)`},
		{[]string{"interpolate", "-a", runA, "-b", runB, "-match", "perm", "-o", out}, `unknown -match "perm"`},
		{[]string{"interpolate", "-a", runA, "-b", runB, "-data", "mnist", "-o", out}, `unknown -data "mnist" (datasets: fashion-mnist)`},
		{[]string{"interpolate", "-a", runA, "-b", runB, "-picture", "gif", "-o", out}, `unknown -picture format "gif"`},
		{[]string{"interpolate", "-a", runA, "-b", runB, "-points", "1", "-o", out}, "-points 1"},
		{[]string{"interpolate", "-a", runA, "-b", runB, "-stats", "0", "-o", out}, "-stats 0 and -ste-steps 20 must be ≥ 1"},
		{[]string{"interpolate", runA, runB, "-o", out}, "takes no positional arguments"},
		{[]string{"plane", "-a", runA, "-o", out}, "needs one kind of plane"},
		{[]string{"plane", "-a", runA, "-b", runB, "-o", out}, "needs both -b and -c"},
		{[]string{"plane", "-a", runA, "-random", "-pca", runA, "-o", out}, "needs one kind of plane"},
		{[]string{"plane", "-random", "-o", out}, "needs the origin checkpoint -a"},
		{[]string{"plane", "-pca", runC, "-o", out}, "holds 1 checkpoints; a PCA plane needs at least 2"},
		{[]string{"plane", "-a", runA, "-b", runB, "-c", runC, "-o", out}, "holds mlp-8-10 but " + runC},
		{[]string{"interpolate", "-a", fixture.runBlobs2D, "-b", fixture.runBlobs2D, "-o", out}, "whose first layer takes 2 inputs, but fashion-mnist examples have 784 values"},
		{[]string{"plane", "-a", fixture.runBlobs3, "-random", "-o", out}, "holds mlp-8-3, a model of 3 classes, but fashion-mnist has 10 classes"},
		{[]string{"curvature", "-a", fixture.runBlobs3, "-o", out}, "a model of 3 classes"},
		{[]string{"interpolate", "-a", fixture.runLN, "-b", fixture.runLN, "-repair", "-o", out}, "whose LayerNorm after each hidden layer would undo REPAIR"},
		{[]string{"curvature", "-o", out}, "needs the checkpoint -a"},
		{[]string{"plane", "-a", runA, "-random", "-split", "train,test", "-o", out}, `takes one -split, got "train,test"`},
		{[]string{"interpolate", "-a", runA, "-b", runB, "-split", "train,val", "-o", out}, `-split "val"`},
		{[]string{"curvature", "-a", runA, "-top", "0", "-o", out}, "must be ≥ 1"},
		{[]string{"curvature", "-a", runA, "-split", "val", "-o", out}, `-split "val"`},
		{[]string{"atlases"}, "unknown verb"},
	}
	for _, c := range cases {
		_, err := runCmd(t, "", append([]string{"landscape"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want it to contain %q", c.args, err, c.want)
		}
	}
	if _, err := os.Stat(out + ".json"); err == nil {
		t.Errorf("a failed command wrote %s.json", out)
	}
}

func TestModelFromName(t *testing.T) {
	for _, name := range []string{"linear-10", "mlp-10", "mlp-64-64-10", "mlp-64-2-tanh", "mlp-32-10-gelu-layernorm",
		"mlp-32-10-batchnorm", "cnn-16-32-64-10", "cnn-8-32-10"} {
		m, err := modelFromName(name)
		if err != nil || m.Name() != name {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, name := range []string{"", "mlp", "mlp-x-10", "mlp-64-10-swish", "mlp-64-10-relu", "cnn-10", "transformer-2-64-10",
		"linear-10-2", "mlp-64-10-layernorm-tanh"} {
		if _, err := modelFromName(name); err == nil {
			t.Errorf("%q rebuilt as a model", name)
		}
	}
}
