package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/featstore"
	"github.com/winnowml/winnow/internal/plural"
	"github.com/winnowml/winnow/internal/query"
)

// NA marks a row whose oracle label is missing or outside the classes: it
// can be queried (and then leaves the pool) but never trains a model.
const NA = -1

// data is everything a simulation draws on, in memory.
type data struct {
	classes []string
	paths   []string
	x       *mat.Dense // every row of every feature file, deduplicated by path
	y       []int      // class index, or NA
	meta    featstore.Meta
	notes   []string
}

func load(ctx context.Context, cfg *Config) (*data, error) {
	labels, err := ReadOracle(cfg)
	if err != nil {
		return nil, err
	}
	d := &data{}
	if labels.Repeats > 0 {
		d.notes = append(d.notes, fmt.Sprintf("%s ignored", plural.N(labels.Repeats, "repeated label row")))
	}
	if note := labels.Summary(); note != "" {
		d.notes = append(d.notes, note)
	}
	d.classes = cfg.Classes
	if len(d.classes) == 0 {
		d.classes = labels.Classes()
	}
	index := map[string]int{}
	for i, c := range d.classes {
		index[c] = i
	}

	seen := map[string]bool{}
	var buf []float64
	dim, repeated, matched := -1, 0, 0
	var wantCols []string
	for _, name := range cfg.Features {
		// Later files are read by the first file's column names, so CSVs
		// with their columns in another order still line up.
		src, err := dataset.OpenFeatures(name, dataset.Columns{Label: cfg.LabelColumn, Ignore: cfg.Ignore, Want: wantCols})
		if err != nil {
			return nil, err
		}
		if wantCols == nil {
			wantCols = slices.Clone(src.Columns())
		}
		if dim >= 0 && src.Dim() != dim {
			src.Close()
			return nil, fmt.Errorf("%s has %d features per row, %s has %d", name, src.Dim(), cfg.Features[0], dim)
		}
		if dim < 0 {
			d.meta = src.Meta()
		} else if err := compatible(d.meta, src.Meta()); err != nil {
			src.Close()
			return nil, fmt.Errorf("%s and %s: %w", cfg.Features[0], name, err)
		}
		dim = src.Dim()
		for n := 0; ; n++ {
			// Reading a large file takes seconds; Ctrl-C must not wait for it.
			if n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					src.Close()
					return nil, err
				}
			}
			p, vec, err := src.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				src.Close()
				return nil, err
			}
			if seen[p] {
				repeated++
				continue
			}
			seen[p] = true
			if i := dataset.FirstNonFinite(vec); i >= 0 {
				src.Close()
				return nil, fmt.Errorf("%s: %s: feature %d is %g", name, p, i, vec[i])
			}
			for _, v := range vec {
				buf = append(buf, float64(v))
			}
			y := NA
			if l, ok := labels.ByPath[p]; ok {
				matched++
				if k, ok := index[l]; ok {
					y = k
				}
			}
			d.paths = append(d.paths, p)
			d.y = append(d.y, y)
		}
		src.Close()
	}
	if repeated > 0 {
		d.notes = append(d.notes, fmt.Sprintf("%s repeated a path already read; the first was kept", plural.N(repeated, "feature row")))
	}
	if matched == 0 {
		return nil, fmt.Errorf("the features (%s) and the labels (%s) share no path", strings.Join(cfg.Features, ", "), dataset.SourceList(cfg.LabelSources))
	}
	if unl := len(d.paths) - matched; unl > 0 {
		what := "have no oracle label: they can be queried but never train"
		if unl == 1 {
			what = "has no oracle label: it can be queried but never trains"
		}
		d.notes = append(d.notes, fmt.Sprintf("%s %s", plural.N(unl, "feature row"), what))
	}
	d.x = mat.NewDense(len(d.paths), dim, buf)
	return d, nil
}

// ReadOracle reads the oracle's labels: cfg.LabelSources merged, or the
// one file cfg.Labels.
func ReadOracle(cfg *Config) (*dataset.Labels, error) {
	if len(cfg.LabelSources) == 0 {
		cfg.LabelSources = []string{cfg.Labels}
	}
	col := cfg.LabelColumn
	if col == "" {
		col = "label"
	}
	m := cfg.Merge
	if m.Classes == nil {
		m.Classes = cfg.Classes
	}
	return dataset.ReadSources(cfg.LabelSources, dataset.SourceOptions{Features: cfg.Features, Column: col, Ignore: cfg.Ignore}, m)
}

// compatible is featstore's rule, except that CSV files carry no backbone.
func compatible(a, b featstore.Meta) error {
	if a.BackboneSHA256 == "" || b.BackboneSHA256 == "" {
		return nil
	}
	return a.Compatible(b)
}

// splitter holds what is fixed across draws: the --test rows and the
// --initial rows, when given.
type splitter struct {
	d                   *data
	fixedTest           []int // labelled --test rows, scored
	inTest              []bool
	fixedInit           []int
	inInitial           []bool
	notes               []string
	testFixed, initFixd bool
}

func newSplitter(d *data, cfg *Config) (*splitter, error) {
	sp := &splitter{d: d, inTest: make([]bool, len(d.paths)), inInitial: make([]bool, len(d.paths))}
	byPath := make(map[string]int, len(d.paths))
	for i, p := range d.paths {
		byPath[p] = i
	}
	if cfg.Test != "" {
		sp.testFixed = true
		paths, err := query.ReadPaths(cfg.Test)
		if err != nil {
			return nil, err
		}
		var missing []string
		unlabelled := 0
		for _, p := range paths {
			i, ok := byPath[p]
			switch {
			case !ok:
				missing = append(missing, p)
			case sp.inTest[i]:
			default:
				// Every listed row leaves the pool, labelled or not: a test
				// image must never be queried, even one the oracle cannot score.
				sp.inTest[i] = true
				if d.y[i] == NA {
					unlabelled++
				} else {
					sp.fixedTest = append(sp.fixedTest, i)
				}
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("--test: %s %s not in the features, e.g. %s", plural.N(len(missing), "path"), plural.IsAre(len(missing)), missing[0])
		}
		if unlabelled > 0 {
			sp.notes = append(sp.notes, fmt.Sprintf("%d --test rows have no usable oracle label: they are not scored, and not in the pool either", unlabelled))
		}
		if len(sp.fixedTest) == 0 {
			return nil, errors.New("the test set has no labelled row: every --test path lacks a usable oracle label")
		}
		sort.Ints(sp.fixedTest)
	}
	if cfg.Initial != "" {
		sp.initFixd = true
		paths, err := query.ReadPaths(cfg.Initial)
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			i, ok := byPath[p]
			if !ok {
				return nil, fmt.Errorf("--initial: %s is not in the features", p)
			}
			if sp.inTest[i] {
				return nil, fmt.Errorf("--initial: %s is also in the test set", p)
			}
			if !sp.inInitial[i] {
				sp.inInitial[i] = true
				sp.fixedInit = append(sp.fixedInit, i)
			}
		}
		sort.Ints(sp.fixedInit)
	}
	return sp, nil
}

// draw is one draw's split and seed. Row indices into data.
type draw struct {
	index               int
	seed                uint64
	test, initial, pool []int
}

// drawSeed gives every draw its own stream (splitmix64 of seed and index),
// so a draw's content does not depend on how many draws there are or which
// worker runs it.
func drawSeed(seed uint64, r int) uint64 {
	z := seed + uint64(r+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// draw decides draw r's test rows and initial labelled rows; the rest is
// the pool.
func (sp *splitter) draw(r int, cfg *Config) (*draw, error) {
	d := sp.d
	dr := &draw{index: r, seed: drawSeed(cfg.Seed, r)}
	rng := rand.New(rand.NewPCG(dr.seed, 0x5eed))
	inTest := sp.inTest
	if sp.testFixed {
		dr.test = sp.fixedTest
	} else {
		// Stratified: the same fraction of every class, drawn among the
		// labelled rows outside a fixed --initial set.
		inTest = make([]bool, len(d.paths))
		var rows []int
		for i := range d.paths {
			if !sp.inInitial[i] {
				rows = append(rows, i)
			}
		}
		for _, rows := range byClass(d, rows) {
			rng.Shuffle(len(rows), func(a, b int) { rows[a], rows[b] = rows[b], rows[a] })
			k := int(float64(len(rows))*cfg.TestFraction + 0.5)
			for _, i := range rows[:min(k, len(rows))] {
				inTest[i] = true
				dr.test = append(dr.test, i)
			}
		}
		if len(dr.test) == 0 {
			return nil, errors.New("the test set is empty: give --test or a larger --test-fraction")
		}
		sort.Ints(dr.test)
	}

	inInitial := sp.inInitial
	if sp.initFixd {
		dr.initial = sp.fixedInit
	} else {
		inInitial = make([]bool, len(d.paths))
		var rest []int
		for i := range d.paths {
			if !inTest[i] {
				rest = append(rest, i)
			}
		}
		for _, rows := range byClass(d, rest) {
			rng.Shuffle(len(rows), func(a, b int) { rows[a], rows[b] = rows[b], rows[a] })
			for _, i := range rows[:min(cfg.InitialPerClass, len(rows))] {
				inInitial[i] = true
				dr.initial = append(dr.initial, i)
			}
		}
		sort.Ints(dr.initial)
	}
	var absent []string
	have := make([]bool, len(d.classes))
	for _, i := range dr.initial {
		if d.y[i] != NA {
			have[d.y[i]] = true
		}
	}
	for k, ok := range have {
		if !ok {
			absent = append(absent, d.classes[k])
		}
	}
	if len(absent) > 0 {
		return nil, fmt.Errorf("the initial set has no row of class %s: every class needs at least one to fit the first model (raise --initial-per-class, fix --initial, or leave the class out of --classes)", strings.Join(absent, ", "))
	}
	for i := range d.paths {
		if !inTest[i] && !inInitial[i] {
			dr.pool = append(dr.pool, i)
		}
	}
	if len(dr.pool) < cfg.Batch {
		return nil, fmt.Errorf("the pool has %s after the test and initial sets, fewer than one batch (--batch %d)", plural.N(len(dr.pool), "row"), cfg.Batch)
	}
	return dr, nil
}

func allRows(n int) []int {
	r := make([]int, n)
	for i := range r {
		r[i] = i
	}
	return r
}

// byClass groups labelled rows by class, in class order.
func byClass(d *data, rows []int) [][]int {
	out := make([][]int, len(d.classes))
	for _, i := range rows {
		if d.y[i] != NA {
			out[d.y[i]] = append(out[d.y[i]], i)
		}
	}
	return out
}

// rowsOf copies the given rows of x into a new matrix; nil for no rows,
// which gonum cannot represent.
func rowsOf(x *mat.Dense, rows []int) *mat.Dense {
	if len(rows) == 0 {
		return nil
	}
	_, dim := x.Dims()
	out := mat.NewDense(len(rows), dim, nil)
	for r, i := range rows {
		copy(out.RawRowView(r), x.RawRowView(i))
	}
	return out
}
