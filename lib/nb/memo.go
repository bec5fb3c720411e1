package nb

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/losslab/losslab/internal/atomicfile"
)

// RecomputeEnv forces Memo to recompute: when it is "1" (or "true"), Memo calls its function and
// overwrites what was stored, whatever the key.
const RecomputeEnv = "LOSSLAB_RECOMPUTE"

// Memo returns the result of f, computing it at most once per key: each GoNB cell runs as its own
// program, so this is how a cell's result outlives the cell and how a rerun skips finished work.
//
// name is "notebook/value" (e.g. "01-fedlex/runs"): the notebook's name, a slash, and the value's name.
// The value is stored as JSON in the notebook's state folder (StateDir(notebook)), under a key made of
//
//   - name and the size mode (LOSSLAB_QUICK);
//   - config: every setting that decides the result (sizes, seeds, hyperparameters), any value that
//     encodes as JSON; it is hashed through its canonical JSON (object keys sorted);
//   - T's layout (its fields' names and types, so a changed struct is never filled from an old file);
//   - the code version: a hash of LossLab's library sources (the .go files under lib/, read from the
//     checkout the cell is built against) or, where they cannot be read, the module's version.
//
// The key does not hold the code of f itself, nor anything f reads that config does not name (a data
// file, an environment variable): change those and pass the change in config, or set
// LOSSLAB_RECOMPUTE=1 for one run. Storing a value removes what the same name and config stored under
// another version (type or lib/ sources), so old results do not pile up as the code changes.
//
// When a file for the key exists, Memo returns its value without calling f and says on stderr when the
// value was computed. Otherwise, or when LOSSLAB_RECOMPUTE=1, or when the file cannot be read (damaged:
// Memo says so on stderr), it calls f and stores the result atomically (a temporary file renamed into
// place, so concurrent cells and interrupted runs never leave a half-written file). An error from f is
// returned and nothing is stored; when storing fails (a full disk, a value JSON cannot hold), Memo
// returns the computed value together with the error. NaN and ±Inf are stored as the strings "NaN",
// "+Inf" and "-Inf" and come back exactly; unexported fields are not stored (as with encoding/json).
func Memo[T any](name string, config any, f func() (T, error)) (T, error) {
	var zero T
	path, key, err := memoPath[T](name, config)
	if err != nil {
		return zero, err
	}
	if !recompute() {
		var v T
		rec, err := readMemo(path, key, &v)
		switch {
		case err == nil:
			fmt.Fprintf(os.Stderr, "memo: loaded %s, computed at %s in %s (%s=1 recomputes)\n",
				name, rec.ComputedAt.Local().Format("2006-01-02 15:04:05"), rec.Took(), RecomputeEnv)
			return v, nil
		case !errors.Is(err, fs.ErrNotExist):
			fmt.Fprintf(os.Stderr, "memo: %v; recomputing %s\n", err, name)
		}
	}
	start := time.Now()
	v, err := f()
	if err != nil {
		return zero, err
	}
	return v, writeMemo(path, key, name, v, start)
}

// Store saves v under name and config for a later cell to read with Recall: for a cell that computes
// unconditionally (it prints or draws as it goes) and hands its results on. The key is Memo's without
// the value's type: the reading cell often declares its own type for what it reads (JSON matches fields
// by name), and a rerun of the storing cell overwrites the file under the same key anyway.
func Store(name string, config, v any) error {
	if v == nil {
		return fmt.Errorf("nb.Store(%q): nil value", name)
	}
	path, key, err := memoPathType(name, config, nil)
	if err != nil {
		return err
	}
	return writeMemo(path, key, name, v, time.Now())
}

// Recall reads into ptr (a pointer) the value that Store saved under name and config. If none
// was saved under this key (the cell that stores it has not run with these settings and this code),
// the error says which cell to run; it wraps fs.ErrNotExist.
func Recall(name string, config, ptr any) error {
	rv := reflect.ValueOf(ptr)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("nb.Recall(%q): want a non-nil pointer, got %T", name, ptr)
	}
	path, key, err := memoPathType(name, config, nil)
	if err != nil {
		return err
	}
	if _, err := readMemo(path, key, ptr); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("nb.Recall(%q): nothing stored for these settings and this code (%w): run the cell that stores it first", name, err)
		}
		return fmt.Errorf("nb.Recall(%q): %w", name, err)
	}
	return nil
}

func recompute() bool {
	v := os.Getenv(RecomputeEnv)
	return v == "1" || v == "true" || v == "yes"
}

// memoRecord is the file Memo writes.
type memoRecord struct {
	Name       string          `json:"name"`
	Key        string          `json:"key"`
	ComputedAt time.Time       `json:"computed_at"`
	Seconds    float64         `json:"seconds"`
	Code       string          `json:"code"`
	Config     json.RawMessage `json:"config"`
	Value      json.RawMessage `json:"value"`
}

// Took is how long the stored computation took, rounded for display.
func (r *memoRecord) Took() time.Duration {
	return time.Duration(r.Seconds * float64(time.Second)).Round(100 * time.Millisecond)
}

type memoKey struct {
	hash   string
	config json.RawMessage
	code   string
}

func memoPath[T any](name string, config any) (string, memoKey, error) {
	return memoPathType(name, config, reflect.TypeFor[T]())
}

// memoPathType returns the file of name under config for values of type t (nil: any type), and the key.
func memoPathType(name string, config any, t reflect.Type) (string, memoKey, error) {
	notebook, value, ok := strings.Cut(name, "/")
	if !ok || notebook == "" || value == "" || strings.ContainsAny(value, `/\`) || value == "." || value == ".." {
		return "", memoKey{}, fmt.Errorf("nb.Memo: name %q: want \"notebook/value\", e.g. \"01-fedlex/runs\"", name)
	}
	cfg, err := canonicalJSON(config)
	if err != nil {
		return "", memoKey{}, fmt.Errorf("nb.Memo(%q): config (%T) cannot be encoded as JSON: %w", name, config, err)
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem() // T and *T are stored alike
	}
	code := codeVersion()
	mode := "full"
	if Quick() {
		mode = "quick"
	}
	// The file name holds two hashes: of what the caller asks for (name, size mode, config) and of the
	// version that answers it (the value's type, lib/'s sources). A store removes the files of other
	// versions of the same request, so that old results do not pile up as the code changes.
	key := memoKey{config: cfg, code: code}
	key.hash = shortHash(name, mode, string(cfg)) + "-" + shortHash(typeLayout(t, map[reflect.Type]bool{}), code)
	dir := StateDir(notebook)
	return filepath.Join(dir, fmt.Sprintf("memo-%s-%s.json", value, key.hash)), key, nil
}

// shortHash is 16 hex digits of the SHA-256 of parts.
func shortHash(parts ...string) string {
	h := sha256.New()
	for _, part := range parts {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%x", h.Sum(nil)[:8])
}

// removeOtherVersions removes the files next to path for the same request under other versions.
func removeOtherVersions(path string) {
	base := filepath.Base(path)
	i := strings.LastIndex(base, "-")
	if i < 0 {
		return
	}
	request := base[:i+1] // "memo-<value>-<request hash>-"
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		n := e.Name()
		if n != base && len(n) == len(base) && strings.HasPrefix(n, request) && strings.HasSuffix(n, ".json") {
			_ = os.Remove(filepath.Join(filepath.Dir(path), n))
		}
	}
}

// canonicalJSON encodes v with object keys sorted at every level (encoding/json sorts map keys, and a
// round trip through map[string]any sorts struct fields too).
func canonicalJSON(v any) (json.RawMessage, error) {
	b, err := marshalValue(v)
	if err != nil {
		return nil, err
	}
	var generic any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&generic); err != nil {
		return nil, err
	}
	return json.Marshal(generic)
}

// typeLayout describes t's structure: the names, tags and types of its fields, recursively.
func typeLayout(t reflect.Type, seen map[reflect.Type]bool) string {
	if t == nil {
		return "nil"
	}
	if seen[t] {
		return t.String()
	}
	switch t.Kind() {
	case reflect.Struct:
		seen[t] = true
		var b strings.Builder
		b.WriteString(t.String() + "{")
		for i := range t.NumField() {
			f := t.Field(i)
			fmt.Fprintf(&b, "%s %s %q;", f.Name, typeLayout(f.Type, seen), f.Tag)
		}
		return b.String() + "}"
	case reflect.Slice, reflect.Pointer:
		return t.Kind().String() + " " + typeLayout(t.Elem(), seen)
	case reflect.Array:
		return fmt.Sprintf("[%d]%s", t.Len(), typeLayout(t.Elem(), seen))
	case reflect.Map:
		return "map[" + typeLayout(t.Key(), seen) + "]" + typeLayout(t.Elem(), seen)
	}
	return t.String()
}

var codeVersion = sync.OnceValue(func() string {
	// This file's path at build time locates lib/ in the checkout (or module cache) the cell was built
	// against: GoNB cells reach LossLab through a replace directive pointing at the checkout.
	if _, file, _, ok := runtime.Caller(0); ok {
		lib := filepath.Dir(filepath.Dir(file))
		if sum, err := sourceHash(lib); err == nil {
			return "lib:" + sum
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range append([]*debug.Module{&bi.Main}, bi.Deps...) {
			if m.Path == "github.com/losslab/losslab" {
				return "module:" + m.Version + " " + m.Sum
			}
		}
	}
	return "unknown"
})

// sourceHash hashes the names and contents of the non-test .go files under dir.
func sourceHash(dir string) (string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if len(files) == 0 {
		return "", fmt.Errorf("no Go files under %s", dir)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(dir, f)
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), len(b))
		h.Write(b)
	}
	return fmt.Sprintf("%x", h.Sum(nil)[:8]), nil
}

// readMemo reads the record at path into v, checking that it was stored under key.
func readMemo(path string, key memoKey, v any) (*memoRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rec memoRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%s is damaged: %w", path, err)
	}
	if rec.Key != key.hash || rec.Value == nil {
		return nil, fmt.Errorf("%s is damaged: it holds key %q and %d bytes of value, want key %q", path, rec.Key, len(rec.Value), key.hash)
	}
	if err := unmarshalValue(rec.Value, v); err != nil {
		return nil, fmt.Errorf("%s is damaged: its value does not decode as %T: %w", path, v, err)
	}
	return &rec, nil
}

func writeMemo(path string, key memoKey, name string, v any, start time.Time) error {
	val, err := marshalValue(v)
	if err != nil {
		return fmt.Errorf("nb.Memo(%q): the value (%T) cannot be stored as JSON: %w", name, v, err)
	}
	rec := memoRecord{Name: name, Key: key.hash, ComputedAt: start.UTC(), Seconds: time.Since(start).Seconds(),
		Code: key.code, Config: key.config, Value: val}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("nb.Memo(%q): %w", name, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("nb.Memo(%q): %w", name, err)
	}
	if err := atomicfile.Write(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("nb.Memo(%q): %w", name, err)
	}
	removeOtherVersions(path)
	return nil
}
