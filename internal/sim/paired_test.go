package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/winnowml/winnow/internal/linear"
	"github.com/winnowml/winnow/internal/metrics"
)

// blobs writes n rows of k Gaussian classes in dim dimensions, overlapping
// enough that strategies differ, and returns a config with drawn splits.
func blobs(t *testing.T, n, k, dim int) Config {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	centres := make([][]float64, k)
	for c := range centres {
		centres[c] = make([]float64, dim)
		for j := range centres[c] {
			centres[c][j] = rng.NormFloat64()
		}
	}
	var feats, labels bytes.Buffer
	feats.WriteString("path")
	for j := 0; j < dim; j++ {
		fmt.Fprintf(&feats, ",f%d", j)
	}
	feats.WriteString("\n")
	labels.WriteString("path,label\n")
	for i := 0; i < n; i++ {
		c := i % k
		fmt.Fprintf(&feats, "r%d", i)
		for j := 0; j < dim; j++ {
			fmt.Fprintf(&feats, ",%.4f", centres[c][j]+1.5*rng.NormFloat64())
		}
		feats.WriteString("\n")
		fmt.Fprintf(&labels, "r%d,c%d\n", i, c)
	}
	fp, lp := filepath.Join(dir, "f.csv"), filepath.Join(dir, "l.csv")
	if err := os.WriteFile(fp, feats.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lp, labels.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return Config{Features: []string{fp}, Labels: lp, TestFraction: 0.3, InitialPerClass: 2, Batch: 4, Rounds: 3,
		Strategies: []string{"entropy", "margin", "badge", "random"}, Repeats: 4, Seed: 11, Params: linear.Params{L1: 0.01, L2: 0.01}}
}

func TestEveryStrategySeesTheSameDraws(t *testing.T) {
	cfg := blobs(t, 240, 3, 6)
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Fixed {
		t.Fatal("drawn splits reported as fixed")
	}
	byRepeat := map[int][]Replay{}
	for _, r := range res.Replays {
		byRepeat[r.Repeat] = append(byRepeat[r.Repeat], r)
	}
	if len(res.Replays) != len(cfg.Strategies)*cfg.Repeats || len(byRepeat) != cfg.Repeats {
		t.Fatalf("%d replays over %d draws, want every strategy on each of %d draws", len(res.Replays), len(byRepeat), cfg.Repeats)
	}
	for rep, rs := range byRepeat {
		for _, r := range rs[1:] {
			if !reflect.DeepEqual(r.Initial, rs[0].Initial) || !reflect.DeepEqual(r.Test, rs[0].Test) {
				t.Errorf("draw %d: %s and %s saw different initial or test sets", rep, rs[0].Strategy, r.Strategy)
			}
		}
	}
	if reflect.DeepEqual(byRepeat[0][0].Initial, byRepeat[1][0].Initial) || reflect.DeepEqual(byRepeat[0][0].Test, byRepeat[1][0].Test) {
		t.Error("draws 0 and 1 have the same initial or test set: --repeats did not redraw them")
	}
	// Round 0 depends only on the draw's initial and test sets, so every
	// strategy's first model must score identically on the same draw.
	round0 := map[int]map[string]float64{}
	for _, p := range res.Points {
		if p.Round != 0 {
			continue
		}
		if round0[p.Repeat] == nil {
			round0[p.Repeat] = map[string]float64{}
		}
		round0[p.Repeat][p.Strategy] = p.Report.LogLoss
	}
	for rep, byS := range round0 {
		for s, v := range byS {
			if v != byS[Random] {
				t.Errorf("draw %d: %s's round-0 log loss %g differs from random's %g", rep, s, v, byS[Random])
			}
		}
	}
	for _, s := range []string{"entropy", "margin", "badge"} {
		if n := res.Comparisons[s].Final["accuracy"].N; n != cfg.Repeats {
			t.Errorf("%s paired over %d draws, want %d", s, n, cfg.Repeats)
		}
	}
}

func TestResultsDoNotDependOnScheduling(t *testing.T) {
	cfg := blobs(t, 180, 3, 5)
	cfg.Workers = 1
	one, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Workers = 4
	four, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(one.Points) != len(four.Points) {
		t.Fatalf("%d points with 1 worker, %d with 4", len(one.Points), len(four.Points))
	}
	for i := range one.Points {
		a, b := one.Points[i], four.Points[i]
		if a.Strategy != b.Strategy || a.Repeat != b.Repeat || a.Round != b.Round || a.Report.LogLoss != b.Report.LogLoss || !reflect.DeepEqual(a.Picked, b.Picked) {
			t.Fatalf("point %d: %s/%d/%d (log loss %g) with 1 worker, %s/%d/%d (%g) with 4", i, a.Strategy, a.Repeat, a.Round,
				a.Report.LogLoss, b.Strategy, b.Repeat, b.Round, b.Report.LogLoss)
		}
	}
	if !reflect.DeepEqual(one.Comparisons, four.Comparisons) {
		t.Error("paired comparisons differ between 1 and 4 workers")
	}
}

func TestFixedSplitsRunDeterministicStrategiesOnce(t *testing.T) {
	cfg := tinyWorld(t)
	cfg.Strategies = []string{"margin", "committee", "random"}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Fixed {
		t.Fatal("--test and --initial given, but the splits are not reported fixed")
	}
	want := map[string]int{"margin": 1, "committee": cfg.Repeats, "random": cfg.Repeats}
	for _, c := range res.Curves {
		if c.Replays != want[c.Strategy] {
			t.Errorf("%s: %d replays, want %d", c.Strategy, c.Replays, want[c.Strategy])
		}
	}
	if n := res.Comparisons["margin"].Final["accuracy"].N; n != cfg.Repeats {
		t.Errorf("margin's single replay paired with %d draws of random, want %d", n, cfg.Repeats)
	}
}

func TestSignFlipHandCases(t *testing.T) {
	cases := []struct {
		d     []float64
		want  float64
		exact bool
	}{
		// All five positive: only the observed signs and their mirror
		// reach |sum| = 5, so two-sided p = 2/32.
		{[]float64{0.02, 0.01, 0.03, 0.01, 0.05}, 2.0 / 32, true},
		// ±3±1±1: |sum| >= 5 only for +++ and ---.
		{[]float64{3, 1, 1}, 2.0 / 8, true},
		// Observed sum 1: every sign vector has |sum| >= 1.
		{[]float64{3, -1, -1}, 1, true},
		// Equal and opposite: observed 0, every vector ties or exceeds it.
		{[]float64{0.1, -0.1}, 1, true},
		// Accuracy differences on 30 test cases: the eight sums are
		// ±8/30 (twice), ±4/30 (four times) and 0 (twice), and the four
		// equal to the observed 4/30 must tie with it despite rounding: 6/8.
		{[]float64{4.0 / 30, 2.0 / 30, -2.0 / 30}, 6.0 / 8, true},
	}
	for _, c := range cases {
		p, exact := SignFlip(c.d)
		if math.Abs(p-c.want) > 1e-15 || exact != c.exact {
			t.Errorf("SignFlip(%v) = %g (exact %v), want %g (exact %v)", c.d, p, exact, c.want, c.exact)
		}
	}
	if p, _ := SignFlip(nil); !math.IsNaN(p) {
		t.Errorf("no differences gave p = %g, want NaN (undefined)", p)
	}
	// Beyond ExactMaxDraws the test is Monte Carlo: all 25 positive has a
	// true p of 2/2^25, so the estimate is the smallest it can be.
	d := make([]float64, ExactMaxDraws+5)
	for i := range d {
		d[i] = 0.01 * float64(i+1)
	}
	p, exact := SignFlip(d)
	if exact || p != 1.0/float64(1+MonteCarloFlips) {
		t.Errorf("25 positive differences: p = %g (exact %v), want 1/%d by Monte Carlo", p, exact, 1+MonteCarloFlips)
	}
	if q, _ := SignFlip(d); q != p {
		t.Errorf("Monte Carlo p not reproducible: %g then %g", p, q)
	}
	for i := range d {
		if i%2 == 1 {
			d[i] = -d[i-1]
		}
	}
	d[len(d)-1] = 0
	if p, _ := SignFlip(d); p != 1 {
		t.Errorf("differences summing to 0: Monte Carlo p = %g, want 1", p)
	}
}

func TestUndefinedMetricHasNullP(t *testing.T) {
	cfg := tinyWorld(t)
	// A test set of one class: AUC, and so macro AUC, is undefined.
	if err := os.WriteFile(cfg.Test, []byte("path\ntest-a0\ntest-a1\ntest-a2\ntest-a3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Comparisons["least-confidence"]
	if auc := c.Final["macro_auc"]; auc.N != 0 || !math.IsNaN(auc.P) {
		t.Errorf("macro AUC comparison %+v: want no draw and p NaN", auc)
	}
	if acc := c.Final["accuracy"]; acc.N != cfg.Repeats || math.IsNaN(acc.P) {
		t.Errorf("accuracy comparison %+v: want %d draws and a p-value", acc, cfg.Repeats)
	}
	var buf bytes.Buffer
	if err := res.WriteSummary(&buf); err != nil {
		t.Fatal(err)
	}
	var s struct {
		VsRandom map[string]map[string]map[string]struct{ P *float64 } `json:"vs_random"`
		PValues  map[string]map[string]*float64                        `json:"p_values"`
	}
	if err := json.Unmarshal(buf.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if s.VsRandom["least-confidence"]["macro_auc"]["final"].P != nil || s.PValues["least-confidence"]["macro_auc"] != nil {
		t.Errorf("summary.json gives macro AUC a p-value: %s", buf.String())
	}
	if s.PValues["least-confidence"]["accuracy"] == nil {
		t.Error("summary.json lost the accuracy p-value")
	}
}

func TestUndefinedReplaysLeftOutOfTheNull(t *testing.T) {
	pts := func(vals ...float64) []Point {
		var out []Point
		for i, v := range vals {
			out = append(out, Point{Round: i, NAsked: 2 + 2*i, Report: reportWith(v)})
		}
		return out
	}
	res := &Result{Config: Config{Strategies: []string{"margin", Random}, Repeats: 3}, Fulls: make([]Point, 3)}
	for r, v := range [][2]float64{{0.9, 0.5}, {math.NaN(), 0.5}, {0.8, 0.6}} {
		for i, s := range []string{"margin", Random} {
			for _, p := range pts(0.5, v[i]) {
				p.Strategy, p.Repeat = s, r
				res.Points = append(res.Points, p)
			}
		}
	}
	summarise(res)
	got := res.Comparisons["margin"].Final["accuracy"]
	// Draw 1 is undefined for margin: two draws remain, both positive,
	// so p = 2/4 and the mean difference is (0.4 + 0.2) / 2.
	if got.N != 2 || got.P != 0.5 || math.Abs(got.MeanDiff-0.3) > 1e-12 {
		t.Errorf("comparison %+v, want n=2, p=0.5, mean difference 0.3", got)
	}
}

func TestTestRowsNeverPicked(t *testing.T) {
	cfg := tinyWorld(t)
	// An unlabelled test row right on the boundary: the most uncertain row
	// there is, so least-confidence would take it first if it were in the
	// pool.
	f, err := os.OpenFile(cfg.Features[0], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "test-nolabel,0.05,0")
	f.Close()
	if err := os.WriteFile(cfg.Test, append(mustRead(t, cfg.Test), []byte("test-nolabel\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Rounds = 4
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Points {
		for _, path := range p.Picked {
			if strings.HasPrefix(path, "test-") {
				t.Fatalf("%s/%d round %d picked test row %s", p.Strategy, p.Repeat, p.Round, path)
			}
		}
	}
	if res.NPool != 8 || res.NTest != 8 {
		t.Errorf("pool %d, test %d: want 8 and 8 (the unlabelled test row in neither)", res.NPool, res.NTest)
	}
	if !strings.Contains(strings.Join(res.Notes, ";"), "not in the pool") {
		t.Errorf("notes %v do not say the unlabelled test row was kept out of the pool", res.Notes)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValidation(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"fraction above 1", func(c *Config) { c.Test, c.TestFraction = "", 1.5 }, "--test-fraction must be a number in (0, 1), got 1.5"},
		{"fraction negative", func(c *Config) { c.Test, c.TestFraction = "", -0.2 }, "--test-fraction"},
		{"fraction NaN", func(c *Config) { c.Test, c.TestFraction = "", math.NaN() }, "got NaN"},
		{"fraction 1", func(c *Config) { c.Test, c.TestFraction = "", 1 }, "(0, 1)"},
		{"repeats 0", func(c *Config) { c.Repeats = 0 }, "--repeats must be at least 1, got 0"},
		{"batch 0", func(c *Config) { c.Batch = 0 }, "--batch must be at least 1"},
		{"rounds negative", func(c *Config) { c.Rounds = -1 }, "--rounds must be at least 1"},
		{"initial per class 0", func(c *Config) { c.Initial, c.InitialPerClass = "", 0 }, "--initial-per-class must be at least 1"},
		{"candidates negative", func(c *Config) { c.Candidates = -5 }, "--candidates must be 0 (all rows) or more"},
		{"l1 negative", func(c *Config) { c.Params.L1 = -1 }, "--l1 must be a finite number >= 0"},
		{"l2 infinite", func(c *Config) { c.Params.L2 = math.Inf(1) }, "--l2 must be a finite number >= 0, got +Inf"},
		{"strategy twice", func(c *Config) { c.Strategies = []string{"margin", "random", "margin"} }, "names margin twice"},
		{"no strategy", func(c *Config) { c.Strategies = nil }, "--strategies is empty"},
	}
	for _, c := range cases {
		cfg := tinyWorld(t)
		c.edit(&cfg)
		_, err := Run(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
	// In range, drawn splits run.
	cfg := tinyWorld(t)
	cfg.Test, cfg.TestFraction, cfg.Initial, cfg.InitialPerClass = "", 0.4, "", 1
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Errorf("a valid drawn split failed: %v", err)
	}
}

func TestNonConvergedFitsAreCountedAndNoted(t *testing.T) {
	cfg := tinyWorld(t)
	cfg.Params.MaxIter = 1
	cfg.Params.L1, cfg.Params.L2 = 0, 1e-6
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	counted := map[string]int{}
	for _, p := range res.Points {
		if !p.Converged {
			counted[p.Strategy]++
		}
	}
	if counted["random"] == 0 {
		t.Fatal("one iteration converged every fit: the test needs a harder fit")
	}
	for s, n := range counted {
		if res.NotConverged[s] != n {
			t.Errorf("%s: %d fits not converged reported, %d among the points", s, res.NotConverged[s], n)
		}
	}
	if res.Fits["random"] != (cfg.Rounds+1)*cfg.Repeats {
		t.Errorf("random: %d fits counted, want %d", res.Fits["random"], (cfg.Rounds+1)*cfg.Repeats)
	}
	note := strings.Join(res.Notes, ";")
	if !strings.Contains(note, "iteration cap") || !strings.Contains(note, fmt.Sprintf("random %d of %d", counted["random"], res.Fits["random"])) {
		t.Errorf("notes %q do not report the non-converged fits", note)
	}
}

func TestLabelsToTargetCountLabelsAsked(t *testing.T) {
	cfg := tinyWorld(t)
	cfg.Rounds = 4
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	full := res.Full.Report.Accuracy
	for _, s := range cfg.Strategies {
		var asked []float64
		for _, r := range res.Replays {
			if r.Strategy != s {
				continue
			}
			n := math.Inf(1)
			for _, p := range res.Points {
				if p.Strategy == s && p.Repeat == r.Repeat && p.Report.Accuracy >= 0.95*full {
					n = float64(p.NAsked)
					break
				}
			}
			asked = append(asked, n)
		}
		got := res.LabelsToTarget[s]["95%"]
		if want := Quantile(asked, 0.5); got.Median != want && !(math.IsInf(want, 1) && math.IsInf(got.Median, 1)) {
			t.Errorf("%s: median labels to 95%% %g, want %g from %v", s, got.Median, want, asked)
		}
	}
	for _, c := range res.Curves {
		for i := range c.NAsked {
			if c.NAsked[i] != float64(res.NInitial)+c.NQueried[i] {
				t.Errorf("%s round %d: x = %g labels asked, want initial %d + queried %g", c.Strategy, i, c.NAsked[i], res.NInitial, c.NQueried[i])
			}
		}
	}
}

func TestCancelReturnsWithinOneSecond(t *testing.T) {
	cfg := blobs(t, 3000, 5, 60)
	cfg.Rounds, cfg.Batch, cfg.Repeats = 60, 5, 40
	cfg.Strategies = []string{"entropy", "badge", "committee", "coreset", "random"}
	// Cancel once the replays have started (Run logs the split before it
	// starts them), so the test is about the round loops, not loading.
	started := make(chan struct{})
	cfg.Log = &signalWriter{ch: started, after: "draws"}
	ctx, cancel := context.WithCancel(context.Background())
	type outcome struct {
		err error
		at  time.Time
	}
	done := make(chan outcome, 1)
	go func() {
		_, err := Run(ctx, cfg)
		done <- outcome{err, time.Now()}
	}()
	select {
	case <-started:
	case o := <-done:
		t.Fatalf("Run ended before starting the replays: %v", o.err)
	}
	time.Sleep(300 * time.Millisecond)
	cancelled := time.Now()
	cancel()
	select {
	case o := <-done:
		if !errors.Is(o.err, context.Canceled) {
			t.Fatalf("Run returned %v, want context.Canceled (did it finish before the cancel?)", o.err)
		}
		if d := o.at.Sub(cancelled); d > time.Second {
			t.Errorf("Run returned %v after the cancel, want within 1 s", d)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run still running 2 s after the cancel")
	}
}

func reportWith(acc float64) metrics.Report {
	return metrics.Report{Accuracy: acc, LogLoss: 1 - acc, MacroAUC: acc}
}

// signalWriter closes ch the first time a write contains after.
type signalWriter struct {
	ch    chan struct{}
	after string
	once  sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.after) {
		w.once.Do(func() { close(w.ch) })
	}
	return len(p), nil
}
