package data

import (
	"fmt"
	"math"
	"slices"
)

// SegSet is a segmentation dataset: images in the embedded Set (Shape [H, W, C]) plus a class per
// pixel and a boundary map. Set.Y holds an image-level label: the non-background pixel class (minus
// one) covering most pixels, so Set.Classes = PixelClasses − 1.
type SegSet struct {
	Set
	Height, Width int
	Masks         []int32 // [N·H·W] pixel classes: 0 background, 1..PixelClasses−1 objects
	Boundaries    []uint8 // [N·H·W] 1 where a 4-neighbour (inside the image) has another class
	PixelClasses  int
}

// Subset returns the examples idx of a SegSet, as copies, keeping ids.
func (s *SegSet) Subset(idx []int) *SegSet {
	hw := s.Height * s.Width
	out := &SegSet{Set: *s.Set.Subset(idx), Height: s.Height, Width: s.Width, PixelClasses: s.PixelClasses}
	out.Masks = make([]int32, len(idx)*hw)
	out.Boundaries = make([]uint8, len(idx)*hw)
	for j, i := range idx {
		copy(out.Masks[j*hw:(j+1)*hw], s.Masks[i*hw:(i+1)*hw])
		copy(out.Boundaries[j*hw:(j+1)*hw], s.Boundaries[i*hw:(i+1)*hw])
	}
	return out
}

// Mask returns the pixel classes of example i (a view).
func (s *SegSet) Mask(i int) []int32 {
	hw := s.Height * s.Width
	return s.Masks[i*hw : (i+1)*hw]
}

// BoundaryMap marks with 1 every pixel of an h×w class map that has a 4-neighbour (up, down, left,
// right, inside the map) of a different class. Both sides of an edge are marked.
func BoundaryMap(mask []int32, h, w int) []uint8 {
	b := make([]uint8, h*w)
	for y := range h {
		for x := range w {
			m := mask[y*w+x]
			if (y > 0 && mask[(y-1)*w+x] != m) || (y < h-1 && mask[(y+1)*w+x] != m) ||
				(x > 0 && mask[y*w+x-1] != m) || (x < w-1 && mask[y*w+x+1] != m) {
				b[y*w+x] = 1
			}
		}
	}
	return b
}

// ShapeKinds names the object classes of Shapes, by pixel class (index 0 is the background).
var ShapeKinds = []string{"background", "square", "disc", "triangle"}

// ShapesConfig describes the tiny synthetic segmentation set.
type ShapesConfig struct {
	N         int     // number of images
	Size      int     // image side, default 16
	MaxShapes int     // each image has 1..MaxShapes objects, default 2
	Noise     float64 // standard deviation of Gaussian pixel noise (0 = none)
	Seed      uint64
}

// Shapes draws Size×Size grey images ([Size, Size, 1]) with 1..MaxShapes objects (square, disc or
// upward triangle; side or diameter uniform in [Size/4, Size/2]) at random positions, each of a
// random intensity in [0.5, 1] on a 0 background, later objects painted over earlier ones, plus
// Gaussian noise. Masks give each pixel's object class (ShapeKinds), Boundaries their edges.
func Shapes(cfg ShapesConfig) (*SegSet, error) {
	if cfg.Size == 0 {
		cfg.Size = 16
	}
	if cfg.MaxShapes == 0 {
		cfg.MaxShapes = 2
	}
	if cfg.N <= 0 || cfg.Size < 8 || cfg.MaxShapes < 1 || cfg.Noise < 0 {
		return nil, fmt.Errorf("data: bad shapes config %+v (want N > 0, Size ≥ 8, MaxShapes ≥ 1, Noise ≥ 0)", cfg)
	}
	r := newRand(cfg.Seed, streamShapes)
	n, sz := cfg.N, cfg.Size
	hw := sz * sz
	k := len(ShapeKinds)
	s := &SegSet{
		Set: Set{
			Name: "shapes", Shape: []int{sz, sz, 1}, X: make([]float32, n*hw),
			Y: make([]int32, n), IDs: sequentialIDs(n), Classes: k - 1,
		},
		Height: sz, Width: sz, Masks: make([]int32, n*hw), PixelClasses: k,
	}
	for i := range n {
		img, mask := s.X[i*hw:(i+1)*hw], s.Masks[i*hw:(i+1)*hw]
		for range 1 + r.IntN(cfg.MaxShapes) {
			kind := int32(1 + r.IntN(k-1))
			lo, hi := sz/4, sz/2
			side := lo + r.IntN(hi-lo+1)
			y0, x0 := r.IntN(sz-side+1), r.IntN(sz-side+1)
			val := float32(0.5 + 0.5*r.Float64())
			half := float64(side) / 2
			for y := y0; y < y0+side; y++ {
				for x := x0; x < x0+side; x++ {
					// Pixel centre relative to the box centre, in units of pixels.
					dy, dx := float64(y-y0)+0.5-half, float64(x-x0)+0.5-half
					in := false
					switch kind {
					case 1:
						in = true
					case 2:
						in = dy*dy+dx*dx <= half*half
					case 3: // apex at the top centre, base along the bottom row
						in = math.Abs(dx) <= (dy+half)/2
					}
					if in {
						img[y*sz+x], mask[y*sz+x] = val, kind
					}
				}
			}
		}
		counts := make([]int, k)
		for _, m := range mask {
			counts[m]++
		}
		s.Y[i] = int32(slices.Index(counts[1:], slices.Max(counts[1:])))
		if cfg.Noise > 0 {
			for j := range img {
				img[j] += float32(cfg.Noise * r.NormFloat64())
			}
		}
	}
	s.Boundaries = make([]uint8, 0, n*hw)
	for i := range n {
		s.Boundaries = append(s.Boundaries, BoundaryMap(s.Masks[i*hw:(i+1)*hw], sz, sz)...)
	}
	return s, nil
}

// TileConfig describes a segmentation set built from a classification image set.
type TileConfig struct {
	N         int     // number of scenes
	Tiles     int     // each scene is Tiles×Tiles random source images, default 2
	Threshold float32 // a pixel is foreground when its value exceeds Threshold (default 0.2: use Unit scaling)
	Seed      uint64
}

// TileSegmentation builds segmentation scenes from a single-channel image set (e.g. Fashion-MNIST
// with Unit scaling and AsImages): each scene tiles Tiles×Tiles source images drawn at random; a
// pixel above Threshold gets pixel class 1 + its source image's label, others background 0, giving
// 1 + Classes pixel classes. The image-level Y is the majority foreground class.
func TileSegmentation(src *Set, cfg TileConfig) (*SegSet, error) {
	if cfg.Tiles == 0 {
		cfg.Tiles = 2
	}
	if cfg.Threshold == 0 {
		cfg.Threshold = 0.2
	}
	h, w, c, _, err := imageShape(src.Shape)
	if err != nil {
		return nil, err
	}
	if c != 1 || cfg.N <= 0 || cfg.Tiles < 1 || src.Len() == 0 || src.Classes < 1 {
		return nil, fmt.Errorf("data: bad tile segmentation of %q (shape %v, %d examples) with %+v", src.Name, src.Shape, src.Len(), cfg)
	}
	r := newRand(cfg.Seed, streamShapes)
	t := cfg.Tiles
	sh, sw := h*t, w*t
	hw := sh * sw
	s := &SegSet{
		Set: Set{
			Name: src.Name + "+tiles", Shape: []int{sh, sw, 1}, X: make([]float32, cfg.N*hw),
			Y: make([]int32, cfg.N), IDs: sequentialIDs(cfg.N), Classes: src.Classes,
		},
		Height: sh, Width: sw, Masks: make([]int32, cfg.N*hw), PixelClasses: src.Classes + 1,
	}
	for i := range cfg.N {
		img, mask := s.X[i*hw:(i+1)*hw], s.Masks[i*hw:(i+1)*hw]
		for ty := range t {
			for tx := range t {
				j := r.IntN(src.Len())
				ex := src.Example(j)
				for y := range h {
					for x := range w {
						v := ex[y*w+x]
						p := (ty*h+y)*sw + tx*w + x
						img[p] = v
						if v > cfg.Threshold {
							mask[p] = 1 + src.Y[j]
						}
					}
				}
			}
		}
		counts := make([]int, s.PixelClasses)
		for _, m := range mask {
			counts[m]++
		}
		s.Y[i] = int32(slices.Index(counts[1:], slices.Max(counts[1:])))
	}
	s.Boundaries = make([]uint8, 0, cfg.N*hw)
	for i := range cfg.N {
		s.Boundaries = append(s.Boundaries, BoundaryMap(s.Masks[i*hw:(i+1)*hw], sh, sw)...)
	}
	return s, nil
}
