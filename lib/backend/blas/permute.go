package blas

// permute writes src, of row-major shape dims, into dst with its axes reordered: dst's axis i is src's
// axis perm[i]. The innermost axis of dst is walked with a fixed stride through src.
func permute[T float32 | float64](dst, src []T, dims, perm []int) {
	rank := len(dims)
	if rank == 0 {
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
	inner, innerStride := outDims[rank-1], strides[rank-1]
	idx := make([]int, rank-1)
	base, o := 0, 0
	for o < len(dst) {
		p := base
		for j := 0; j < inner; j++ {
			dst[o+j] = src[p]
			p += innerStride
		}
		o += inner
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
