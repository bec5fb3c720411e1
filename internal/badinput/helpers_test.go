package badinput

import (
	"fmt"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// call runs f and turns a panic into a test failure that names the entry point, so that every case
// checks "an error, not a Go stack trace" the same way.
func call(t *testing.T, what string, f func() error) (err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s panicked instead of returning an error: %v\n%s", what, r, debug.Stack())
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}

// wantErr fails unless err is non-nil and mentions every one of subs.
func wantErr(t *testing.T, what string, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%s: error %q does not mention %q", what, err, s)
		}
	}
}

// blobs is a small 3-class, 8-feature task.
func blobs(t *testing.T, n int, seed uint64) *data.Set {
	t.Helper()
	s, err := data.Blobs(data.BlobsConfig{N: n, Classes: 3, Dim: 8, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mustBlobs is blobs for code without a *testing.T (the full-disk child's saves).
func mustBlobs(n int, seed uint64) *data.Set {
	s, err := data.Blobs(data.BlobsConfig{N: n, Classes: 3, Dim: 8, Seed: seed})
	if err != nil {
		panic(err)
	}
	return s
}

// trained trains m for a few steps and returns its context.
func trained(t *testing.T, m models.Model, set *data.Set) *context.Context {
	t.Helper()
	return trainedSeed(t, m, set, 1)
}

// trainedSeed is trained with another initialisation seed.
func trainedSeed(t *testing.T, m models.Model, set *data.Set, seed uint64) *context.Context {
	t.Helper()
	res, err := train.Run(train.Config{Model: m, Train: set, Steps: 3, BatchSize: 16, Seed: seed, Silent: true})
	if err != nil {
		t.Fatal(err)
	}
	return res.Context
}
