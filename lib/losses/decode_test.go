package losses

import (
	"io"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// spaces is an endless (or n-byte) stream of blanks: valid JSON whitespace that never ends a value.
type spaces struct{ n int64 }

func (s *spaces) Read(p []byte) (int, error) {
	if s.n == 0 {
		return 0, io.EOF
	}
	k := len(p)
	if s.n > 0 && int64(k) > s.n {
		k = int(s.n)
	}
	for i := range p[:k] {
		p[i] = ' '
	}
	if s.n > 0 {
		s.n -= int64(k)
	}
	return k, nil
}

// DecodeInputs reads at most MaxInputBytes: whitespace without end (`yes ' ' | losslab objective eval
// ce`) is an error naming the limit, not a buffer that grows until Go runs out of memory.
func TestDecodeInputsBounded(t *testing.T) {
	o := mustLookup(t, "ce")
	for _, r := range []io.Reader{
		&spaces{n: MaxInputBytes + 1},
		io.MultiReader(strings.NewReader(`{"logits": [[1, 2]], "labels": [0]}`), &spaces{n: MaxInputBytes}),
	} {
		_, err := DecodeInputs(o, r, dtypes.Float32)
		if err == nil || !strings.Contains(err.Error(), "MiB") {
			t.Errorf("error %v, want one naming the %d MiB limit", err, MaxInputBytes>>20)
		}
	}
}

// FuzzDecodeInputs feeds arbitrary bytes to the reader behind `losslab objective eval` and the input
// checks of Evaluate, for a per-example and a pairwise objective: an error or tensors of consistent
// shapes, never a panic. Seeds: below and testdata/fuzz/FuzzDecodeInputs.
func FuzzDecodeInputs(f *testing.F) {
	for _, s := range []string{
		`{"logits": [[2, 1, 0.1]], "labels": [0]}`,
		`{"embeddings": [[1, 0], [0, 1], [1, 1]], "labels": [0, 1, 0]}`,
		`{"logits": [[2, 1], [0]], "labels": [0, 1]}`,
		`{"logits": [], "labels": []}`,
		`{"logits": [[[1]]], "labels": [0.5]}`,
		`[1, 2]`, `null`, `{"a": 1} {"b": 2}`, `{"logits": 1e999}`,
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, pairwise bool) {
		o := mustLookup(t, "ce")
		if pairwise {
			o = mustLookup(t, "supcon")
		}
		inputs, err := DecodeInputs(o, strings.NewReader(in), dtypes.Float64)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		for name, x := range inputs {
			n := 1
			for _, d := range x.Shape().Dimensions {
				n *= d
			}
			if x.Shape().Size() != n {
				t.Fatalf("input %q: shape %s holds %d values", name, x.Shape(), n)
			}
		}
		_, _, _ = checkInputs(o, inputs)
	})
}
