package main

import (
	"encoding/json"
	"math"
	"reflect"
)

// marshalNaNSafe marshals v like encoding/json, but writes NaN and ±Inf floats as null (anywhere in
// structs, maps, slices and pointers), which encoding/json refuses.
func marshalNaNSafe(v any) ([]byte, error) {
	return json.Marshal(scrub(reflect.ValueOf(v)))
}

// scrub converts v into plain JSON-ready values: structs become maps keyed by their JSON names.
func scrub(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return scrub(v.Elem())
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return f
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = scrub(v.Index(i))
		}
		return out
	case reflect.Map:
		out := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			out[it.Key().String()] = scrub(it.Value())
		}
		return out
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, omitEmpty := jsonName(f)
			if name == "-" {
				continue
			}
			fv := v.Field(i)
			if omitEmpty && fv.IsZero() {
				continue
			}
			out[name] = scrub(fv)
		}
		return out
	}
	return v.Interface()
}

func jsonName(f reflect.StructField) (name string, omitEmpty bool) {
	tag := f.Tag.Get("json")
	name = f.Name
	if tag == "" {
		return name, false
	}
	parts := splitComma(tag)
	if parts[0] != "" {
		name = parts[0]
	}
	for _, p := range parts[1:] {
		if p == "omitempty" {
			omitEmpty = true
		}
	}
	return name, omitEmpty
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
