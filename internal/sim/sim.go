// Package sim replays active learning against known labels: for each query
// strategy it starts from an initial labelled set, lets the current model
// pick a batch from the pool, reveals the oracle's labels for it, refits, and
// scores every model on a held-out test set.
//
// The comparison is paired. A draw is one choice of (test split unless
// --test is given, initial set unless --initial is given, the seed that
// drives random's picks, badge's and committee's sampling and every
// tie-break); every strategy runs on every draw, so strategy minus random
// on the same draw is a difference that the luck of the draw does not
// enter, and a sign-flip permutation test over the draws says whether its
// mean could be zero. With both --test and --initial fixed, a deterministic
// strategy (whose picks depend on the seed only through the order of exactly
// equal scores) would replay the same trajectory on every draw, so it runs
// once and that one result is paired with each draw of random.
//
// The protocol, round by round (as the workshop ran it):
//
//	round 0: fit on the initial set; evaluate on the test set; pick batch 1
//	round i: add batch i (from the oracle) to the set; fit; evaluate; pick batch i+1
//
// up to round R, so R batches are queried in all and the last model is
// trained on the initial set plus R batches. A queried row whose oracle label
// is missing or outside the classes (the workshop's NA) counts as queried and
// leaves the pool but does not train.
package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/featstore"
	"github.com/winnowml/winnow/internal/linear"
	"github.com/winnowml/winnow/internal/metrics"
	"github.com/winnowml/winnow/internal/plural"
	"github.com/winnowml/winnow/internal/query"
)

// Config is `winnow simulate` once its flags are parsed.
type Config struct {
	Features []string // feature files; their rows form test, initial set and pool
	Labels   string   // the oracle: CSV with path and label
	// LabelSources, when set, replace Labels: several oracle files (or
	// dataset.Folders) merged as Merge says.
	LabelSources []string
	Merge        dataset.Merge
	LabelColumn  string
	Ignore       []string // columns of a features CSV that are not features
	Classes      []string // fixes the class order; other labels are NA

	Test         string  // CSV of test paths, or
	TestFraction float64 // a stratified random fraction of the labelled rows, drawn per draw

	Initial         string // CSV of initially labelled paths, or
	InitialPerClass int    // this many random rows of each class, drawn per draw

	Batch, Rounds int
	Strategies    []string
	Repeats       int // draws; every strategy runs on every draw (see the package comment)
	Seed          uint64
	Params        linear.Params
	Candidates    int // coreset and badge work on this many most uncertain rows (0: all)
	Workers       int // replays run at once (0: GOMAXPROCS)

	Log io.Writer
}

// Validate checks every number of the configuration, naming the flag and
// its range, so that no value reaches the code that would panic on it.
func (cfg *Config) Validate() error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	var errs []string
	if cfg.Test == "" && !(finite(cfg.TestFraction) && cfg.TestFraction > 0 && cfg.TestFraction < 1) {
		errs = append(errs, fmt.Sprintf("--test-fraction must be a number in (0, 1), got %g", cfg.TestFraction))
	}
	if cfg.Initial == "" && cfg.InitialPerClass < 1 {
		errs = append(errs, fmt.Sprintf("--initial-per-class must be at least 1, got %d", cfg.InitialPerClass))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"--batch", cfg.Batch}, {"--rounds", cfg.Rounds}, {"--repeats", cfg.Repeats}} {
		if f.v < 1 {
			errs = append(errs, fmt.Sprintf("%s must be at least 1, got %d", f.name, f.v))
		}
	}
	if cfg.Candidates < 0 {
		errs = append(errs, fmt.Sprintf("--candidates must be 0 (all rows) or more, got %d", cfg.Candidates))
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"--l1", cfg.Params.L1}, {"--l2", cfg.Params.L2}} {
		if !finite(f.v) || f.v < 0 {
			errs = append(errs, fmt.Sprintf("%s must be a finite number >= 0, got %g", f.name, f.v))
		}
	}
	if cfg.Workers < 0 {
		errs = append(errs, fmt.Sprintf("workers must be 0 (all cores) or more, got %d", cfg.Workers))
	}
	if len(cfg.Strategies) == 0 {
		errs = append(errs, "--strategies is empty; valid: "+strings.Join(query.Names(), ", "))
	}
	seen := map[string]bool{}
	for _, s := range cfg.Strategies {
		if seen[s] {
			errs = append(errs, fmt.Sprintf("--strategies names %s twice: each strategy runs once per draw", s))
		}
		seen[s] = true
		if _, err := query.New(s, query.Options{}); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("simulate: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Point is one model of one replay: what it was trained on and how it scored.
type Point struct {
	Strategy string
	Repeat   int // the draw
	Round    int
	NTrain   int // labelled rows the model was fitted on
	NQueried int // rows taken from the pool so far, NA ones included
	// NAsked is what the expert paid for: the initial set plus the rows
	// queried, NA and "bad example" answers included. Learning curves and
	// labels-to-target count this.
	NAsked    int
	Converged bool // the fit reached its tolerance
	Report    metrics.Report
	ROC       [][]metrics.Point // per class; kept for repeat 0 only
	Picked    []string          // paths of the batch picked by this round's model
}

// Replay records what one (strategy, draw) run saw: the sets are the paths
// the replay itself trained on first and scored on, so pairing can be
// checked from the outside.
type Replay struct {
	Strategy     string
	Repeat       int
	Initial      []string // sorted
	Test         []string // sorted
	Fits         int
	NotConverged int
	Exhausted    int // round at which the pool ran out, 0 if it did not
}

// Result is a whole simulation.
type Result struct {
	Config   Config
	Classes  []string
	Meta     featstore.Meta
	Notes    []string
	NTest    int // of draw 0 (every draw has the same sizes unless a class is tiny)
	NInitial int
	NPool    int
	// Fixed: --test and --initial were both given, so the deterministic
	// strategies ran once (see the package comment).
	Fixed   bool
	Points  []Point // strategy by strategy, repeat by repeat, round by round
	Replays []Replay
	Full    Point   // the full model of draw 0: every usable label outside its test set
	Fulls   []Point // the full model of each draw (one shared value when --test is fixed)
	FullROC [][]metrics.Point
	Seconds float64
	Workers int

	Curves      []Curve
	Comparisons map[string]Comparison // strategy (not random) -> paired comparison with random
	// PairedTest says how the p-values were computed (exact or Monte Carlo).
	PairedTest     string
	LabelsToTarget map[string]map[string]Target // strategy -> "95%"/"99%"
	Exhausted      map[string]int               // strategy -> earliest round at which the pool ran out
	Fits           map[string]int               // strategy (and "full") -> fits
	NotConverged   map[string]int               // strategy (and "full") -> fits that stopped at the iteration cap
}

// Random is the name of the baseline strategy.
const Random = "random"

// deterministic strategies pick the same rows given the same model and pool:
// the seed only orders exactly equal scores. Any other (random, badge's
// sampling, committee's bootstrap, and strategies added later) is replayed.
var deterministic = map[string]bool{"least-confidence": true, "margin": true, "entropy": true, "coreset": true}

// Deterministic reports whether a strategy runs once when --test and
// --initial are both fixed.
func Deterministic(name string) bool { return deterministic[name] }

// job is one unit of parallel work: a replay, or a draw's full model.
type job struct {
	strategy string // "" for a full model
	draw     *draw
}

type jobResult struct {
	points []Point
	replay Replay
	full   Point
	roc    [][]metrics.Point
	err    error
}

// Run replays every strategy on every draw, in parallel over draws and
// strategies, and summarises. It returns ctx.Err() as soon as ctx is done.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	start := time.Now()
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.LabelColumn == "" {
		cfg.LabelColumn = "label"
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d, err := load(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	sp, err := newSplitter(d, &cfg)
	if err != nil {
		return nil, err
	}
	draws := make([]*draw, cfg.Repeats)
	for r := range draws {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if draws[r], err = sp.draw(r, &cfg); err != nil {
			if cfg.Repeats > 1 {
				err = fmt.Errorf("draw %d: %w", r, err)
			}
			return nil, err
		}
	}
	fixed := cfg.Test != "" && cfg.Initial != ""
	res := &Result{Config: cfg, Classes: d.classes, Meta: d.meta, Notes: append(d.notes, sp.notes...), Fixed: fixed,
		NTest: len(draws[0].test), NInitial: len(draws[0].initial), NPool: len(draws[0].pool),
		Exhausted: map[string]int{}, Fits: map[string]int{}, NotConverged: map[string]int{}}
	fmt.Fprintf(cfg.Log, "simulate: %d test, %d initial, %d in the pool; %s; %s\n",
		res.NTest, res.NInitial, res.NPool, plural.N(len(d.classes), "class"), plural.N(len(draws), "draw"))

	// Full models first (the largest fits), then replays draw by draw, so
	// that the slowest jobs do not start last.
	var jobs []job
	for r, dr := range draws {
		if r == 0 || cfg.Test == "" {
			jobs = append(jobs, job{draw: dr})
		}
	}
	for _, dr := range draws {
		for _, s := range cfg.Strategies {
			if fixed && deterministic[s] && dr.index > 0 {
				continue
			}
			jobs = append(jobs, job{strategy: s, draw: dr})
		}
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(jobs))
	res.Workers = workers

	// Every job writes only its own slot and takes its seed from its draw,
	// so the result does not depend on which worker ran what, or when.
	results := make([]jobResult, len(jobs))
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next, done atomic.Int64
	var logMu sync.Mutex
	finished := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) || jctx.Err() != nil {
					return
				}
				r := &results[i]
				rp := newReplayer(&cfg, d, jobs[i].draw)
				if jobs[i].strategy == "" {
					r.full, r.roc, r.err = rp.full(jctx)
				} else {
					r.points, r.replay, r.err = rp.replay(jctx, jobs[i].strategy)
				}
				if r.err != nil {
					cancel() // one failure fails the run; stop the others
					return
				}
				n := done.Add(1)
				if step := max(int64(len(jobs))/10, 1); n%step == 0 || n == int64(len(jobs)) {
					logMu.Lock()
					fmt.Fprintf(cfg.Log, "simulate: %d/%d replays and full models, %.1f s\n", n, len(jobs), time.Since(start).Seconds())
					logMu.Unlock()
				}
			}
		}()
	}
	go func() { wg.Wait(); close(finished) }()
	// A fit in progress cannot be interrupted, so on cancellation Run
	// returns at once and lets the workers notice ctx at their next round.
	select {
	case <-finished:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The failure that stopped the run, not the cancellations it caused in
	// the other workers (which may come earlier in job order).
	for i, r := range results {
		if r.err != nil && !errors.Is(r.err, context.Canceled) {
			j := jobs[i]
			if j.strategy == "" {
				return nil, fmt.Errorf("full model, draw %d: %w", j.draw.index, r.err)
			}
			return nil, fmt.Errorf("%s, draw %d: %w", j.strategy, j.draw.index, r.err)
		}
	}
	for i, r := range results {
		if r.err != nil {
			j := jobs[i]
			if j.strategy == "" {
				return nil, fmt.Errorf("full model, draw %d: %w", j.draw.index, r.err)
			}
			return nil, fmt.Errorf("%s, draw %d: %w", j.strategy, j.draw.index, r.err)
		}
	}

	res.Fulls = make([]Point, len(draws))
	for i, j := range jobs {
		r := results[i]
		if j.strategy == "" {
			res.Fulls[j.draw.index] = r.full
			if j.draw.index == 0 {
				res.Full, res.FullROC = r.full, r.roc
			}
			res.Fits["full"]++
			if !r.full.Converged {
				res.NotConverged["full"]++
			}
		}
	}
	if cfg.Test != "" {
		for i := range res.Fulls {
			res.Fulls[i] = res.Full
		}
	}
	// Points in a fixed order: strategy by strategy, draw by draw.
	for _, s := range cfg.Strategies {
		for i, j := range jobs {
			if j.strategy != s {
				continue
			}
			r := results[i]
			res.Points = append(res.Points, r.points...)
			res.Replays = append(res.Replays, r.replay)
			res.Fits[s] += r.replay.Fits
			res.NotConverged[s] += r.replay.NotConverged
			if e := r.replay.Exhausted; e > 0 && (res.Exhausted[s] == 0 || e < res.Exhausted[s]) {
				res.Exhausted[s] = e
			}
		}
	}
	summarise(res)
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

type replayer struct {
	cfg   *Config
	d     *data
	dr    *draw
	xTest *mat.Dense
	yTest []int
}

func newReplayer(cfg *Config, d *data, dr *draw) *replayer {
	return &replayer{cfg: cfg, d: d, dr: dr, xTest: rowsOf(d.x, dr.test), yTest: pick(d.y, dr.test)}
}

func pick(y []int, rows []int) []int {
	out := make([]int, len(rows))
	for i, r := range rows {
		out[i] = y[r]
	}
	return out
}

// usable keeps the rows with a class label.
func usable(d *data, rows []int) []int {
	var out []int
	for _, i := range rows {
		if d.y[i] != NA {
			out = append(out, i)
		}
	}
	return out
}

func (r *replayer) pathsOf(rows []int) []string {
	out := make([]string, len(rows))
	for i, row := range rows {
		out[i] = r.d.paths[row]
	}
	sort.Strings(out)
	return out
}

// replay runs one strategy on the replayer's draw: the points of rounds
// 0..R, and what the replay saw.
func (r *replayer) replay(ctx context.Context, name string) ([]Point, Replay, error) {
	cfg, dr := r.cfg, r.dr
	info := Replay{Strategy: name, Repeat: dr.index, Initial: r.pathsOf(dr.initial), Test: r.pathsOf(dr.test)}
	strategy, err := query.New(name, query.Options{Seed: dr.seed, Candidates: cfg.Candidates})
	if err != nil {
		return nil, info, err
	}
	train := slices.Clone(dr.initial)
	left := slices.Clone(dr.pool)
	queried := 0
	var pts []Point
	var model *linear.Model
	for round := 0; round <= cfg.Rounds; round++ {
		if err := ctx.Err(); err != nil {
			return nil, info, err
		}
		rows := usable(r.d, train)
		m, err := linear.Fit(rowsOf(r.d.x, rows), pick(r.d.y, rows), len(r.d.classes), cfg.Params, model)
		if err != nil {
			return nil, info, fmt.Errorf("round %d: %w", round, err)
		}
		info.Fits++
		if !m.Summary.Converged {
			info.NotConverged++
		}
		model = m
		withROC := dr.index == 0
		report, roc := r.score(m, withROC)
		pt := Point{Strategy: name, Repeat: dr.index, Round: round, NTrain: len(rows), NQueried: queried,
			NAsked: len(dr.initial) + queried, Converged: m.Summary.Converged, Report: report, ROC: roc}
		if round == cfg.Rounds {
			pts = append(pts, pt)
			break
		}
		if len(left) == 0 {
			pts = append(pts, pt)
			info.Exhausted = round
			return pts, info, nil
		}
		paths := make([]string, len(left))
		for i, row := range left {
			paths[i] = r.d.paths[row]
		}
		labelled := &query.Labelled{X: rowsOf(r.d.x, rows), Y: pick(r.d.y, rows)}
		picks, err := strategy.Select(ctx, query.NewPool(paths, rowsOf(r.d.x, left), m, labelled), cfg.Batch)
		if err != nil {
			return nil, info, fmt.Errorf("round %d: %w", round, err)
		}
		taken := make(map[int]bool, len(picks))
		for _, p := range picks {
			taken[p.Index] = true
			train = append(train, left[p.Index])
			pt.Picked = append(pt.Picked, paths[p.Index])
		}
		queried += len(picks)
		kept := left[:0]
		for i, row := range left {
			if !taken[i] {
				kept = append(kept, row)
			}
		}
		left = kept
		pts = append(pts, pt)
	}
	return pts, info, nil
}

// full fits the ceiling: every usable label of the draw outside its test set.
func (r *replayer) full(ctx context.Context) (Point, [][]metrics.Point, error) {
	if err := ctx.Err(); err != nil {
		return Point{}, nil, err
	}
	all := append(slices.Clone(r.dr.initial), r.dr.pool...)
	rows := usable(r.d, all)
	m, err := linear.Fit(rowsOf(r.d.x, rows), pick(r.d.y, rows), len(r.d.classes), r.cfg.Params, nil)
	if err != nil {
		return Point{}, nil, err
	}
	rep, roc := r.score(m, true)
	return Point{Strategy: "full", Repeat: r.dr.index, NTrain: len(rows), NQueried: len(r.dr.pool), NAsked: len(all),
		Converged: m.Summary.Converged, Report: rep}, roc, nil
}

// score evaluates a model on the test set, with ROC curves if asked.
func (r *replayer) score(m *linear.Model, withROC bool) (metrics.Report, [][]metrics.Point) {
	probs := classifier.Rows(m.PredictBatch(r.xTest, nil))
	rep := metrics.Evaluate(r.d.classes, r.yTest, probs)
	if !withROC {
		return rep, nil
	}
	roc := make([][]metrics.Point, len(r.d.classes))
	for k := range roc {
		scores, pos := metrics.OneVsRest(r.yTest, probs, k)
		roc[k] = metrics.ROC(scores, pos)
	}
	return rep, roc
}

// Metrics are the scores compared, in curves and paired tests.
var Metrics = []string{"accuracy", "macro_auc", "log_loss"}

// Value reads a named metric from a report.
func Value(r metrics.Report, name string) float64 {
	switch name {
	case "accuracy":
		return r.Accuracy
	case "macro_auc":
		return r.MacroAUC
	case "log_loss":
		return r.LogLoss
	}
	return math.NaN()
}
