// Package models holds the small networks LossLab trains: a linear model, an MLP, a small CNN, a tiny
// Transformer block and a tiny mixture-of-experts layer, each as a GoMLX graph function that reads its
// parameters from context variables scoped by layer ("dense_0", "conv_1", "block_0/attention", ...), so
// lib/landscape can group parameters by layer and override any of them inside a graph.
//
// Every model returns logits [B,K] and its penultimate features [B,D] (what distillation and embedding
// objectives need). Matrix products go through Product, whose gradient is computed with matrix products:
// GoMLX v0.26's own Dot gradient builds an [M,K,N] broadcast and is ~15× slower on the pure-Go backend.
//
// Ops the pure-Go backend (simplego) lacks, and what this package does instead:
//   - Pad (the gradient of Slice) and Reverse (the input gradient of ConvGeneral): convolutions are
//     built as patch extraction with Gather (its gradient is ScatterSum) followed by Product; see Conv2D.
//   - SelectAndScatter (the gradient of max-pooling with ReduceWindow): MaxPool2 reshapes into 2×2
//     windows and takes ReduceMax, whose gradient is an indicator mask.
//   - BatchNormForTraining/Inference: BatchNorm and LayerNorm are written with reductions; they divide
//     by Sqrt rather than multiply by Rsqrt, which has no gradient in GoMLX v0.26.
//   - Sort/TopK: the MoE router picks its top-k experts by k rounds of ArgMax with masking.
//   - Slicing inside differentiated code is avoided (its gradient needs Pad); heads are split with
//     Reshape/Transpose.
//   - Rsqrt has no gradient rule in GoMLX v0.26: normalisations divide by Sqrt.
//
// Known backend hazard: GoMLX v0.26's pure-Go backend can deadlock its worker pool when several small
// DotGenerals become ready at once while executing ops in parallel (each waits for a worker held by
// another). The MoE gradient graphs trigger it on 2 cores. lib/backend therefore runs the pure-Go backend
// as "go:ops_sequential" (backend.PureGo), which avoids it.
package models

import (
	"fmt"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Model is what lib/train trains and lib/landscape probes.
type Model interface {
	// Name is a short description, e.g. "mlp-256-256".
	Name() string
	// Forward builds logits [B,K] and penultimate features [B,D] for inputs x [B, ...shape] (float32),
	// reading all parameters from ctx variables (scoped by layer name, e.g. "dense_0", "dense_1"), so
	// that a caller can override a variable's value inside a graph with Variable.SetValueGraph before
	// calling it. Shape problems panic with an error (GoMLX's graph-building convention).
	Forward(ctx *context.Context, x *Node) (logits, features *Node)
}

// Linear is a linear classifier: logits = x·W + b on the flattened input; its features are the
// flattened input itself. Parameters: "dense_0/weights", "dense_0/biases".
type Linear struct {
	Classes int
}

// Name implements Model.
func (m *Linear) Name() string { return fmt.Sprintf("linear-%d", m.Classes) }

// Forward implements Model.
func (m *Linear) Forward(ctx *context.Context, x *Node) (logits, features *Node) {
	if m.Classes <= 0 {
		panic(fmt.Errorf("models.Linear: Classes must be positive, got %d", m.Classes))
	}
	features = flatten(x)
	return Dense(ctx.In("dense_0"), features, m.Classes, true), features
}

// MLP is a multilayer perceptron on the flattened input: for each width h in Hidden, a dense layer
// ("dense_i"), an optional normalisation ("layernorm_i" or "batchnorm_i") and the activation; then an
// output dense layer ("dense_L", L = len(Hidden)) giving Classes logits. Features are the last hidden
// activations (the input when Hidden is empty).
type MLP struct {
	Hidden  []int
	Classes int
	// Activation is one of Activations; "" means relu.
	Activation string
	// Norm is "", "layernorm" or "batchnorm" (applied after each hidden dense layer, before the activation).
	Norm string
}

// NewMLP returns an MLP with relu activations and no normalisation.
func NewMLP(classes int, hidden ...int) *MLP { return &MLP{Hidden: hidden, Classes: classes} }

// Name implements Model: e.g. "mlp-256-256-10" or "mlp-64-2-tanh-layernorm".
func (m *MLP) Name() string {
	parts := []string{"mlp"}
	for _, h := range m.Hidden {
		parts = append(parts, fmt.Sprint(h))
	}
	parts = append(parts, fmt.Sprint(m.Classes))
	if m.Activation != "" && m.Activation != "relu" {
		parts = append(parts, m.Activation)
	}
	if m.Norm != "" {
		parts = append(parts, m.Norm)
	}
	return strings.Join(parts, "-")
}

// Check validates the configuration.
func (m *MLP) Check() error {
	if m.Classes <= 0 {
		return fmt.Errorf("models.MLP: Classes must be positive, got %d", m.Classes)
	}
	for i, h := range m.Hidden {
		if h <= 0 {
			return fmt.Errorf("models.MLP: hidden width %d is %d, must be positive", i, h)
		}
	}
	if m.Activation != "" {
		if err := CheckActivation(m.Activation); err != nil {
			return fmt.Errorf("models.MLP: %w", err)
		}
	}
	if m.Norm != "" && m.Norm != "layernorm" && m.Norm != "batchnorm" {
		return fmt.Errorf("models.MLP: unknown Norm %q (valid: \"\", \"layernorm\", \"batchnorm\")", m.Norm)
	}
	return nil
}

// Forward implements Model.
func (m *MLP) Forward(ctx *context.Context, x *Node) (logits, features *Node) {
	if err := m.Check(); err != nil {
		panic(err)
	}
	h := flatten(x)
	for i, width := range m.Hidden {
		h = Dense(ctx.Inf("dense_%d", i), h, width, true)
		switch m.Norm {
		case "layernorm":
			h = LayerNorm(ctx.Inf("layernorm_%d", i), h)
		case "batchnorm":
			h = BatchNorm(ctx.Inf("batchnorm_%d", i), h)
		}
		h = Activate(m.Activation, h)
	}
	logits = Dense(ctx.Inf("dense_%d", len(m.Hidden)), h, m.Classes, true)
	return logits, h
}
