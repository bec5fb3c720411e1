package blas

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/losslab/losslab/lib/backend/openblas"
)

// Name is the backend's name in $GOMLX_BACKEND.
const Name = "blas"

// original keeps simplego's executors that this package replaced; they run everything it does not handle.
var original struct {
	dot executor
}

// ours holds the simplego backends created by New, with the parts of the fast path each has switched
// off: only their executions take it.
var ours sync.Map // *simplego.Backend → parts (switched off)

// parts are the replaced executors, by group; "no_<name>" in the configuration switches a group off
// (to measure what each buys, or to rule one out when chasing a difference).
type parts uint

const (
	partDot         parts = 1 << iota // matrix products on OpenBLAS
	partElementwise                   // element-wise operations on all cores
	partTranspose                     // transposes
	partGather                        // row gathers and scatters
	partReduce                        // reductions
)

var partNames = map[string]parts{
	"dot": partDot, "elementwise": partElementwise, "transpose": partTranspose, "gather": partGather, "reduce": partReduce,
}

// isBLAS reports whether be is a "blas" backend with the part p switched on.
func isBLAS(be *simplego.Backend, p parts) bool {
	off, ok := ours.Load(be)
	return ok && off.(parts)&p == 0
}

func init() {
	internalsErr = probeInternals()
	if internalsErr == nil {
		original.dot = nodeExecutors[backendsOpDot]
		nodeExecutors[backendsOpDot] = execDotGeneral
		installElementwise()
	}
	backends.Register(Name, New)
}

const backendsOpDot = backends.OpTypeDotGeneral

// Status returns nil when the fast path can run here, or why it cannot: OpenBLAS missing (with the command
// that installs it) or a GoMLX whose pure-Go backend differs from the one this package was written for.
func Status() error {
	if internalsErr != nil {
		return fmt.Errorf("blas backend disabled: GoMLX's pure-Go backend is not the v0.26.0 this package hooks into (%v)", internalsErr)
	}
	return openblas.Load()
}

// Backend is GoMLX's pure-Go backend whose heavy executors run on OpenBLAS.
type Backend struct {
	*simplego.Backend
	config string
}

// New creates a "blas" backend. config holds comma-separated options: threads=N for OpenBLAS; no_dot,
// no_elementwise, no_transpose, no_gather, no_reduce to switch a part of the fast path off; and any option
// of GoMLX's pure-Go backend, which defaults here to "ops_sequential" (see lib/backend for why).
func New(config string) (backends.Backend, error) {
	if err := Status(); err != nil {
		return nil, err
	}
	threads := 1 // see defaultThreads in doc.go
	var off parts
	var rest []string
	sequencing := false
	for _, part := range strings.Split(config, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
		case strings.HasPrefix(part, "threads="):
			n, err := strconv.Atoi(strings.TrimPrefix(part, "threads="))
			if err != nil || n < 1 {
				return nil, fmt.Errorf("blas backend: threads must be a positive integer, got %q", part)
			}
			threads = n
		case strings.HasPrefix(part, "no_"):
			p, ok := partNames[strings.TrimPrefix(part, "no_")]
			if !ok {
				return nil, fmt.Errorf("blas backend: unknown option %q (parts that can be switched off: no_dot, no_elementwise, no_transpose, no_gather, no_reduce)", part)
			}
			off |= p
		default:
			if part == "ops_sequential" || part == "ops_parallel" {
				sequencing = true
			}
			rest = append(rest, part)
		}
	}
	if !sequencing {
		rest = append(rest, "ops_sequential")
	}
	inner, err := simplego.New(strings.Join(rest, ","))
	if err != nil {
		return nil, fmt.Errorf("blas backend: %w", err)
	}
	sb, ok := inner.(*simplego.Backend)
	if !ok {
		return nil, fmt.Errorf("blas backend: GoMLX's pure-Go backend is a %T", inner)
	}
	if err := openblas.SetThreads(threads); err != nil {
		return nil, err
	}
	ours.Store(sb, off)
	return &Backend{Backend: sb, config: strings.Join(rest, ",")}, nil
}

// Name implements backends.Backend.
func (b *Backend) Name() string { return Name }

// String implements backends.Backend.
func (b *Backend) String() string { return Name }

// Description implements backends.Backend.
func (b *Backend) Description() string {
	n := openblas.Threads()
	if n == 1 {
		return "pure Go with OpenBLAS matrix products, 1 OpenBLAS thread"
	}
	return fmt.Sprintf("pure Go with OpenBLAS matrix products, %d OpenBLAS threads", n)
}

// Finalize implements backends.Backend.
func (b *Backend) Finalize() {
	ours.Delete(b.Backend)
	b.Backend.Finalize()
}
