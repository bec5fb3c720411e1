package main

import "strings"

// isComplete answers Jupyter's is_complete_request for a GoNB cell: "incomplete" while a bracket,
// brace or parenthesis is open, a raw string or block comment is unterminated, the last line ends in
// an operator or comma (Go continues such a statement on the next line), or a % or ! line ends in a
// backslash (GoNB joins it with the next); "invalid" for a closing bracket that matches nothing and an
// interpreted string or rune literal cut by the end of its line; "complete" otherwise. indent is what a
// console puts before the next line of an incomplete cell: one tab per open bracket.
//
// Lines starting with % or ! (GoNB's magics and shell commands) are not Go and are not scanned.
func isComplete(code string) (status, indent string) {
	var open []byte // the closing brackets expected, innermost last
	inRaw, inBlock := false, false
	lines := strings.Split(code, "\n")
	lastGo := "" // the last line of Go with text, comments removed
	for li, line := range lines {
		if !inRaw && !inBlock && len(open) == 0 {
			if t := strings.TrimSpace(line); strings.HasPrefix(t, "%") || strings.HasPrefix(t, "!") {
				if li == len(lines)-1 && strings.HasSuffix(t, `\`) {
					return "incomplete", ""
				}
				lastGo = ""
				continue
			}
		}
		var text strings.Builder // the line's code outside comments
		for i := 0; i < len(line); i++ {
			c := line[i]
			switch {
			case inBlock:
				if c == '*' && i+1 < len(line) && line[i+1] == '/' {
					inBlock = false
					i++
				}
				continue
			case inRaw:
				if c == '`' {
					inRaw = false
				}
				text.WriteByte('x')
				continue
			}
			switch c {
			case '/':
				if i+1 < len(line) && line[i+1] == '/' {
					i = len(line) // a line comment: the rest of the line
					continue
				}
				if i+1 < len(line) && line[i+1] == '*' {
					inBlock = true
					i++
					continue
				}
			case '`':
				inRaw = true
				text.WriteByte('x')
				continue
			case '"', '\'':
				end := closeQuote(line, i)
				if end < 0 {
					return "invalid", ""
				}
				i = end
				text.WriteByte('x')
				continue
			case '(', '[', '{':
				open = append(open, map[byte]byte{'(': ')', '[': ']', '{': '}'}[c])
			case ')', ']', '}':
				if len(open) == 0 || open[len(open)-1] != c {
					return "invalid", ""
				}
				open = open[:len(open)-1]
			}
			text.WriteByte(c)
		}
		if t := strings.TrimSpace(text.String()); t != "" {
			lastGo = t
		}
	}
	if inRaw || inBlock || len(open) > 0 || continues(lastGo) {
		return "incomplete", strings.Repeat("\t", len(open))
	}
	return "complete", ""
}

// closeQuote returns the index of the quote that ends the string or rune literal opened at line[start],
// or -1 when the line ends first.
func closeQuote(line string, start int) int {
	q := line[start]
	for i := start + 1; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case q:
			return i
		}
	}
	return -1
}

// continues reports whether a line of Go ending so continues on the next one: a binary operator, an
// assignment or a comma, but not the statements x++ and x--.
func continues(line string) bool {
	if line == "" || strings.HasSuffix(line, "++") || strings.HasSuffix(line, "--") {
		return false
	}
	return strings.ContainsRune(",+-*/%&|^<>=!.:", rune(line[len(line)-1]))
}
