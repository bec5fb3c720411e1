package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// delimiter separates the routing frames of a Jupyter wire message from its signed parts.
var delimiter = []byte("<IDS|MSG>")

// message is one Jupyter wire message: routing frames, the delimiter, the HMAC signature, four JSON
// parts (header, parent header, metadata, content) and any binary buffers. The JSON parts are kept as
// they arrived, so a message passed through is byte for byte the one received.
type message struct {
	ids                               [][]byte
	signature                         []byte
	header, parent, metadata, content []byte
	buffers                           [][]byte
}

// header holds the header fields the relay reads or writes.
type header struct {
	MsgID    string `json:"msg_id"`
	MsgType  string `json:"msg_type"`
	Session  string `json:"session"`
	Username string `json:"username"`
	Date     string `json:"date"`
	Version  string `json:"version"`
}

// parseMessage splits frames into a message; it does not check the signature (see verify).
func parseMessage(frames [][]byte) (*message, error) {
	i := 0
	for i < len(frames) && !bytes.Equal(frames[i], delimiter) {
		i++
	}
	if i == len(frames) {
		return nil, errors.New("no <IDS|MSG> delimiter in the message")
	}
	if len(frames) < i+6 {
		return nil, fmt.Errorf("message has %d frames after its delimiter, want at least 5", len(frames)-i-1)
	}
	return &message{
		ids:       frames[:i],
		signature: frames[i+1],
		header:    frames[i+2],
		parent:    frames[i+3],
		metadata:  frames[i+4],
		content:   frames[i+5],
		buffers:   frames[i+6:],
	}, nil
}

// sign returns the hex HMAC-SHA256 of the four JSON parts under key, the signature of the Jupyter wire
// protocol's "hmac-sha256" scheme; with an empty key messages are not signed and it returns "".
func sign(key []byte, header, parent, metadata, content []byte) []byte {
	if len(key) == 0 {
		return []byte{}
	}
	mac := hmac.New(sha256.New, key)
	for _, part := range [][]byte{header, parent, metadata, content} {
		mac.Write(part)
	}
	sum := mac.Sum(nil)
	out := make([]byte, hex.EncodedLen(len(sum)))
	hex.Encode(out, sum)
	return out
}

// verify reports whether m carries the signature of its parts under key.
func (m *message) verify(key []byte) bool {
	if len(key) == 0 {
		return true
	}
	return hmac.Equal(sign(key, m.header, m.parent, m.metadata, m.content), m.signature)
}

// frames returns m as wire frames, signed under key.
func (m *message) frames(key []byte) [][]byte {
	m.signature = sign(key, m.header, m.parent, m.metadata, m.content)
	out := make([][]byte, 0, len(m.ids)+6+len(m.buffers))
	out = append(out, m.ids...)
	out = append(out, delimiter, m.signature, m.header, m.parent, m.metadata, m.content)
	return append(out, m.buffers...)
}

// readHeader decodes m's header.
func (m *message) readHeader() (header, error) {
	var h header
	err := json.Unmarshal(m.header, &h)
	return h, err
}

// parentID is the msg_id of m's parent header ("" when it has none).
func (m *message) parentID() string {
	var h header
	_ = json.Unmarshal(m.parent, &h)
	return h.MsgID
}

// newMessage builds a message of type msgType answering or published for parent (its raw header),
// with the given session and content, routed to ids.
func newMessage(ids [][]byte, parent []byte, session, msgType string, content any) (*message, error) {
	data, err := json.Marshal(content)
	if err != nil {
		return nil, err
	}
	h, err := json.Marshal(header{
		MsgID:    newID(),
		MsgType:  msgType,
		Session:  session,
		Username: "kernel",
		Date:     time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"),
		Version:  "5.3",
	})
	if err != nil {
		return nil, err
	}
	if len(parent) == 0 {
		parent = []byte("{}")
	}
	return &message{ids: ids, header: h, parent: parent, metadata: []byte("{}"), content: data}, nil
}

// newID returns a random UUID (version 4) as text.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
