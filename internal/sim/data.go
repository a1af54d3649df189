package sim

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/featstore"
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

func load(cfg *Config) (*data, error) {
	labels, err := dataset.ReadLabels(cfg.Labels, cfg.LabelColumn)
	if err != nil {
		return nil, err
	}
	d := &data{}
	if labels.Repeats > 0 {
		d.notes = append(d.notes, fmt.Sprintf("%d repeated label rows ignored", labels.Repeats))
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
		for {
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
		d.notes = append(d.notes, fmt.Sprintf("%d feature rows repeated a path already read; the first was kept", repeated))
	}
	if matched == 0 {
		return nil, fmt.Errorf("the features (%s) and the labels (%s) share no path", strings.Join(cfg.Features, ", "), cfg.Labels)
	}
	if unl := len(d.paths) - matched; unl > 0 {
		d.notes = append(d.notes, fmt.Sprintf("%d feature rows have no oracle label: they can be queried but never train", unl))
	}
	d.x = mat.NewDense(len(d.paths), dim, buf)
	return d, nil
}

// compatible is featstore's rule, except that CSV files carry no backbone.
func compatible(a, b featstore.Meta) error {
	if a.BackboneSHA256 == "" || b.BackboneSHA256 == "" {
		return nil
	}
	return a.Compatible(b)
}

// split decides the test rows and the initial labelled rows; the rest is the
// pool. Returned slices are row indices into d.
func split(d *data, cfg *Config, rng *rand.Rand) (test, initial, pool []int, err error) {
	byPath := make(map[string]int, len(d.paths))
	for i, p := range d.paths {
		byPath[p] = i
	}
	inTest := make([]bool, len(d.paths))
	if cfg.Test != "" {
		paths, err := query.ReadPaths(cfg.Test)
		if err != nil {
			return nil, nil, nil, err
		}
		var missing []string
		for _, p := range paths {
			i, ok := byPath[p]
			switch {
			case !ok:
				missing = append(missing, p)
			case d.y[i] != NA && !inTest[i]:
				inTest[i] = true
				test = append(test, i)
			}
		}
		if len(missing) > 0 {
			return nil, nil, nil, fmt.Errorf("--test: %d paths are not in the features, e.g. %s", len(missing), missing[0])
		}
	} else {
		// Stratified: the same fraction of every class, drawn with the seed.
		for _, rows := range byClass(d, allRows(len(d.paths))) {
			rng.Shuffle(len(rows), func(a, b int) { rows[a], rows[b] = rows[b], rows[a] })
			k := int(float64(len(rows))*cfg.TestFraction + 0.5)
			for _, i := range rows[:k] {
				inTest[i] = true
				test = append(test, i)
			}
		}
	}
	if len(test) == 0 {
		return nil, nil, nil, errors.New("the test set is empty: give --test or a positive --test-fraction")
	}
	sort.Ints(test)

	inInitial := make([]bool, len(d.paths))
	if cfg.Initial != "" {
		paths, err := query.ReadPaths(cfg.Initial)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, p := range paths {
			i, ok := byPath[p]
			if !ok {
				return nil, nil, nil, fmt.Errorf("--initial: %s is not in the features", p)
			}
			if inTest[i] {
				return nil, nil, nil, fmt.Errorf("--initial: %s is also in the test set", p)
			}
			if !inInitial[i] {
				inInitial[i] = true
				initial = append(initial, i)
			}
		}
	} else {
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
				initial = append(initial, i)
			}
		}
	}
	sort.Ints(initial)
	var absent []string
	have := make([]bool, len(d.classes))
	for _, i := range initial {
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
		return nil, nil, nil, fmt.Errorf("the initial set has no row of class %s: every class needs at least one to fit the first model (raise --initial-per-class, fix --initial, or leave the class out of --classes)", strings.Join(absent, ", "))
	}
	for i := range d.paths {
		if !inTest[i] && !inInitial[i] {
			pool = append(pool, i)
		}
	}
	if len(pool) < cfg.Batch {
		return nil, nil, nil, fmt.Errorf("the pool has %d rows after the test and initial sets, fewer than one batch (--batch %d)", len(pool), cfg.Batch)
	}
	return test, initial, pool, nil
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
