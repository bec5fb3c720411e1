package badinput

import (
	"math"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/landscape"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// TestNaNInEvaluation: a NaN in the data or an Inf in the parameters never turns into a finite,
// plausible-looking evaluation, and never panics: lib/train's Evaluate, lib/landscape's evaluator and
// training itself return an error naming the NaN.
func TestNaNInEvaluation(t *testing.T) {
	set := blobs(t, 96, 1)
	m := models.NewMLP(3, 16)
	ctx := trained(t, m, set)
	check := func(what string, got train.Metrics, err error) {
		t.Helper()
		switch {
		case err != nil:
			wantErr(t, what, err, "NaN")
		default:
			t.Errorf("%s: no error (loss %v)", what, got.Loss)
		}
	}

	bad := set.Clone()
	bad.X[5*8+2] = float32(math.NaN())
	var got train.Metrics
	err := call(t, "train.Evaluate", func() error { var err error; got, err = train.Evaluate(m, ctx, bad); return err })
	check("train.Evaluate on data with a NaN feature", got, err)

	// During training, a test set with a NaN: the evaluations say NaN.
	res, err := train.Run(train.Config{Model: m, Train: set, Test: bad, Steps: 2, EvalEvery: 1, Silent: true})
	if err == nil {
		final, ok := res.Final()
		if !ok {
			t.Fatal("no evaluation recorded")
		}
		check("train.Run's evaluation of a test set with a NaN", train.Metrics{Loss: final.Loss, Accuracy: final.Accuracy}, nil)
	} else {
		wantErr(t, "train.Run with a NaN in the test set", err, "NaN")
	}

	flat, err := train.Flat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range flat {
		flat[i] = float32(math.Inf(1))
	}
	if err := train.SetFlat(ctx, flat); err != nil {
		t.Fatal(err)
	}
	err = call(t, "train.Evaluate", func() error { var err error; got, err = train.Evaluate(m, ctx, set); return err })
	check("train.Evaluate with Inf parameters", got, err)

	// lib/landscape's evaluator names the NaN parameter.
	ps, err := landscape.FromContext(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = call(t, "landscape.Evaluator.Loss", func() error {
		ev, err := landscape.NewEvaluator(landscape.FromModel(m), ps, landscape.Config{})
		if err != nil {
			return err
		}
		_, err = ev.Loss(ps, landscape.FromSet(set))
		return err
	})
	if err == nil || !(strings.Contains(err.Error(), "NaN") || strings.Contains(err.Error(), "Inf")) {
		t.Errorf("landscape loss at Inf parameters: %v, want an error naming the non-finite value", err)
	}
}

// TestEmptyDataset: every entry point that reads a data set rejects an empty one with a message.
func TestEmptyDataset(t *testing.T) {
	set := blobs(t, 96, 1)
	m := models.NewMLP(3, 16)
	ctx := trained(t, m, set)
	empty := set.Subset(nil)
	if empty.Len() != 0 {
		t.Fatalf("Subset(nil) has %d examples", empty.Len())
	}
	err := call(t, "train.Evaluate", func() error { _, err := train.Evaluate(m, ctx, empty); return err })
	wantErr(t, "train.Evaluate on an empty set", err, "empty")
	err = call(t, "train.Run", func() error {
		_, err := train.Run(train.Config{Model: m, Train: empty, Steps: 1, Silent: true})
		return err
	})
	wantErr(t, "train.Run on an empty set", err, "empty")
	err = call(t, "train.Run with an empty test set", func() error {
		_, err := train.Run(train.Config{Model: m, Train: set, Test: empty, Steps: 1, Silent: true})
		return err
	})
	wantErr(t, "train.Run with an empty test set", err, "empty")
	ps, err := landscape.FromContext(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = call(t, "landscape.Evaluator.Loss", func() error {
		ev, err := landscape.NewEvaluator(landscape.FromModel(m), ps, landscape.Config{})
		if err != nil {
			return err
		}
		_, err = ev.Loss(ps, landscape.FromSet(empty))
		return err
	})
	wantErr(t, "landscape loss on an empty set", err, "empty")
	err = call(t, "data.Blobs", func() error { _, err := data.Blobs(data.BlobsConfig{N: 0}); return err })
	wantErr(t, "data.Blobs with N=0", err, "N > 0")
}

// TestWrongShapes: data of another width, inconsistent sets, and flat vectors of the wrong length are
// errors naming the sizes.
func TestWrongShapes(t *testing.T) {
	set := blobs(t, 96, 1)
	m := models.NewMLP(3, 16)
	ctx := trained(t, m, set)

	narrow, err := data.Blobs(data.BlobsConfig{N: 30, Classes: 3, Dim: 5, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	err = call(t, "train.Evaluate", func() error { _, err := train.Evaluate(m, ctx, narrow); return err })
	wantErr(t, "train.Evaluate of an 8-feature model on 5-feature data", err, "dense_0")

	broken := set.Clone()
	broken.X = broken.X[:len(broken.X)-3]
	err = call(t, "train.Evaluate", func() error { _, err := train.Evaluate(m, ctx, broken); return err })
	if err == nil {
		t.Error("train.Evaluate accepted a set whose X is 3 values short")
	}
	labels := set.Clone()
	labels.Y[0] = 7 // 3 classes
	err = call(t, "train.Evaluate", func() error { _, err := train.Evaluate(m, ctx, labels); return err })
	wantErr(t, "train.Evaluate with a label out of range", err, "7")

	flat, _ := train.Flat(ctx)
	err = call(t, "train.SetFlat", func() error { return train.SetFlat(ctx, flat[1:]) })
	wantErr(t, "train.SetFlat with one value short", err, "values")
	ps, err := landscape.FromContext(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = call(t, "ParamSet.FromFlat", func() error { _, err := ps.FromFlat(make([]float64, 3)); return err })
	if err == nil {
		t.Error("landscape ParamSet.FromFlat accepted 3 values")
	}
}
