package main

import (
	"encoding/json"
	"io"
	"log"
	"strings"
	"sync"
	"testing"
)

var testKey = []byte("test-key")

// fakeRelay is a relay whose sockets are recorded: each sent message is appended to sent as
// "SOCKET TYPE CONTENT".
type fakeRelay struct {
	*relay
	mu   sync.Mutex
	sent []string
	raw  map[string][][]byte // the last frames sent per socket
}

func newFakeRelay(t *testing.T) *fakeRelay {
	f := &fakeRelay{raw: map[string][][]byte{}}
	record := func(name string) sink {
		return func(frames [][]byte) error {
			m, err := parseMessage(frames)
			if err != nil {
				t.Fatalf("%s: sent a broken message: %v", name, err)
			}
			if !m.verify(testKey) {
				t.Errorf("%s: sent a message with a wrong signature", name)
			}
			h, _ := m.readHeader()
			f.mu.Lock()
			defer f.mu.Unlock()
			f.sent = append(f.sent, name+" "+h.MsgType+" "+string(m.content))
			f.raw[name] = frames
			return nil
		}
	}
	f.relay = &relay{key: testKey, relayID: []byte("relay"), log: log.New(io.Discard, "", 0),
		clientShell: record("client-shell"), clientIOPub: record("client-iopub"), gonbShell: record("gonb-shell")}
	return f
}

// msg makes signed frames of a message of type msgType with the given parent header and content.
func msg(t *testing.T, ids []string, parent []byte, msgType string, content any) ([][]byte, []byte) {
	var idFrames [][]byte
	for _, id := range ids {
		idFrames = append(idFrames, []byte(id))
	}
	m, err := newMessage(idFrames, parent, "s", msgType, content)
	if err != nil {
		t.Fatal(err)
	}
	return m.frames(testKey), m.header
}

// cellRun sends an execute_request from Jupyter, and plays GoNB's side of running it: busy, the
// streams, the execute_reply with status, idle (the reply before or after idle).
func (f *fakeRelay) cellRun(t *testing.T, code string, streams []string, status string, replyAfterIdle bool) {
	req, h := msg(t, []string{"client"}, nil, "execute_request", map[string]any{"code": code, "stop_on_error": true})
	f.fromClientShell(req)
	gonb := []string{"relay", "client"}
	f.fromGoNBIOPub(first(msg(t, gonb, h, "status", map[string]any{"execution_state": "busy"})))
	for _, s := range streams {
		name, text, _ := strings.Cut(s, ":")
		f.fromGoNBIOPub(first(msg(t, gonb, h, "stream", map[string]any{"name": name, "text": text})))
	}
	reply, _ := msg(t, gonb[1:], h, "execute_reply", map[string]any{"status": status, "execution_count": 1})
	idle, _ := msg(t, gonb, h, "status", map[string]any{"execution_state": "idle"})
	if replyAfterIdle {
		f.fromGoNBIOPub(idle)
		f.fromGoNBShell(reply)
	} else {
		f.fromGoNBShell(reply)
		f.fromGoNBIOPub(idle)
	}
}

func first(frames [][]byte, _ []byte) [][]byte { return frames }

func TestFailedProgramBecomesError(t *testing.T) {
	for _, c := range []struct {
		name    string
		streams []string
		want    []string // substrings of the messages the client gets, in order
	}{
		{"panic", []string{"stderr:panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n", "stderr:exit status 2\n"},
			[]string{"client-iopub status", "stderr", "client-iopub error " + `{"ename":"panic","evalue":"boom (the cell program ended with exit status 2)"`,
				"client-shell execute_reply " + `{"ename":"panic"`, "client-iopub status {\"execution_state\":\"idle\"}"}},
		{"panic split over two streams", []string{"stderr:pan", "stderr:ic: far away\n", "stderr:exit status 2\n"},
			[]string{"client-iopub status", "stderr", "stderr", `client-iopub error {"ename":"panic","evalue":"far away`, `"status":"error"`, "idle"}},
		{"os.Exit(3)", []string{"stdout:hello\n", "stderr:exit status 3\n"},
			[]string{"client-iopub status", "hello", `client-iopub error {"ename":"ExitError","evalue":"the cell program ended with exit status 3"`, `"status":"error"`, "idle"}},
		{"interrupted", []string{"stderr:^C\nsignal: interrupt\n"},
			[]string{"client-iopub status", `client-iopub error {"ename":"Interrupted"`, `"status":"error"`, "idle"}},
		{"a program printing exit status, then more", []string{"stderr:exit status 3\n", "stdout:more\n"},
			[]string{"client-iopub status", "exit status 3", "more", `client-shell execute_reply {"execution_count":1,"status":"ok"}`, "idle"}},
		{"clean", []string{"stdout:hi\n"},
			[]string{"client-iopub status", "hi", `client-shell execute_reply {"execution_count":1,"status":"ok"}`, "idle"}},
	} {
		for _, after := range []bool{false, true} {
			f := newFakeRelay(t)
			f.cellRun(t, "%%\nx()", c.streams, "ok", after)
			got := f.sent[1:] // the execute_request forwarded to GoNB first
			if !strings.HasPrefix(f.sent[0], "gonb-shell execute_request") {
				t.Errorf("%s: first sent %q, want the request forwarded to GoNB", c.name, f.sent[0])
			}
			if after { // the reply came after idle: it is sent after it
				c.want[len(c.want)-2], c.want[len(c.want)-1] = c.want[len(c.want)-1], c.want[len(c.want)-2]
			}
			if len(got) != len(c.want) {
				t.Errorf("%s (reply after idle: %v): sent\n  %s\nwant %d messages", c.name, after, strings.Join(got, "\n  "), len(c.want))
				continue
			}
			for i, w := range c.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("%s (reply after idle: %v): message %d is %q, want it to contain %q", c.name, after, i, got[i], w)
				}
			}
		}
	}
}

func TestQueuedCellsAbortedAfterFailure(t *testing.T) {
	f := newFakeRelay(t)
	// Run All: three cells sent at once; the relay gives GoNB only the first.
	req1, h1 := msg(t, []string{"client"}, nil, "execute_request", map[string]any{"code": "a", "stop_on_error": true})
	req2, _ := msg(t, []string{"client"}, nil, "execute_request", map[string]any{"code": "b", "stop_on_error": true})
	req3, _ := msg(t, []string{"client"}, nil, "execute_request", map[string]any{"code": "c", "stop_on_error": true})
	for _, r := range [][][]byte{req1, req2, req3} {
		f.fromClientShell(r)
	}
	if len(f.sent) != 1 {
		t.Fatalf("sent %q, want only the first request forwarded", f.sent)
	}
	gonb := []string{"relay", "client"}
	f.fromGoNBIOPub(first(msg(t, gonb, h1, "stream", map[string]any{"name": "stderr", "text": "exit status 1\n"})))
	f.fromGoNBShell(first(msg(t, gonb[1:], h1, "execute_reply", map[string]any{"status": "ok", "execution_count": 1})))
	f.fromGoNBIOPub(first(msg(t, gonb, h1, "status", map[string]any{"execution_state": "idle"})))
	aborted := 0
	for _, s := range f.sent {
		if strings.HasPrefix(s, "gonb-shell") && s != f.sent[0] {
			t.Errorf("a queued cell went to GoNB after the failure: %s", s)
		}
		if strings.Contains(s, `execute_reply {"status":"aborted"}`) {
			aborted++
		}
	}
	if aborted != 2 {
		t.Errorf("%d aborted replies, want 2:\n%s", aborted, strings.Join(f.sent, "\n"))
	}
	if f.cell != nil || len(f.queue) != 0 {
		t.Error("the relay still waits for a cell")
	}

	// Without a failure the next queued cell goes to GoNB when the first is done.
	f = newFakeRelay(t)
	f.fromClientShell(req1)
	f.fromClientShell(req2)
	f.fromGoNBShell(first(msg(t, gonb[1:], h1, "execute_reply", map[string]any{"status": "ok", "execution_count": 1})))
	f.fromGoNBIOPub(first(msg(t, gonb, h1, "status", map[string]any{"execution_state": "idle"})))
	forwarded := 0
	for _, s := range f.sent {
		if strings.HasPrefix(s, "gonb-shell execute_request") && strings.Contains(s, `"code":"b"`) {
			forwarded++
		}
	}
	if forwarded != 1 || f.cell == nil {
		t.Errorf("after a cell that succeeded, sent\n%s\nwant the next request forwarded once", strings.Join(f.sent, "\n"))
	}
}

func TestIsCompleteAnswered(t *testing.T) {
	f := newFakeRelay(t)
	req, _ := msg(t, []string{"client"}, nil, "is_complete_request", map[string]any{"code": "func f() {"})
	f.fromClientShell(req)
	if len(f.sent) != 3 || !strings.Contains(f.sent[1], `client-shell is_complete_reply {"indent":"\t","status":"incomplete"}`) {
		t.Fatalf("sent %q", f.sent)
	}
	reply, _ := parseMessage(f.raw["client-shell"])
	if string(reply.ids[0]) != "client" {
		t.Errorf("reply routed to %q, want the client", reply.ids)
	}
	var h header
	_ = json.Unmarshal(reply.header, &h)
	if h.MsgType != "is_complete_reply" || reply.parentID() == "" {
		t.Errorf("reply header %s, parent %s", reply.header, reply.parent)
	}

	// A request that is not signed with the key is dropped.
	m, _ := parseMessage(req)
	m.content = []byte(`{"code":"x"}`)
	frames := m.frames([]byte("another key"))
	f.sent = nil
	f.fromClientShell(frames)
	if len(f.sent) != 0 {
		t.Errorf("answered a message signed with another key: %q", f.sent)
	}
}

// The reply and the idle status of a cell arrive on two sockets, read by two goroutines: whichever
// comes first, the reply is sent once, after the error output of a failed program, and the next cell
// starts. Run with -race.
func TestReplyAndIdleRace(t *testing.T) {
	f := newFakeRelay(t)
	gonb := []string{"relay", "client"}
	for i := range 200 {
		req, h := msg(t, []string{"client"}, nil, "execute_request", map[string]any{"code": "x", "stop_on_error": false})
		f.fromClientShell(req)
		status := "ok"
		if i%2 == 1 {
			f.fromGoNBIOPub(first(msg(t, gonb, h, "stream", map[string]any{"name": "stderr", "text": "exit status 1\n"})))
		}
		reply, _ := msg(t, gonb[1:], h, "execute_reply", map[string]any{"status": status, "execution_count": i})
		idle, _ := msg(t, gonb, h, "status", map[string]any{"execution_state": "idle"})
		var wg sync.WaitGroup
		wg.Go(func() { f.fromGoNBShell(reply) })
		wg.Go(func() { f.fromGoNBIOPub(idle) })
		wg.Wait()
		if f.cell != nil {
			t.Fatalf("cell %d: the relay still waits for it", i)
		}
	}
	replies, errors, failed := 0, 0, 0
	for _, s := range f.sent {
		switch {
		case strings.HasPrefix(s, "client-shell execute_reply"):
			replies++
			if strings.Contains(s, `"status":"error"`) {
				failed++
			}
		case strings.HasPrefix(s, "client-iopub error"):
			errors++
		}
	}
	if replies != 200 || errors != 100 || failed != 100 {
		t.Errorf("%d replies (%d errors), %d error outputs; want 200 (100), 100", replies, failed, errors)
	}
}
