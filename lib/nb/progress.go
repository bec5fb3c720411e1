package nb

import (
	"fmt"
	"html"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/janpfeifer/gonb/gonbui"
)

// Progress is a progress bar for long work. In a GoNB notebook it is an HTML bar updated in place; in a
// terminal it is one line on stderr rewritten in place; under `go test` it is silent. It is safe for
// concurrent use.
type Progress struct {
	mu        sync.Mutex
	label     string
	total, n  int
	status    string
	start     time.Time
	lastDraw  time.Time
	displayID string
	out       io.Writer
	done      bool
	everDrawn bool
}

// NewProgress starts a progress bar for total units of work, labelled e.g. "training" or "grid 21×21".
func NewProgress(total int, label string) *Progress {
	p := &Progress{label: label, total: total, start: time.Now()}
	switch {
	case testBinary():
	case gonbui.IsNotebook:
		p.displayID = "losslab-progress-" + gonbui.UniqueID()
	default:
		p.out = os.Stderr
	}
	p.draw(true)
	return p
}

// Add records n more units done, with an optional short status (e.g. "loss 0.412").
func (p *Progress) Add(n int, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += n
	if status != "" {
		p.status = status
	}
	p.draw(false)
}

// Done marks the work finished and draws the final state.
func (p *Progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	p.done = true
	p.draw(true)
	if p.out != nil && p.everDrawn {
		fmt.Fprintln(p.out)
	}
}

// draw renders at most ~5 times per second unless forced.
func (p *Progress) draw(force bool) {
	if p.displayID == "" && p.out == nil {
		return
	}
	now := time.Now()
	if !force && now.Sub(p.lastDraw) < 200*time.Millisecond {
		return
	}
	p.lastDraw = now
	p.everDrawn = true
	frac := 0.0
	if p.total > 0 {
		frac = min(1, float64(p.n)/float64(p.total))
	}
	elapsed := now.Sub(p.start).Round(100 * time.Millisecond)
	eta := ""
	if frac > 0 && frac < 1 {
		eta = fmt.Sprintf(", ~%s left", time.Duration(float64(elapsed)*(1-frac)/frac).Round(time.Second))
	}
	counts := fmt.Sprintf("%d/%d (%s%s)", p.n, p.total, elapsed, eta)
	if p.displayID != "" {
		state := ""
		if p.done {
			state = " ✓"
		}
		gonbui.UpdateHTML(p.displayID, fmt.Sprintf(
			`<div style="font-family:monospace;font-size:12px">%s%s `+
				`<span style="display:inline-block;width:240px;height:10px;border:1px solid #888;vertical-align:middle">`+
				`<span style="display:block;height:100%%;width:%.1f%%;background:#0072B2"></span></span> %s %s</div>`,
			html.EscapeString(p.label), state, 100*frac, html.EscapeString(counts), html.EscapeString(p.status)))
		return
	}
	const width = 30
	filled := int(frac * width)
	fmt.Fprintf(p.out, "\r%s [%s%s] %s %s\x1b[K", p.label, strings.Repeat("=", filled), strings.Repeat(" ", width-filled), counts, p.status)
}

// testBinary reports whether this program is a test binary built by `go test` (named <package>.test and
// run with -test.* flags), where progress bars would only clutter the test log. testing.Testing says the
// same, but importing package testing here would link it into every notebook cell's program.
func testBinary() bool {
	if strings.HasSuffix(strings.TrimSuffix(os.Args[0], ".exe"), ".test") {
		return true
	}
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.") {
			return true
		}
	}
	return false
}
