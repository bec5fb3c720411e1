package viz

import (
	"fmt"
	"html"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/losslab/losslab/lib/nb"

	"github.com/janpfeifer/gonb/gonbui"
)

// Table is a small table of results, shown as HTML in a notebook and saved as HTML or Markdown.
// Build it with NewTable and Row:
//
//	t := viz.NewTable("Final test accuracy", "objective", "accuracy", "ECE")
//	t.Row("cross-entropy", 0.912, 0.031)
//	t.Row("focal (γ=2)", 0.905, 0.012)
//	t.Show()
//
// Numbers are right-aligned and printed with 4 significant digits (Digits changes that); NaN and
// ±Inf print as "NaN", "+Inf" and "-Inf", never as blanks.
type Table struct {
	title  string
	header []string
	rows   [][]any
	digits int
	err    error
}

// NewTable returns an empty table with the given title and column names.
func NewTable(title string, header ...string) *Table {
	return &Table{title: title, header: header, digits: 4}
}

// Row appends a row; it must have one cell per column. Cells may be strings, numbers or anything
// fmt can print.
func (t *Table) Row(cells ...any) *Table {
	if t.err == nil && len(t.header) > 0 && len(cells) != len(t.header) {
		t.err = fmt.Errorf("viz: table %q: row %d has %d cells for %d columns", t.title, len(t.rows), len(cells), len(t.header))
	}
	t.rows = append(t.rows, cells)
	return t
}

// Digits sets the number of significant digits of float cells.
func (t *Table) Digits(n int) *Table {
	t.digits = n
	return t
}

// Err returns the first error in building the table (a row of the wrong length), or nil.
func (t *Table) Err() error { return t.err }

// cell formats one cell and says whether it is numeric.
func (t *Table) cell(v any) (string, bool) {
	switch x := v.(type) {
	case float64:
		return formatNumber(x, t.digits), true
	case float32:
		return formatNumber(float64(x), t.digits), true
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(x), true
	case string:
		return x, false
	case nil:
		return "", false
	default:
		return fmt.Sprint(x), false
	}
}

func formatNumber(x float64, digits int) string {
	switch {
	case math.IsNaN(x):
		return "NaN"
	case math.IsInf(x, 1):
		return "+Inf"
	case math.IsInf(x, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(x, 'g', digits, 64)
}

// HTML returns the table as an HTML fragment (a styled <table>).
func (t *Table) HTML() (string, error) {
	if t.err != nil {
		return "", t.err
	}
	var b strings.Builder
	b.WriteString(`<table style="border-collapse:collapse;font:13px 'Liberation Sans',Arial,Helvetica,sans-serif;color:#222;margin:4px 0">`)
	if t.title != "" {
		fmt.Fprintf(&b, `<caption style="font-weight:bold;font-size:14px;padding:4px;text-align:left">%s</caption>`, html.EscapeString(t.title))
	}
	if len(t.header) > 0 {
		b.WriteString("<thead><tr>")
		for i, h := range t.header {
			align := "left"
			if t.numericColumn(i) {
				align = "right"
			}
			fmt.Fprintf(&b, `<th style="border-bottom:2px solid #333;padding:4px 10px;text-align:%s">%s</th>`, align, html.EscapeString(h))
		}
		b.WriteString("</tr></thead>")
	}
	b.WriteString("<tbody>")
	for r, row := range t.rows {
		bg := "#ffffff"
		if r%2 == 1 {
			bg = "#f4f4f4"
		}
		fmt.Fprintf(&b, `<tr style="background:%s">`, bg)
		for _, v := range row {
			s, num := t.cell(v)
			align := "left"
			if num {
				align = "right;font-variant-numeric:tabular-nums"
			}
			fmt.Fprintf(&b, `<td style="padding:3px 10px;border-bottom:1px solid #ddd;text-align:%s">%s</td>`, align, html.EscapeString(s))
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</tbody></table>")
	return b.String(), nil
}

func (t *Table) numericColumn(i int) bool {
	if len(t.rows) == 0 {
		return false
	}
	for _, row := range t.rows {
		if i < len(row) {
			if _, num := t.cell(row[i]); !num {
				return false
			}
		}
	}
	return true
}

// Markdown returns the table in GitHub-flavoured Markdown (numeric columns right-aligned).
func (t *Table) Markdown() (string, error) {
	if t.err != nil {
		return "", t.err
	}
	esc := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }
	var b strings.Builder
	if t.title != "" {
		fmt.Fprintf(&b, "**%s**\n\n", esc(t.title))
	}
	cols := len(t.header)
	for _, r := range t.rows {
		cols = max(cols, len(r))
	}
	b.WriteString("|")
	for i := range cols {
		h := ""
		if i < len(t.header) {
			h = t.header[i]
		}
		fmt.Fprintf(&b, " %s |", esc(h))
	}
	b.WriteString("\n|")
	for i := range cols {
		if t.numericColumn(i) {
			b.WriteString(" ---: |")
		} else {
			b.WriteString(" --- |")
		}
	}
	b.WriteString("\n")
	for _, row := range t.rows {
		b.WriteString("|")
		for i := range cols {
			s := ""
			if i < len(row) {
				s, _ = t.cell(row[i])
			}
			fmt.Fprintf(&b, " %s |", esc(s))
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}

// Show displays the table inline in a GoNB notebook (as HTML); outside a notebook it prints the
// Markdown form to standard output.
func (t *Table) Show() error {
	if !gonbui.IsNotebook {
		md, err := t.Markdown()
		if err != nil {
			return err
		}
		fmt.Println(md)
		return nil
	}
	h, err := t.HTML()
	if err != nil {
		nb.HTML(`<pre class="losslab-error" style="color:#b00020">` + html.EscapeString(err.Error()) + `</pre>`)
		return err
	}
	nb.HTML(h)
	return nil
}

// Save writes the table to path, as a self-contained HTML page (.html) or Markdown (.md),
// atomically.
func (t *Table) Save(path string) error {
	var s string
	var err error
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".html", ".htm":
		s, err = t.HTML()
		s = "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>" + html.EscapeString(t.title) +
			"</title>\n</head>\n<body style=\"margin:16px\">\n" + s + "\n</body>\n</html>\n"
	case ".md", ".markdown":
		s, err = t.Markdown()
	default:
		return fmt.Errorf("viz: cannot save table %q to %q: unknown extension %q (want .html or .md)", t.title, path, ext)
	}
	if err != nil {
		return err
	}
	return writeFileAtomic(path, []byte(s))
}
