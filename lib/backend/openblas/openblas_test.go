package openblas

import (
	"fmt"
	"math"
	"os"
	"testing"
)

// TestGemmIgnoresOldOutput: with beta = 0 OpenBLAS must not read the output buffer, which comes from a pool
// and may hold NaNs from an earlier use.
func TestGemmIgnoresOldOutput(t *testing.T) {
	if err := Load(); err != nil {
		t.Fatal(err)
	}
	a := []float32{1, 2, 3, 4}
	c := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.NaN()), 7}
	Sgemm(RowMajor, NoTrans, NoTrans, 2, 2, 2, 1, &a[0], 2, &a[0], 2, 0, &c[0], 2)
	if want := []float32{7, 10, 15, 22}; fmt.Sprint(c) != fmt.Sprint(want) {
		t.Fatalf("sgemm with beta=0 over NaN output: %v, want %v", c, want)
	}
	d := []float64{math.NaN(), 0, 0, math.NaN()}
	a64 := []float64{1, 2, 3, 4}
	Dgemm(RowMajor, Trans, NoTrans, 2, 2, 2, 1, &a64[0], 2, &a64[0], 2, 0, &d[0], 2)
	if want := []float64{10, 14, 14, 20}; fmt.Sprint(d) != fmt.Sprint(want) {
		t.Fatalf("dgemm(aᵀa) with beta=0 over NaN output: %v, want %v", d, want)
	}
}

// TestMissingLibrary: a library that is not OpenBLAS gives an error saying what to install.
func TestMissingLibrary(t *testing.T) {
	if os.Getenv("LOSSLAB_BLAS_CHILD") == "1" {
		err := Load()
		if err == nil {
			fmt.Println("LOADED")
			os.Exit(0)
		}
		fmt.Println(err)
		os.Exit(0)
	}
	for _, lib := range []string{"/no/such/libopenblas.so", "libc.so.6"} {
		out := runChild(t, lib)
		if out == "LOADED" || !contains(out, lib) {
			t.Errorf("$%s=%s: %q", LibraryEnv, lib, out)
		}
	}
}
