package main

import (
	"bytes"
	"testing"
)

func TestSignMatchesJupyter(t *testing.T) {
	// The value Python's hmac.new(b"secret-key", digestmod=hashlib.sha256) gives for the four parts in
	// order, as jupyter_client's Session.sign computes it.
	const want = "5d36b293e5c458d7f35ffeb808fd982decee51d5d55aa707a0cf9c6b99e2c0a9"
	got := sign([]byte("secret-key"), []byte(`{"msg_id":"a"}`), []byte("{}"), []byte("{}"), []byte(`{"code":"1"}`))
	if string(got) != want {
		t.Errorf("sign = %s, want %s", got, want)
	}
	if got := sign(nil, []byte("{}"), nil, nil, nil); len(got) != 0 {
		t.Errorf("with no key the signature is empty, got %q", got)
	}
}

func TestMessageRoundTrip(t *testing.T) {
	key := []byte("k")
	m, err := newMessage([][]byte{[]byte("client")}, []byte(`{"msg_id":"p"}`), "s", "is_complete_reply", map[string]any{"status": "complete"})
	if err != nil {
		t.Fatal(err)
	}
	frames := append(m.frames(key), []byte("buffer"))
	back, err := parseMessage(frames)
	if err != nil {
		t.Fatal(err)
	}
	if !back.verify(key) {
		t.Error("a message the relay signed does not verify")
	}
	if back.verify([]byte("other key")) {
		t.Error("a message verifies under the wrong key")
	}
	h, err := back.readHeader()
	if err != nil || h.MsgType != "is_complete_reply" || h.Session != "s" || back.parentID() != "p" {
		t.Errorf("header %+v (%v), parent %q", h, err, back.parentID())
	}
	if len(back.ids) != 1 || string(back.ids[0]) != "client" || len(back.buffers) != 1 {
		t.Errorf("routing frames %q, buffers %q", back.ids, back.buffers)
	}
	back.content = []byte(`{"status":"invalid"}`)
	if back.verify(key) {
		t.Error("a message whose content changed still verifies")
	}
	for _, bad := range [][][]byte{{[]byte("no delimiter")}, {delimiter, []byte("sig"), []byte("{}")}} {
		if _, err := parseMessage(bad); err == nil {
			t.Errorf("parseMessage(%q) gave no error", bytes.Join(bad, []byte("|")))
		}
	}
}
