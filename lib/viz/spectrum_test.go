package viz

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/losslab/losslab/lib/landscape"
)

func TestHessianDensity(t *testing.T) {
	a := &landscape.Spectrum{Nodes: [][]float64{{-0.1, 0, 5}}, Weights: [][]float64{{0.2, 0.7, 0.1}}}
	b := &landscape.Spectrum{Nodes: [][]float64{{0, 1}, {0, 2}}, Weights: [][]float64{{0.5, 0.5}, {0.9, 0.1}}}
	f := HessianDensity("spectra", []string{"init", "trained"}, []*landscape.Spectrum{a, b}, 0)
	svg, err := f.SVG()
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(svg, new(any)); err != nil {
		t.Fatalf("SVG is not well-formed: %v", err)
	}
	if !strings.Contains(string(svg), "λ from -0.1 to 5") {
		t.Error("legend does not give the eigenvalue range")
	}
	for name, bad := range map[string]*Figure{
		"no spectra":     HessianDensity("x", nil, nil, 0),
		"names mismatch": HessianDensity("x", []string{"a", "b"}, []*landscape.Spectrum{a}, 0),
		"empty":          HessianDensity("x", []string{"a"}, []*landscape.Spectrum{{}}, 0),
	} {
		if bad.Err() == nil {
			t.Errorf("%s: no error", name)
		}
	}
	png, err := f.PNG()
	if err != nil || len(png) == 0 {
		t.Fatalf("PNG: %v", err)
	}
	if err := f.Save(t.TempDir() + "/spectrum.png"); err != nil {
		t.Fatal(err)
	}
}
