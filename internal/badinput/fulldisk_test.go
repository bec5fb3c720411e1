package badinput

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/landscape"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
	"github.com/losslab/losslab/lib/viz"
)

// A full disk is simulated with a file-size limit (RLIMIT_FSIZE) in a child process: every write past
// fsizeLimit bytes fails with EFBIG, as a write to a full disk fails with ENOSPC, partway through the
// file. The child is this test binary re-run with childEnv naming the case; it prints one result line.
const (
	childEnv    = "LOSSLAB_BADINPUT_CHILD"
	childDirEnv = "LOSSLAB_BADINPUT_DIR"
	fsizeLimit  = 4096
	resultTag   = "BADINPUT-RESULT: "
)

// The saves the child attempts, each bigger than fsizeLimit, each over a good file or folder the parent
// wrote first.
var fullDiskSaves = map[string]func(dir string) error{
	"train.SaveCheckpoint": func(dir string) error {
		m := models.NewMLP(3, 256)
		res, err := train.Run(train.Config{Model: m, Train: blobsNoT(), Steps: 2, BatchSize: 16, Seed: 2, Silent: true})
		if err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		_, err = train.SaveCheckpoint(dir, res.Context, 3, m.Name())
		return err
	},
	"train.Run checkpoint": func(dir string) error {
		m := models.NewMLP(3, 256)
		_, err := train.Run(train.Config{Model: m, Train: blobsNoT(), Steps: 3, BatchSize: 16, Seed: 2, Silent: true,
			CheckpointDir: dir, CheckpointSteps: []int{3}})
		return err
	},
	"landscape.SaveJSON": func(dir string) error {
		big := make([]float64, 5000)
		for i := range big {
			big[i] = float64(i) / 7
		}
		return landscape.SaveJSON(filepath.Join(dir, "result.json"), map[string]any{"values": big})
	},
	"viz.Figure.Save svg": func(dir string) error {
		return bigFigure().Save(filepath.Join(dir, "figure.svg"))
	},
	"viz.Figure.Save png": func(dir string) error {
		return bigFigure().Save(filepath.Join(dir, "figure.png"))
	},
}

func bigFigure() *viz.Figure {
	x, y := make([]float64, 500), make([]float64, 500)
	for i := range x {
		x[i], y[i] = float64(i), float64(i*i%97)
	}
	return viz.Lines("a figure bigger than the limit", "x", "y", viz.XY("y", x, y))
}

func blobsNoT() *data.Set { return mustBlobs(96, 1) }

// TestFullDiskChild is the child side; it does nothing in a normal run.
func TestFullDiskChild(t *testing.T) {
	name := os.Getenv(childEnv)
	if name == "" {
		t.Skip("runs only as the child of TestFullDisk")
	}
	save := fullDiskSaves[name]
	if save == nil {
		t.Fatalf("unknown case %q", name)
	}
	signal.Ignore(syscall.SIGXFSZ) // a write past the limit then fails with EFBIG instead of killing us
	lim := syscall.Rlimit{Cur: fsizeLimit, Max: fsizeLimit}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatalf("setrlimit: %v", err)
	}
	err := save(os.Getenv(childDirEnv))
	if err != nil {
		fmt.Printf("%serror: %s\n", resultTag, strings.ReplaceAll(err.Error(), "\n", " | "))
	} else {
		fmt.Printf("%sok\n", resultTag)
	}
}

// TestFullDisk: a save that runs out of space returns an error (no panic, no stack trace) and leaves
// the good file or checkpoint it would have replaced intact, with no temporary file left behind.
func TestFullDisk(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("child")
	}
	for _, name := range slices.Sorted(maps.Keys(fullDiskSaves)) {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			dir := t.TempDir()
			// The good version, written with no limit.
			var goodFlat []float32
			var goodFile string
			var goodBytes []byte
			switch {
			case strings.HasPrefix(name, "train."):
				set := mustBlobs(96, 1)
				m := models.NewMLP(3, 4)
				ctx := trained(t, m, set)
				if _, err := train.SaveCheckpoint(dir, ctx, 3, m.Name()); err != nil {
					t.Fatal(err)
				}
				goodFlat, _ = train.Flat(ctx)
			default:
				goodFile = map[string]string{"landscape.SaveJSON": "result.json", "viz.Figure.Save svg": "figure.svg",
					"viz.Figure.Save png": "figure.png"}[name]
				goodBytes = []byte("the good result from an earlier run\n")
				if err := os.WriteFile(filepath.Join(dir, goodFile), goodBytes, 0o644); err != nil {
					t.Fatal(err)
				}
			}

			cmd := exec.Command(os.Args[0], "-test.run=^TestFullDiskChild$", "-test.v")
			cmd.Env = append(os.Environ(), childEnv+"="+name, childDirEnv+"="+dir)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			runErr := cmd.Run()
			text := out.String()
			if strings.Contains(text, "panic:") || strings.Contains(text, "goroutine ") {
				t.Fatalf("the save panicked under a full disk:\n%s", text)
			}
			if runErr != nil {
				t.Fatalf("child failed (%v):\n%s", runErr, text)
			}
			i := strings.Index(text, resultTag)
			if i < 0 {
				t.Fatalf("child printed no result:\n%s", text)
			}
			result := strings.TrimSpace(strings.SplitN(text[i+len(resultTag):], "\n", 2)[0])
			t.Logf("%s under a %d-byte file limit: %s", name, fsizeLimit, result)
			if !strings.HasPrefix(result, "error: ") {
				t.Errorf("%s reported success although it could not have written its file", name)
			}

			// The good version is intact and nothing half-written is left.
			if goodFlat != nil {
				list, err := train.ListCheckpoints(dir)
				if err != nil {
					t.Fatal(err)
				}
				if len(list) != 1 || list[0].Step != 3 {
					t.Fatalf("checkpoints after the failed save: %+v, want only step 3", list)
				}
				ctx, err := train.LoadCheckpoint(list[0].Path)
				if err != nil {
					t.Fatalf("the good checkpoint no longer loads: %v", err)
				}
				flat, _ := train.Flat(ctx)
				if !slices.Equal(flat, goodFlat) {
					t.Errorf("the good checkpoint's parameters changed (%d values, had %d)", len(flat), len(goodFlat))
				}
			} else {
				b, err := os.ReadFile(filepath.Join(dir, goodFile))
				if err != nil || !bytes.Equal(b, goodBytes) {
					t.Errorf("the good %s was replaced or damaged (err %v, %d bytes)", goodFile, err, len(b))
				}
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.Contains(e.Name(), "tmp") {
					t.Errorf("temporary %s left behind in the folder", e.Name())
				}
			}
		})
	}
}
