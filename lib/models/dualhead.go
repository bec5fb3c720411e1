package models

import (
	"fmt"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX convention.
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// DualHead is an MLP backbone with two classification heads on its last hidden features h, the student
// of Dual-Head Knowledge Distillation (Yang, Zong, Huang, Feng & An, arXiv:2411.08937):
//
//   - the main head, a dense layer z¹ = h·W₁ + b₁ in scope "dense_L" (L = len(Hidden)), the only head
//     used at test time;
//   - the auxiliary head z² in scope "aux_0" (linear: h·W₂ + b₂), or, with AuxHidden > 0, the small MLP
//     "aux_0" (width AuxHidden) → ReLU → "aux_1" (the paper's CIFAR head also has Dropout and BatchNorm
//     before the ReLU; they are left out here).
//
// The backbone's and main head's variables have the names and the creation order of NewMLP(Classes,
// Hidden...), so the same seed gives the same backbone and main head as that MLP, and Forward (main head
// only) is a plain Model that lib/train and lib/landscape use unchanged. Heads also builds the auxiliary
// head; its variables are created the first time a graph calls Heads.
type DualHead struct {
	Hidden  []int
	Classes int
	// AuxHidden is the width of the auxiliary head's hidden layer; 0 makes it linear.
	AuxHidden int
}

// NewDualHead returns a DualHead with a linear auxiliary head.
func NewDualHead(classes int, hidden ...int) *DualHead {
	return &DualHead{Hidden: hidden, Classes: classes}
}

// AuxScope is the scope prefix of the auxiliary head's variables ("/aux_0/weights", ...).
const AuxScope = "aux_"

// IsAuxVariable reports whether a variable scope belongs to DualHead's auxiliary head.
func IsAuxVariable(scope string) bool {
	return strings.HasPrefix(strings.TrimPrefix(scope, context.ScopeSeparator), AuxScope)
}

// Name implements Model: e.g. "dualhead-64-32-10" or "dualhead-64-32-10-aux200".
func (m *DualHead) Name() string {
	parts := []string{"dualhead"}
	for _, h := range m.Hidden {
		parts = append(parts, fmt.Sprint(h))
	}
	parts = append(parts, fmt.Sprint(m.Classes))
	if m.AuxHidden > 0 {
		parts = append(parts, fmt.Sprintf("aux%d", m.AuxHidden))
	}
	return strings.Join(parts, "-")
}

// Check validates the configuration.
func (m *DualHead) Check() error {
	if m.Classes <= 0 {
		return fmt.Errorf("models.DualHead: Classes must be positive, got %d", m.Classes)
	}
	if len(m.Hidden) == 0 {
		return fmt.Errorf("models.DualHead: need at least one hidden layer (the heads share a learned backbone)")
	}
	for i, h := range m.Hidden {
		if h <= 0 {
			return fmt.Errorf("models.DualHead: hidden width %d is %d, must be positive", i, h)
		}
	}
	if m.AuxHidden < 0 {
		return fmt.Errorf("models.DualHead: AuxHidden must be ≥ 0, got %d", m.AuxHidden)
	}
	return nil
}

// Forward implements Model: the main head's logits [B,K] and the backbone features h [B,D]. It does
// not touch the auxiliary head.
func (m *DualHead) Forward(ctx *context.Context, x *Node) (logits, features *Node) {
	if err := m.Check(); err != nil {
		panic(err)
	}
	features = flatten(x)
	for i, width := range m.Hidden {
		features = Activate("relu", Dense(ctx.Inf("dense_%d", i), features, width, true))
	}
	logits = Dense(ctx.Inf("dense_%d", len(m.Hidden)), features, m.Classes, true)
	return logits, features
}

// Heads returns the main head's logits z¹ [B,K], the auxiliary head's logits z² [B,K] and the shared
// backbone features h [B,D] for inputs x.
func (m *DualHead) Heads(ctx *context.Context, x *Node) (main, aux, features *Node) {
	main, features = m.Forward(ctx, x)
	return main, m.Aux(ctx, features), features
}

// Aux applies the auxiliary head to backbone features h [B,D], giving logits [B,K].
func (m *DualHead) Aux(ctx *context.Context, features *Node) *Node {
	if err := m.Check(); err != nil {
		panic(err)
	}
	if m.AuxHidden == 0 {
		return Dense(ctx.In(AuxScope+"0"), features, m.Classes, true)
	}
	h := Activate("relu", Dense(ctx.In(AuxScope+"0"), features, m.AuxHidden, true))
	return Dense(ctx.In(AuxScope+"1"), h, m.Classes, true)
}
