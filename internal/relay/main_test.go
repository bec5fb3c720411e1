package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// GoNB's connection file keeps Jupyter's key and scheme, on five distinct loopback ports, readable by
// its owner only (it holds the key).
func TestBackConnection(t *testing.T) {
	front := connection{Transport: "tcp", IP: "0.0.0.0", ShellPort: 1, IOPubPort: 2, StdinPort: 3, ControlPort: 4, HBPort: 5,
		Key: "secret", SignatureScheme: "hmac-sha256", KernelName: "losslab"}
	back, err := backConnection(front)
	if err != nil {
		t.Fatal(err)
	}
	ports := map[int]bool{}
	for _, p := range []int{back.ShellPort, back.IOPubPort, back.StdinPort, back.ControlPort, back.HBPort} {
		if p <= 5 || ports[p] {
			t.Errorf("port %d reused or Jupyter's", p)
		}
		ports[p] = true
	}
	if back.IP != "127.0.0.1" || back.Transport != "tcp" || back.Key != front.Key || back.SignatureScheme != front.SignatureScheme {
		t.Errorf("back connection %+v", back)
	}
	path := filepath.Join(t.TempDir(), "kernel-1234.json")
	if err := writeConnection(path, back); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("connection file mode %v, want 0600", st.Mode().Perm())
	}
	var read connection
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &read); err != nil || read != back {
		t.Errorf("read back %+v (%v), want %+v", read, err, back)
	}
}
