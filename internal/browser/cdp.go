// Package browser drives Debian's headless Chromium through the Chrome DevTools Protocol, so that a test
// can open LossLab's notebooks in the real Jupyter front end, run every cell and check what the page
// shows. It speaks the protocol over Chromium's --remote-debugging-pipe (file descriptors 3 and 4,
// messages ended by a NUL byte), which needs no WebSocket library, no open debugging port and nothing
// beyond the standard library.
//
// Chromium always starts with the flags that keep it off the network (no QUIC, no background
// networking, no component updates, no sync, no first-run) and with a fresh, empty profile.
package browser

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Package names the Debian package that provides Executable.
const Package = "chromium"

// Executable is where Debian's chromium package installs the browser.
const Executable = "/usr/bin/chromium"

// Flags are the command-line flags Launch always passes: headless, no sandbox (tests run as root), and
// everything that would reach the network on its own turned off.
var Flags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--disable-dev-shm-usage", "--no-default-browser-check", "--mute-audio",
	"--remote-debugging-pipe",
}

// Find returns the Chromium executable, or an error that names the Debian package to install.
func Find() (string, error) {
	if st, err := os.Stat(Executable); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
		return Executable, nil
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("headless Chromium not found at %s: install the Debian package %q (apt-get install -y %s)", Executable, Package, Package)
}

// Browser is a running headless Chromium controlled over a pipe.
type Browser struct {
	cmd      *exec.Cmd
	toChrome *os.File // our end of Chromium's fd 3
	stderr   *strings.Builder

	mu      sync.Mutex
	nextID  int64
	waiting map[int64]chan reply
	closed  chan struct{} // closed when the reader stops (Chromium exited or the pipe broke)
	readErr error
}

type reply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type message struct {
	ID        int64           `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// Launch starts Chromium with Flags, a window of width×height pixels and a profile in userDataDir,
// which should be a new empty folder. Close stops it.
func Launch(userDataDir string, width, height int) (*Browser, error) {
	exe, err := Find()
	if err != nil {
		return nil, err
	}
	// Chromium reads commands from fd 3 and writes replies and events to fd 4.
	chromeIn, toChrome, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	fromChrome, chromeOut, err := os.Pipe()
	if err != nil {
		chromeIn.Close()
		toChrome.Close()
		return nil, err
	}
	args := append([]string{}, Flags...)
	args = append(args, "--user-data-dir="+userDataDir, fmt.Sprintf("--window-size=%d,%d", width, height), "about:blank")
	cmd := exec.Command(exe, args...)
	cmd.ExtraFiles = []*os.File{chromeIn, chromeOut}
	stderr := &strings.Builder{}
	cmd.Stderr = &limitedWriter{b: stderr, max: 64 << 10}
	if err := cmd.Start(); err != nil {
		for _, f := range []*os.File{chromeIn, toChrome, fromChrome, chromeOut} {
			f.Close()
		}
		return nil, fmt.Errorf("starting %s: %w", exe, err)
	}
	chromeIn.Close()
	chromeOut.Close()
	b := &Browser{cmd: cmd, toChrome: toChrome, stderr: stderr, waiting: map[int64]chan reply{}, closed: make(chan struct{})}
	go b.read(fromChrome)
	return b, nil
}

// limitedWriter keeps the first max bytes of Chromium's stderr for error messages.
type limitedWriter struct {
	mu  sync.Mutex
	b   *strings.Builder
	max int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := w.max - w.b.Len(); room > 0 {
		if len(p) > room {
			w.b.Write(p[:room])
		} else {
			w.b.Write(p)
		}
	}
	return len(p), nil
}

// Stderr returns the start of what Chromium printed on stderr (for diagnosing a failed launch).
func (b *Browser) Stderr() string {
	lw := b.cmd.Stderr.(*limitedWriter)
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.b.String()
}

func (b *Browser) read(r io.ReadCloser) {
	defer r.Close()
	br := bufio.NewReaderSize(r, 1<<20)
	var err error
	for {
		var raw []byte
		raw, err = br.ReadBytes(0)
		if err != nil {
			break
		}
		var m message
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil || m.ID == 0 {
			continue // an event: the tests poll the page instead of listening
		}
		b.mu.Lock()
		ch := b.waiting[m.ID]
		delete(b.waiting, m.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- reply{Result: m.Result, Error: m.Error}
		}
	}
	b.mu.Lock()
	b.readErr = err
	b.mu.Unlock()
	close(b.closed)
}

// call sends one protocol command (to the browser when session is "", else to that page) and decodes
// its result into out (when not nil).
func (b *Browser) call(ctx context.Context, session, method string, params any, out any) error {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan reply, 1)
	b.waiting[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := b.toChrome.Write(append(data, 0)); err != nil {
		return fmt.Errorf("%s: writing to Chromium: %w", method, err)
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			return fmt.Errorf("%s: %s (code %d)", method, r.Error.Message, r.Error.Code)
		}
		if out != nil && len(r.Result) > 0 {
			return json.Unmarshal(r.Result, out)
		}
		return nil
	case <-b.closed:
		return fmt.Errorf("%s: Chromium closed the connection (%v); its stderr:\n%s", method, b.readErr, b.Stderr())
	case <-ctx.Done():
		b.mu.Lock()
		delete(b.waiting, id)
		b.mu.Unlock()
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// Version returns Chromium's product string, e.g. "Chrome/124.0.6367.60".
func (b *Browser) Version(ctx context.Context) (string, error) {
	var v struct {
		Product string `json:"product"`
	}
	err := b.call(ctx, "", "Browser.getVersion", nil, &v)
	return v.Product, err
}

// Close asks Chromium to quit, and kills it if it has not within a few seconds.
func (b *Browser) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = b.call(ctx, "", "Browser.close", nil, nil)
	done := make(chan error, 1)
	go func() { done <- b.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		_ = b.cmd.Process.Kill()
		err = <-done
	}
	b.toChrome.Close()
	return err
}

// Page is one tab.
type Page struct {
	b       *Browser
	session string
}

// NewPage opens a blank tab.
func (b *Browser) NewPage(ctx context.Context) (*Page, error) {
	var t struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &t); err != nil {
		return nil, err
	}
	var s struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": t.TargetID, "flatten": true}, &s); err != nil {
		return nil, err
	}
	p := &Page{b: b, session: s.SessionID}
	for _, m := range []string{"Page.enable", "Runtime.enable"} {
		if err := b.call(ctx, p.session, m, nil, nil); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Navigate loads url in the page; it returns once the navigation is committed, not when the page has
// finished loading (poll with Eval for that).
func (p *Page) Navigate(ctx context.Context, url string) error {
	var r struct {
		ErrorText string `json:"errorText"`
	}
	if err := p.b.call(ctx, p.session, "Page.navigate", map[string]any{"url": url}, &r); err != nil {
		return err
	}
	if r.ErrorText != "" {
		return fmt.Errorf("navigating to %s: %s", url, r.ErrorText)
	}
	return nil
}

// Eval evaluates a JavaScript expression in the page (awaiting it when it is a promise) and decodes its
// value, which must be JSON-serialisable, into out (when not nil). A thrown exception is an error.
func (p *Page) Eval(ctx context.Context, expr string, out any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception *struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := p.b.call(ctx, p.session, "Runtime.evaluate", map[string]any{
		"expression": expr, "returnByValue": true, "awaitPromise": true,
	}, &r)
	if err != nil {
		return err
	}
	if e := r.ExceptionDetails; e != nil {
		msg := e.Text
		if e.Exception != nil && e.Exception.Description != "" {
			msg = e.Exception.Description
		}
		return fmt.Errorf("javascript: %s", msg)
	}
	if out != nil && len(r.Result.Value) > 0 {
		return json.Unmarshal(r.Result.Value, out)
	}
	return nil
}

// WaitFor evaluates a boolean JavaScript expression every interval until it is true, the context ends,
// or the expression throws. It returns how long it waited.
func (p *Page) WaitFor(ctx context.Context, expr string, interval time.Duration) (time.Duration, error) {
	start := time.Now()
	for {
		var ok bool
		if err := p.Eval(ctx, expr, &ok); err != nil {
			return time.Since(start), err
		}
		if ok {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("waiting for %s: %w", expr, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// Screenshot returns a PNG of the page at the given CSS size in pixels (width×height; the page is laid
// out at that size first, so a tall height captures a long notebook in one picture).
func (p *Page) Screenshot(ctx context.Context, width, height int) ([]byte, error) {
	if width > 0 && height > 0 {
		if err := p.SetViewport(ctx, width, height); err != nil {
			return nil, err
		}
		defer p.ClearViewport(context.Background())
	}
	return p.Capture(ctx)
}

// SetViewport lays the page out at width×height CSS pixels (device scale 1) until ClearViewport.
func (p *Page) SetViewport(ctx context.Context, width, height int) error {
	return p.b.call(ctx, p.session, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false,
	}, nil)
}

// ClearViewport returns the page to the window's size.
func (p *Page) ClearViewport(ctx context.Context) error {
	return p.b.call(ctx, p.session, "Emulation.clearDeviceMetricsOverride", nil, nil)
}

// Capture returns a PNG of the page's viewport as it is laid out now.
func (p *Page) Capture(ctx context.Context) ([]byte, error) {
	return p.capture(ctx, map[string]any{"format": "png"})
}

// CaptureClip returns a PNG of the w×h region at (x, y) of the viewport as it is laid out now, in CSS
// pixels (device scale 1). A page laid out taller than about 16k pixels (see SetViewport) is captured in
// several clips: one capture is limited to about that. (Capturing beyond the viewport instead makes
// Chromium lay the page out again, and boxes measured before no longer match the picture.)
func (p *Page) CaptureClip(ctx context.Context, x, y, w, h int) ([]byte, error) {
	return p.capture(ctx, map[string]any{"format": "png",
		"clip": map[string]any{"x": x, "y": y, "width": w, "height": h, "scale": 1}})
}

func (p *Page) capture(ctx context.Context, params map[string]any) ([]byte, error) {
	var r struct {
		Data string `json:"data"`
	}
	if err := p.b.call(ctx, p.session, "Page.captureScreenshot", params, &r); err != nil {
		return nil, err
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		return nil, err
	}
	if len(png) == 0 {
		return nil, errors.New("Chromium returned an empty screenshot")
	}
	return png, nil
}

// Click moves the mouse to (x, y) in CSS pixels of the viewport and clicks the left button there, as a
// user would: the page sees real mouse events (move, down, up).
func (p *Page) Click(ctx context.Context, x, y float64) error {
	for _, typ := range []string{"mouseMoved", "mousePressed", "mouseReleased"} {
		ev := map[string]any{"type": typ, "x": x, "y": y}
		if typ != "mouseMoved" {
			ev["button"] = "left"
			ev["clickCount"] = 1
		}
		if err := p.b.call(ctx, p.session, "Input.dispatchMouseEvent", ev, nil); err != nil {
			return err
		}
	}
	return nil
}
