package main

import (
	"regexp"
	"strings"
)

// exitReport matches the stderr stream GoNB publishes, on its own, after the last output of a cell
// program that did not exit cleanly: the error of Go's exec.Cmd.Wait ("exit status 3",
// "signal: killed"), after "^C" when the cell was interrupted. A panic (in main or in a goroutine)
// exits with status 2, log.Fatal with status 1, os.Exit(n) with n.
var exitReport = regexp.MustCompile(`\A(\^C\n)?(exit status -?\d+|signal: [a-z ]+( \(core dumped\))?)\n\z`)

// maxLine bounds the partial line a failure scan keeps between stream messages.
const maxLine = 4096

// failureScan follows the stderr of one cell program: it remembers the first line that starts a Go
// runtime failure ("panic: …", "fatal error: …") for the error message.
type failureScan struct {
	partial string // the last, unfinished line seen
	first   string // the first "panic: " or "fatal error: " line
}

// add scans one piece of stderr.
func (s *failureScan) add(text string) {
	data := s.partial + text
	lines := strings.Split(data, "\n")
	s.partial = lines[len(lines)-1]
	if len(s.partial) > maxLine {
		s.partial = s.partial[:maxLine]
	}
	for _, line := range lines[:len(lines)-1] {
		if s.first == "" && (strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ")) {
			s.first = truncate(line, 500)
		}
	}
}

// cellError is the content of the Jupyter error (the `error` message on IOPub and the execute_reply's
// ename, evalue and traceback) for a cell program that ended as report says.
func (s *failureScan) cellError(report string) map[string]any {
	status := strings.TrimSpace(strings.TrimPrefix(report, "^C\n"))
	ename, evalue := "ExitError", "the cell program ended with "+status
	switch {
	case s.first != "":
		name, value, _ := strings.Cut(s.first, ": ")
		ename, evalue = name, value+" (the cell program ended with "+status+")"
	case strings.HasPrefix(report, "^C\n"):
		ename, evalue = "Interrupted", "the cell program was interrupted ("+status+")"
	}
	return map[string]any{
		"ename":     ename,
		"evalue":    evalue,
		"traceback": []string{ename + ": " + evalue},
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
