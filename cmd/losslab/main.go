// Command losslab explores LossLab's training objectives and loss landscapes from the command line.
//
// Usage:
//
//	losslab objective list [--json]
//	losslab objective eval NAME [--set k=v,...] [--seed N] [--float32] < batch.json
//	losslab landscape interpolate -a CKPT -b CKPT [-match none|weight|activation|ste] [-repair] -o OUT
//	losslab landscape plane -a CKPT (-b CKPT -c CKPT | -random | -pca RUN) -o OUT
//	losslab landscape curvature -a CKPT [-top K] [-trace N] [-density] -o OUT
//	losslab verdict list [--json] [--claims] [NOTEBOOK|FOLDER ...]
//
// The landscape commands run lib/landscape on checkpoints written by lib/train (CKPT: a run folder, its
// latest step; RUN@STEP; or a step folder) and write OUT.json (result and provenance) and OUT.svg/.png
// (or .html); `losslab landscape VERB -h` lists their flags. See landscape.go.
//
// `objective eval` reads one JSON object of named (nested) arrays on stdin, e.g.
// {"logits": [[2, 1, 0.1]], "labels": [0]}, and writes
// {"loss": x, "per_example": [...], "grad": {"logits": [[...]]}}: the loss, the per-example losses
// (omitted where the objective is not a per-example mean) and the gradient of the loss with respect to
// every float input, nested like the input. It computes in float64 unless --float32 is given.
// `verdict list` reads the verdicts that paper notebooks committed (lib/verdict's display outputs) and
// prints one line per paper (--claims: every claim; --json: the reports).
// Any problem gives a non-zero exit status and a one-line error on stderr.
//
// Commands are `losslab <noun> <verb>`; see commands.go to add one.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "losslab: "+err.Error())
		if _, ok := err.(usageError); ok {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
