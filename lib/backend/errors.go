package backend

import (
	"fmt"
	"strings"
)

// Recovered turns a value recovered from a GoMLX panic (GoMLX reports shape errors and the like by
// panicking) into an error, for library functions that must return errors instead.
func Recovered(r any) error {
	if err, ok := r.(error); ok {
		return err
	}
	return fmt.Errorf("%v", r)
}

// FirstLine returns the first line of err's message: GoMLX appends stack traces to its errors, and a
// user needs the line that says what went wrong.
func FirstLine(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return strings.TrimSpace(msg)
}
