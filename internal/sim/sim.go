// Package sim replays active learning against known labels: for each query
// strategy it starts from the same initial labelled set, lets the current
// model pick a batch from the pool, reveals the oracle's labels for it,
// refits, and scores every model on the same held-out test set. Random
// selection is replayed many times, which gives both a band for its learning
// curve and the Monte Carlo null distribution the other strategies' final
// scores are compared with.
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
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/featstore"
	"github.com/winnowml/winnow/internal/linear"
	"github.com/winnowml/winnow/internal/metrics"
	"github.com/winnowml/winnow/internal/query"
)

// Config is `winnow simulate` once its flags are parsed.
type Config struct {
	Features    []string // feature files; their rows form test, initial set and pool
	Labels      string   // the oracle: CSV with path and label
	LabelColumn string
	Ignore      []string // columns of a features CSV that are not features
	Classes     []string // fixes the class order; other labels are NA

	Test         string  // CSV of test paths, or
	TestFraction float64 // a stratified random fraction of the labelled rows

	Initial         string // CSV of initially labelled paths, or
	InitialPerClass int    // this many random rows of each class

	Batch, Rounds int
	Strategies    []string
	Repeats       int // replays of random (and of any strategy in Stochastic)
	Seed          uint64
	Params        linear.Params
	Candidates    int // coreset and badge work on this many most uncertain rows (0: all)

	Log io.Writer
}

// Point is one model of one replay: what it was trained on and how it scored.
type Point struct {
	Strategy string
	Repeat   int
	Round    int
	NTrain   int // labelled rows the model was fitted on
	NQueried int // rows taken from the pool so far, NA ones included
	Report   metrics.Report
	ROC      [][]metrics.Point // per class; kept for repeat 0 only
	Picked   []string          // paths of the batch picked by this round's model
}

// Result is a whole simulation.
type Result struct {
	Config   Config
	Classes  []string
	Meta     featstore.Meta
	Notes    []string
	NTest    int
	NInitial int
	NPool    int
	Points   []Point // strategy by strategy, repeat by repeat, round by round
	Full     Point   // a model on every usable pool and initial label
	FullROC  [][]metrics.Point
	Seconds  float64
	// Labels to reach a share of the full model's accuracy: strategy ->
	// "95%"/"99%" -> NTrain of the first round that reached it (random: its
	// mean curve); absent when never reached.
	LabelsToTarget map[string]map[string]int
	// PValues: strategy -> metric -> the Monte Carlo p-value of its final
	// score against the random replays' final scores.
	PValues   map[string]map[string]float64
	Exhausted map[string]int // strategy -> round at which the pool ran out
}

// Random is the name of the baseline strategy.
const Random = "random"

// Run replays every strategy.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	start := time.Now()
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.LabelColumn == "" {
		cfg.LabelColumn = "label"
	}
	if cfg.Batch <= 0 || cfg.Rounds <= 0 {
		return nil, fmt.Errorf("--batch and --rounds must be positive")
	}
	if cfg.Repeats <= 0 {
		cfg.Repeats = 1
	}
	for _, s := range cfg.Strategies {
		if _, err := query.New(s, query.Options{}); err != nil {
			return nil, err
		}
	}
	d, err := load(&cfg)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	test, initial, pool, err := split(d, &cfg, rng)
	if err != nil {
		return nil, err
	}
	res := &Result{Config: cfg, Classes: d.classes, Meta: d.meta, Notes: d.notes, NTest: len(test), NInitial: len(initial),
		NPool: len(pool), LabelsToTarget: map[string]map[string]int{}, PValues: map[string]map[string]float64{},
		Exhausted: map[string]int{}}
	r := &replayer{cfg: &cfg, d: d, test: test, xTest: rowsOf(d.x, test), yTest: pick(d.y, test)}
	fmt.Fprintf(cfg.Log, "simulate: %d test, %d initial, %d in the pool; %d classes\n", len(test), len(initial), len(pool), len(d.classes))

	for _, s := range cfg.Strategies {
		repeats := 1
		if s == Random {
			repeats = cfg.Repeats
		}
		for rep := 0; rep < repeats; rep++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			pts, exhausted, err := r.replay(ctx, s, rep, initial, pool)
			if err != nil {
				return nil, fmt.Errorf("%s, repeat %d: %w", s, rep, err)
			}
			if exhausted > 0 {
				res.Exhausted[s] = exhausted
			}
			res.Points = append(res.Points, pts...)
		}
		fmt.Fprintf(cfg.Log, "simulate: %s done (%d replays), %.1f s\n", s, repeats, time.Since(start).Seconds())
	}

	// The full model: every usable label outside the test set.
	all := append(append([]int(nil), initial...), pool...)
	full, roc, err := r.fitAndScore(nil, usable(d, all))
	if err != nil {
		return nil, fmt.Errorf("full model: %w", err)
	}
	res.Full = Point{Strategy: "full", NTrain: len(usable(d, all)), NQueried: len(pool), Report: full}
	res.FullROC = roc
	summarise(res)
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

type replayer struct {
	cfg   *Config
	d     *data
	test  []int
	xTest *mat.Dense
	yTest []int
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

// replay runs one strategy once. It returns the points of rounds 0..R and,
// if the pool ran out early, the round at which it did.
func (r *replayer) replay(ctx context.Context, name string, rep int, initial, pool []int) ([]Point, int, error) {
	cfg := r.cfg
	opt := query.Options{Seed: cfg.Seed + uint64(rep)*0x9e3779b97f4a7c15, Candidates: cfg.Candidates}
	strategy, err := query.New(name, opt)
	if err != nil {
		return nil, 0, err
	}
	train := append([]int(nil), initial...)
	left := append([]int(nil), pool...)
	queried := 0
	var pts []Point
	var model *linear.Model
	for round := 0; round <= cfg.Rounds; round++ {
		rows := usable(r.d, train)
		m, err := linear.Fit(rowsOf(r.d.x, rows), pick(r.d.y, rows), len(r.d.classes), cfg.Params, model)
		if err != nil {
			return nil, 0, fmt.Errorf("round %d: %w", round, err)
		}
		model = m
		rep0 := rep == 0
		report, roc := r.score(m, rep0)
		pt := Point{Strategy: name, Repeat: rep, Round: round, NTrain: len(rows), NQueried: queried, Report: report}
		if rep0 {
			pt.ROC = roc
		}
		if round == cfg.Rounds {
			pts = append(pts, pt)
			break
		}
		if len(left) == 0 {
			pts = append(pts, pt)
			return pts, round, nil
		}
		paths := make([]string, len(left))
		for i, row := range left {
			paths[i] = r.d.paths[row]
		}
		labelled := &query.Labelled{X: rowsOf(r.d.x, rows), Y: pick(r.d.y, rows)}
		picks, err := strategy.Select(ctx, query.NewPool(paths, rowsOf(r.d.x, left), m, labelled), cfg.Batch)
		if err != nil {
			return nil, 0, fmt.Errorf("round %d: %w", round, err)
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
	return pts, 0, nil
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

func (r *replayer) fitAndScore(warm *linear.Model, rows []int) (metrics.Report, [][]metrics.Point, error) {
	m, err := linear.Fit(rowsOf(r.d.x, rows), pick(r.d.y, rows), len(r.d.classes), r.cfg.Params, warm)
	if err != nil {
		return metrics.Report{}, nil, err
	}
	rep, roc := r.score(m, true)
	return rep, roc, nil
}

// Metric names used in p-values and curves.
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

// higherIsBetter tells which way a metric improves.
func higherIsBetter(name string) bool { return name != "log_loss" }

// Curve is one strategy's mean learning curve, with the band of its
// replays (10th to 90th percentile; min and max with fewer than 10).
type Curve struct {
	Strategy     string
	NTrain       []float64
	NQueried     []float64
	Mean, Lo, Hi map[string][]float64 // metric -> per round
	Replays      int
}

// Curves aggregates the points by strategy and round.
func (res *Result) Curves() []Curve {
	var out []Curve
	for _, s := range res.Config.Strategies {
		byRound := map[int][]Point{}
		reps := map[int]bool{}
		for _, p := range res.Points {
			if p.Strategy == s {
				byRound[p.Round] = append(byRound[p.Round], p)
				reps[p.Repeat] = true
			}
		}
		c := Curve{Strategy: s, Mean: map[string][]float64{}, Lo: map[string][]float64{}, Hi: map[string][]float64{}, Replays: len(reps)}
		for round := 0; ; round++ {
			pts, ok := byRound[round]
			if !ok {
				break
			}
			c.NTrain = append(c.NTrain, meanOf(pts, func(p Point) float64 { return float64(p.NTrain) }))
			c.NQueried = append(c.NQueried, meanOf(pts, func(p Point) float64 { return float64(p.NQueried) }))
			for _, m := range Metrics {
				vals := make([]float64, len(pts))
				for i, p := range pts {
					vals[i] = Value(p.Report, m)
				}
				lo, hi := band(vals)
				c.Mean[m] = append(c.Mean[m], mean(vals))
				c.Lo[m] = append(c.Lo[m], lo)
				c.Hi[m] = append(c.Hi[m], hi)
			}
		}
		out = append(out, c)
	}
	return out
}

func meanOf(pts []Point, f func(Point) float64) float64 {
	s := 0.0
	for _, p := range pts {
		s += f(p)
	}
	return s / float64(len(pts))
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func band(v []float64) (lo, hi float64) {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) < 10 {
		return s[0], s[len(s)-1]
	}
	q := func(p float64) float64 {
		pos := p * float64(len(s)-1)
		i := int(pos)
		if i+1 >= len(s) {
			return s[len(s)-1]
		}
		return s[i] + (pos-float64(i))*(s[i+1]-s[i])
	}
	return q(0.1), q(0.9)
}

// summarise fills the p-values and labels-to-target figures.
func summarise(res *Result) {
	type replay struct {
		strategy string
		repeat   int
	}
	last := map[replay]Point{}
	for _, p := range res.Points {
		k := replay{p.Strategy, p.Repeat}
		if q, ok := last[k]; !ok || p.Round > q.Round {
			last[k] = p
		}
	}
	final := map[string][]Point{}
	for k, p := range last {
		final[k.strategy] = append(final[k.strategy], p)
	}
	randomFinals := final[Random]
	for s, pts := range final {
		if s == Random || len(randomFinals) == 0 {
			continue
		}
		res.PValues[s] = map[string]float64{}
		for _, m := range Metrics {
			v := Value(pts[0].Report, m)
			as := 0
			for _, rp := range randomFinals {
				rv := Value(rp.Report, m)
				if (higherIsBetter(m) && rv >= v) || (!higherIsBetter(m) && rv <= v) {
					as++
				}
			}
			// (count+1)/(draws+1): the strategy's own result counts as one
			// draw under the null, so p is never 0.
			res.PValues[s][m] = float64(as+1) / float64(len(randomFinals)+1)
		}
	}
	fullAcc := res.Full.Report.Accuracy
	for _, c := range res.Curves() {
		targets := map[string]int{}
		for _, t := range []struct {
			name  string
			share float64
		}{{"95%", 0.95}, {"99%", 0.99}} {
			for i, acc := range c.Mean["accuracy"] {
				if acc >= t.share*fullAcc {
					targets[t.name] = int(math.Round(c.NTrain[i]))
					break
				}
			}
		}
		res.LabelsToTarget[c.Strategy] = targets
	}
}
