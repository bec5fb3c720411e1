package blas

import (
	"sort"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
)

// permute writes src, of row-major shape dims, into dst with its axes reordered: dst's axis i is src's
// axis perm[i] (GoMLX's Transpose). Large ones are split across cores by rows of dst.
func permute[T any](dst, src []T, dims, perm []int) {
	dims, perm = fuseAxes(dims, perm)
	rank := len(dims)
	switch {
	case rank == 2 && perm[0] == 1:
		swapAxes(dst, src, dims[0], dims[1], 1)
		return
	case rank == 3 && perm[0] == 1 && perm[1] == 0:
		swapAxes(dst, src, dims[0], dims[1], dims[2])
		return
	}
	if rank == 0 || len(dst) == 0 {
		copy(dst, src)
		return
	}
	srcStrides := make([]int, rank)
	s := 1
	for a := rank - 1; a >= 0; a-- {
		srcStrides[a] = s
		s *= dims[a]
	}
	outDims := make([]int, rank)
	strides := make([]int, rank) // src stride of each dst axis
	for i, a := range perm {
		outDims[i] = dims[a]
		strides[i] = srcStrides[a]
	}
	inner := outDims[rank-1]
	rows := len(dst) / inner
	splitWork(rows, len(dst), func(lo, hi int) { permuteRows(dst, src, outDims, strides, lo, hi) })
}

// fuseAxes simplifies a permutation without changing what it does: axes of size 1 are dropped, and runs of
// source axes that stay adjacent and in order in the output are merged into one, so that the innermost
// output axis is as long as possible.
func fuseAxes(dims, perm []int) ([]int, []int) {
	var p []int
	for _, a := range perm {
		if dims[a] != 1 {
			p = append(p, a)
		}
	}
	if len(p) == 0 {
		return []int{1}, []int{0}
	}
	// Groups: maximal runs a, a+1, ... of source axes that are consecutive in the output, in output order.
	type group struct{ first, size int }
	var groups []group
	for i, a := range p {
		if i > 0 && a == p[i-1]+1 {
			groups[len(groups)-1].size *= dims[a]
			continue
		}
		groups = append(groups, group{a, dims[a]})
	}
	// Sorted by their first source axis, the groups are the axes of the fused source.
	bySource := make([]int, len(groups))
	for i := range bySource {
		bySource[i] = i
	}
	sort.Slice(bySource, func(i, j int) bool { return groups[bySource[i]].first < groups[bySource[j]].first })
	newDims, newPerm := make([]int, len(groups)), make([]int, len(groups))
	for srcAxis, g := range bySource {
		newDims[srcAxis] = groups[g].size
		newPerm[g] = srcAxis
	}
	return newDims, newPerm
}

// swapAxes writes src [A, B, C] as dst [B, A, C] in 16×16 tiles of (a, b), so that both the reads and the
// writes of a tile stay in cache (a row-by-row walk reads src with stride B·C); cores take tiles of b.
func swapAxes[T any](dst, src []T, A, B, C int) {
	const tile = 16
	tiles := (B + tile - 1) / tile
	splitWork(tiles, len(dst), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			b0, b1 := t*tile, min(B, (t+1)*tile)
			for a0 := 0; a0 < A; a0 += tile {
				a1 := min(A, a0+tile)
				for b := b0; b < b1; b++ {
					for a := a0; a < a1; a++ {
						d, s := (b*A+a)*C, (a*B+b)*C
						if C >= 64 {
							copy(dst[d:d+C], src[s:s+C])
							continue
						}
						for j := 0; j < C; j++ {
							dst[d+j] = src[s+j]
						}
					}
				}
			}
		}
	})
}

// permuteRows fills dst's rows [lo, hi) (a row: the innermost axis of dst, walked with a fixed stride
// through src).
func permuteRows[T any](dst, src []T, outDims, strides []int, lo, hi int) {
	rank := len(outDims)
	inner, innerStride := outDims[rank-1], strides[rank-1]
	// Index of row lo over the outer axes, and its offset in src.
	idx := make([]int, rank-1)
	base := 0
	for ax, r := rank-2, lo; ax >= 0; ax-- {
		idx[ax] = r % outDims[ax]
		r /= outDims[ax]
		base += idx[ax] * strides[ax]
	}
	for row := lo; row < hi; row++ {
		o := row * inner
		p := base
		if innerStride == 1 && inner >= 16 {
			copy(dst[o:o+inner], src[p:p+inner])
		} else {
			for j := 0; j < inner; j++ {
				dst[o+j] = src[p]
				p += innerStride
			}
		}
		// Advance the outer index like an odometer.
		for ax := rank - 2; ax >= 0; ax-- {
			idx[ax]++
			base += strides[ax]
			if idx[ax] < outDims[ax] {
				break
			}
			base -= strides[ax] * outDims[ax]
			idx[ax] = 0
		}
	}
}

// execTranspose runs large float Transposes of a "blas" backend on all cores.
func execTranspose(be *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	orig := originalEW[backends.OpTypeTranspose]
	if !isBLAS(be, partTranspose) {
		return orig(be, node, inputs, owned)
	}
	perm, ok := nodeData(node).([]int)
	s, err := be.BufferShape(inputs[0])
	if !ok || err != nil || s.Size() < minParallel || len(perm) != s.Rank() ||
		!isFloat(s.DType) {
		return orig(be, node, inputs, owned)
	}
	out := be.NewBuffer(nodeShape(node))
	src, _ := be.BufferData(inputs[0])
	dst, _ := be.BufferData(out)
	switch dst := dst.(type) {
	case []float32:
		permute(dst, src.([]float32), s.Dimensions, perm)
	case []float64:
		permute(dst, src.([]float64), s.Dimensions, perm)
	}
	return out, nil
}
