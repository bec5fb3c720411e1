package atomicfile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.json")
	if err := Write(path, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("two"), 0o640); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "two" {
		t.Fatalf("read %q, %v; want \"two\"", b, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d entries in the folder, want only a.json (temporary files left behind?)", len(entries))
	}
	err = Write(filepath.Join(dir, "missing", "b"), nil, 0o600)
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("writing into a missing folder: %v, want an error naming the path", err)
	}
}

// TestWriteConcurrent: many writers of one path leave one whole file, never a mix or a part.
func TestWriteConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c")
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := Write(path, bytes.Repeat([]byte{byte('a' + i)}, 1<<16), 0o600); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 1<<16 || bytes.Count(b, b[:1]) != len(b) {
		t.Errorf("file of %d bytes mixes writers: %s", len(b), fmt.Sprintf("%.20q", b))
	}
}
