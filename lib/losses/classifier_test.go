package losses

import (
	"strings"
	"testing"
)

func TestResolveClassifier(t *testing.T) {
	c, err := ResolveClassifier("", nil)
	if err != nil || c.Name() != "ce" || !c.PerExample() {
		t.Fatalf(`ResolveClassifier("") = %+v, %v; want the per-example "ce"`, c, err)
	}
	c, err = ResolveClassifier("hinge", Params{"margin": 2})
	if err != nil || c.Name() != "hinge" || c.Params["margin"] != 2 {
		t.Fatalf("hinge with margin 2: %+v, %v", c, err)
	}
	for name, want := range map[string]string{
		"cee":  `did you mean "ce"`,
		"bpkd": "is of kind distillation: not a classification objective",
	} {
		if _, err := ResolveClassifier(name, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ResolveClassifier(%q): %v, want an error with %q", name, err, want)
		}
	}
	if _, err := ResolveClassifier("hinge", Params{"margin": -1}); err == nil || !strings.Contains(err.Error(), "margin") {
		t.Errorf("negative margin: %v", err)
	}
}
