// Package openblas opens the OpenBLAS shared library at run time (through purego, no cgo) and calls its
// matrix products. It links no GoMLX: lib/backend/blas runs GoMLX's products on it, and the kernel
// installer's doctor asks it whether OpenBLAS is there.
package openblas

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// LibraryEnv names the environment variable that overrides which OpenBLAS library file is opened.
const LibraryEnv = "LOSSLAB_OPENBLAS"

// InstallHint says how to get OpenBLAS on Debian or Ubuntu.
const InstallHint = "apt-get install libopenblas0-pthread"

// candidates are the library names tried in order when $LOSSLAB_OPENBLAS is not set.
var candidates = []string{
	"libopenblas.so.0",
	"libopenblas.so",
	"/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
	"/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
	"libopenblas.dylib",
}

// CBLAS enumerations (cblas.h) for Sgemm and Dgemm.
const (
	RowMajor = 101
	NoTrans  = 111
	Trans    = 112
)

type library struct {
	path     string
	sgemm    func(order, transA, transB, m, n, k int32, alpha float32, a *float32, lda int32, b *float32, ldb int32, beta float32, c *float32, ldc int32)
	dgemm    func(order, transA, transB, m, n, k int32, alpha float64, a *float64, lda int32, b *float64, ldb int32, beta float64, c *float64, ldc int32)
	setThr   func(n int32)
	getThr   func() int32
	config   func() *byte
	corename func() *byte
}

var (
	loadOnce sync.Once
	lib      *library
	loadErr  error
	threadMu sync.Mutex
)

// Load opens OpenBLAS (once per process) and reports why it could not.
func Load() error {
	loadOnce.Do(func() { lib, loadErr = open() })
	return loadErr
}

func open() (*library, error) {
	names := candidates
	if p := os.Getenv(LibraryEnv); p != "" {
		names = []string{p}
	}
	var tried []string
	for _, name := range names {
		h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s (%v)", name, firstLine(err)))
			continue
		}
		l := &library{path: name}
		syms := []struct {
			name string
			fn   any
		}{
			{"cblas_sgemm", &l.sgemm},
			{"cblas_dgemm", &l.dgemm},
			{"openblas_set_num_threads", &l.setThr},
			{"openblas_get_num_threads", &l.getThr},
			{"openblas_get_config", &l.config},
			{"openblas_get_corename", &l.corename},
		}
		var missing []string
		for _, s := range syms {
			if _, err := purego.Dlsym(h, s.name); err != nil {
				missing = append(missing, s.name)
			}
		}
		if len(missing) > 0 {
			tried = append(tried, fmt.Sprintf("%s (not OpenBLAS: no %s)", name, strings.Join(missing, ", ")))
			continue
		}
		for _, s := range syms {
			purego.RegisterLibFunc(s.fn, h, s.name)
		}
		return l, nil
	}
	if os.Getenv(LibraryEnv) != "" {
		return nil, fmt.Errorf("OpenBLAS: cannot open $%s=%s: %s", LibraryEnv, names[0], strings.Join(tried, "; "))
	}
	return nil, fmt.Errorf("OpenBLAS not found (tried %s); install it with `%s`", strings.Join(tried, ", "), InstallHint)
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Library describes the OpenBLAS that was opened: its file, its build configuration and the CPU kernel it
// chose, e.g. "libopenblas.so.0: OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64, Haswell, 2 threads".
func Library() (string, error) {
	if err := Load(); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s: %s, %s kernels, %d threads", lib.path, strings.TrimSpace(cString(lib.config())),
		cString(lib.corename()), Threads()), nil
}

// cString copies a NUL-terminated C string.
func cString(p *byte) string {
	if p == nil {
		return ""
	}
	var b []byte
	for q := p; *q != 0; q = (*byte)(unsafe.Add(unsafe.Pointer(q), 1)) {
		b = append(b, *q)
		if len(b) > 4096 {
			break
		}
	}
	return string(b)
}

// Version returns e.g. "OpenBLAS 0.3.21 (SkylakeX kernels, libopenblas.so.0)", or "" when it is not loaded.
func Version() string {
	if Load() != nil {
		return ""
	}
	f := strings.Fields(cString(lib.config()))
	if len(f) > 2 {
		f = f[:2]
	}
	return fmt.Sprintf("%s (%s kernels, %s)", strings.Join(f, " "), cString(lib.corename()), lib.path)
}

// SetThreads sets the number of threads OpenBLAS uses for each product (process-wide); n ≤ 0 means one
// per CPU core.
func SetThreads(n int) error {
	if err := Load(); err != nil {
		return err
	}
	if n <= 0 {
		n = runtime.NumCPU()
	}
	threadMu.Lock()
	defer threadMu.Unlock()
	lib.setThr(int32(n))
	return nil
}

// Threads returns the number of threads OpenBLAS uses, or 0 when it is not loaded.
func Threads() int {
	if Load() != nil {
		return 0
	}
	return int(lib.getThr())
}

// Sgemm is cblas_sgemm: c = alpha·op(a)·op(b) + beta·c for float32 matrices. Load must have succeeded.
func Sgemm(order, transA, transB, m, n, k int32, alpha float32, a *float32, lda int32, b *float32, ldb int32, beta float32, c *float32, ldc int32) {
	lib.sgemm(order, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dgemm is cblas_dgemm, Sgemm for float64 matrices. Load must have succeeded.
func Dgemm(order, transA, transB, m, n, k int32, alpha float64, a *float64, lda int32, b *float64, ldb int32, beta float64, c *float64, ldc int32) {
	lib.dgemm(order, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
