package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// damageFixture is a small saved checkpoint: its context, its folder and the names of its two JSON
// files (GoMLX's index and LossLab's meta file).
type damageFixture struct {
	ctx         *context.Context
	dir         string
	index, meta string
}

// newDamageFixture saves a hand-built context (trainable weights and biases, a frozen step counter
// and a frozen moving mean) under dir, as a checkpoint of step 3. legacy removes the checksums, as
// LossLab wrote the meta file before they existed.
func newDamageFixture(tb testing.TB, dir string, legacy bool) damageFixture {
	tb.Helper()
	ctx := context.New()
	ctx.In("dense_0").VariableWithValue("weights", [][]float32{{1, 2, 3}, {4, 5, 6}})
	ctx.In("dense_0").VariableWithValue("biases", []float32{0.5, -0.5, 0})
	ctx.In("bn").VariableWithValue("moving_mean", []float64{0.25, 0.75}).SetTrainable(false)
	ctx.VariableWithValue("steps", int64(3)).SetTrainable(false)
	path, err := SaveCheckpoint(dir, ctx, 3, "mlp-3-2")
	if err != nil {
		tb.Fatal(err)
	}
	fx := damageFixture{ctx: ctx, dir: path, meta: MetaFile}
	entries, _ := os.ReadDir(path)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") && e.Name() != MetaFile {
			fx.index = e.Name()
		}
	}
	// The control: the undamaged checkpoint loads to exactly ctx.
	if got, err := LoadCheckpoint(path); err != nil {
		tb.Fatalf("the undamaged checkpoint: %v", err)
	} else if d := sameContext(ctx, got); d != "" {
		tb.Fatalf("the undamaged checkpoint: %s", d)
	}
	if legacy {
		var meta map[string]any
		b, _ := os.ReadFile(filepath.Join(path, MetaFile))
		if err := json.Unmarshal(b, &meta); err != nil {
			tb.Fatal(err)
		}
		delete(meta, "files")
		delete(meta, "sum")
		b, _ = json.MarshalIndent(meta, "", "  ")
		if err := os.WriteFile(filepath.Join(path, MetaFile), b, 0o644); err != nil {
			tb.Fatal(err)
		}
		if _, err := LoadCheckpoint(path); err != nil {
			tb.Fatalf("the undamaged legacy checkpoint: %v", err)
		}
	}
	return fx
}

// copyTo copies the checkpoint into a new folder of the same step name under dir, with file name
// replaced by contents where contents is not nil.
func (fx damageFixture) copyTo(tb testing.TB, dir string, replace map[string][]byte) string {
	tb.Helper()
	dst := filepath.Join(dir, filepath.Base(fx.dir))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		tb.Fatal(err)
	}
	entries, _ := os.ReadDir(fx.dir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(fx.dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		if r, ok := replace[e.Name()]; ok {
			b = r
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dst
}

func (fx damageFixture) read(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(fx.dir, name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// sameContext returns "" if got holds exactly want's variables (names, dtypes, shapes, bytes and
// trainable flags), else the first difference.
func sameContext(want, got *context.Context) string {
	n := 0
	for v := range want.IterVariables() {
		w := got.GetVariableByScopeAndName(v.Scope(), v.Name())
		if w == nil {
			return "variable " + v.ScopeAndName() + " missing"
		}
		if w.Trainable != v.Trainable {
			return "variable " + v.ScopeAndName() + " changed its trainable flag"
		}
		a, b := v.MustValue(), w.MustValue()
		if !a.Shape().Equal(b.Shape()) || !slices.Equal(tensorBytes(a), tensorBytes(b)) {
			return fmt.Sprintf("variable %s: %s, want %s (or other values)", v.ScopeAndName(), b.Shape(), a.Shape())
		}
		n++
	}
	for range got.IterVariables() {
		n--
	}
	if n != 0 {
		return "extra variables"
	}
	return ""
}

func tensorBytes(t *tensors.Tensor) []byte {
	var out []byte
	_ = t.ConstBytes(func(b []byte) { out = slices.Clone(b) })
	return out
}

// loadChecked loads path into a fresh context and into a copy of live, turning a panic into an
// error that says so. It returns the error and, on success, the fresh context. A rejected load into
// live must leave it unchanged.
func loadChecked(tb testing.TB, path string, live *context.Context) (ctx *context.Context, err error) {
	tb.Helper()
	defer func() {
		if r := recover(); r != nil {
			ctx, err = nil, fmt.Errorf("PANIC: %v", r)
		}
	}()
	ctx, err = LoadCheckpoint(path)
	if live != nil {
		before := cloneContext(live)
		errInto := LoadCheckpointInto(live, path)
		if (errInto == nil) != (err == nil) {
			tb.Errorf("LoadCheckpoint error %v, but LoadCheckpointInto error %v", err, errInto)
		}
		if errInto != nil {
			if d := sameContext(before, live); d != "" {
				tb.Errorf("a rejected LoadCheckpointInto changed the context: %s", d)
			}
		}
	}
	return ctx, err
}

func cloneContext(ctx *context.Context) *context.Context {
	out := context.New().Checked(false)
	for v := range ctx.IterVariables() {
		c, err := v.MustValue().LocalClone()
		if err != nil {
			panic(err)
		}
		out.InAbsPath(v.Scope()).VariableWithValue(v.Name(), c).SetTrainable(v.Trainable)
	}
	return out
}

// TestCheckpointDamagedMetadata: the edits of issue 22 (one changed key in either JSON file, a
// variable listed twice, a wrong step, an edited model name) are errors naming the problem, never a
// panic and never a load that silently leaves the model's weights as they were.
func TestCheckpointDamagedMetadata(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		fx := newDamageFixture(t, t.TempDir(), legacy)
		index, meta := string(fx.read(t, fx.index)), string(fx.read(t, fx.meta))
		first := func(s, old, new string) string { return strings.Replace(s, old, new, 1) }
		cases := []struct {
			name, file, contents, want string
			legacyOnly                 bool // the edit leaves a legacy meta file as valid as before
		}{
			{"ParameterName misspelt", fx.index, first(index, `"ParameterName"`, `"ParameterNamd"`), "", false},
			{"DType misspelt", fx.index, first(index, `"DType"`, `"DTypf"`), "", false},
			{"unknown dtype", fx.index, first(index, `"Float32"`, `"Float33"`), "", false},
			{"huge shape", fx.index, first(index, "\n\t\t\t\t2,", "\n\t\t\t\t2000000000,"), "", false},
			{"trainable misspelt", fx.meta, first(meta, `"trainable"`, `"trainablf"`), "trainablf", false},
			{"frozen missing", fx.meta, first(meta, `"frozen"`, `"frozem"`), "frozem", false},
			{"variable listed twice", fx.meta, first(meta, `"/dense_0/weights",`, `"/dense_0/weights", "/dense_0/weights",`), "twice", false},
			{"variable moved to frozen", fx.meta, strings.Replace(first(meta, `"/dense_0/biases"`, `"/dense_0/biasez"`), `"frozen": [`, `"frozen": ["/dense_0/biases", `, 1), "", false},
			{"step edited", fx.meta, first(meta, `"step": 3`, `"step": 2`), "step", false},
			{"model edited", fx.meta, first(meta, `"mlp-3-2"`, `"mlp-3-3"`), "checksum", true},
		}
		for _, c := range cases {
			if c.legacyOnly && legacy {
				continue
			}
			t.Run(fmt.Sprintf("legacy=%v/%s", legacy, c.name), func(t *testing.T) {
				if c.contents == string(fx.read(t, c.file)) {
					t.Fatalf("the edit changed nothing in %s", c.file)
				}
				path := fx.copyTo(t, t.TempDir(), map[string][]byte{c.file: []byte(c.contents)})
				live := cloneContext(fx.ctx)
				for v := range live.IterVariables() {
					_ = v.SetValue(tensors.FromShape(v.Shape())) // Zeros: a load must change them all or none.
				}
				_, err := loadChecked(t, path, live)
				switch {
				case err == nil:
					t.Fatalf("loaded without an error")
				case strings.HasPrefix(err.Error(), "PANIC"):
					t.Fatal(err)
				case !strings.Contains(err.Error(), c.want):
					t.Fatalf("error %q does not mention %q", err, c.want)
				}
				t.Logf("%v", err)
			})
		}
	}
}

// TestCheckpointBitFlips flips one bit of every byte of each JSON file of a checkpoint: each load is an
// error or exactly the saved values, never a panic (GoMLX's loader panicked on 171 of 1,140 such flips
// and LossLab's meta file loaded nothing or the wrong step on 27).
func TestCheckpointBitFlips(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		fx := newDamageFixture(t, t.TempDir(), legacy)
		for _, file := range []string{fx.index, fx.meta} {
			orig := fx.read(t, file)
			bad, loaded := 0, 0
			for i := range orig {
				b := bytes.Clone(orig)
				b[i] ^= 1 << (i % 8)
				path := fx.copyTo(t, t.TempDir(), map[string][]byte{file: b})
				ctx, err := loadChecked(t, path, nil)
				if err != nil && strings.HasPrefix(err.Error(), "PANIC") {
					t.Errorf("%s, byte %d flipped: %v", file, i, err)
					bad++
				} else if err == nil {
					loaded++
					if d := sameContext(fx.ctx, ctx); d != "" {
						t.Errorf("%s, byte %d flipped (%q): loaded other values: %s", file, i, b[max(0, i-10):min(len(b), i+10)], d)
						bad++
					}
				}
				if bad > 10 {
					t.Fatal("too many failures")
				}
			}
			t.Logf("legacy=%v %s: %d flips, %d loaded the saved values, the others were errors", legacy, file, len(orig), loaded)
		}
	}
}

// FuzzCheckpointMetadata feeds arbitrary contents for the two JSON files of a checkpoint (LossLab's
// meta file and GoMLX's index) to LoadCheckpoint: never a panic, and with the checksums of today's
// meta files, an error or exactly the saved values. (A legacy meta file has no checksums to hold an
// edit against, so there the only promise is no panic.) Seeds: testdata/fuzz/FuzzCheckpointMetadata.
func FuzzCheckpointMetadata(f *testing.F) {
	fixtures := map[bool]damageFixture{}
	for _, legacy := range []bool{false, true} {
		fixtures[legacy] = newDamageFixture(f, filepath.Join(f.TempDir(), fmt.Sprint(legacy)), legacy)
		fx := fixtures[legacy]
		f.Add(legacy, fx.read(f, fx.meta), fx.read(f, fx.index))
	}
	f.Fuzz(func(t *testing.T, legacy bool, meta, index []byte) {
		fx := fixtures[legacy]
		path := fx.copyTo(t, t.TempDir(), map[string][]byte{fx.meta: meta, fx.index: index})
		ctx, err := loadChecked(t, path, nil)
		if err != nil {
			if strings.HasPrefix(err.Error(), "PANIC") {
				t.Fatal(err)
			}
			return
		}
		if !legacy {
			if d := sameContext(fx.ctx, ctx); d != "" {
				t.Fatalf("loaded other values than saved: %s", d)
			}
		}
	})
}
