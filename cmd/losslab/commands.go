package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/losslab/losslab/lib/losses"
)

// command is one `losslab <noun> <verb>`: it gets the arguments after the verb.
type command struct {
	usage string // arguments, for help text
	help  string // one line
	run   func(args []string, stdin io.Reader, stdout io.Writer) error
}

// commands maps noun, then verb, to a command. Add new nouns and verbs here.
var commands = map[string]map[string]command{
	"objective": {
		"list": {usage: "[--json]", help: "list the registered objectives", run: objectiveList},
		"eval": {usage: "NAME [--set k=v,...] [--seed N] [--float32]",
			help: "evaluate an objective on a JSON batch read from stdin", run: objectiveEval},
	},
	"verdict": {
		"list": {usage: verdictListUsage,
			help: "the verdicts committed in paper notebooks (lib/verdict's outputs), one line per paper", run: verdictList},
	},
	"landscape": {
		"interpolate": {usage: interpolateUsage,
			help: "the loss and error along the line from A to B, with its barriers", run: landscapeInterpolate},
		"plane": {usage: planeUsage,
			help: "the loss on a 2-D plane: through three checkpoints, of random filter-normalised directions, or of a run's PCA", run: landscapePlane},
		"atlas": {usage: atlasUsage,
			help: "train R runs per objective and compare their landscapes: accuracy, ECE, barriers, curvature, slices (lib/atlas)", run: landscapeAtlas},
		"curvature": {usage: curvatureUsage,
			help: "the top Hessian eigenvalues, its trace and, with -density, its eigenvalue density", run: landscapeCurvature},
	},
}

// usageError is an error in the command line itself (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// run dispatches `<noun> <verb> args...`; it is main without the process around it.
func run(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, helpText())
		return nil
	}
	verbs, ok := commands[args[0]]
	if !ok {
		return usagef("unknown command %q (commands: %s); try `losslab help`", args[0], strings.Join(sortedKeys(commands), ", "))
	}
	if len(args) < 2 {
		return usagef("%s needs a verb: %s", args[0], strings.Join(sortedKeys(verbs), ", "))
	}
	cmd, ok := verbs[args[1]]
	if !ok {
		return usagef("unknown verb %q for %s (verbs: %s)", args[1], args[0], strings.Join(sortedKeys(verbs), ", "))
	}
	return cmd.run(args[2:], stdin, stdout)
}

func helpText() string {
	var sb strings.Builder
	sb.WriteString("losslab: explore LossLab's training objectives and loss landscapes.\n\nUsage:\n")
	for _, noun := range sortedKeys(commands) {
		for _, verb := range sortedKeys(commands[noun]) {
			c := commands[noun][verb]
			fmt.Fprintf(&sb, "  losslab %s %s %s\n      %s\n", noun, verb, c.usage, c.help)
		}
	}
	sb.WriteString(landscapeHelp)
	return sb.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// parseFlags parses flags placed before and/or after positional arguments, returning the positionals.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, usagef("%s takes: %s", fs.Name(), flagList(fs))
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func flagList(fs *flag.FlagSet) string {
	var parts []string
	fs.VisitAll(func(f *flag.Flag) { parts = append(parts, "--"+f.Name+" ("+f.Usage+")") })
	return strings.Join(parts, ", ")
}

func objectiveList(args []string, _ io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("objective list", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "write the descriptors as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("objective list takes no arguments, got %q", pos[0])
	}
	all := losses.All()
	if *asJSON {
		infos := make([]losses.ObjectiveInfo, len(all))
		for i, o := range all {
			infos[i] = o.Info()
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(infos)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPAPER\tKIND\tHYPERPARAMETERS\tSUMMARY")
	for _, o := range all {
		var ps []string
		for _, p := range o.Params {
			ps = append(ps, fmt.Sprintf("%s=%g %s", p.Name, p.Default, p.ParamRange()))
		}
		params := strings.Join(ps, "; ")
		if params == "" {
			params = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.Name, o.Paper, o.Kind, params, o.Summary)
	}
	return tw.Flush()
}

func objectiveEval(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("objective eval", flag.ContinueOnError)
	set := fs.String("set", "", "hyperparameters, name=value,name=value")
	seed := fs.Int64("seed", -1, "random seed, for objectives with a seed hyperparameter")
	f32 := fs.Bool("float32", false, "compute in float32 instead of float64")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("objective eval takes one objective NAME (see `losslab objective list`), got %d arguments", len(pos))
	}
	o, err := losses.Lookup(pos[0])
	if err != nil {
		return err
	}
	params, err := losses.ParseParams(*set)
	if err != nil {
		return err
	}
	if seedGiven(fs) {
		if !hasParam(o, "seed") {
			return fmt.Errorf("objective %q is deterministic: it takes no --seed", o.Name)
		}
		if _, dup := params["seed"]; dup {
			return errors.New("seed given twice (--seed and --set seed=...)")
		}
		params["seed"] = float64(*seed)
	}
	dt := dtypes.Float64
	if *f32 {
		dt = dtypes.Float32
	}
	inputs, err := losses.DecodeInputs(o, stdin, dt)
	if err != nil {
		return err
	}
	res, err := losses.Evaluate(o.Name, inputs, params)
	if err != nil {
		return err
	}
	out, err := json.Marshal(res)
	if err != nil {
		var me *json.MarshalerError
		if errors.As(err, &me) {
			err = me.Unwrap()
		}
		return fmt.Errorf("objective %q: %v", o.Name, err)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", out)
	return err
}

func seedGiven(fs *flag.FlagSet) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "seed" })
	return given
}

func hasParam(o *losses.Objective, name string) bool {
	for _, p := range o.Params {
		if p.Name == name {
			return true
		}
	}
	return false
}
