package nb

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// memoEnv gives the test its own state folder, in full mode, without LOSSLAB_RECOMPUTE.
func memoEnv(t *testing.T) {
	t.Helper()
	t.Setenv("TMPDIR", t.TempDir())
	t.Setenv(QuickEnv, "")
	t.Setenv(RecomputeEnv, "")
}

// counted returns f, which returns v, and the number of times it ran.
func counted[T any](v T) (func() (T, error), *int) {
	n := new(int)
	return func() (T, error) { *n++; return v, nil }, n
}

type memoCfg struct {
	Epochs int
	LR     float64
	Widths []int
}

func TestMemoKey(t *testing.T) {
	memoEnv(t)
	cfg := memoCfg{3, 0.1, []int{8, 16}}
	f, calls := counted(42)
	get := func(name string, c any) int {
		t.Helper()
		v, err := Memo(name, c, f)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	get("01-x/runs", cfg)
	get("01-x/runs", memoCfg{3, 0.1, []int{8, 16}})
	if *calls != 1 {
		t.Fatalf("same key: f ran %d times, want once (the second call must load)", *calls)
	}
	// A map and a struct with the same settings in another order are the same config.
	get("01-x/m", map[string]any{"a": 1, "b": 2})
	get("01-x/m", map[string]any{"b": 2, "a": 1})
	if *calls != 2 {
		t.Fatalf("a map config in another order recomputed: %d calls, want 2", *calls)
	}
	*calls = 0
	for _, c := range []struct {
		name string
		cfg  any
	}{
		{"01-x/runs", memoCfg{4, 0.1, []int{8, 16}}},
		{"01-x/runs", memoCfg{3, 0.2, []int{8, 16}}},
		{"01-x/runs", memoCfg{3, 0.1, []int{8, 32}}},
		{"01-x/other", cfg},
		{"02-y/runs", cfg},
	} {
		get(c.name, c.cfg)
	}
	if *calls != 5 {
		t.Errorf("5 changed keys ran f %d times, want 5", *calls)
	}
	t.Setenv(QuickEnv, "1")
	get("01-x/runs", cfg)
	if *calls != 6 {
		t.Errorf("quick mode loaded the full-size value")
	}
	t.Setenv(QuickEnv, "")
	t.Setenv(RecomputeEnv, "1")
	get("01-x/runs", cfg)
	if *calls != 7 {
		t.Errorf("%s=1 did not recompute", RecomputeEnv)
	}
	// A changed result type (a field added) is a different key, never filled from the old file.
	type v1 struct{ A float64 }
	type v2 struct{ A, B float64 }
	t.Setenv(RecomputeEnv, "")
	f1, n1 := counted(v1{1})
	f2, n2 := counted(v2{1, 2})
	_, _ = Memo("01-x/typed", cfg, f1)
	_, _ = Memo("01-x/typed", cfg, f1)
	for range 2 {
		if v, _ := Memo("01-x/typed", cfg, f2); v.B != 2 {
			t.Errorf("v2 read as %+v", v)
		}
	}
	if *n1 != 1 || *n2 != 1 {
		t.Errorf("changed types: f1 ran %d, f2 %d times, want once each", *n1, *n2)
	}
	// The new version's file replaced the old one; files of other configurations stay.
	if typed, _ := filepath.Glob(filepath.Join(StateDir("01-x"), "memo-typed-*.json")); len(typed) != 1 {
		t.Errorf("files of the typed value: %v, want only the newest version", typed)
	}
	if runs, _ := filepath.Glob(filepath.Join(StateDir("01-x"), "memo-runs-*.json")); len(runs) != 4 {
		t.Errorf("%d files of the runs value, want 4 (its four configurations)", len(runs))
	}
}

func TestMemoErrors(t *testing.T) {
	memoEnv(t)
	boom := errors.New("boom")
	if _, err := Memo("01-x/e", 1, func() (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Errorf("f's error: got %v", err)
	}
	f, calls := counted(1)
	if _, err := Memo("01-x/e", 1, f); err != nil || *calls != 1 {
		t.Errorf("after a failed f, the next call must compute: %v, %d calls", err, *calls)
	}
	for _, name := range []string{"runs", "/runs", "01-x/", "01-x/a/b", "01-x/.."} {
		if _, err := Memo(name, 1, f); err == nil || !strings.Contains(err.Error(), "notebook/value") {
			t.Errorf("name %q: %v, want an error about the name", name, err)
		}
	}
	if _, err := Memo("01-x/c", func() {}, f); err == nil || !strings.Contains(err.Error(), "config") {
		t.Errorf("a config that cannot be encoded: %v", err)
	}
	_, err := Memo("01-x/ch", 1, func() (chan int, error) { return make(chan int), nil })
	if err == nil || !strings.Contains(err.Error(), "cannot be stored") {
		t.Errorf("a value that cannot be stored: %v", err)
	}
	var v int
	if err := Recall("01-x/never", 1, &v); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "run the cell") {
		t.Errorf("Recall of nothing: %v", err)
	}
	if err := Recall("01-x/e", 1, v); err == nil {
		t.Errorf("Recall into a non-pointer: no error")
	}
}

type nanRecord struct {
	Name   string
	X      float64
	Y      float32
	Xs     []float64
	Ys     []float32 `json:"ys"`
	Named  []loss
	Grid   [2][]float64
	ByName map[string]float64
	Ptr    *float64
	Inner  []nanInner
	Empty  []float64 `json:",omitempty"`
	hidden float64
}

type loss float64

type nanInner struct {
	V  float64
	Vs map[int][]float32
}

func TestMemoNonFinite(t *testing.T) {
	memoEnv(t)
	nan, inf := math.NaN(), math.Inf(1)
	p := -inf
	want := nanRecord{
		Name: "r", X: nan, Y: float32(inf), Xs: []float64{1.5, nan, -inf, inf, 0, math.SmallestNonzeroFloat64, math.MaxFloat64},
		Ys: []float32{float32(nan), 0.1}, Named: []loss{loss(nan), 2}, Grid: [2][]float64{{inf}, {nan, 3}},
		ByName: map[string]float64{"a": nan, "b": -inf}, Ptr: &p,
		Inner: []nanInner{{V: nan, Vs: map[int][]float32{3: {float32(-inf), 1}}}},
	}
	f, calls := counted(want)
	for range 2 {
		got, err := Memo("01-x/nan", 1, f)
		if err != nil {
			t.Fatal(err)
		}
		if !sameBits(reflect.ValueOf(got), reflect.ValueOf(want)) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
		}
	}
	if *calls != 1 {
		t.Fatalf("f ran %d times, want once", *calls)
	}
	// Plain values and top-level slices too.
	for _, v := range []any{nan, []float64{inf, nan}, map[string][]float32{"x": {float32(nan)}}} {
		if err := Store("01-x/plain", 1, v); err != nil {
			t.Fatal(err)
		}
		got := reflect.New(reflect.TypeOf(v))
		if err := Recall("01-x/plain", 1, got.Interface()); err != nil {
			t.Fatal(err)
		}
		if !sameBits(got.Elem(), reflect.ValueOf(v)) {
			t.Errorf("Store/Recall of %T: got %v, want %v", v, got.Elem(), v)
		}
	}
	// The file is readable JSON with the strings "NaN", "+Inf", "-Inf".
	matches, _ := filepath.Glob(filepath.Join(StateDir("01-x"), "memo-nan-*.json"))
	if len(matches) != 1 {
		t.Fatalf("files %v, want one memo-nan-*.json", matches)
	}
	b, _ := os.ReadFile(matches[0])
	for _, s := range []string{`"X":"NaN"`, `"Y":"+Inf"`, `"-Inf"`, `"ys":["NaN",0.1]`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("file lacks %s: %.300s", s, b)
		}
	}
}

// sameBits compares like reflect.DeepEqual, except that NaN equals NaN.
func sameBits(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		x, y := a.Float(), b.Float()
		return x == y || math.IsNaN(x) && math.IsNaN(y)
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() || a.Kind() == reflect.Slice && a.IsNil() != b.IsNil() {
			return false
		}
		for i := range a.Len() {
			if !sameBits(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			if !b.MapIndex(k).IsValid() || !sameBits(a.MapIndex(k), b.MapIndex(k)) {
				return false
			}
		}
		return true
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameBits(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if a.Type().Field(i).IsExported() && !sameBits(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	}
	return a.Interface() == b.Interface()
}

func TestMemoDamagedFile(t *testing.T) {
	memoEnv(t)
	f, calls := counted([]float64{1, 2})
	if _, err := Memo("01-x/d", 1, f); err != nil {
		t.Fatal(err)
	}
	matches, _ := filepath.Glob(filepath.Join(StateDir("01-x"), "memo-d-*.json"))
	if len(matches) != 1 {
		t.Fatalf("files %v", matches)
	}
	good, _ := os.ReadFile(matches[0])
	stderr := captureStderr(t)
	for i, damaged := range []string{"", "{", string(good[:len(good)/2]), "not json", `{"key":"x","value":[1]}`,
		strings.Replace(string(good), "[1,2]", `["one",2]`, 1), "null"} {
		if err := os.WriteFile(matches[0], []byte(damaged), 0o600); err != nil {
			t.Fatal(err)
		}
		v, err := Memo("01-x/d", 1, f)
		if err != nil || len(v) != 2 || v[1] != 2 {
			t.Errorf("damaged file %d: %v, %v; want the value recomputed", i, v, err)
		}
		if *calls != i+2 {
			t.Errorf("damaged file %d: f ran %d times in all, want %d", i, *calls, i+2)
		}
	}
	if _, err := Memo("01-x/d", 1, f); err != nil || *calls != 8 {
		t.Errorf("the recomputed value was not stored again: %v, %d calls", err, *calls)
	}
	log := stderr()
	if n := strings.Count(log, "is damaged"); n != 7 || !strings.Contains(log, "recomputing 01-x/d") || !strings.Contains(log, "memo: loaded 01-x/d") {
		t.Errorf("stderr says %d times that the file is damaged, want 7, and that the last call loaded:\n%s", n, log)
	}
}

// captureStderr sends os.Stderr to a file until the returned function is called; it returns what was written.
func captureStderr(t *testing.T) func() string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = f
	t.Cleanup(func() { os.Stderr = old })
	return func() string {
		os.Stderr = old
		b, _ := os.ReadFile(f.Name())
		return string(b)
	}
}

// TestMemoConcurrent: cells (here goroutines) storing one key at once leave a whole file that loads.
func TestMemoConcurrent(t *testing.T) {
	memoEnv(t)
	big := make([]float64, 1<<14)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := append([]float64{float64(i)}, big...)
			if err := Store("01-x/c", 1, v); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var got []float64
	if err := Recall("01-x/c", 1, &got); err != nil || len(got) != 1+len(big) {
		t.Fatalf("after concurrent stores: %d values, %v", len(got), err)
	}
	entries, _ := os.ReadDir(StateDir("01-x"))
	if len(entries) != 1 {
		t.Errorf("%d files in the state folder, want 1 (temporary files left?)", len(entries))
	}
}

func TestStoreRecall(t *testing.T) {
	memoEnv(t)
	type run struct {
		Method string
		Acc    []float64
	}
	runs := []run{{"FedAvg", []float64{0.5, 0.6}}, {"FedProx", nil}}
	cfg := memoCfg{Epochs: 2}
	if err := Store("01-x/runs", cfg, runs); err != nil {
		t.Fatal(err)
	}
	var got []run
	if err := Recall("01-x/runs", cfg, &got); err != nil || fmt.Sprint(got) != fmt.Sprint(runs) {
		t.Errorf("Recall = %v, %v; want %v", got, err, runs)
	}
	// Stored through a pointer, recalled into a value's pointer: the same key.
	if err := Store("01-x/runs", cfg, &runs); err != nil {
		t.Fatal(err)
	}
	if err := Recall("01-x/runs", cfg, &got); err != nil {
		t.Error(err)
	}
	// A later cell reads into its own type: fields match by name.
	var accs []struct{ Acc []float64 }
	if err := Recall("01-x/runs", cfg, &accs); err != nil || len(accs) != 2 || accs[0].Acc[1] != 0.6 {
		t.Errorf("Recall into another type: %v, %v", accs, err)
	}
	if err := Recall("01-x/runs", memoCfg{Epochs: 3}, &got); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Recall under another config: %v, want not found", err)
	}
}

// TestCodeVersion: the key's code version is a hash of lib/'s non-test sources, which changes with them.
func TestCodeVersion(t *testing.T) {
	if v := codeVersion(); !strings.HasPrefix(v, "lib:") {
		t.Errorf("codeVersion() = %q, want a hash of lib/'s sources (lib:...)", v)
	}
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a/a.go", "package a")
	write("b/b.go", "package b")
	h1, err := sourceHash(dir)
	if err != nil {
		t.Fatal(err)
	}
	write("a/a_test.go", "package a // tests do not count")
	write("a/notes.md", "neither do other files")
	if h, _ := sourceHash(dir); h != h1 {
		t.Errorf("a test file or a non-Go file changed the hash")
	}
	write("b/b.go", "package b // edited")
	if h, _ := sourceHash(dir); h == h1 {
		t.Errorf("an edited source left the hash unchanged")
	}
	if _, err := sourceHash(t.TempDir()); err == nil {
		t.Errorf("a folder without Go files: no error")
	}
}
