package losses

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
)

// Kind names the inputs an objective takes. See the package doc for each kind's inputs.
type Kind string

const (
	// Classification: "logits" float [B,K], "labels" int [B].
	Classification Kind = "classification"
	// Binary: "scores" float [B], "labels" int [B] in {0,1}.
	Binary Kind = "binary"
	// Distillation: "student" float [B,K], "teacher" float [B,K], "labels" int [B];
	// optional "student_features", "teacher_features" float [B,D].
	Distillation Kind = "distillation"
	// Embedding: "features" float [B,D], "labels" int [B].
	Embedding Kind = "embedding"
	// Retrieval: "scores" float [Q,N], "positives" 0/1 [Q,N].
	Retrieval Kind = "retrieval"
	// Survival: "predictions" float [B], "times" float [B], "events" 0/1 [B].
	Survival Kind = "survival"
)

// Input describes one named input of a Kind.
type Input struct {
	Name string
	// Float is true for float inputs (differentiated by Evaluate); false for integer inputs
	// (labels, 0/1 indicators), which are passed as int32.
	Float bool
	// Rank is the expected rank; Dims names each axis ("B", "K", ...) for error messages.
	Dims     []string
	Optional bool
}

// kindInputs is the table behind Kind.Inputs. Objectives that need a kind not listed here add it here
// (with a line in the package doc), never ad hoc.
var kindInputs = map[Kind][]Input{
	Classification: {{Name: "logits", Float: true, Dims: []string{"B", "K"}}, {Name: "labels", Dims: []string{"B"}}},
	Binary:         {{Name: "scores", Float: true, Dims: []string{"B"}}, {Name: "labels", Dims: []string{"B"}}},
	Distillation: {
		{Name: "student", Float: true, Dims: []string{"B", "K"}},
		{Name: "teacher", Float: true, Dims: []string{"B", "K"}},
		{Name: "labels", Dims: []string{"B"}},
		{Name: "student_features", Float: true, Dims: []string{"B", "D"}, Optional: true},
		{Name: "teacher_features", Float: true, Dims: []string{"B", "D"}, Optional: true},
	},
	Embedding: {{Name: "features", Float: true, Dims: []string{"B", "D"}}, {Name: "labels", Dims: []string{"B"}}},
	Retrieval: {{Name: "scores", Float: true, Dims: []string{"Q", "N"}}, {Name: "positives", Dims: []string{"Q", "N"}}},
	Survival: {
		{Name: "predictions", Float: true, Dims: []string{"B"}},
		{Name: "times", Float: true, Dims: []string{"B"}},
		{Name: "events", Dims: []string{"B"}},
	},
}

// Inputs lists the named inputs of the kind, in a fixed order.
func (k Kind) Inputs() []Input { return kindInputs[k] }

// Param describes one hyperparameter: its default and valid range.
type Param struct {
	Name    string
	Default float64
	// Min and Max bound the valid range (inclusive unless MinOpen/MaxOpen); use math.Inf for no bound.
	Min, Max         float64
	MinOpen, MaxOpen bool
	// Integer is true for hyperparameters that must be whole numbers (counts, seeds).
	Integer bool
	Doc     string
}

// Check returns an error naming the parameter if v is outside its valid range. NaN and ±Inf are
// outside every range (an infinite bound means "no bound", not a valid value).
func (p Param) Check(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || (p.Integer && v != math.Trunc(v)) ||
		v < p.Min || v > p.Max || (p.MinOpen && v == p.Min) || (p.MaxOpen && v == p.Max) {
		kind := ""
		if p.Integer {
			kind = " (an integer)"
		}
		return fmt.Errorf("hyperparameter %s=%g is out of range: valid values are finite, in %s%s",
			p.Name, v, strings.TrimSuffix(p.ParamRange(), " int"), kind)
	}
	return nil
}

// Params holds hyperparameter values by name. Resolve fills in defaults.
type Params map[string]float64

// Batch holds an objective's inputs as graph nodes, by input name (see Kind.Inputs).
type Batch map[string]*Node

// Objective describes one registered objective.
type Objective struct {
	// Name is the lower-case registry name, e.g. "ldr-kl", "z-loss".
	Name string
	// Paper is the paper's short id, that of its notebook, e.g. "09-ldr"; "baseline" for the plain baselines.
	Paper string
	Kind  Kind
	// Summary is one line for listings.
	Summary string
	Params  []Param
	// PerExample is true when Fn returns per-example losses [B] whose mean is the loss;
	// false when Fn returns the scalar loss directly (pairwise/batch-level objectives).
	PerExample bool
	// Fn builds the loss graph from the batch and fully resolved params (see Resolve).
	// Shape problems are reported by panicking with an error (GoMLX convention);
	// Evaluate and the command turn those into errors.
	Fn func(b Batch, p Params) *Node
}

// Resolve returns a complete set of params: the given values checked against their ranges, defaults for
// the rest. Unknown names are an error that suggests the nearest known name.
func (o *Objective) Resolve(given Params) (Params, error) {
	out := make(Params, len(o.Params))
	known := make([]string, 0, len(o.Params))
	for _, p := range o.Params {
		out[p.Name] = p.Default
		known = append(known, p.Name)
	}
	for name, v := range given {
		var spec *Param
		for i := range o.Params {
			if o.Params[i].Name == name {
				spec = &o.Params[i]
			}
		}
		if spec == nil {
			if len(known) == 0 {
				return nil, fmt.Errorf("objective %q takes no hyperparameters, got %s", o.Name, quoted(name))
			}
			return nil, fmt.Errorf("objective %q has no hyperparameter %s%s (it takes: %s)",
				o.Name, quoted(name), suggest(name, known), strings.Join(known, ", "))
		}
		if err := spec.Check(v); err != nil {
			return nil, fmt.Errorf("objective %q: %w", o.Name, err)
		}
		out[name] = v
	}
	return out, nil
}

var (
	registryMu sync.RWMutex
	registry   = map[string]*Objective{}
)

// Register adds an objective to the registry; it is called from the init functions of this package's
// files. It panics on a duplicate or malformed descriptor (a programming error).
func Register(o Objective) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if o.Name == "" || o.Name != strings.ToLower(o.Name) || o.Fn == nil || kindInputs[o.Kind] == nil {
		panic(fmt.Sprintf("losses.Register: malformed objective %+v", o))
	}
	if _, dup := registry[o.Name]; dup {
		panic(fmt.Sprintf("losses.Register: objective %q registered twice", o.Name))
	}
	for _, p := range o.Params {
		if err := p.Check(p.Default); err != nil {
			panic(fmt.Sprintf("losses.Register(%q): default outside its own range: %v", o.Name, err))
		}
	}
	registry[o.Name] = &o
}

// Lookup returns the objective registered under name, or an error that suggests the nearest name.
func Lookup(name string) (*Objective, error) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	if o, ok := registry[name]; ok {
		return o, nil
	}
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	return nil, fmt.Errorf("unknown objective %s%s; `losslab objective list` shows them all", quoted(name), suggest(name, names))
}

// All returns every registered objective, sorted by paper then name.
func All() []*Objective {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]*Objective, 0, len(registry))
	for _, o := range registry {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Paper != out[j].Paper {
			return out[i].Paper < out[j].Paper
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// suggest returns ` (did you mean "x"?)` for the candidate nearest to name, or "" if none is close.
func suggest(name string, candidates []string) string {
	best, bestD := "", math.MaxInt
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted) // ties go to the alphabetically first name, not to map order
	limit := max(2, len(name)/2)
	for _, c := range sorted {
		if abs(len(name)-len(c)) > limit {
			continue // Farther than limit whatever the letters: skip the O(len·len) distance.
		}
		if d := editDistance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > limit {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// quoted writes a name or value taken from the user as a Go-quoted string for an error message,
// clipped (see clip) so that a message never echoes a huge input.
func quoted(s string) string {
	head, rest := clipParts(s)
	return strconv.Quote(head) + rest
}

// clip is s, or its first 60 bytes and its length when it is longer.
func clip(s string) string {
	head, rest := clipParts(s)
	return head + rest
}

func clipParts(s string) (head, rest string) {
	const keep = 60
	if len(s) <= keep {
		return s, ""
	}
	cut := keep
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut], fmt.Sprintf("… (%d bytes)", len(s))
}

// editDistance is the optimal-string-alignment distance: insertions, deletions, substitutions and
// swaps of two adjacent characters each cost 1 (so "gec" is 1 away from "gce").
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
