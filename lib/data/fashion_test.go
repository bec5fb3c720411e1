package data

import (
	"bytes"
	"compress/gzip"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// haveFashion skips the test when the Debian package is not installed here.
func haveFashion(t *testing.T) {
	t.Helper()
	dir := os.Getenv(FashionMNISTEnv)
	if dir == "" {
		dir = FashionMNISTDir
	}
	if _, err := os.Stat(filepath.Join(dir, "train-labels-idx1-ubyte.gz")); err != nil {
		t.Skipf("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist): %v", err)
	}
}

func TestFashionMNISTTrain(t *testing.T) {
	haveFashion(t)
	s, err := FashionMNIST("train")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 60000 || s.Dim() != 784 || s.Classes != 10 || len(s.Shape) != 1 {
		t.Fatalf("got N=%d shape=%v classes=%d", s.Len(), s.Shape, s.Classes)
	}
	for c, n := range s.ClassCounts() {
		if n != 6000 {
			t.Errorf("class %d has %d training examples, want 6000", c, n)
		}
	}
	// Standardized: mean 0 and std 1 over all training pixels, computed here independently in float64.
	var sum, sumSq float64
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range s.X {
		sum += float64(v)
		sumSq += float64(v) * float64(v)
		lo, hi = min(lo, v), max(hi, v)
	}
	n := float64(len(s.X))
	mean, std := sum/n, math.Sqrt(sumSq/n-(sum/n)*(sum/n))
	if math.Abs(mean) > 1e-4 || math.Abs(std-1) > 1e-4 {
		t.Errorf("standardized train pixels: mean %g std %g, want 0 and 1", mean, std)
	}
	// Pixel 0 maps to -μ/σ, about -0.81; 255 maps to (1-μ)/σ, about 2.02.
	if math.Abs(float64(lo)+0.810) > 0.01 || math.Abs(float64(hi)-2.023) > 0.01 {
		t.Errorf("standardized range [%g, %g], want about [-0.810, 2.023]", lo, hi)
	}
	if s.IDs[0] != 0 || s.IDs[59999] != 59999 {
		t.Errorf("train ids %d..%d, want 0..59999", s.IDs[0], s.IDs[59999])
	}
}

func TestFashionMNISTTestSplitAndOptions(t *testing.T) {
	haveFashion(t)
	u, err := FashionMNIST("test", WithScaling(Unit), AsImages())
	if err != nil {
		t.Fatal(err)
	}
	if u.Len() != 10000 || len(u.Shape) != 3 || u.Shape[0] != 28 || u.Shape[1] != 28 || u.Shape[2] != 1 {
		t.Fatalf("test split: N=%d shape %v", u.Len(), u.Shape)
	}
	for c, n := range u.ClassCounts() {
		if n != 1000 {
			t.Errorf("test class %d has %d examples, want 1000", c, n)
		}
	}
	if u.IDs[0] != 60000 || u.IDs[9999] != 69999 {
		t.Errorf("test ids %d..%d, want 60000..69999", u.IDs[0], u.IDs[9999])
	}
	lo, hi := float32(1), float32(0)
	for _, v := range u.X {
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo != 0 || hi != 1 {
		t.Errorf("unit scaling range [%g, %g], want [0, 1]", lo, hi)
	}
	b, err := FashionMNIST("test", WithScaling(Bytes))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(b.X); i += 997 {
		if math.Abs(float64(b.X[i])/255-float64(u.X[i])) > 1e-6 || b.X[i] != float32(int(b.X[i])) {
			t.Fatalf("byte scaling %g vs unit %g at %d", b.X[i], u.X[i], i)
		}
	}

	// Subsets: balanced, deterministic given the seed, ids and pixels taken from the full split.
	a1, _ := FashionMNIST("test", WithScaling(Unit), WithSubset(1005), WithSeed(7))
	a2, _ := FashionMNIST("test", WithScaling(Unit), WithSubset(1005), WithSeed(7))
	a3, _ := FashionMNIST("test", WithScaling(Unit), WithSubset(1005), WithSeed(8))
	if a1.Len() != 1005 {
		t.Fatalf("subset has %d examples", a1.Len())
	}
	for c, n := range a1.ClassCounts() {
		want := 100
		if c < 5 {
			want = 101
		}
		if n != want {
			t.Errorf("subset class %d: %d examples, want %d", c, n, want)
		}
	}
	same := true
	for i := range a1.IDs {
		if a1.IDs[i] != a2.IDs[i] {
			t.Fatalf("same seed gave different subsets")
		}
		same = same && a1.IDs[i] == a3.IDs[i]
		full := u.Example(int(a1.IDs[i] - 60000))
		got := a1.Example(i)
		if got[400] != full[400] || a1.Y[i] != u.Y[a1.IDs[i]-60000] {
			t.Fatalf("subset example %d differs from full example id %d", i, a1.IDs[i])
		}
	}
	if same {
		t.Error("different seeds gave the same subset")
	}
	if _, err := FashionMNIST("validation"); err == nil || !strings.Contains(err.Error(), "validation") {
		t.Errorf("unknown split: err = %v", err)
	}
}

func TestFashionMNISTMissing(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(FashionMNISTEnv, dir)
	_, err := FashionMNIST("train")
	if err == nil || !strings.Contains(err.Error(), "apt-get install dataset-fashion-mnist") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("missing data: err = %v, want a message naming the folder and the Debian package", err)
	}
}

func writeGz(t *testing.T, path string, data []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeIDX builds idx files for n tiny examples.
func fakeIDX(n int) (images, labels []byte) {
	images = []byte{0, 0, 8, 3, 0, 0, 0, byte(n), 0, 0, 0, 28, 0, 0, 0, 28}
	labels = []byte{0, 0, 8, 1, 0, 0, 0, byte(n)}
	for i := range n {
		for p := range 784 {
			images = append(images, byte((i*31+p)%256))
		}
		labels = append(labels, byte(i%10))
	}
	return images, labels
}

func TestFashionMNISTCorrupt(t *testing.T) {
	images, labels := fakeIDX(12)

	// A well-formed tiny folder (uncompressed labels, gzipped images) loads with Bytes scaling.
	ok := t.TempDir()
	writeGz(t, filepath.Join(ok, "t10k-images-idx3-ubyte.gz"), images)
	os.WriteFile(filepath.Join(ok, "t10k-labels-idx1-ubyte"), labels, 0o644)
	s, err := FashionMNIST("test", WithDir(ok), WithScaling(Bytes))
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 12 || s.X[784*3+5] != float32((3*31+5)%256) || s.Y[11] != 1 {
		t.Fatalf("tiny set decoded wrongly: N=%d x=%g y=%d", s.Len(), s.X[784*3+5], s.Y[11])
	}

	cases := map[string]func(dir string){
		"truncated data": func(dir string) {
			writeGz(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), images[:len(images)-100])
		},
		"bad magic": func(dir string) {
			bad := append([]byte{}, images...)
			bad[3] = 9
			writeGz(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), bad)
		},
		"broken gzip": func(dir string) {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(images)
			zw.Close()
			os.WriteFile(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), buf.Bytes()[:buf.Len()/2], 0o644)
		},
	}
	for name, write := range cases {
		dir := t.TempDir()
		write(dir)
		writeGz(t, filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), labels)
		_, err := FashionMNIST("test", WithDir(dir), WithScaling(Bytes))
		if err == nil || !strings.Contains(err.Error(), "truncated or corrupt") {
			t.Errorf("%s: err = %v, want a truncated-or-corrupt error", name, err)
		}
	}
}

// A gzip that expands far beyond what its idx header announces (a "zip bomb": 14 MB that expand to
// 3 GB ended in Go's fatal "out of memory") is an error after reading what the header announces, and a
// header announcing more examples than any Fashion-MNIST split is refused before anything is allocated.
func TestFashionMNISTBomb(t *testing.T) {
	images, labels := fakeIDX(12)
	const extra = 256 << 20 // zeros after the 12 examples: 256 MiB that gzip to about 256 KiB
	bomb := t.TempDir()
	{
		f, err := os.Create(filepath.Join(bomb, "t10k-images-idx3-ubyte.gz"))
		if err != nil {
			t.Fatal(err)
		}
		zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
		zw.Write(images)
		zero := make([]byte, 1<<20)
		for range extra >> 20 {
			zw.Write(zero)
		}
		zw.Close()
		f.Close()
	}
	writeGz(t, filepath.Join(bomb, "t10k-labels-idx1-ubyte.gz"), labels)
	huge := t.TempDir()
	hdr := []byte{0, 0, 8, 3, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 28, 0, 0, 0, 28}
	writeGz(t, filepath.Join(huge, "t10k-images-idx3-ubyte.gz"), append(hdr, images[16:]...))
	writeGz(t, filepath.Join(huge, "t10k-labels-idx1-ubyte.gz"), labels)
	for name, dir := range map[string]string{"bomb": bomb, "huge header": huge} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := FashionMNIST("test", WithDir(dir), WithScaling(Bytes))
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), "truncated or corrupt") {
			t.Errorf("%s: err = %v, want a truncated-or-corrupt error", name, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
			t.Errorf("%s: %d MiB allocated to reject it, want at most what the header allows (here < 1 MiB)", name, alloc>>20)
		}
	}
}
