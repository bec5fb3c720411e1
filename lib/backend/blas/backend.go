package blas

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
)

// Name is the backend's name in $GOMLX_BACKEND.
const Name = "blas"

// original keeps simplego's executors that this package replaced; they run everything it does not handle.
var original struct {
	dot executor
}

// ours holds the simplego backends created by New: only their executions take the fast path.
var ours sync.Map // *simplego.Backend → struct{}

func isBLAS(be *simplego.Backend) bool {
	_, ok := ours.Load(be)
	return ok
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
	return Load()
}

// Backend is GoMLX's pure-Go backend whose heavy executors run on OpenBLAS.
type Backend struct {
	*simplego.Backend
	config string
}

// New creates a "blas" backend. config holds comma-separated options: threads=N for OpenBLAS, and any option
// of GoMLX's pure-Go backend, which defaults here to "ops_sequential" (see lib/backend for why).
func New(config string) (backends.Backend, error) {
	if err := Status(); err != nil {
		return nil, err
	}
	threads := 0
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
	if err := SetThreads(threads); err != nil {
		return nil, err
	}
	ours.Store(sb, struct{}{})
	return &Backend{Backend: sb, config: strings.Join(rest, ",")}, nil
}

// Name implements backends.Backend.
func (b *Backend) Name() string { return Name }

// String implements backends.Backend.
func (b *Backend) String() string { return Name }

// Description implements backends.Backend.
func (b *Backend) Description() string {
	return fmt.Sprintf("pure Go with OpenBLAS matrix products, %d BLAS threads", Threads())
}

// Finalize implements backends.Backend.
func (b *Backend) Finalize() {
	ours.Delete(b.Backend)
	b.Backend.Finalize()
}
