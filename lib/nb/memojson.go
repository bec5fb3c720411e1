package nb

import (
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"sync"
)

// Memo's files are JSON, and a result often holds NaN or ±Inf (a diverged run, an undefined margin),
// which encoding/json refuses. So values are encoded through a mirror type: the same type with every
// float64 and float32 (in fields, slices, arrays, maps and pointers) replaced by one whose JSON form is a
// number when finite and the string "NaN", "+Inf" or "-Inf" otherwise. Field names and tags are kept, so
// the file reads like the value's plain JSON. Types with their own MarshalJSON or MarshalText, structs
// with embedded fields, interfaces and recursive types are encoded as they are (a NaN inside them is
// then an error that names the value).

type (
	jsonFloat64  float64
	jsonFloat32  float32
	jsonFloats64 []float64
	jsonFloats32 []float32
)

var (
	float64Type = reflect.TypeFor[float64]()
	float32Type = reflect.TypeFor[float32]()
)

func appendJSONFloat(b []byte, x float64, bits int) []byte {
	switch {
	case math.IsNaN(x):
		return append(b, `"NaN"`...)
	case math.IsInf(x, 1):
		return append(b, `"+Inf"`...)
	case math.IsInf(x, -1):
		return append(b, `"-Inf"`...)
	}
	return strconv.AppendFloat(b, x, 'g', -1, bits)
}

func parseJSONFloat(b []byte, bits int) (float64, error) {
	switch string(b) {
	case `"NaN"`:
		return math.NaN(), nil
	case `"+Inf"`:
		return math.Inf(1), nil
	case `"-Inf"`:
		return math.Inf(-1), nil
	}
	x, err := strconv.ParseFloat(string(b), bits)
	if err != nil {
		return 0, fmt.Errorf("want a number, \"NaN\", \"+Inf\" or \"-Inf\", got %.40s", b)
	}
	return x, nil
}

func (x jsonFloat64) MarshalJSON() ([]byte, error) { return appendJSONFloat(nil, float64(x), 64), nil }
func (x jsonFloat32) MarshalJSON() ([]byte, error) {
	return appendJSONFloat(nil, float64(x), 32), nil
}

func (x *jsonFloat64) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	v, err := parseJSONFloat(b, 64)
	*x = jsonFloat64(v)
	return err
}

func (x *jsonFloat32) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	v, err := parseJSONFloat(b, 32)
	*x = jsonFloat32(v)
	return err
}

func marshalFloats[F float32 | float64](v []F, bits int) ([]byte, error) {
	if v == nil {
		return []byte("null"), nil
	}
	b := make([]byte, 0, 2+12*len(v))
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONFloat(b, float64(x), bits)
	}
	return append(b, ']'), nil
}

func (v jsonFloats64) MarshalJSON() ([]byte, error) { return marshalFloats(v, 64) }
func (v jsonFloats32) MarshalJSON() ([]byte, error) { return marshalFloats(v, 32) }

func unmarshalFloats[F float32 | float64](b []byte, bits int) ([]F, error) {
	if string(b) == "null" {
		return nil, nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	out := make([]F, len(raw))
	for i, r := range raw {
		x, err := parseJSONFloat(r, bits)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out[i] = F(x)
	}
	return out, nil
}

func (v *jsonFloats64) UnmarshalJSON(b []byte) (err error) {
	*v, err = unmarshalFloats[float64](b, 64)
	return err
}

func (v *jsonFloats32) UnmarshalJSON(b []byte) (err error) {
	*v, err = unmarshalFloats[float32](b, 32)
	return err
}

var mirrors sync.Map // reflect.Type → reflect.Type (the type itself when it needs no mirror)

// mirrorOf returns the mirror type of t, or t when t holds no float that needs one.
func mirrorOf(t reflect.Type) reflect.Type {
	if m, ok := mirrors.Load(t); ok {
		return m.(reflect.Type)
	}
	m := buildMirror(t, map[reflect.Type]bool{})
	mirrors.Store(t, m)
	return m
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

func buildMirror(t reflect.Type, visiting map[reflect.Type]bool) (m reflect.Type) {
	if visiting[t] {
		return t
	}
	for _, u := range []reflect.Type{t, reflect.PointerTo(t)} {
		if u.Implements(jsonMarshaler) || u.Implements(textMarshaler) {
			return t
		}
	}
	visiting[t] = true
	defer delete(visiting, t)
	switch t.Kind() {
	case reflect.Float64:
		return reflect.TypeFor[jsonFloat64]()
	case reflect.Float32:
		return reflect.TypeFor[jsonFloat32]()
	case reflect.Slice:
		switch t.Elem() {
		case float64Type:
			return reflect.TypeFor[jsonFloats64]()
		case float32Type:
			return reflect.TypeFor[jsonFloats32]()
		}
		if e := buildMirror(t.Elem(), visiting); e != t.Elem() {
			return reflect.SliceOf(e)
		}
	case reflect.Array:
		if e := buildMirror(t.Elem(), visiting); e != t.Elem() {
			return reflect.ArrayOf(t.Len(), e)
		}
	case reflect.Map:
		if e := buildMirror(t.Elem(), visiting); e != t.Elem() {
			return reflect.MapOf(t.Key(), e)
		}
	case reflect.Pointer:
		if e := buildMirror(t.Elem(), visiting); e != t.Elem() {
			return reflect.PointerTo(e)
		}
	case reflect.Struct:
		var fields []reflect.StructField
		changed := false
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Anonymous {
				return t
			}
			if !f.IsExported() {
				continue
			}
			if e := buildMirror(f.Type, visiting); e != f.Type {
				f.Type, changed = e, true
			}
			fields = append(fields, reflect.StructField{Name: f.Name, Type: f.Type, Tag: f.Tag})
		}
		if changed {
			return reflect.StructOf(fields)
		}
	}
	return t
}

// convertValue copies src into dst, where one's type is the other's mirror.
func convertValue(dst, src reflect.Value) {
	if dst.Type() == src.Type() {
		dst.Set(src)
		return
	}
	switch dst.Kind() {
	case reflect.Float64, reflect.Float32:
		dst.SetFloat(src.Float())
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		if src.Type().ConvertibleTo(dst.Type()) {
			dst.Set(src.Convert(dst.Type()))
			return
		}
		dst.Set(reflect.MakeSlice(dst.Type(), src.Len(), src.Len()))
		for i := range src.Len() {
			convertValue(dst.Index(i), src.Index(i))
		}
	case reflect.Array:
		for i := range src.Len() {
			convertValue(dst.Index(i), src.Index(i))
		}
	case reflect.Map:
		if src.IsNil() {
			return
		}
		dst.Set(reflect.MakeMapWithSize(dst.Type(), src.Len()))
		it := src.MapRange()
		for it.Next() {
			e := reflect.New(dst.Type().Elem()).Elem()
			convertValue(e, it.Value())
			dst.SetMapIndex(it.Key(), e)
		}
	case reflect.Pointer:
		if src.IsNil() {
			return
		}
		dst.Set(reflect.New(dst.Type().Elem()))
		convertValue(dst.Elem(), src.Elem())
	case reflect.Struct:
		// The mirror holds the exported fields, under the same names.
		for i := range dst.NumField() {
			if name := dst.Type().Field(i).Name; dst.Type().Field(i).IsExported() {
				if s := src.FieldByName(name); s.IsValid() {
					convertValue(dst.Field(i), s)
				}
			}
		}
	}
}

// marshalValue encodes v (of type t) as JSON, non-finite floats included.
func marshalValue(v any) ([]byte, error) {
	if v == nil {
		return []byte("null"), nil
	}
	rv := reflect.ValueOf(v)
	m := mirrorOf(rv.Type())
	if m == rv.Type() {
		return json.Marshal(v)
	}
	mv := reflect.New(m).Elem()
	convertValue(mv, rv)
	return json.Marshal(mv.Interface())
}

// unmarshalValue decodes what marshalValue wrote into ptr (a non-nil pointer).
func unmarshalValue(b []byte, ptr any) error {
	rv := reflect.ValueOf(ptr).Elem()
	m := mirrorOf(rv.Type())
	if m == rv.Type() {
		return json.Unmarshal(b, ptr)
	}
	mv := reflect.New(m)
	if err := json.Unmarshal(b, mv.Interface()); err != nil {
		return err
	}
	convertValue(rv, mv.Elem())
	return nil
}
