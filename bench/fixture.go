package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/landscape"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// The fixture is what both sides of the MLP landscape workloads read, so that they evaluate the same
// points on the same data and their results can be compared:
//
//	manifest.json   parameter names and shapes, in the order of the .bin files
//	a.bin, b.bin    two MLPs 784-256-256-10 trained from one initialisation with two data orders
//	u.bin, v.bin    the grid's plane directions around a (filter-normalised random directions)
//	test_x.bin      the 10,000 standardised test images (float32), test_y.bin their labels (int32)
//
// All little-endian. Parameters are LossLab's layout: dense_i/weights [in, out], dense_i/biases [out].

// manifest describes the fixture's parameter layout.
type manifest struct {
	Params []manifestParam `json:"params"`
	// Steps each MLP was trained for, and the test loss/accuracy LossLab measured for a.
	Steps    int     `json:"steps"`
	TestLoss float64 `json:"test_loss_a"`
	TestAcc  float64 `json:"test_acc_a"`
}

type manifestParam struct {
	Scope string `json:"scope"`
	Var   string `json:"var"`
	Shape []int  `json:"shape"`
}

// paramSet builds the fixture's parameter set with the values in flat (manifest order).
func (m *manifest) paramSet(flat []float32) (*landscape.ParamSet, error) {
	ps := &landscape.ParamSet{}
	off := 0
	for _, p := range m.Params {
		n := 1
		for _, d := range p.Shape {
			n *= d
		}
		if off+n > len(flat) {
			return nil, fmt.Errorf("fixture: %d values, fewer than the manifest's parameters need", len(flat))
		}
		vals := make([]float64, n)
		for i, x := range flat[off : off+n] {
			vals[i] = float64(x)
		}
		off += n
		ps.Params = append(ps.Params, &landscape.Param{Scope: p.Scope, Var: p.Var, Group: p.Scope, Shape: p.Shape,
			DType: dtypes.Float32, Data: vals})
	}
	if off != len(flat) {
		return nil, fmt.Errorf("fixture: %d values, the manifest's parameters hold %d", len(flat), off)
	}
	return ps, nil
}

// makeFixture trains the two MLPs and writes the fixture into dir, unless dir already holds one.
func makeFixture(dir string, steps int, log func(string, ...any)) error {
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	start := time.Now()
	trainSet, err := data.FashionMNIST("train")
	if err != nil {
		return err
	}
	test, err := data.FashionMNIST("test")
	if err != nil {
		return err
	}
	log("fixture: training two MLPs 784-256-256-10 for %d steps each (Adam 1e-3, batch 256, one init, two data orders)", steps)
	ra, rb, err := train.RunPair(train.Config{Model: models.NewMLP(10, 256, 256), Train: trainSet, Test: test,
		Optimizer: train.Adam(1e-3), BatchSize: 256, Steps: steps, Seed: 1, Silent: true}, 11, 12)
	if err != nil {
		return err
	}
	a, err := landscape.FromContext(ra.Context, nil)
	if err != nil {
		return err
	}
	b, err := landscape.FromContext(rb.Context, nil)
	if err != nil {
		return err
	}
	pl, err := landscape.RandomPlane(a, 3, landscape.DirectionOptions{})
	if err != nil {
		return err
	}
	m := manifest{Steps: steps}
	if e, ok := ra.Final(); ok {
		m.TestLoss, m.TestAcc = e.Loss, e.Accuracy
	}
	for _, p := range a.Params {
		m.Params = append(m.Params, manifestParam{Scope: p.Scope, Var: p.Var, Shape: p.Shape})
	}
	for name, ps := range map[string]*landscape.ParamSet{"a": a, "b": b, "u": pl.U, "v": pl.V} {
		flat := ps.Flat()
		v := make([]float32, len(flat))
		for i, x := range flat {
			v[i] = float32(x)
		}
		if err := writeLE(filepath.Join(dir, name+".bin"), v); err != nil {
			return err
		}
	}
	if err := writeLE(filepath.Join(dir, "test_x.bin"), test.X); err != nil {
		return err
	}
	if err := writeLE(filepath.Join(dir, "test_y.bin"), test.Y); err != nil {
		return err
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	// The manifest goes last: its presence marks a complete fixture.
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), mb, 0o644); err != nil {
		return err
	}
	log("fixture: written to %s in %.0f s (test accuracy of a: %.3f)", dir, time.Since(start).Seconds(), m.TestAcc)
	return nil
}

func writeLE[T float32 | int32](path string, v []T) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := binary.Write(f, binary.LittleEndian, v); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readFloat32s(path string) ([]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("%s: %d bytes is not a whole number of float32 values", path, len(b))
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}
