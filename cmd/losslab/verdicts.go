package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/losslab/losslab/lib/verdict"
)

const verdictListUsage = "[--json] [--claims] [NOTEBOOK|FOLDER ...] (default: notebooks/papers)"

// verdictList prints the verdicts committed in notebooks' outputs (lib/verdict's display outputs).
func verdictList(args []string, _ io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("verdict list", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "write the reports as a JSON array")
	claims := fs.Bool("claims", false, "list every claim under its paper")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		rest = []string{filepath.Join("notebooks", "papers")}
	}
	var paths []string
	for _, p := range rest {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("verdict list: %w", err)
		}
		if !st.IsDir() {
			paths = append(paths, p)
			continue
		}
		found, err := filepath.Glob(filepath.Join(p, "*.ipynb"))
		if err != nil {
			return err
		}
		if len(found) == 0 {
			return fmt.Errorf("verdict list: no notebooks in %s", p)
		}
		paths = append(paths, found...)
	}
	sort.Strings(paths)
	var reports []*verdict.Report
	var without []string
	for _, p := range paths {
		rs, err := verdict.ReadNotebook(p)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			without = append(without, p)
		}
		reports = append(reports, rs...)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if reports == nil {
			reports = []*verdict.Report{}
		}
		return enc.Encode(reports)
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "paper\tverdict\treproduced\tnot reproduced\tnot testable\tnote")
	for _, r := range reports {
		rep, no, nt := r.Counts()
		note := ""
		if r.Quick {
			note = "quick mode: checks the code path, not the paper"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%s\n", r.Paper, r.Verdict, rep, no, nt, note)
		if *claims {
			for i, c := range r.Claims {
				fmt.Fprintf(w, "  C%d\t%s\t%s\t\t\t%s\n", i+1, c.Outcome, c.Kind, c.Claim)
			}
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(without) > 0 {
		fmt.Fprintf(stdout, "%d notebook(s) hold no verdict output (not reworked under lib/verdict yet, or outputs cleared):\n", len(without))
		for _, p := range without {
			fmt.Fprintln(stdout, "  "+p)
		}
	}
	return nil
}
