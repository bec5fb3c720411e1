package atlas

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/losslab/losslab/lib/backend"
	"github.com/losslab/losslab/lib/data"
	"github.com/losslab/losslab/lib/landscape"
	"github.com/losslab/losslab/lib/losses"
	"github.com/losslab/losslab/lib/models"
	"github.com/losslab/losslab/lib/train"
)

// MinRuns is the fewest independent runs per objective the atlas accepts: a spread needs at least three.
const MinRuns = 3

// schema versions the cached records: bump it when Record's meaning changes, so old files are recomputed.
const schema = 1

// Config describes an atlas. Model, Train, Test and Runs are required; the rest has defaults.
type Config struct {
	Model       models.Model
	Train, Test *data.Set
	// Objectives to compare (nil: DefaultObjectives()). An entry may repeat a name with other
	// hyperparameters; the same name with the same (resolved) hyperparameters twice is an error.
	Objectives []Entry
	// Runs is the number R ≥ MinRuns of independently initialised runs per objective; each also gets a
	// data-order sibling (same initialisation, another data order).
	Runs int
	// Training of every run, as in lib/train: Steps (or Epochs, default 1), BatchSize (default 128),
	// Optimizer (default Adam(1e-3)). Seed picks the R initialisations (the same for every objective).
	Steps, Epochs, BatchSize int
	Optimizer                train.Optimizer
	Seed                     uint64
	// Measure sets the sizes of the measurements.
	Measure Measure
	// CacheDir, if set, holds one JSON record per objective (created if missing).
	CacheDir string
	// Progress, if set, is called at each step of the work (a run trained, a record measured, cached or
	// skipped).
	Progress func(Step)
}

// Step reports progress: Done of Total objectives are finished; Message says what just happened.
type Step struct {
	Done, Total int
	Message     string
}

// Measure sets the sizes of the measurements (zero values take the defaults).
type Measure struct {
	// Examples: barriers and ECE use the first Examples of Test, curvature and slices the first Examples
	// of Train (default 1000).
	Examples int
	// Alpha is the number of points on each interpolation path, ends included (default 11).
	Alpha int
	// Lanczos is the number of Lanczos steps (Hessian-vector products) for the top eigenvalue
	// (default 20); TraceSamples the Hutchinson samples of the trace (default 10).
	Lanczos, TraceSamples int
	// Slice is the number of points of the 1-D slices, Grid the points per side of the 2-D slice
	// (defaults 21 and 11); Radius their half-width in filter-normalised units (default 1).
	Slice, Grid int
	Radius      float64
	// Bins is the number of ECE bins (default 15).
	Bins int
}

func (m Measure) withDefaults() Measure {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&m.Examples, 1000)
	def(&m.Alpha, 11)
	def(&m.Lanczos, 20)
	def(&m.TraceSamples, 10)
	def(&m.Slice, 21)
	def(&m.Grid, 11)
	def(&m.Bins, 15)
	if m.Radius == 0 {
		m.Radius = 1
	}
	return m
}

func (m Measure) check() error {
	switch {
	case m.Examples < 1, m.Lanczos < 1, m.TraceSamples < 1, m.Bins < 1:
		return fmt.Errorf("atlas: Measure.Examples (%d), Lanczos (%d), TraceSamples (%d) and Bins (%d) must be ≥ 1",
			m.Examples, m.Lanczos, m.TraceSamples, m.Bins)
	case m.Alpha < 3 || m.Slice < 3 || m.Grid < 3:
		return fmt.Errorf("atlas: Measure.Alpha (%d), Slice (%d) and Grid (%d) must be ≥ 3 (a barrier needs an interior point)",
			m.Alpha, m.Slice, m.Grid)
	case !(m.Radius > 0) || math.IsInf(m.Radius, 0):
		return fmt.Errorf("atlas: Measure.Radius=%g must be positive and finite", m.Radius)
	}
	return nil
}

// RunResult is what was measured on one run of an objective.
type RunResult struct {
	// Seed initialised the run; DataSeed and SiblingDataSeed are the data orders of the run and its sibling.
	Seed, DataSeed, SiblingDataSeed uint64
	// On the whole test set: accuracy, mean cross-entropy (train.Evaluate) and the objective's own mean
	// loss (train.EvaluateLoss).
	TestAccuracy, TestLoss, ObjectiveLoss float64
	// ECE on the measurement examples of Test.
	ECE float64
	// TrainLoss and TrainError: cross-entropy and error on the measurement examples of Train.
	TrainLoss, TrainError float64
	// TopEigenvalue and Trace (± TraceSE) of the cross-entropy Hessian at the solution on the
	// measurement examples of Train.
	TopEigenvalue, Trace, TraceSE float64
	// Slice is the cross-entropy on the training examples along one filter-normalised random direction,
	// at Record.SliceX.
	Slice []float64
	// TrainSeconds is the wall time of training the run and its sibling.
	TrainSeconds float64
}

// PairResult is the interpolation between two runs, on the measurement examples of Test.
type PairResult struct {
	A, B int // indices into Record.Runs
	// Barrier is the linear barrier of cross-entropy (landscape.Barrier.Linear), ErrorBarrier that of
	// the error rate; Loss is the cross-entropy along the path at Record.Alpha.
	Barrier, ErrorBarrier float64
	Loss                  []float64
}

// Plane is a 2-D slice: cross-entropy Loss[t][s] on the measurement examples of Train at Origin + s·U
// + t·V for filter-normalised random directions U, V.
type Plane struct {
	S, T []float64
	Loss [][]float64
}

// Summary is the spread across runs (or pairs) of each measurement.
type Summary struct {
	TestAccuracy, TestLoss, ObjectiveLoss, ECE, TrainLoss landscape.Stats
	// Barriers of cross-entropy between independent runs, the same after weight matching, between
	// data-order siblings; and the error-rate barriers.
	Barrier, MatchedBarrier, SiblingBarrier                landscape.Stats
	ErrorBarrier, MatchedErrorBarrier, SiblingErrorBarrier landscape.Stats
	TopEigenvalue, Trace                                   landscape.Stats
}

// Record is the atlas entry of one objective.
type Record struct {
	Entry Entry
	// Label names the entry in tables: the name, and the hyperparameters given explicitly.
	Label string
	Paper string
	// Description is the registry's one-line summary; Params the resolved hyperparameters.
	Description string
	Params      losses.Params
	// Notes holds caveats (e.g. a setting of the paper that the atlas does not reproduce).
	Notes string `json:",omitempty"`
	Runs  []RunResult
	// Independent holds the pairs of independent runs (i, i+1 mod R), Matched the same pairs after
	// aligning B to A by weight matching, Siblings each run with its data-order sibling.
	Independent, Matched, Siblings []PairResult
	// MatchingNote says why Matched is empty when the model's permutations could not be inferred.
	MatchingNote string `json:",omitempty"`
	// Alpha is the interpolation grid, SliceX the coordinates of the 1-D slices.
	Alpha, SliceX []float64
	// Plane is the 2-D slice around the first run's solution.
	Plane   Plane
	Summary Summary
	// Key is the hash of everything that decides the record (see Config); the cache file is reused only
	// when it matches.
	Key        string
	Provenance Provenance
}

// Provenance says how and when a record or the atlas was computed.
type Provenance struct {
	// Version is LossLab's module version and VCS revision when the build recorded them, else "unknown".
	Version, GoVersion, Backend string
	Created                     time.Time
	// Seconds is the wall time (training and measurement) of the record, or of the whole Run.
	Seconds float64
}

// Atlas is what Run returns.
type Atlas struct {
	// Setup describes the configuration in plain data.
	Setup Setup
	// Records are in the order of the objectives; Skipped lists those not trained, with the reason.
	Records []Record
	Skipped []Skip
	// Computed and Cached list the labels of the records computed by this call and read from CacheDir.
	Computed, Cached []string
	Provenance       Provenance
}

// Setup is the configuration of an atlas as plain data.
type Setup struct {
	Model                string
	Train, Test          DataInfo
	Runs                 int
	Steps, Epochs, Batch int
	Optimizer            string
	Seed                 uint64
	Measure              Measure
}

// DataInfo names a data set, its size and a hash of its contents.
type DataInfo struct {
	Name    string
	N       int
	Classes int
	Hash    string
}

// Record returns the record with the given label (or name), or nil.
func (a *Atlas) Record(label string) *Record {
	for i := range a.Records {
		if a.Records[i].Label == label {
			return &a.Records[i]
		}
	}
	return nil
}

// trainRun trains one run; tests replace it to count the runs trained.
var trainRun = train.Run

// Run computes the atlas (see the package doc), reading records from and writing them to cfg.CacheDir.
func Run(cfg Config) (*Atlas, error) {
	start := time.Now()
	r, err := newRunner(cfg)
	if err != nil {
		return nil, err
	}
	out := &Atlas{Setup: r.setup}
	for i, e := range r.entries {
		r.done = i
		if reason := SkipReason(e.Name); reason != "" {
			o, _, _ := resolve(e)
			out.Skipped = append(out.Skipped, Skip{Entry: e, Paper: o.Paper, Reason: reason})
			r.progress("%s: skipped (%s)", e.Name, reason)
			continue
		}
		rec, cached, err := r.record(e)
		var div *train.DivergedError
		if errors.As(err, &div) {
			out.Skipped = append(out.Skipped, Skip{Entry: e, Paper: rec.Paper, Reason: err.Error()})
			r.progress("%s: skipped (%v)", e.Name, err)
			continue
		}
		if err != nil {
			return nil, err
		}
		out.Records = append(out.Records, *rec)
		if cached {
			out.Cached = append(out.Cached, rec.Label)
		} else {
			out.Computed = append(out.Computed, rec.Label)
		}
	}
	r.done = len(r.entries)
	r.progress("atlas complete: %d computed, %d from the cache, %d skipped", len(out.Computed), len(out.Cached), len(out.Skipped))
	out.Provenance = provenance(start)
	return out, nil
}

type runner struct {
	cfg      Config
	entries  []Entry
	setup    Setup
	trainSub *landscape.Data
	testSub  *landscape.Data
	ev       *landscape.Evaluator
	forward  landscape.ForwardFn
	done     int // objectives finished, for Progress
}

func newRunner(cfg Config) (*runner, error) {
	switch {
	case cfg.Model == nil:
		return nil, errors.New("atlas: Config.Model is nil")
	case cfg.Train == nil || cfg.Train.Len() == 0:
		return nil, errors.New("atlas: the training set is empty")
	case cfg.Test == nil || cfg.Test.Len() == 0:
		return nil, errors.New("atlas: the test set is empty (test accuracy, ECE and barriers need one)")
	case cfg.Runs < MinRuns:
		return nil, fmt.Errorf("atlas: Runs=%d, need ≥ %d independent runs per objective for a spread", cfg.Runs, MinRuns)
	case cfg.Steps < 0 || cfg.Epochs < 0 || cfg.BatchSize < 0:
		return nil, fmt.Errorf("atlas: negative Steps (%d), Epochs (%d) or BatchSize (%d)", cfg.Steps, cfg.Epochs, cfg.BatchSize)
	}
	for _, s := range []*data.Set{cfg.Train, cfg.Test} {
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("atlas: %w", err)
		}
	}
	if !slices.Equal(cfg.Train.Shape, cfg.Test.Shape) || cfg.Train.Classes != cfg.Test.Classes {
		return nil, fmt.Errorf("atlas: test set has shape %v and %d classes, training set %v and %d classes",
			cfg.Test.Shape, cfg.Test.Classes, cfg.Train.Shape, cfg.Train.Classes)
	}
	if cfg.Optimizer.Kind == "" {
		cfg.Optimizer = train.Adam(1e-3)
	}
	if err := cfg.Optimizer.Check(); err != nil {
		return nil, fmt.Errorf("atlas: %w", err)
	}
	cfg.Measure = cfg.Measure.withDefaults()
	if err := cfg.Measure.check(); err != nil {
		return nil, err
	}
	if cfg.Objectives == nil {
		cfg.Objectives = DefaultObjectives()
	}
	if len(cfg.Objectives) == 0 {
		return nil, errors.New("atlas: the objective list is empty (nil means DefaultObjectives)")
	}
	seen := map[string]bool{}
	for _, e := range cfg.Objectives {
		_, p, err := resolve(e)
		if err != nil {
			return nil, err
		}
		id := e.Name + " " + paramString(p)
		if seen[id] {
			return nil, fmt.Errorf("atlas: objective %q with hyperparameters {%s} is listed twice", e.Name, paramString(p))
		}
		seen[id] = true
	}
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("atlas: cache folder: %w", err)
		}
	}
	r := &runner{cfg: cfg, entries: cfg.Objectives, forward: landscape.FromModel(cfg.Model)}
	r.setup = Setup{
		Model: cfg.Model.Name(), Train: dataInfo(cfg.Train), Test: dataInfo(cfg.Test), Runs: cfg.Runs,
		Steps: cfg.Steps, Epochs: cfg.Epochs, Batch: cfg.BatchSize, Optimizer: cfg.Optimizer.String(),
		Seed: cfg.Seed, Measure: cfg.Measure,
	}
	r.trainSub = head(cfg.Train, cfg.Measure.Examples)
	r.testSub = head(cfg.Test, cfg.Measure.Examples)
	return r, nil
}

// head is the first n examples of s as evaluation data.
func head(s *data.Set, n int) *landscape.Data {
	d := landscape.FromSet(s)
	n = min(n, d.Len())
	return &landscape.Data{Name: d.Name, Shape: d.Shape, X: d.X[:n*s.Dim()], Y: d.Y[:n]}
}

func dataInfo(s *data.Set) DataInfo {
	h := sha256.New()
	for _, d := range s.Shape {
		_ = binary.Write(h, binary.LittleEndian, int64(d))
	}
	_ = binary.Write(h, binary.LittleEndian, s.X)
	_ = binary.Write(h, binary.LittleEndian, s.Y)
	return DataInfo{Name: s.Name, N: s.Len(), Classes: s.Classes, Hash: hex.EncodeToString(h.Sum(nil)[:8])}
}

func (r *runner) progress(format string, args ...any) {
	if r.cfg.Progress != nil {
		r.cfg.Progress(Step{Done: r.done, Total: len(r.entries), Message: fmt.Sprintf(format, args...)})
	}
}

// paramString writes resolved hyperparameters in name order: "a=1, b=0".
func paramString(p losses.Params) string {
	names := make([]string, 0, len(p))
	for n := range p {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%g", n, p[n])
	}
	return strings.Join(parts, ", ")
}

// label is the entry's name and its explicitly given hyperparameters.
func label(e Entry) string {
	if len(e.Params) == 0 {
		return e.Name
	}
	return e.Name + " (" + paramString(e.Params) + ")"
}

// key hashes everything that decides an entry's record.
func (r *runner) key(e Entry, params losses.Params) string {
	// The model's type and exported fields (its layout); its Name when they cannot be encoded.
	model, err := json.Marshal(r.cfg.Model)
	if err != nil {
		model = []byte(r.cfg.Model.Name())
	}
	b, err := json.Marshal(struct {
		Schema int
		Name   string
		Params losses.Params
		Setup  Setup
		Model  string
	}{schema, e.Name, params, r.setup, fmt.Sprintf("%T %s", r.cfg.Model, model)})
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// cachePath is the record's file in CacheDir: the name (made safe for a file name) and the key.
func (r *runner) cachePath(e Entry, key string) string {
	safe := strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' {
			return c
		}
		return '_'
	}, e.Name)
	return filepath.Join(r.cfg.CacheDir, safe+"-"+key+".json")
}

// RunSeeds returns the initialisation seed of run i, its data-order seed and its sibling's.
func (c Config) RunSeeds(i int) (seed, dataSeed, siblingDataSeed uint64) {
	seed = c.Seed*1_000_003 + uint64(i) + 1
	return seed, 2*seed + 1, 2*seed + 2
}

// TrainConfig returns the lib/train configuration of run i of an objective (sibling: its data-order
// sibling), so that any run of the atlas can be reproduced.
func (c Config) TrainConfig(e Entry, i int, sibling bool) train.Config {
	seed, ds, sds := c.RunSeeds(i)
	if sibling {
		ds = sds
	}
	opt := c.Optimizer
	if opt.Kind == "" {
		opt = train.Adam(1e-3)
	}
	return train.Config{
		Model: c.Model, Train: c.Train, Objective: e.Name, ObjectiveParams: e.Params, Optimizer: opt,
		BatchSize: c.BatchSize, Steps: c.Steps, Epochs: c.Epochs, Seed: seed, DataSeed: ds, Silent: true,
	}
}

// record returns the entry's record from the cache or computes (and caches) it.
func (r *runner) record(e Entry) (*Record, bool, error) {
	o, params, err := resolve(e)
	if err != nil {
		return nil, false, err
	}
	key := r.key(e, params)
	path := ""
	if r.cfg.CacheDir != "" {
		path = r.cachePath(e, key)
		var rec Record
		switch err := landscape.LoadJSON(path, &rec); {
		case err == nil && rec.Key == key:
			r.progress("%s: from the cache (%s)", label(e), filepath.Base(path))
			return &rec, true, nil
		case err == nil:
			return nil, false, fmt.Errorf("atlas: cache file %s holds key %q, want %q (edited or damaged: delete it to recompute)", path, rec.Key, key)
		case !errors.Is(err, os.ErrNotExist):
			return nil, false, fmt.Errorf("atlas: cache file %s cannot be read (delete it to recompute): %w", path, err)
		}
	}
	start := time.Now()
	rec := &Record{Entry: e, Label: label(e), Paper: o.Paper, Description: o.Summary, Params: params,
		Notes: notes[e.Name], Key: key}
	if err := r.compute(rec, o); err != nil {
		return rec, false, err
	}
	rec.Provenance = provenance(start)
	if path != "" {
		if err := landscape.SaveJSON(path, rec); err != nil {
			return nil, false, fmt.Errorf("atlas: saving %s: %w", label(e), err)
		}
	}
	return rec, false, nil
}

// compute trains the runs of one objective and measures them.
func (r *runner) compute(rec *Record, o *losses.Objective) error {
	cfg, m := r.cfg, r.cfg.Measure
	R := cfg.Runs
	runs := make([]*landscape.ParamSet, R)
	sibs := make([]*landscape.ParamSet, R)
	rec.Runs = make([]RunResult, R)
	objLoss, err := losses.TrainLoss(rec.Entry.Name, rec.Entry.Params)
	if err != nil {
		return fmt.Errorf("atlas: %w", err)
	}
	for i := range R {
		t0 := time.Now()
		seed, ds, sds := cfg.RunSeeds(i)
		rr := &rec.Runs[i]
		rr.Seed, rr.DataSeed, rr.SiblingDataSeed = seed, ds, sds
		for _, sibling := range []bool{false, true} {
			res, err := trainRun(cfg.TrainConfig(rec.Entry, i, sibling))
			if err != nil {
				return fmt.Errorf("atlas: %s, run %d (sibling %v): %w", rec.Label, i, sibling, err)
			}
			ps, err := landscape.FromContext(res.Context, nil)
			if err != nil {
				return fmt.Errorf("atlas: %s, run %d: %w", rec.Label, i, err)
			}
			if sibling {
				sibs[i] = ps
				continue
			}
			runs[i] = ps
			met, err := train.Evaluate(cfg.Model, res.Context, cfg.Test)
			if err != nil {
				return fmt.Errorf("atlas: %s, run %d: %w", rec.Label, i, err)
			}
			own, err := train.EvaluateLoss(cfg.Model, res.Context, cfg.Test, objLoss)
			if err != nil {
				return fmt.Errorf("atlas: %s, run %d: %w", rec.Label, i, err)
			}
			rr.TestAccuracy, rr.TestLoss, rr.ObjectiveLoss = met.Accuracy, met.Loss, own.Loss
		}
		rr.TrainSeconds = time.Since(t0).Seconds()
		r.progress("%s: run %d/%d and its sibling trained (%.1fs)", rec.Label, i+1, R, rr.TrainSeconds)
		if err := r.measureRun(rec, i, runs[i]); err != nil {
			return fmt.Errorf("atlas: %s, run %d: %w", rec.Label, i, err)
		}
	}
	if err := r.measurePairs(rec, runs, sibs); err != nil {
		return fmt.Errorf("atlas: %s: %w", rec.Label, err)
	}
	// The 2-D slice around the first solution.
	pl, err := landscape.RandomPlane(runs[0], cfg.Seed+0x2d, landscape.DirectionOptions{})
	if err != nil {
		return err
	}
	g, err := landscape.EvaluateGrid(r.ev, pl, r.trainSub,
		landscape.GridSpec{SMin: -m.Radius, SMax: m.Radius, NS: m.Grid, TMin: -m.Radius, TMax: m.Radius, NT: m.Grid},
		landscape.GridOptions{})
	if err != nil {
		return fmt.Errorf("atlas: %s: 2-D slice: %w", rec.Label, err)
	}
	rec.Plane = Plane{S: g.S, T: g.T, Loss: g.Loss}
	rec.Summary = summarize(rec)
	r.progress("%s: measured", rec.Label)
	return nil
}

// evaluator returns the cross-entropy evaluator, built on the first parameters seen.
func (r *runner) evaluator(template *landscape.ParamSet) (*landscape.Evaluator, error) {
	if r.ev == nil {
		ev, err := landscape.NewEvaluator(r.forward, template, landscape.Config{Silent: true})
		if err != nil {
			return nil, err
		}
		r.ev = ev
	}
	return r.ev, nil
}

// measureRun fills run i's calibration, curvature and 1-D slice.
func (r *runner) measureRun(rec *Record, i int, theta *landscape.ParamSet) error {
	m := r.cfg.Measure
	rr := &rec.Runs[i]
	ev, err := r.evaluator(theta)
	if err != nil {
		return err
	}
	logits, k, err := landscape.Logits(r.forward, theta, r.testSub)
	if err != nil {
		return err
	}
	conf, correct, err := Confidences(logits, k, r.testSub.Y)
	if err != nil {
		return err
	}
	if rr.ECE, err = ECE(conf, correct, m.Bins); err != nil {
		return err
	}
	pt, err := ev.Loss(theta, r.trainSub)
	if err != nil {
		return err
	}
	rr.TrainLoss, rr.TrainError = pt.Loss, pt.Error
	eig, _, err := landscape.TopEigenvalues(ev, theta, r.trainSub, 1,
		landscape.SpectrumOptions{Steps: min(m.Lanczos, theta.Size()), Seed: r.cfg.Seed + 0xe1})
	if err != nil {
		return fmt.Errorf("top eigenvalue: %w", err)
	}
	rr.TopEigenvalue = eig[0]
	if rr.Trace, rr.TraceSE, err = landscape.HessianTrace(ev, theta, r.trainSub, m.TraceSamples, r.cfg.Seed+0x7a); err != nil {
		return fmt.Errorf("Hessian trace: %w", err)
	}
	dir, err := landscape.RandomDirection(theta, r.cfg.Seed+0x1d, landscape.DirectionOptions{})
	if err != nil {
		return err
	}
	// θ − ρ·d + α·2ρ·d for α ∈ [0, 1]: the slice from −ρ to ρ.
	base, err := landscape.Combine([]float64{1, -m.Radius}, theta, dir)
	if err != nil {
		return err
	}
	p, err := landscape.LinePath(ev, base, dir.Scale(2*m.Radius), []*landscape.Data{r.trainSub},
		landscape.PathOptions{NumAlpha: m.Slice})
	if err != nil {
		return fmt.Errorf("1-D slice: %w", err)
	}
	rr.Slice = p.Curves[0].Loss
	rec.SliceX = make([]float64, len(p.Alpha))
	for j, a := range p.Alpha {
		rec.SliceX[j] = -m.Radius + 2*m.Radius*a
	}
	return nil
}

// measurePairs fills the barriers between independent runs (before and after weight matching) and
// between siblings.
func (r *runner) measurePairs(rec *Record, runs, sibs []*landscape.ParamSet) error {
	R := len(runs)
	opts := landscape.PathOptions{NumAlpha: r.cfg.Measure.Alpha}
	pair := func(i, j int, a, b *landscape.ParamSet) (PairResult, error) {
		p, err := landscape.Interpolate(r.ev, a, b, []*landscape.Data{r.testSub}, opts)
		if err != nil {
			return PairResult{}, err
		}
		rec.Alpha = p.Alpha
		c := p.Curves[0]
		return PairResult{A: i, B: j, Barrier: c.LossBarrier.Linear, ErrorBarrier: c.ErrorBarrier.Linear, Loss: c.Loss}, nil
	}
	spec, specErr := landscape.InferPermSpec(runs[0])
	if specErr != nil {
		rec.MatchingNote = "no weight matching: " + specErr.Error()
	}
	for i := range R {
		j := (i + 1) % R
		p, err := pair(i, j, runs[i], runs[j])
		if err != nil {
			return fmt.Errorf("barrier %d–%d: %w", i, j, err)
		}
		rec.Independent = append(rec.Independent, p)
		if specErr == nil {
			al, err := landscape.WeightMatcher{Options: landscape.MatchOptions{Seed: r.cfg.Seed}}.Match(runs[i], runs[j], spec)
			if err != nil {
				return fmt.Errorf("weight matching %d–%d: %w", i, j, err)
			}
			if p, err = pair(i, j, runs[i], al.Aligned); err != nil {
				return fmt.Errorf("matched barrier %d–%d: %w", i, j, err)
			}
			rec.Matched = append(rec.Matched, p)
		}
		if p, err = pair(i, i, runs[i], sibs[i]); err != nil {
			return fmt.Errorf("sibling barrier %d: %w", i, err)
		}
		rec.Siblings = append(rec.Siblings, p)
	}
	r.progress("%s: barriers measured", rec.Label)
	return nil
}

func summarize(rec *Record) Summary {
	runs := func(f func(RunResult) float64) landscape.Stats {
		v := make([]float64, len(rec.Runs))
		for i, rr := range rec.Runs {
			v[i] = f(rr)
		}
		return landscape.Summarize(v)
	}
	pairs := func(ps []PairResult, f func(PairResult) float64) landscape.Stats {
		v := make([]float64, len(ps))
		for i, p := range ps {
			v[i] = f(p)
		}
		return landscape.Summarize(v)
	}
	loss := func(p PairResult) float64 { return p.Barrier }
	errb := func(p PairResult) float64 { return p.ErrorBarrier }
	return Summary{
		TestAccuracy:        runs(func(r RunResult) float64 { return r.TestAccuracy }),
		TestLoss:            runs(func(r RunResult) float64 { return r.TestLoss }),
		ObjectiveLoss:       runs(func(r RunResult) float64 { return r.ObjectiveLoss }),
		ECE:                 runs(func(r RunResult) float64 { return r.ECE }),
		TrainLoss:           runs(func(r RunResult) float64 { return r.TrainLoss }),
		TopEigenvalue:       runs(func(r RunResult) float64 { return r.TopEigenvalue }),
		Trace:               runs(func(r RunResult) float64 { return r.Trace }),
		Barrier:             pairs(rec.Independent, loss),
		MatchedBarrier:      pairs(rec.Matched, loss),
		SiblingBarrier:      pairs(rec.Siblings, loss),
		ErrorBarrier:        pairs(rec.Independent, errb),
		MatchedErrorBarrier: pairs(rec.Matched, errb),
		SiblingErrorBarrier: pairs(rec.Siblings, errb),
	}
}

func provenance(start time.Time) Provenance {
	return Provenance{Version: version(), GoVersion: runtime.Version(), Backend: backend.Choose().Config,
		Created: start.UTC().Truncate(time.Second), Seconds: time.Since(start).Seconds()}
}

// version reads LossLab's module version and VCS revision from the build information.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var parts []string
	for _, m := range append([]*debug.Module{&bi.Main}, bi.Deps...) {
		if m.Path == "github.com/losslab/losslab" && m.Version != "" && m.Version != "(devel)" {
			parts = append(parts, m.Version)
		}
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" || (s.Key == "vcs.modified" && s.Value == "true") {
			parts = append(parts, s.Key+"="+s.Value)
		}
	}
	if len(parts) == 0 {
		return "unknown"
	}
	return strings.Join(parts, " ")
}
