package train

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"
)

func hidden(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp") {
			out = append(out, e.Name())
		}
	}
	return out
}

func valueContext(v float32) *context.Context {
	ctx := context.New()
	ctx.In("dense_0").VariableWithValue("weights", [][]float32{{v, v}, {v, v}})
	return ctx
}

func weight(t *testing.T, path string) float32 {
	t.Helper()
	ctx, err := LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	return ctx.GetVariableByScopeAndName("/dense_0", "weights").MustValue().Value().([][]float32)[0][0]
}

// TestCheckpointResaveInterrupted: a process killed while re-saving a step, between moving the old
// copy aside and moving the new one in, must not lose the step: the next list recovers it (the new
// copy, which was complete) and nothing hidden is left behind.
func TestCheckpointResaveInterrupted(t *testing.T) {
	dir := t.TempDir()
	if _, err := SaveCheckpoint(dir, valueContext(1), 5, "m"); err != nil {
		t.Fatal(err)
	}
	// The state SaveCheckpoint leaves when killed between its two renames: the old copy moved aside to
	// <tmp>.old, the complete new copy still in <tmp>.
	newCopy := filepath.Join(t.TempDir(), "new")
	if _, err := SaveCheckpoint(newCopy, valueContext(2), 5, "m"); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, ".tmp-"+StepDir(5)+"-123456")
	if err := os.Rename(filepath.Join(dir, StepDir(5)), tmp+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(newCopy, StepDir(5)), tmp); err != nil {
		t.Fatal(err)
	}
	list, err := ListCheckpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Step != 5 {
		t.Fatalf("after a re-save killed half-way, ListCheckpoints = %+v, want step 5", list)
	}
	if w := weight(t, list[0].Path); w != 2 {
		t.Errorf("the recovered step holds %v, want the new copy's 2", w)
	}
	if h := hidden(t, dir); len(h) > 0 {
		t.Errorf("hidden folders left after recovery: %v", h)
	}
}

// TestCheckpointOrphansCleaned: temporary folders of saves killed before their rename are removed by
// the next save, and a folder of a save still in progress is never touched (the lock says which).
func TestCheckpointOrphansCleaned(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{".tmp-" + StepDir(3) + "-111", ".tmp-" + StepDir(4) + "-222"} {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "checkpoint-x.bin"), make([]byte, 1<<16), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := SaveCheckpoint(dir, valueContext(1), 7, "m"); err != nil {
		t.Fatal(err)
	}
	if h := hidden(t, dir); len(h) > 0 {
		t.Errorf("orphaned temporary folders survive the next save: %v", h)
	}
}

// TestCheckpointConcurrentResave: two writers re-saving one step while a reader lists and loads it:
// the reader always finds the step, complete (one writer's values or the other's), and no .old or
// .tmp folder is left at the end.
func TestCheckpointConcurrentResave(t *testing.T) {
	dir := t.TempDir()
	if _, err := SaveCheckpoint(dir, valueContext(1), 9, "m"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 40 {
				if _, err := SaveCheckpoint(dir, valueContext(float32(w+1)), 9, "m"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	readerDone := make(chan int)
	go func() {
		failures, reads := 0, 0
		defer func() { readerDone <- failures }()
		for {
			select {
			case <-stop:
				t.Logf("%d reads, %d failures", reads, failures)
				return
			default:
			}
			reads++
			c, err := FindCheckpoint(dir, 9)
			if err == nil {
				var ctx *context.Context
				if ctx, err = LoadCheckpoint(c.Path); err == nil {
					v := ctx.GetVariableByScopeAndName("/dense_0", "weights").MustValue().Value().([][]float32)[0][0]
					if v != 1 && v != 2 {
						t.Errorf("read the value %v, neither writer's", v)
					}
				}
			}
			if err != nil {
				if failures < 3 {
					t.Errorf("a reader during re-saves: %v", err)
				}
				failures++
			}
		}
	}()
	wg.Wait()
	close(stop)
	if n := <-readerDone; n > 0 {
		t.Errorf("the reader failed %d times", n)
	}
	if h := hidden(t, dir); len(h) > 0 {
		t.Errorf("left behind: %v", h)
	}
}
