// Package blas is LossLab's fast CPU path: a GoMLX backend, registered as "blas", that is GoMLX's own
// pure-Go backend (simplego) with the executors of its heaviest operations replaced by faster ones —
// matrix products (DotGeneral) run on OpenBLAS's sgemm/dgemm, and large element-wise operations,
// transposes, row gathers and scatters and reductions are split across cores.
//
// Use it like any GoMLX backend: GOMLX_BACKEND=blas, or "blas:<options>" where the options are those of
// the pure-Go backend ("ops_sequential", "parallelism=N", ...) plus this package's own:
//
//	threads=N        OpenBLAS threads (default 1, see below)
//	no_dot, no_elementwise, no_transpose, no_gather, no_reduce
//	                 switch one part of the fast path off (to measure what it buys)
//
// LossLab's lib/backend picks it by default when OpenBLAS can be opened (see package backend).
//
// # How it plugs into GoMLX
//
// GoMLX v0.26's pure-Go backend executes a compiled graph by looking up each node's executor in a
// package-level table indexed by operation type (its own code ranks entries by priority and reserves the
// highest, "user overrides", for executors like these), but it exports no way to set an entry. This package
// reaches the table with a //go:linkname directive and installs its executors at init, keeping the
// originals: each new executor first checks that the backend running it is a "blas" backend (so GoMLX's
// "go" backend keeps running pure Go, bit for bit) and that the operation is one it handles (float32 or
// float64, sizes worth a BLAS call); anything else goes to the original executor. The few unexported fields
// of simplego's graph nodes it reads (a node's output shape and data, the DotGeneral axes) are located by
// reflection at start-up and checked by name and type on a probe graph, so a GoMLX whose internals differ
// disables the fast path with a reason (Status) instead of computing wrong numbers; the Gather and Scatter
// parameters are read by field name and a missing or retyped field sends the operation to the original
// executor. go.mod pins GoMLX v0.26.0, and the tests
// fail if the fast path is not taken while OpenBLAS is installed.
//
// The alternative prototyped before this package — a backend with a Builder of its own that cuts graphs into pure-Go
// segments around each matrix product — must forward all 106 Builder methods, loses simplego's buffer reuse
// at every cut and runs each segment as a separate executable; replacing executors keeps one executable
// and one buffer pool, and lets any operation's executor be replaced the same way.
//
// # OpenBLAS
//
// OpenBLAS runs one thread by default. Its helper threads spin for about 0.1 s after each product before
// they sleep, and in that time they take cores from the element-wise work this backend splits across all
// cores between two products. Measured side by side on the loaded 2-core development machine (bench
// -baseline blas:threads=1): the MLP training step ran at 8,868 examples/s with 2 OpenBLAS threads and 17,639 with
// 1; the CNN step at 86.7 and 195. Letting the helpers sleep at once (OPENBLAS_THREAD_TIMEOUT=4) was worse
// still (5,768 and 65.3): waking them costs more than a product of these sizes. On the same machine idle,
// 2 threads were 6% faster on the MLP step and 23% on a loss grid, 22% slower on the CNN step: threads=2
// suits product-bound work on a machine with spare cores.
//
// OpenBLAS (Debian's libopenblas0-pthread) is opened at run time with github.com/ebitengine/purego: no cgo
// is needed, and LossLab's kernel builds cells without XLA with CGO_ENABLED=0 so they link with Go's own
// linker. $LOSSLAB_OPENBLAS names the library file to use;
// otherwise the usual names are tried. When it cannot be opened, New returns an error that says so and how
// to install it, and lib/backend falls back to the pure-Go configuration.
package blas
