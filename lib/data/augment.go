package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// AugmentConfig lists the random image augmentations to apply, in this order: crop, shift, flip,
// erase, noise. Zero values switch an augmentation off. Pixels uncovered by a shift and erased
// patches take the image's background value: its minimum pixel (0 for unit scaling, about −0.81 for
// standardized Fashion-MNIST).
type AugmentConfig struct {
	// CropMin, in (0, 1), enables a random resized crop: a square window whose side is uniform in
	// [CropMin·min(H,W), min(H,W)], at a random position, resized back to H×W bilinearly.
	CropMin float64
	Shift   int     // translate by dy, dx uniform in [−Shift, Shift] pixels
	Flip    bool    // mirror left-right with probability 1/2
	Erase   int     // set a random Erase×Erase square (inside the image) to the background
	Noise   float64 // add N(0, Noise²) to every pixel
	Seed    uint64
}

// Augmenter draws augmented views of images of shape [H, W, C] ([H, W] or a flat square are read as
// one channel); its random sequence is fixed by the config's seed.
type Augmenter struct {
	cfg     AugmentConfig
	h, w, c int
	rng     *rand.Rand
	buf     []float32
}

// NewAugmenter returns an augmenter for examples of the given per-example shape.
func NewAugmenter(shape []int, cfg AugmentConfig) (*Augmenter, error) {
	h, w, c, _, err := imageShape(shape)
	if err != nil {
		return nil, err
	}
	if cfg.CropMin < 0 || cfg.CropMin >= 1 || cfg.Shift < 0 || cfg.Erase < 0 || cfg.Erase > min(h, w) || cfg.Noise < 0 {
		return nil, fmt.Errorf("data: bad augmentation config %+v for %d×%d images", cfg, h, w)
	}
	return &Augmenter{cfg: cfg, h: h, w: w, c: c, rng: newRand(cfg.Seed, streamAugment), buf: make([]float32, h*w*c)}, nil
}

// Apply returns one augmented view of each example idx of s, as len(idx)·Dim features.
func (a *Augmenter) Apply(s *Set, idx []int) []float32 {
	d := a.h * a.w * a.c
	out := make([]float32, len(idx)*d)
	for j, i := range idx {
		a.augment(s.X[i*d:(i+1)*d], out[j*d:(j+1)*d])
	}
	return out
}

// TwoViews returns two independent augmented views of each example idx of s (for contrastive
// objectives): view1[j] and view2[j] come from the same image s.Example(idx[j]).
func (a *Augmenter) TwoViews(s *Set, idx []int) (view1, view2 []float32) {
	d := a.h * a.w * a.c
	view1 = make([]float32, len(idx)*d)
	view2 = make([]float32, len(idx)*d)
	for j, i := range idx {
		a.augment(s.X[i*d:(i+1)*d], view1[j*d:(j+1)*d])
		a.augment(s.X[i*d:(i+1)*d], view2[j*d:(j+1)*d])
	}
	return view1, view2
}

func (a *Augmenter) augment(src, dst []float32) {
	h, w, c, r, cfg := a.h, a.w, a.c, a.rng, a.cfg
	bg := slices.Min(src)
	copy(dst, src)
	if cfg.CropMin > 0 {
		lo := cfg.CropMin * float64(min(h, w))
		side := lo + r.Float64()*(float64(min(h, w))-lo)
		y0 := r.Float64() * (float64(h) - side)
		x0 := r.Float64() * (float64(w) - side)
		for y := range h {
			sy := y0 + (float64(y)+0.5)*side/float64(h) - 0.5
			for x := range w {
				sx := x0 + (float64(x)+0.5)*side/float64(w) - 0.5
				for ch := range c {
					dst[(y*w+x)*c+ch] = bilinear(src, h, w, c, ch, sy, sx)
				}
			}
		}
	}
	if cfg.Shift > 0 {
		dy := r.IntN(2*cfg.Shift+1) - cfg.Shift
		dx := r.IntN(2*cfg.Shift+1) - cfg.Shift
		copy(a.buf, dst)
		for y := range h {
			for x := range w {
				sy, sx := y-dy, x-dx
				for ch := range c {
					v := bg
					if sy >= 0 && sy < h && sx >= 0 && sx < w {
						v = a.buf[(sy*w+sx)*c+ch]
					}
					dst[(y*w+x)*c+ch] = v
				}
			}
		}
	}
	if cfg.Flip && r.IntN(2) == 1 {
		for y := range h {
			for x := range w / 2 {
				for ch := range c {
					p, q := (y*w+x)*c+ch, (y*w+w-1-x)*c+ch
					dst[p], dst[q] = dst[q], dst[p]
				}
			}
		}
	}
	if e := cfg.Erase; e > 0 {
		y0, x0 := r.IntN(h-e+1), r.IntN(w-e+1)
		for y := y0; y < y0+e; y++ {
			for x := x0; x < x0+e; x++ {
				for ch := range c {
					dst[(y*w+x)*c+ch] = bg
				}
			}
		}
	}
	if cfg.Noise > 0 {
		for i := range dst {
			dst[i] += float32(cfg.Noise * r.NormFloat64())
		}
	}
}

// bilinear samples channel ch of an h×w×c image at (y, x), clamping to the border.
func bilinear(img []float32, h, w, c, ch int, y, x float64) float32 {
	y = math.Min(math.Max(y, 0), float64(h-1))
	x = math.Min(math.Max(x, 0), float64(w-1))
	y0, x0 := int(y), int(x)
	y1, x1 := min(y0+1, h-1), min(x0+1, w-1)
	fy, fx := float32(y-float64(y0)), float32(x-float64(x0))
	at := func(yy, xx int) float32 { return img[(yy*w+xx)*c+ch] }
	top := at(y0, x0)*(1-fx) + at(y0, x1)*fx
	bot := at(y1, x0)*(1-fx) + at(y1, x1)*fx
	return top*(1-fy) + bot*fy
}

// PatchMaskConfig describes random patch masking (as in masked-image modelling).
type PatchMaskConfig struct {
	Patch int     // side p of the square patches; must divide H and W
	Ratio float64 // mask ratio γ in [0, 1]: each image keeps int(L·(1−γ)) of its L patches
	Seed  uint64
}

// PatchMasker draws random patch masks for images of one shape.
type PatchMasker struct {
	cfg           PatchMaskConfig
	h, w, c       int
	gh, gw        int // patch grid
	keep, patches int
	rng           *rand.Rand
}

// NewPatchMasker returns a masker for examples of the given per-example image shape. For 28×28
// images with 4×4 patches and ratio 0.75: L = 49 patches, 12 kept, 37 masked.
func NewPatchMasker(shape []int, cfg PatchMaskConfig) (*PatchMasker, error) {
	h, w, c, _, err := imageShape(shape)
	if err != nil {
		return nil, err
	}
	if cfg.Patch < 1 || h%cfg.Patch != 0 || w%cfg.Patch != 0 || !(cfg.Ratio >= 0 && cfg.Ratio <= 1) {
		return nil, fmt.Errorf("data: bad patch mask config %+v for %d×%d images (patch must divide both sides, ratio in [0, 1])", cfg, h, w)
	}
	m := &PatchMasker{cfg: cfg, h: h, w: w, c: c, gh: h / cfg.Patch, gw: w / cfg.Patch, rng: newRand(cfg.Seed, streamMask)}
	m.patches = m.gh * m.gw
	m.keep = int(float64(m.patches) * (1 - cfg.Ratio))
	return m, nil
}

// NumPatches returns L, the number of patches per image (row-major over the patch grid).
func (m *PatchMasker) NumPatches() int { return m.patches }

// NumMasked returns the number of masked patches per image, L − int(L·(1−Ratio)).
func (m *PatchMasker) NumMasked() int { return m.patches - m.keep }

// Next returns masks for batch images: [batch·L] booleans, true for a masked patch, exactly
// NumMasked per image, chosen uniformly at random.
func (m *PatchMasker) Next(batch int) []bool {
	mask := make([]bool, batch*m.patches)
	for b := range batch {
		perm := permutation(m.rng, m.patches)
		for _, p := range perm[m.keep:] {
			mask[b*m.patches+p] = true
		}
	}
	return mask
}

// Apply returns a copy of the images x ([B·H·W·C]) whose masked patches (mask [B·L] from Next) are
// set to fill.
func (m *PatchMasker) Apply(x []float32, mask []bool, fill float32) []float32 {
	out := slices.Clone(x)
	d, p := m.h*m.w*m.c, m.cfg.Patch
	for b := range len(x) / d {
		for l := range m.patches {
			if !mask[b*m.patches+l] {
				continue
			}
			py, px := (l/m.gw)*p, (l%m.gw)*p
			for y := py; y < py+p; y++ {
				for xx := px; xx < px+p; xx++ {
					for ch := range m.c {
						out[b*d+(y*m.w+xx)*m.c+ch] = fill
					}
				}
			}
		}
	}
	return out
}

// Patchify rearranges images x ([B, H, W, C] row-major, shape the per-example shape) into patch
// vectors [B, L, p·p·C]: patch l = (row l/(W/p), column l%(W/p)) of the grid, its pixels row-major.
func Patchify(x []float32, shape []int, p int) ([]float32, error) {
	h, w, c, _, err := imageShape(shape)
	if err != nil {
		return nil, err
	}
	d := h * w * c
	if p < 1 || h%p != 0 || w%p != 0 || len(x)%d != 0 {
		return nil, fmt.Errorf("data: cannot cut %d values of %d×%d×%d images into %d×%d patches", len(x), h, w, c, p, p)
	}
	gw := w / p
	out := make([]float32, 0, len(x))
	for b := range len(x) / d {
		img := x[b*d : (b+1)*d]
		for l := range (h / p) * gw {
			py, px := (l/gw)*p, (l%gw)*p
			for y := py; y < py+p; y++ {
				out = append(out, img[(y*w+px)*c:(y*w+px+p)*c]...)
			}
		}
	}
	return out, nil
}
