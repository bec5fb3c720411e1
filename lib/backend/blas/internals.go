package blas

// This file is the only place that knows about unexported details of GoMLX's pure-Go backend (simplego,
// GoMLX v0.26.0): its executor table and two fields of its graph nodes. Everything is checked at start-up;
// a mismatch disables the fast path with a reason (see Status) rather than risking wrong numbers.

import (
	"fmt"
	"reflect"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// executor has the signature of simplego's single-output node executors.
type executor = func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, error)

// nodeExecutors is simplego's table of executors, indexed by operation type.
//
//go:linkname nodeExecutors github.com/gomlx/gomlx/backends/simplego.nodeExecutors
var nodeExecutors [backends.OpTypeLast]executor

// Offsets of the simplego.Node fields read here, and of the DotGeneral parameters.
var (
	offNodeShape, offNodeData, offNodeInputs uintptr
	dotFields                                dotLayout
	internalsErr                             error
)

type dotLayout struct {
	typ                                          reflect.Type // *dotGeneralNodeData
	lhsContract, lhsBatch, rhsContract, rhsBatch uintptr      // []int
}

// fieldOffset finds a field by name and checks its type.
func fieldOffset(t reflect.Type, name string, want reflect.Type) (uintptr, error) {
	f, ok := t.FieldByName(name)
	if !ok {
		return 0, fmt.Errorf("%s has no field %q", t, name)
	}
	if f.Type != want {
		return 0, fmt.Errorf("%s.%s is a %s, want %s", t, name, f.Type, want)
	}
	return f.Offset, nil
}

// probeInternals locates the fields and checks them on a real DotGeneral node built by simplego.
func probeInternals() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("probing GoMLX's pure-Go backend panicked: %v", r)
		}
	}()
	nodeT := reflect.TypeFor[simplego.Node]()
	if offNodeShape, err = fieldOffset(nodeT, "shape", reflect.TypeFor[shapes.Shape]()); err != nil {
		return err
	}
	if offNodeData, err = fieldOffset(nodeT, "data", reflect.TypeFor[any]()); err != nil {
		return err
	}
	if offNodeInputs, err = fieldOffset(nodeT, "inputs", reflect.TypeFor[[]*simplego.Node]()); err != nil {
		return err
	}
	if nodeExecutors[backends.OpTypeDotGeneral] == nil {
		return fmt.Errorf("GoMLX's pure-Go backend has no DotGeneral executor in its table")
	}

	// Build lhs[2,3] · rhs[3,4] and find the DotGeneral node behind the reshape simplego returns.
	be, err := simplego.New("")
	if err != nil {
		return err
	}
	defer be.Finalize()
	b := be.Builder("losslab-blas-probe")
	lhs, err := b.Parameter("lhs", shapes.Make(dtypes.Float32, 2, 3), nil)
	if err != nil {
		return err
	}
	rhs, err := b.Parameter("rhs", shapes.Make(dtypes.Float32, 3, 4), nil)
	if err != nil {
		return err
	}
	out, err := b.DotGeneral(lhs, []int{1}, nil, rhs, []int{0}, nil)
	if err != nil {
		return err
	}
	n, ok := out.(*simplego.Node)
	if !ok {
		return fmt.Errorf("DotGeneral returned a %T", out)
	}
	for depth := 0; depth < 4; depth++ {
		if d := nodeData(n); d != nil {
			if reflect.TypeOf(d).Kind() == reflect.Pointer && reflect.TypeOf(d).Elem().Name() == "dotGeneralNodeData" {
				break
			}
		}
		ins := nodeInputs(n)
		if len(ins) == 0 {
			return fmt.Errorf("cannot find the DotGeneral node behind %T", out)
		}
		n = ins[0]
	}
	d := nodeData(n)
	if d == nil || reflect.TypeOf(d).Kind() != reflect.Pointer || reflect.TypeOf(d).Elem().Name() != "dotGeneralNodeData" {
		return fmt.Errorf("DotGeneral node data is %T", d)
	}
	dotFields.typ = reflect.TypeOf(d)
	intsT := reflect.TypeFor[[]int]()
	dt := dotFields.typ.Elem()
	for _, f := range []struct {
		name string
		off  *uintptr
	}{
		{"lhsContractingAxes", &dotFields.lhsContract}, {"lhsBatchAxes", &dotFields.lhsBatch},
		{"rhsContractingAxes", &dotFields.rhsContract}, {"rhsBatchAxes", &dotFields.rhsBatch},
	} {
		if *f.off, err = fieldOffset(dt, f.name, intsT); err != nil {
			return err
		}
	}
	// The probe's axes must read back as built, and its output shape be the normalized [batch, M, N].
	p, ok := dotParamsOf(n)
	if !ok || len(p.lhsContract) != 1 || p.lhsContract[0] != 1 || len(p.rhsContract) != 1 || p.rhsContract[0] != 0 ||
		len(p.lhsBatch) != 0 || len(p.rhsBatch) != 0 {
		return fmt.Errorf("DotGeneral parameters read back wrong: %+v", p)
	}
	if s := nodeShape(n); !s.Equal(shapes.Make(dtypes.Float32, 1, 2, 4)) {
		return fmt.Errorf("DotGeneral node shape is %s, want (Float32)[1 2 4]", s)
	}
	return nil
}

func nodeShape(n *simplego.Node) shapes.Shape {
	return *(*shapes.Shape)(unsafe.Add(unsafe.Pointer(n), offNodeShape))
}

func nodeData(n *simplego.Node) any {
	return *(*any)(unsafe.Add(unsafe.Pointer(n), offNodeData))
}

func nodeInputs(n *simplego.Node) []*simplego.Node {
	return *(*[]*simplego.Node)(unsafe.Add(unsafe.Pointer(n), offNodeInputs))
}

// dotParams are the axes of a DotGeneral as simplego stored them (negative axes already adjusted).
type dotParams struct {
	lhsContract, lhsBatch, rhsContract, rhsBatch []int
}

func dotParamsOf(n *simplego.Node) (dotParams, bool) {
	d := nodeData(n)
	if d == nil || reflect.TypeOf(d) != dotFields.typ {
		return dotParams{}, false
	}
	p := reflect.ValueOf(d).UnsafePointer()
	get := func(off uintptr) []int { return *(*[]int)(unsafe.Add(p, off)) }
	return dotParams{
		lhsContract: get(dotFields.lhsContract), lhsBatch: get(dotFields.lhsBatch),
		rhsContract: get(dotFields.rhsContract), rhsBatch: get(dotFields.rhsBatch),
	}, true
}
