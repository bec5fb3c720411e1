package models

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

// Conv2D is a k×k convolution with stride 1 and zero "same" padding: x [B,H,W,C] → [B,H,W,F],
//
//	y[b,i,j,f] = bias[f] + Σ_{di,dj,c} x[b, i+di−p, j+dj−p, c]·K[di,dj,c,f],  p = (k−1)/2 (k odd),
//
// with K [k,k,C,F] ("weights") and bias [F] ("biases") in ctx's scope.
//
// Built as patch extraction with Gather (constant indices; out-of-image taps read an appended zero
// row) followed by Product, because the pure-Go backend lacks Reverse, which GoMLX's ConvGeneral
// gradient with respect to the input needs; Gather's gradient is ScatterSum, which it has.
func Conv2D(ctx *context.Context, x *Node, filters, k int) *Node {
	if x.Rank() != 4 {
		panic(fmt.Errorf("models.Conv2D: want x [B,H,W,C], got %s", x.Shape()))
	}
	if k%2 != 1 || k < 1 {
		panic(fmt.Errorf("models.Conv2D: kernel size must be odd and positive, got %d", k))
	}
	dims := x.Shape().Dimensions
	b, h, w, c := dims[0], dims[1], dims[2], dims[3]
	g := x.Graph()
	kernel := ctx.VariableWithShape(WeightsVar, shapes.Make(x.DType(), k, k, c, filters)).ValueGraph(g)
	bias := ctx.WithInitializer(initializers.Zero).VariableWithShape(BiasesVar, shapes.Make(x.DType(), filters)).ValueGraph(g)

	// [H·W, B, C] plus one zero row at index H·W for taps outside the image.
	rows := Reshape(TransposeAllAxes(x, 1, 2, 0, 3), h*w, b, c)
	rows = Concatenate([]*Node{rows, Zeros(g, shapes.Make(x.DType(), 1, b, c))}, 0)
	idx := make([]int32, h*w*k*k)
	p := (k - 1) / 2
	for i := 0; i < h; i++ {
		for j := 0; j < w; j++ {
			for di := 0; di < k; di++ {
				for dj := 0; dj < k; dj++ {
					si, sj := i+di-p, j+dj-p
					src := h * w
					if si >= 0 && si < h && sj >= 0 && sj < w {
						src = si*w + sj
					}
					idx[((i*w+j)*k+di)*k+dj] = int32(src)
				}
			}
		}
	}
	indices := Reshape(Const(g, idx), h*w, k*k, 1)
	patches := Gather(rows, indices)                       // [H·W, k·k, B, C]
	patches = TransposeAllAxes(patches, 2, 0, 1, 3)        // [B, H·W, k·k, C]
	patches = Reshape(patches, b*h*w, k*k*c)               // rows of (di, dj, c)
	y := Product(patches, Reshape(kernel, k*k*c, filters)) // [B·H·W, F]
	y = Add(y, ExpandLeftToRank(bias, 2))
	return Reshape(y, b, h, w, filters)
}

// MaxPool2 takes the maximum over non-overlapping 2×2 windows: [B,H,W,C] → [B,H/2,W/2,C] (H, W even).
// Written as a reshape and ReduceMax: the gradient of GoMLX's window pooling needs SelectAndScatter,
// which the pure-Go backend lacks.
func MaxPool2(x *Node) *Node {
	d := x.Shape().Dimensions
	if x.Rank() != 4 || d[1]%2 != 0 || d[2]%2 != 0 {
		panic(fmt.Errorf("models.MaxPool2: want [B,H,W,C] with even H and W, got %s", x.Shape()))
	}
	return ReduceMax(Reshape(x, d[0], d[1]/2, 2, d[2]/2, 2, d[3]), 2, 4)
}

// CNN is a small convolutional classifier for images such as Fashion-MNIST: for each width in
// Channels a 3×3 convolution ("conv_i"), relu and 2×2 max-pooling; then a dense layer of Hidden units
// ("dense_0", relu; its output is the features) and the output layer ("dense_1").
type CNN struct {
	Classes int
	// Channels per convolution; default {16, 32}.
	Channels []int
	// Hidden width of the dense layer; default 64.
	Hidden int
	// ImageShape [H,W,C] used to reshape flat inputs [B, H·W·C]; default {28, 28, 1}.
	ImageShape []int
}

// Name implements Model: e.g. "cnn-16-32-64-10".
func (m *CNN) Name() string {
	ch, hidden := m.config()
	parts := []string{"cnn"}
	for _, c := range ch {
		parts = append(parts, fmt.Sprint(c))
	}
	return strings.Join(append(parts, fmt.Sprint(hidden), fmt.Sprint(m.Classes)), "-")
}

func (m *CNN) config() (channels []int, hidden int) {
	channels, hidden = m.Channels, m.Hidden
	if len(channels) == 0 {
		channels = []int{16, 32}
	}
	if hidden == 0 {
		hidden = 64
	}
	return
}

// Forward implements Model.
func (m *CNN) Forward(ctx *context.Context, x *Node) (logits, features *Node) {
	channels, hidden := m.config()
	if m.Classes <= 0 || hidden < 0 {
		panic(fmt.Errorf("models.CNN: Classes (%d) and Hidden (%d) must be positive", m.Classes, hidden))
	}
	if x.Rank() != 4 {
		img := m.ImageShape
		if len(img) == 0 {
			img = []int{28, 28, 1}
		}
		if len(img) != 3 || x.Shape().Size() != x.Shape().Dimensions[0]*img[0]*img[1]*img[2] {
			panic(fmt.Errorf("models.CNN: input %s does not hold images of shape %v", x.Shape(), img))
		}
		x = Reshape(x, x.Shape().Dimensions[0], img[0], img[1], img[2])
	}
	if x.DType() != dtypes.Float32 && x.DType() != dtypes.Float64 {
		panic(fmt.Errorf("models.CNN: want float input, got %s", x.DType()))
	}
	h := x
	for i, c := range channels {
		h = MaxPool2(Activate("relu", Conv2D(ctx.Inf("conv_%d", i), h, c, 3)))
	}
	features = Activate("relu", Dense(ctx.In("dense_0"), flatten(h), hidden, true))
	return Dense(ctx.In("dense_1"), features, m.Classes, true), features
}
