package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// FashionMNISTDir is where the Debian package dataset-fashion-mnist installs the data.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// FashionMNISTEnv names the environment variable that, when set, overrides FashionMNISTDir.
const FashionMNISTEnv = "LOSSLAB_FASHION_MNIST"

// FashionMNISTClasses are the Fashion-MNIST class names, indexed by label.
var FashionMNISTClasses = []string{
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
}

// Scaling says how FashionMNIST maps pixel bytes to features.
type Scaling int

const (
	// Standardized (the default): x = (b/255 − μ)/σ, with μ and σ the mean and standard deviation of
	// all training pixels after /255 (one scalar each, about 0.2860 and 0.3530), used for both splits.
	Standardized Scaling = iota
	// Unit: x = b/255 in [0, 1].
	Unit
	// Bytes: x = b in [0, 255].
	Bytes
)

// Option configures FashionMNIST.
type Option func(*fashionOptions)

type fashionOptions struct {
	subset  int
	seed    uint64
	image   bool
	scaling Scaling
	dir     string
}

// WithSubset keeps n examples, balanced across classes (n/10 per class, the remainder going to the
// lowest labels), chosen at random with the WithSeed seed and kept in file order. n ≤ 0 or n ≥ the
// split's size keeps everything.
func WithSubset(n int) Option { return func(o *fashionOptions) { o.subset = n } }

// WithSeed sets the seed of the subset choice (default 0).
func WithSeed(seed uint64) Option { return func(o *fashionOptions) { o.seed = seed } }

// AsImages gives examples the shape [28, 28, 1] (height, width, channel) instead of the flat [784];
// the data layout is the same.
func AsImages() Option { return func(o *fashionOptions) { o.image = true } }

// WithScaling picks the pixel scaling (default Standardized).
func WithScaling(s Scaling) Option { return func(o *fashionOptions) { o.scaling = s } }

// WithDir reads the files from dir instead of $LOSSLAB_FASHION_MNIST or FashionMNISTDir.
func WithDir(dir string) Option { return func(o *fashionOptions) { o.dir = dir } }

// fashionRaw is one decoded split, cached per process.
type fashionRaw struct {
	pixels []uint8 // n·784
	labels []uint8 // n
}

var fashionCache struct {
	sync.Mutex
	splits map[string]*fashionRaw // key: dir + "\x00" + split
	stats  map[string][2]float64  // key: dir; training pixel mean and std after /255
}

// FashionMNIST returns the "train" (60,000 examples, ids 0..59999) or "test" (10,000 examples, ids
// 60000..69999) split of Fashion-MNIST: 10 classes (FashionMNISTClasses), 28×28 grey images.
//
// The files are read from the folder in $LOSSLAB_FASHION_MNIST if set, else from
// /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist); each of
// train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte
// may be gzipped (.gz) or not. The decoded bytes are cached in memory for the life of the process.
//
// Pixels are standardized with the training set's mean and std (see Standardized) unless WithScaling
// says otherwise. Examples are flat ([784]) unless AsImages.
func FashionMNIST(split string, opts ...Option) (*Set, error) {
	var o fashionOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.dir == "" {
		o.dir = os.Getenv(FashionMNISTEnv)
	}
	if o.dir == "" {
		o.dir = FashionMNISTDir
	}
	var prefix string
	var idBase int32
	switch split {
	case "train":
		prefix = "train"
	case "test":
		prefix, idBase = "t10k", 60000
	default:
		return nil, fmt.Errorf("data: unknown Fashion-MNIST split %q (want \"train\" or \"test\")", split)
	}
	raw, err := loadFashion(o.dir, prefix)
	if err != nil {
		return nil, err
	}
	var scale, shift float32 = 1, 0
	switch o.scaling {
	case Bytes:
	case Unit:
		scale = 1.0 / 255
	case Standardized:
		mean, std, err := fashionStats(o.dir)
		if err != nil {
			return nil, err
		}
		scale, shift = float32(1/(255*std)), float32(-mean/std)
	default:
		return nil, fmt.Errorf("data: unknown Fashion-MNIST scaling %d", o.scaling)
	}

	n := len(raw.labels)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	if o.subset > 0 && o.subset < n {
		idx = balancedSubset(raw.labels, 10, o.subset, o.seed)
	}
	const d = 28 * 28
	s := &Set{
		Name:    "fashion-mnist/" + split,
		Shape:   []int{d},
		X:       make([]float32, len(idx)*d),
		Y:       make([]int32, len(idx)),
		IDs:     make([]int32, len(idx)),
		Classes: 10,
	}
	if o.image {
		s.Shape = []int{28, 28, 1}
	}
	var lut [256]float32
	for b := range lut {
		lut[b] = float32(b)*scale + shift
	}
	for j, i := range idx {
		src, dst := raw.pixels[i*d:(i+1)*d], s.X[j*d:(j+1)*d:(j+1)*d]
		for k, b := range src {
			dst[k] = lut[b]
		}
		s.Y[j] = int32(raw.labels[i])
		s.IDs[j] = idBase + int32(i)
	}
	return s, nil
}

// balancedSubset picks n indices, n/k per class (the first n mod k classes get one more), at random
// given seed, returned in increasing order.
func balancedSubset(labels []uint8, k, n int, seed uint64) []int {
	r := newRand(seed, streamSubset)
	by := make([][]int, k)
	for i, y := range labels {
		by[y] = append(by[y], i)
	}
	var idx []int
	for c := range k {
		want := n / k
		if c < n%k {
			want++
		}
		g := by[c]
		r.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
		idx = append(idx, g[:min(want, len(g))]...)
	}
	slices.Sort(idx)
	return idx
}

func fashionStats(dir string) (mean, std float64, err error) {
	fashionCache.Lock()
	st, ok := fashionCache.stats[dir]
	fashionCache.Unlock()
	if ok {
		return st[0], st[1], nil
	}
	raw, err := loadFashion(dir, "train")
	if err != nil {
		return 0, 0, err
	}
	var hist [256]int64
	for _, b := range raw.pixels {
		hist[b]++
	}
	var sum, sumSq, n float64
	for b, c := range hist {
		v := float64(b) / 255
		sum += float64(c) * v
		sumSq += float64(c) * v * v
		n += float64(c)
	}
	mean = sum / n
	std = math.Sqrt(sumSq/n - mean*mean)
	fashionCache.Lock()
	if fashionCache.stats == nil {
		fashionCache.stats = map[string][2]float64{}
	}
	fashionCache.stats[dir] = [2]float64{mean, std}
	fashionCache.Unlock()
	return mean, std, nil
}

// loadFashion decodes one split's images and labels, using the process cache.
func loadFashion(dir, prefix string) (*fashionRaw, error) {
	key := dir + "\x00" + prefix
	fashionCache.Lock()
	defer fashionCache.Unlock()
	if raw, ok := fashionCache.splits[key]; ok {
		return raw, nil
	}
	images, err := readIDX(dir, prefix+"-images-idx3-ubyte", 0x803, []int{28, 28})
	if err != nil {
		return nil, err
	}
	labels, err := readIDX(dir, prefix+"-labels-idx1-ubyte", 0x801, nil)
	if err != nil {
		return nil, err
	}
	if len(images) != len(labels)*28*28 {
		return nil, fmt.Errorf("data: Fashion-MNIST %s files disagree: %d images, %d labels (corrupt files? reinstall with apt-get install --reinstall dataset-fashion-mnist)",
			prefix, len(images)/(28*28), len(labels))
	}
	for i, y := range labels {
		if y > 9 {
			return nil, fmt.Errorf("data: Fashion-MNIST %s label %d is %d, outside 0..9 (corrupt file?)", prefix, i, y)
		}
	}
	raw := &fashionRaw{pixels: images, labels: labels}
	if fashionCache.splits == nil {
		fashionCache.splits = map[string]*fashionRaw{}
	}
	fashionCache.splits[key] = raw
	return raw, nil
}

// maxIDXExamples bounds the number of examples an idx header may announce: eight times the largest
// Fashion-MNIST split, so that a damaged header cannot make readIDX allocate gigabytes.
const maxIDXExamples = 500_000

// readIDX reads an idx file (name or name.gz in dir) of unsigned bytes: a big-endian header of magic
// (0x0000 08 ndim), ndim sizes, then the data. dims are the expected sizes after the first. It reads
// the header first and then exactly the data it announces, so a file that expands to more (a damaged
// or hostile gzip) is an error, never an allocation of whatever it expands to.
func readIDX(dir, name string, magic uint32, dims []int) ([]uint8, error) {
	path := filepath.Join(dir, name+".gz")
	f, err := os.Open(path)
	gzipped := true
	if errors.Is(err, fs.ErrNotExist) {
		if f2, err2 := os.Open(filepath.Join(dir, name)); err2 == nil {
			f, err, gzipped, path = f2, nil, false, filepath.Join(dir, name)
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("data: Fashion-MNIST not found: %s does not exist; install the Debian package with "+
			"`apt-get install dataset-fashion-mnist`, or set $%s to a folder holding the four idx files", path, FashionMNISTEnv)
	}
	if err != nil {
		return nil, fmt.Errorf("data: reading Fashion-MNIST: %w", err)
	}
	defer func() { _ = f.Close() }()
	corrupt := func(why string, args ...any) error {
		return fmt.Errorf("data: Fashion-MNIST file %s is truncated or corrupt: %s (reinstall with apt-get install --reinstall dataset-fashion-mnist)",
			path, fmt.Sprintf(why, args...))
	}
	var r io.Reader = bufio.NewReader(f)
	if gzipped {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, corrupt("%v", err)
		}
		r = zr
	}
	ndim := 1 + len(dims)
	header := make([]byte, 4+4*ndim)
	if n, err := io.ReadFull(r, header); err != nil {
		return nil, corrupt("%d bytes, shorter than the %d-byte header (%v)", n, len(header), err)
	}
	if got := binary.BigEndian.Uint32(header); got != magic {
		return nil, corrupt("magic number %#x, want %#x", got, magic)
	}
	n := int(binary.BigEndian.Uint32(header[4:]))
	if n > maxIDXExamples {
		return nil, corrupt("its header announces %d examples, more than the %d of any Fashion-MNIST file", n, maxIDXExamples)
	}
	size := n
	for i, want := range dims {
		if got := int(binary.BigEndian.Uint32(header[8+4*i:])); got != want {
			return nil, corrupt("dimension %d is %d, want %d", i+1, got, want)
		}
		size *= want
	}
	data := make([]byte, size)
	if got, err := io.ReadFull(r, data); err != nil {
		return nil, corrupt("%d data bytes, want %d for %d examples (%v)", got, size, n, err)
	}
	// Nothing may follow, and a gzip stream must end with its checksum: read on, a little.
	if extra, err := io.Copy(io.Discard, io.LimitReader(r, 1<<16)); err != nil {
		return nil, corrupt("%v", err)
	} else if extra > 0 {
		return nil, corrupt("more data than the %d examples its header announces", n)
	}
	return data, nil
}
