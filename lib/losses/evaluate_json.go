package losses

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// This file holds the JSON side of Evaluate, used by `losslab objective eval` and `objective list --json`
// and usable by any program that exchanges batches with another implementation.

// ParseParams parses hyperparameters written as "name=value,name=value" (spaces allowed around each
// part). An empty string gives no params.
func ParseParams(s string) (Params, error) {
	p := Params{}
	if strings.TrimSpace(s) == "" {
		return p, nil
	}
	for _, kv := range strings.Split(s, ",") {
		name, value, ok := strings.Cut(kv, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" {
			return nil, fmt.Errorf("hyperparameter %s is not of the form name=value", quoted(strings.TrimSpace(kv)))
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, fmt.Errorf("hyperparameter %s=%s is not a number", clip(name), quoted(value))
		}
		if _, dup := p[name]; dup {
			return nil, fmt.Errorf("hyperparameter %s is set twice", clip(name))
		}
		p[name] = v
	}
	return p, nil
}

// MaxInputBytes bounds what DecodeInputs reads: 256 MiB, some 30 million numbers.
const MaxInputBytes = 256 << 20

var errTooLarge = fmt.Errorf("reading inputs: more than %d MiB of input: not read further (losses.MaxInputBytes)", MaxInputBytes>>20)

// limitedReader reads from r until left bytes were read, then fails with errTooLarge.
type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// DecodeInputs reads exactly one JSON object whose members are the objective's inputs as (nested)
// arrays of numbers, e.g. {"logits": [[2, 1, 0.1]], "labels": [0]}, and converts them to tensors: float
// inputs to floatDType (Float32 or Float64), integer inputs to int32 (their values must be whole numbers).
// Arrays must be rectangular. Names are checked later, by Evaluate. It reads at most MaxInputBytes.
func DecodeInputs(o *Objective, r io.Reader, floatDType dtypes.DType) (map[string]*tensors.Tensor, error) {
	if floatDType != dtypes.Float32 && floatDType != dtypes.Float64 {
		return nil, fmt.Errorf("float dtype must be float32 or float64, got %s", floatDType)
	}
	lr := &limitedReader{r: r, left: MaxInputBytes}
	dec := json.NewDecoder(lr)
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, errTooLarge) {
			return nil, err
		}
		if errors.Is(err, io.EOF) {
			return nil, errors.New("reading inputs: no JSON object on stdin")
		}
		return nil, fmt.Errorf("reading inputs: invalid JSON: %v", err)
	}
	if raw == nil {
		return nil, errors.New("reading inputs: want a JSON object of named arrays, got null")
	}
	var extra any
	if err := dec.Decode(&extra); errors.Is(err, errTooLarge) {
		return nil, err
	} else if !errors.Is(err, io.EOF) {
		return nil, errors.New("reading inputs: want exactly one JSON object, found more data after it")
	}
	isFloat := map[string]bool{}
	for _, in := range o.Kind.Inputs() {
		isFloat[in.Name] = in.Float
	}
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make(map[string]*tensors.Tensor, len(raw))
	for _, name := range names {
		dims, flat, err := flattenJSON(raw[name])
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", quoted(name), err)
		}
		switch {
		case isFloat[name] && floatDType == dtypes.Float32:
			f := make([]float32, len(flat))
			for i, v := range flat {
				f[i] = float32(v)
			}
			out[name] = tensors.FromFlatDataAndDimensions(f, dims...)
		case isFloat[name]:
			out[name] = tensors.FromFlatDataAndDimensions(flat, dims...)
		default:
			f := make([]int32, len(flat))
			for i, v := range flat {
				if v != math.Trunc(v) || math.Abs(v) > math.MaxInt32 {
					return nil, fmt.Errorf("input %s must hold integers, got %g at flat index %d", quoted(name), v, i)
				}
				f[i] = int32(v)
			}
			out[name] = tensors.FromFlatDataAndDimensions(f, dims...)
		}
	}
	return out, nil
}

// flattenJSON turns a JSON number or (nested, rectangular) array of numbers into dimensions and
// row-major values.
func flattenJSON(v any) (dims []int, flat []float64, err error) {
	// Find the dimensions by descending the first elements.
	for x := v; ; {
		arr, ok := x.([]any)
		if !ok {
			break
		}
		dims = append(dims, len(arr))
		if len(arr) == 0 {
			break
		}
		x = arr[0]
	}
	var walk func(x any, depth int, path string) error
	walk = func(x any, depth int, path string) error {
		if depth == len(dims) {
			n, ok := x.(json.Number)
			if !ok {
				return fmt.Errorf("element %s is %s, want a number (arrays must be rectangular)", path, jsonKind(x))
			}
			f, err := n.Float64()
			if err != nil || math.IsInf(f, 0) {
				return fmt.Errorf("element %s = %s is not a finite float64", path, n)
			}
			flat = append(flat, f)
			return nil
		}
		arr, ok := x.([]any)
		if !ok || len(arr) != dims[depth] {
			return fmt.Errorf("element %s is %s, want an array of length %d (arrays must be rectangular)", path, jsonKind(x), dims[depth])
		}
		for i, e := range arr {
			if err := walk(e, depth+1, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(v, 0, ""); err != nil {
		return nil, nil, err
	}
	return dims, flat, nil
}

func jsonKind(x any) string {
	switch x := x.(type) {
	case nil:
		return "null"
	case []any:
		return fmt.Sprintf("an array of length %d", len(x))
	case map[string]any:
		return "an object"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

// nest reshapes row-major values into nested []any following dims (a plain slice for rank 1).
func nest(flat []float64, dims []int) any {
	if len(dims) <= 1 {
		return flat
	}
	n := len(flat) / max(dims[0], 1)
	out := make([]any, dims[0])
	for i := range out {
		out[i] = nest(flat[i*n:(i+1)*n], dims[1:])
	}
	return out
}

// MarshalJSON writes the result as the command line does:
//
//	{"loss": x, "per_example": [...], "grad": {"<input>": nested array with the input's shape}}
//
// with "per_example" omitted for objectives that are not per-example means. A NaN or infinite value
// is an error (JSON cannot hold it), naming where it occurred.
func (r *Result) MarshalJSON() ([]byte, error) {
	check := func(what string, vs ...float64) error {
		for i, v := range vs {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%s has a non-finite value %g at index %d", what, v, i)
			}
		}
		return nil
	}
	if err := check("loss", r.Loss); err != nil {
		return nil, err
	}
	if err := check("per_example", r.PerExample...); err != nil {
		return nil, err
	}
	grad := make(map[string]any, len(r.Grad))
	for name, g := range r.Grad {
		if err := check("gradient of "+name, g...); err != nil {
			return nil, err
		}
		grad[name] = nest(g, r.Shapes[name])
	}
	var buf bytes.Buffer
	buf.WriteString(`{"loss":`)
	if err := json.NewEncoder(&buf).Encode(r.Loss); err != nil {
		return nil, err
	}
	if r.PerExample != nil {
		buf.WriteString(`,"per_example":`)
		if err := json.NewEncoder(&buf).Encode(r.PerExample); err != nil {
			return nil, err
		}
	}
	buf.WriteString(`,"grad":`)
	if err := json.NewEncoder(&buf).Encode(grad); err != nil {
		return nil, err
	}
	buf.WriteString("}")
	return bytes.ReplaceAll(buf.Bytes(), []byte("\n"), nil), nil
}

// ParamInfo and ObjectiveInfo are the JSON form of an objective's descriptor (`objective list --json`).
// Infinite bounds are written as null.
type ParamInfo struct {
	Name    string   `json:"name"`
	Default float64  `json:"default"`
	Min     *float64 `json:"min"`
	Max     *float64 `json:"max"`
	MinOpen bool     `json:"min_open,omitempty"`
	MaxOpen bool     `json:"max_open,omitempty"`
	Integer bool     `json:"integer,omitempty"`
	Doc     string   `json:"doc,omitempty"`
}

// InputInfo is the JSON form of one input of a kind.
type InputInfo struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"` // "float" or "int"
	Dims     []string `json:"dims"`
	Optional bool     `json:"optional,omitempty"`
}

// ObjectiveInfo is the JSON form of an Objective (everything but the graph function).
type ObjectiveInfo struct {
	Name       string      `json:"name"`
	Paper      string      `json:"paper"`
	Kind       Kind        `json:"kind"`
	Summary    string      `json:"summary"`
	PerExample bool        `json:"per_example"`
	Inputs     []InputInfo `json:"inputs"`
	Params     []ParamInfo `json:"params"`
}

// Info returns the objective's descriptor in its JSON form.
func (o *Objective) Info() ObjectiveInfo {
	finite := func(v float64) *float64 {
		if math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	info := ObjectiveInfo{Name: o.Name, Paper: o.Paper, Kind: o.Kind, Summary: o.Summary, PerExample: o.PerExample,
		Inputs: []InputInfo{}, Params: []ParamInfo{}}
	for _, in := range o.Kind.Inputs() {
		t := "int"
		if in.Float {
			t = "float"
		}
		info.Inputs = append(info.Inputs, InputInfo{Name: in.Name, Type: t, Dims: in.Dims, Optional: in.Optional})
	}
	for _, p := range o.Params {
		info.Params = append(info.Params, ParamInfo{Name: p.Name, Default: p.Default, Min: finite(p.Min), Max: finite(p.Max),
			MinOpen: p.MinOpen, MaxOpen: p.MaxOpen, Integer: p.Integer, Doc: p.Doc})
	}
	return info
}

// ParamRange formats a parameter's valid range, e.g. "(0, inf)" or "[0, 1]" (integer ranges end in " int").
func (p Param) ParamRange() string {
	lo, hi := "[", "]"
	if p.MinOpen || math.IsInf(p.Min, -1) {
		lo = "("
	}
	if p.MaxOpen || math.IsInf(p.Max, 1) {
		hi = ")"
	}
	num := func(v float64) string {
		switch {
		case math.IsInf(v, 1):
			return "inf"
		case math.IsInf(v, -1):
			return "-inf"
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	s := fmt.Sprintf("%s%s, %s%s", lo, num(p.Min), num(p.Max), hi)
	if p.Integer {
		s += " int"
	}
	return s
}
