package query

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/linear"
	"github.com/winnowml/winnow/internal/metrics"
)

// TestStreamMatchesSelect: streaming a feature file in small blocks, with
// some rows excluded, picks what Select picks on the same rows in memory,
// for every strategy, balanced or not, with and without a shortfall to fill.
func TestStreamMatchesSelect(t *testing.T) {
	for _, tc := range []struct {
		name string
		skew float64 // subtracted from class 2's intercept
		rare func(int) bool
	}{
		{"even", 0, func(r int) bool { return r > 50 }},
		{"class 2 rare", 5, func(r int) bool { return r > 0 && r < 6 }},
		{"class 2 never predicted", 40, func(r int) bool { return r == 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) { testStreamMatchesSelect(t, tc.skew, tc.rare) })
	}
}

func testStreamMatchesSelect(t *testing.T, skew float64, rareOK func(int) bool) {
	s := newRandomSetup(t, 400, 6, 3, 3)
	s.model.B[2] -= skew
	s.pool = NewPool(s.pool.Paths, s.pool.X, s.model, s.labelled)
	rare := 0
	for i := range s.pool.Paths {
		if metrics.Argmax(s.pool.P.RawRowView(i)) == 2 {
			rare++
		}
	}
	if !rareOK(rare) {
		t.Fatalf("%d rows predicted as class 2: not what this case needs", rare)
	}
	file := writePool(t, t.TempDir(), s.pool.Paths, s.x32)
	excluded := func(p string) bool { return strings.HasSuffix(p, "7.jpg") }
	// The in-memory pool of the rows not excluded.
	var keep []int
	for i, p := range s.pool.Paths {
		if !excluded(p) {
			keep = append(keep, i)
		}
	}
	X := mat.NewDense(len(keep), 6, nil)
	paths := make([]string, len(keep))
	for i, r := range keep {
		X.SetRow(i, s.pool.X.RawRowView(r))
		paths[i] = s.pool.Paths[r]
	}
	mem := NewPool(paths, X, s.model, s.labelled)

	for _, name := range Names() {
		batch := name == "coreset" || name == "badge"
		for _, bal := range []bool{false, true} {
			for _, n := range []int{2, 6} {
				for _, cands := range []int{0, 4, 25, 90} {
					if cands > 0 && !batch {
						continue
					}
					label := fmt.Sprintf("%s balance=%v n=%d candidates=%d", name, bal, n, cands)
					opt := Options{Seed: 3, Candidates: cands, Balance: bal}
					st, err := New(name, opt)
					if err != nil {
						t.Fatal(err)
					}
					want, err := st.Select(context.Background(), mem, n)
					if err != nil {
						t.Fatal(err)
					}
					src, err := dataset.OpenFeatures(file, dataset.Columns{})
					if err != nil {
						t.Fatal(err)
					}
					res, err := Stream(context.Background(), src, st, n, StreamOptions{Model: s.model, Labelled: s.labelled, Exclude: excluded, Block: 37})
					src.Close()
					if err != nil {
						t.Fatal(err)
					}
					wantN := n
					if bal {
						wantN = 3 * n
					}
					if len(want) != wantN {
						t.Fatalf("%s: %d picks, want %d", label, len(want), wantN)
					}
					if res.Rows != 400 || res.Excluded != int64(400-len(keep)) {
						t.Fatalf("%s: read %d rows, excluded %d; want 400, %d", label, res.Rows, res.Excluded, 400-len(keep))
					}
					got, exp := pickPaths(res.Pool, res.Picks), pickPaths(mem, want)
					if !slices.Equal(got, exp) {
						t.Fatalf("%s: stream picked %v, in memory %v", label, got, exp)
					}
					for i := range want {
						if math.Abs(want[i].Score-res.Picks[i].Score) > 1e-9*max(1, math.Abs(want[i].Score)) {
							t.Fatalf("%s: pick %d score %v, in memory %v", label, i, res.Picks[i].Score, want[i].Score)
						}
					}
					// Row scorers keep few rows; batch-aware ones their candidates.
					limit := 2 * 3 * n
					if batch {
						switch {
						case cands == 0:
							limit = len(keep)
						case bal:
							limit = 3 * (max((cands+2)/3, 3*n) + n)
						default:
							limit = max(cands, n)
						}
					}
					if res.Pool.Len() > limit {
						t.Fatalf("%s: kept %d rows, want at most %d", label, res.Pool.Len(), limit)
					}
				}
			}
		}
	}
}

// TestStreamCSVSource: a CSV pool goes through the row-at-a-time path.
func TestStreamCSVSource(t *testing.T) {
	s := newRandomSetup(t, 50, 3, 2, 4)
	name := filepath.Join(t.TempDir(), "pool.csv")
	var b strings.Builder
	b.WriteString("path,f0,f1,f2\n")
	for i, p := range s.pool.Paths {
		fmt.Fprintf(&b, "%s,%v,%v,%v\n", p, s.x32[i][0], s.x32[i][1], s.x32[i][2])
	}
	if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := dataset.OpenFeatures(name, dataset.Columns{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	st, _ := New("entropy", Options{})
	res, err := Stream(context.Background(), src, st, 5, StreamOptions{Model: s.model})
	if err != nil {
		t.Fatal(err)
	}
	want := mustSelect(t, "entropy", Options{}, s.pool, 5)
	if got, exp := pickPaths(res.Pool, res.Picks), pickPaths(s.pool, want); !slices.Equal(got, exp) {
		t.Fatalf("CSV stream picked %v, in memory %v", got, exp)
	}
}

// runFixture is a feature file, a model trained on some of its rows and a
// labels CSV, as `winnow train` would leave them.
type runFixture struct {
	dir, features, model, labels string
	setup                        *randomSetup
	labelled                     map[string]bool
}

func newRunFixture(t *testing.T) *runFixture {
	t.Helper()
	s := newRandomSetup(t, 300, 8, 3, 6)
	f := &runFixture{dir: t.TempDir(), setup: s, labelled: map[string]bool{}}
	f.features = writePool(t, f.dir, s.pool.Paths, s.x32)
	// Label the first 30 rows by the setup model's prediction.
	var lab strings.Builder
	lab.WriteString("path,label\n")
	for i := range 30 {
		p := s.pool.Paths[i]
		f.labelled[p] = true
		fmt.Fprintf(&lab, "%s,%s\n", p, s.model.Classes[metrics.Argmax(s.pool.P.RawRowView(i))])
	}
	f.labels = filepath.Join(f.dir, "labels.csv")
	if err := os.WriteFile(f.labels, []byte(lab.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := dataset.Load(f.features, f.labels, dataset.Options{Classes: s.model.Classes})
	if err != nil {
		t.Fatal(err)
	}
	m, err := linear.Fit(set.X, set.Y, len(set.Classes), linear.Params{L1: 0.01, L2: 0.1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Classes = set.Classes
	f.model = filepath.Join(f.dir, "model.json")
	if err := classifier.Save(f.model, &classifier.File{Created: time.Now(), Backbone: classifier.BackboneOf(set.Meta), Model: m}); err != nil {
		t.Fatal(err)
	}
	return f
}

func readCSV(t *testing.T, name string) [][]string {
	t.Helper()
	fh, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	recs, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestRunEndToEnd(t *testing.T) {
	f := newRunFixture(t)
	s := f.setup
	// Exclude ten rows, among them the ones entropy would otherwise pick
	// first, through a file shaped like an earlier select output.
	mf, err := classifier.Load(f.model)
	if err != nil {
		t.Fatal(err)
	}
	P := mf.Model.PredictBatch(s.pool.X, nil)
	var order []int
	for i := range s.pool.Paths {
		if !f.labelled[s.pool.Paths[i]] {
			order = append(order, i)
		}
	}
	ent := func(i int) float64 { return metrics.Entropy(P.RawRowView(i)) }
	sort.SliceStable(order, func(a, b int) bool { return ent(order[a]) > ent(order[b]) })
	excluded := map[string]bool{}
	var ex strings.Builder
	ex.WriteString("\ufeffrank,path\n")
	for _, i := range order[:10] {
		excluded[s.pool.Paths[i]] = true
		fmt.Fprintf(&ex, "1,%s\n", s.pool.Paths[i])
	}
	ex.WriteString("2,elsewhere/nothing.jpg\n") // not in the pool: a warning
	exFile := filepath.Join(f.dir, "queried.csv")
	if err := os.WriteFile(exFile, []byte(ex.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(f.dir, "next.csv")
	var log strings.Builder
	sum, err := Run(context.Background(), Config{
		Model: f.model, Features: f.features, Output: out,
		Exclude: []string{exFile}, Labels: f.labels,
		Strategy: "entropy", N: 5, Log: &log,
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows != 300 || sum.Excluded != 40 || sum.Picked != 5 || sum.Unmatched != 1 {
		t.Fatalf("summary %+v; want 300 rows, 40 excluded, 5 picked, 1 unmatched", sum)
	}
	if !strings.Contains(log.String(), "1 path of --exclude is not in") {
		t.Errorf("no warning about the unmatched path: %q", log.String())
	}
	recs := readCSV(t, out)
	wantHead := []string{"path", "rank", "score", "predicted"}
	for _, c := range mf.Model.Classes {
		wantHead = append(wantHead, "p_"+c)
	}
	wantHead = append(wantHead, "label")
	if !slices.Equal(recs[0], wantHead) {
		t.Fatalf("header %v, want %v", recs[0], wantHead)
	}
	if len(recs) != 6 {
		t.Fatalf("%d rows, want 5 picks", len(recs)-1)
	}
	index := map[string]int{}
	for i, p := range s.pool.Paths {
		index[p] = i
	}
	for r, rec := range recs[1:] {
		path := rec[0]
		if excluded[path] || f.labelled[path] {
			t.Errorf("picked %s, which is excluded or labelled", path)
		}
		// The picks are entropy's next five after the excluded ten.
		if want := s.pool.Paths[order[10+r]]; path != want {
			t.Errorf("rank %d is %s, want %s", r+1, path, want)
		}
		if rec[1] != strconv.Itoa(r+1) {
			t.Errorf("rank column %q at row %d", rec[1], r+1)
		}
		i := index[path]
		score, _ := strconv.ParseFloat(rec[2], 64)
		if math.Abs(score-ent(i)) > 1e-5 {
			t.Errorf("%s: score %v, entropy %v", path, score, ent(i))
		}
		sumP := 0.0
		for c := range mf.Model.Classes {
			p, err := strconv.ParseFloat(rec[4+c], 64)
			if err != nil || math.Abs(p-P.At(i, c)) > 1e-5 {
				t.Errorf("%s: p_%s = %q, model says %v", path, mf.Model.Classes[c], rec[4+c], P.At(i, c))
			}
			sumP += p
		}
		if math.Abs(sumP-1) > 1e-4 {
			t.Errorf("%s: probabilities sum to %v", path, sumP)
		}
		if want := mf.Model.Classes[metrics.Argmax(P.RawRowView(i))]; rec[3] != want {
			t.Errorf("%s: predicted %q, want %q", path, rec[3], want)
		}
	}
	if !strings.Contains(log.String(), "picked 5 of 300") {
		t.Errorf("log %q", log.String())
	}
}

func TestRunBatchStrategies(t *testing.T) {
	f := newRunFixture(t)
	for _, name := range []string{"coreset", "badge", "committee"} {
		out := filepath.Join(f.dir, name+".csv")
		_, err := Run(context.Background(), Config{
			Model: f.model, Features: f.features, Output: out, Labels: f.labels,
			Strategy: name, N: 4, Options: Options{Candidates: 50, Balance: true},
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		recs := readCSV(t, out)
		if len(recs) != 1+4*3 {
			t.Fatalf("%s: %d picks, want 12", name, len(recs)-1)
		}
		for _, rec := range recs[1:] {
			if f.labelled[rec[0]] {
				t.Errorf("%s picked the labelled %s", name, rec[0])
			}
		}
	}
}

func TestRunErrors(t *testing.T) {
	f := newRunFixture(t)
	out := filepath.Join(f.dir, "out.csv")
	base := Config{Model: f.model, Features: f.features, Output: out, Strategy: "entropy", N: 3}
	// Every path of the pool, as an exclude file.
	var all strings.Builder
	all.WriteString("path\n")
	for _, p := range f.setup.pool.Paths {
		fmt.Fprintln(&all, p)
	}
	allFile := filepath.Join(f.dir, "all.csv")
	os.WriteFile(allFile, []byte(all.String()), 0o644)
	// A feature file of another dimension.
	other := f.setup.x32[:5]
	short := make([][]float32, len(other))
	for i, x := range other {
		short[i] = x[:4]
	}
	odir := t.TempDir()
	otherFile := writePool(t, odir, f.setup.pool.Paths[:5], short)

	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"unknown strategy", func(c *Config) { c.Strategy = "entropyy" }, "valid: badge, committee, coreset, entropy"},
		{"committee without labels", func(c *Config) { c.Strategy = "committee" }, "--labels"},
		{"labelled features without labels", func(c *Config) { c.LabelledFeatures = f.features }, "needs --labels"},
		{"everything excluded", func(c *Config) { c.Exclude = []string{allFile} }, "nothing to select"},
		{"wrong dimension", func(c *Config) { c.Features = otherFile }, "4 dimensions"},
		{"exclude without path column", func(c *Config) { c.Exclude = []string{f.model} }, "path"},
		{"n zero", func(c *Config) { c.N = 0 }, "positive"},
	} {
		cfg := base
		tc.edit(&cfg)
		_, err := Run(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed run left %s behind", out)
	}

	// A pool smaller than n: all of it, and a note.
	cfg := base
	cfg.N = 1000
	var log strings.Builder
	cfg.Log = &log
	sum, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Picked != 300 || !strings.Contains(log.String(), "selecting all of them") {
		t.Fatalf("n > pool: picked %d, log %q", sum.Picked, log.String())
	}
}
