package main

import (
	"bytes"
	"encoding/json"
	"log"
	"sync"
	"sync/atomic"
)

// sink sends one multipart message on a socket.
type sink func(frames [][]byte) error

// send is one message the relay has decided to send, and where.
type send struct {
	to     sink
	frames [][]byte
}

// relay holds what the relay knows of the conversation between Jupyter and GoNB. Its methods are
// called from one goroutine per incoming socket; they decide under mu and send after unlocking.
type relay struct {
	key     []byte                 // the connection file's signing key
	relayID []byte                 // the identity of the relay's sockets towards GoNB
	session atomic.Pointer[string] // the session of the messages the relay makes: GoNB's once one is seen
	log     *log.Logger

	clientShell, clientIOPub, gonbShell sink

	mu    sync.Mutex
	cell  *cell      // the execute_request GoNB is working on
	queue []*message // execute_requests waiting for it, in order
}

// cell is one execute_request sent to GoNB, followed until both its reply and its idle status have
// arrived (on different sockets, so in either order).
type cell struct {
	id          string
	request     *message
	stopOnError bool
	scan        failureScan
	held        [][]byte       // a stderr stream that may be GoNB's exit report, held until the next message
	heldText    string         // its text
	failure     map[string]any // ename, evalue and traceback of a failed cell program
	idle        bool
	reply       *message
}

func newCell(m *message, h header) *cell {
	var content struct {
		StopOnError *bool `json:"stop_on_error"`
	}
	_ = json.Unmarshal(m.content, &content)
	return &cell{id: h.MsgID, request: m, stopOnError: content.StopOnError == nil || *content.StopOnError}
}

func (r *relay) sessionID() string {
	if s := r.session.Load(); s != nil {
		return *s
	}
	return ""
}

func (r *relay) deliver(out []send) {
	for _, s := range out {
		if err := s.to(s.frames); err != nil {
			r.log.Printf("sending: %v", err)
		}
	}
}

// fromClientShell handles a message from Jupyter on the shell socket.
func (r *relay) fromClientShell(frames [][]byte) {
	m, h, ok := r.parse(frames, "shell", true)
	if !ok {
		return
	}
	switch h.MsgType {
	case "is_complete_request":
		r.deliver(r.answerIsComplete(m))
	case "execute_request":
		r.mu.Lock()
		var out []send
		if r.cell == nil {
			r.cell = newCell(m, h)
			out = append(out, send{r.gonbShell, frames})
		} else {
			r.queue = append(r.queue, m)
		}
		r.mu.Unlock()
		r.deliver(out)
	default:
		r.deliver([]send{{r.gonbShell, frames}})
	}
}

// fromGoNBShell handles a message from GoNB on the shell socket: replies, passed on, except the
// execute_reply of the cell in flight, which waits for the cell's idle status.
func (r *relay) fromGoNBShell(frames [][]byte) {
	m, h, ok := r.parse(frames, "GoNB's shell", false)
	if !ok {
		return
	}
	r.mu.Lock()
	out := []send{{r.clientShell, frames}}
	if c := r.cell; h.MsgType == "execute_reply" && c != nil && m.parentID() == c.id {
		c.reply = m
		out = nil
		if c.idle {
			out = r.finish()
		}
	}
	r.mu.Unlock()
	r.deliver(out)
}

// fromGoNBIOPub handles a message GoNB publishes. Outputs of the cell in flight are scanned for the
// report of a failed program; at the cell's idle status, a failed program becomes an error message.
func (r *relay) fromGoNBIOPub(frames [][]byte) {
	// GoNB publishes with the routing frames of the request as topic, which start with the relay's own.
	if len(frames) > 0 && bytes.Equal(frames[0], r.relayID) {
		frames = frames[1:]
	}
	m, h, ok := r.parse(frames, "GoNB's iopub", false)
	if !ok {
		return
	}
	r.mu.Lock()
	var out []send
	c := r.cell
	switch {
	case c == nil || m.parentID() != c.id:
		out = append(out, send{r.clientIOPub, frames})
	case h.MsgType == "stream":
		var content struct{ Name, Text string }
		_ = json.Unmarshal(m.content, &content)
		out = c.release(r, out)
		if content.Name == "stderr" && exitReport.MatchString(content.Text) {
			c.held, c.heldText = frames, content.Text
		} else {
			if content.Name == "stderr" {
				c.scan.add(content.Text)
			}
			out = append(out, send{r.clientIOPub, frames})
		}
	case h.MsgType == "status" && bytes.Contains(m.content, []byte(`"idle"`)):
		c.idle = true
		if c.held != nil {
			c.failure = c.scan.cellError(c.heldText)
			c.held = nil
			if e, err := newMessage([][]byte{[]byte("error")}, c.request.header, r.sessionID(), "error", c.failure); err == nil {
				out = append(out, send{r.clientIOPub, e.frames(r.key)})
			}
		}
		if c.reply != nil {
			out = append(out, r.finish()...)
		}
		out = append(out, send{r.clientIOPub, frames})
	default:
		out = c.release(r, out)
		out = append(out, send{r.clientIOPub, frames})
	}
	r.mu.Unlock()
	r.deliver(out)
}

// release appends the held stream, if any, to out: more output followed it, so it was the program's.
func (c *cell) release(r *relay, out []send) []send {
	if c.held != nil {
		c.scan.add(c.heldText)
		out = append(out, send{r.clientIOPub, c.held})
		c.held = nil
	}
	return out
}

// finish sends the reply of the cell in flight, rewritten to status "error" when its program failed,
// and starts the next queued cell, or, after an error with stop_on_error, aborts the queued cells as
// Jupyter kernels do (so "Run All" stops at the failed cell). Called with mu held.
func (r *relay) finish() []send {
	c := r.cell
	r.cell = nil
	reply := c.reply
	var content map[string]any
	if err := json.Unmarshal(reply.content, &content); err != nil {
		r.log.Printf("GoNB's execute_reply: %v", err)
		content = map[string]any{"status": "error"}
	}
	if c.failure != nil && content["status"] == "ok" {
		rewriteReply(content, c.failure)
		if data, err := json.Marshal(content); err == nil {
			reply.content = data
		}
	}
	out := []send{{r.clientShell, reply.frames(r.key)}}
	if content["status"] != "ok" && c.stopOnError {
		for _, q := range r.queue {
			out = append(out, r.abort(q)...)
		}
		r.queue = nil
	} else if len(r.queue) > 0 {
		next := r.queue[0]
		r.queue = r.queue[1:]
		h, _ := next.readHeader()
		r.cell = newCell(next, h)
		out = append(out, send{r.gonbShell, next.frames(r.key)})
	}
	return out
}

// rewriteReply turns the content of an "ok" execute_reply into an "error" one with the given ename,
// evalue and traceback, keeping its execution_count.
func rewriteReply(content map[string]any, failure map[string]any) {
	delete(content, "user_expressions")
	delete(content, "payload")
	content["status"] = "error"
	for k, v := range failure {
		content[k] = v
	}
}

// abort answers a queued execute_request that will not run: status busy, an "aborted" reply, status idle.
func (r *relay) abort(m *message) []send {
	return r.answer(m, "execute_reply", map[string]any{"status": "aborted"})
}

// answerIsComplete answers an is_complete_request (GoNB ignores them) with isComplete's verdict.
func (r *relay) answerIsComplete(m *message) []send {
	var req struct{ Code string }
	_ = json.Unmarshal(m.content, &req)
	status, indent := isComplete(req.Code)
	content := map[string]any{"status": status}
	if status == "incomplete" {
		content["indent"] = indent
	}
	return r.answer(m, "is_complete_reply", content)
}

// answer replies to request m itself, between the busy and idle statuses every request gets.
func (r *relay) answer(m *message, replyType string, content any) []send {
	var out []send
	for _, step := range []struct {
		to      sink
		ids     [][]byte
		msgType string
		content any
	}{
		{r.clientIOPub, [][]byte{[]byte("status")}, "status", map[string]any{"execution_state": "busy"}},
		{r.clientShell, m.ids, replyType, content},
		{r.clientIOPub, [][]byte{[]byte("status")}, "status", map[string]any{"execution_state": "idle"}},
	} {
		msg, err := newMessage(step.ids, m.header, r.sessionID(), step.msgType, step.content)
		if err != nil {
			r.log.Printf("making a %s: %v", step.msgType, err)
			continue
		}
		out = append(out, send{step.to, msg.frames(r.key)})
	}
	return out
}

// parse reads frames received on the named socket; with check, a message whose signature is wrong
// is dropped, as GoNB would drop it. It records GoNB's session for the messages the relay makes.
func (r *relay) parse(frames [][]byte, socket string, check bool) (*message, header, bool) {
	m, err := parseMessage(frames)
	if err != nil {
		r.log.Printf("dropping a message on %s: %v", socket, err)
		return nil, header{}, false
	}
	if check && !m.verify(r.key) {
		r.log.Printf("dropping a message on %s: its signature does not match the connection file's key", socket)
		return nil, header{}, false
	}
	h, err := m.readHeader()
	if err != nil {
		r.log.Printf("dropping a message on %s: its header: %v", socket, err)
		return nil, header{}, false
	}
	if !check && h.Session != "" {
		r.session.Store(&h.Session)
	}
	return m, h, true
}
