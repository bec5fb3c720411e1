package main

import "testing"

func TestIsComplete(t *testing.T) {
	for _, c := range []struct{ code, status, indent string }{
		{"", "complete", ""},
		{"%%\nfmt.Println(\"hi\")", "complete", ""},
		{"func f() int { return 1 }", "complete", ""},
		{"x := 1\nx++", "complete", ""},
		{"x--", "complete", ""},
		{"s := `raw\n(string`", "complete", ""},
		{"r := '('", "complete", ""},
		{`s := "a \" ( quote"`, "complete", ""},
		{"// a comment (with a paren", "complete", ""},
		{"/* ( */ x := 1", "complete", ""},
		{"%env A 1", "complete", ""},
		{"!ls -l (", "complete", ""},
		{"%%\n!echo a", "complete", ""},
		{"func f() {", "incomplete", "\t"},
		{"func f() {\n\tif x {", "incomplete", "\t\t"},
		{"x := []int{1,\n2,", "incomplete", "\t"},
		{"x := f(1,", "incomplete", "\t"},
		{"s := `raw\nstill raw", "incomplete", ""},
		{"y := 1 +", "incomplete", ""},
		{"y := a &&", "incomplete", ""},
		{"y := 1 + // more below", "incomplete", ""},
		{"/* an open\ncomment", "incomplete", ""},
		{"!echo a \\", "incomplete", ""},
		{"x := )", "invalid", ""},
		{"f(]", "invalid", ""},
		{"}", "invalid", ""},
		{"fmt.Println(\"unterminated\n\")", "invalid", ""},
		{"r := 'x", "invalid", ""},
	} {
		status, indent := isComplete(c.code)
		if status != c.status || indent != c.indent {
			t.Errorf("isComplete(%q) = %q, %q; want %q, %q", c.code, status, indent, c.status, c.indent)
		}
	}
}
