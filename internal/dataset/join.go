package dataset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/featstore"
	"github.com/winnowml/winnow/internal/linear"
	"github.com/winnowml/winnow/internal/plural"
)

// Set is labelled feature vectors ready for training or evaluation.
type Set struct {
	Paths []string
	X     *mat.Dense // one row per path; nil when Options.Float32 is set
	// X32 holds the rows as float32 instead of X when Options.Float32 is
	// set: the precision the feature files store, in half the memory, which
	// linear.FitMatrix trains on without widening the whole matrix.
	X32     *linear.Dense32
	Y       []int // index into Classes
	Classes []string
	Meta    featstore.Meta
	// Columns names X's columns (Features.Columns); FromCSV says whether
	// they came from a CSV's header rather than a Parquet file.
	Columns []string
	FromCSV bool
	Notes   Notes
	// LabelNote says how several label sources merged (Labels.Summary).
	LabelNote string
}

// Notes counts every row that did not make it into the set, and why, so the
// commands can say so instead of dropping rows silently.
type Notes struct {
	Unlabelled      int            // labels rows saying "none of these" (empty or None)
	OutsideClasses  map[string]int // label -> rows dropped because --classes excludes it
	ClassesFrom     string         // Options.ClassesFrom
	RepeatedLabels  int            // label rows repeating a path with the same label
	RepeatedFeature int            // feature rows repeating a path (the first is used)
}

// Summary is a one-line account of the notes, or "" if there is nothing to say.
func (n Notes) Summary() string {
	var parts []string
	if n.Unlabelled > 0 {
		parts = append(parts, fmt.Sprintf("%s \"none of these\" (an empty label or none)", plural.N(n.Unlabelled, "row")))
	}
	if len(n.OutsideClasses) > 0 {
		var names []string
		total := 0
		for c, k := range n.OutsideClasses {
			names = append(names, fmt.Sprintf("%s: %d", c, k))
			total += k
		}
		sort.Strings(names)
		from := n.ClassesFrom
		if from == "" {
			from = "--classes"
		}
		parts = append(parts, fmt.Sprintf("%s with labels outside %s (%s)", plural.N(total, "row"), from, strings.Join(names, ", ")))
	}
	if n.RepeatedLabels > 0 {
		parts = append(parts, fmt.Sprintf("%s repeated", plural.N(n.RepeatedLabels, "row")))
	}
	if n.RepeatedFeature > 0 {
		parts = append(parts, fmt.Sprintf("%s repeated in the features", plural.N(n.RepeatedFeature, "row")))
	}
	if len(parts) == 0 {
		return ""
	}
	return "dropped " + strings.Join(parts, "; ")
}

// Options of Load.
type Options struct {
	LabelColumn string   // default "label"
	Classes     []string // fixes the class order; labels outside are dropped and counted
	// Ignore are columns of a features CSV that are not features; Columns,
	// when set, are exactly the feature columns to read (a model's).
	Ignore  []string
	Columns []string
	// Float32 fills Set.X32 instead of Set.X.
	Float32 bool
	// ClassesFrom names where Classes came from in messages: "--classes"
	// when empty, "the model's classes" for evaluate, which has no such flag.
	ClassesFrom string
}

// Load streams the feature file and keeps the labelled rows, so memory grows
// with the number of labels, not with the size of the feature file.
func Load(featuresPath, labelsPath string, opt Options) (*Set, error) {
	return LoadContext(context.Background(), featuresPath, labelsPath, opt)
}

// LoadContext is Load that stops with ctx's error once ctx is done, checked
// every 256 feature rows: reading a large feature file takes many seconds.
func LoadContext(ctx context.Context, featuresPath, labelsPath string, opt Options) (*Set, error) {
	if opt.LabelColumn == "" {
		opt.LabelColumn = "label"
	}
	labels, err := ReadLabels(labelsPath, opt.LabelColumn)
	if err != nil {
		return nil, err
	}
	return loadLabelled(ctx, featuresPath, labelsPath, labels, opt)
}

// LoadSources is LoadContext with labels merged from several sources (CSV
// files and Folders, ReadSources) as merge says.
func LoadSources(ctx context.Context, featuresPath string, sources []string, merge Merge, opt Options) (*Set, error) {
	if opt.LabelColumn == "" {
		opt.LabelColumn = "label"
	}
	if merge.Classes == nil {
		merge.Classes = opt.Classes
	}
	labels, err := ReadSources(sources, SourceOptions{Features: []string{featuresPath}, Column: opt.LabelColumn, Ignore: opt.Ignore}, merge)
	if err != nil {
		return nil, err
	}
	s, err := loadLabelled(ctx, featuresPath, SourceList(sources), labels, opt)
	if err != nil {
		return nil, err
	}
	s.LabelNote = labels.Summary()
	return s, nil
}

func loadLabelled(ctx context.Context, featuresPath, labelsPath string, labels *Labels, opt Options) (*Set, error) {
	s := &Set{Notes: Notes{OutsideClasses: map[string]int{}, RepeatedLabels: labels.Repeats, ClassesFrom: opt.ClassesFrom}}

	// Decide the classes before reading features.
	classIndex := map[string]int{}
	if len(opt.Classes) > 0 {
		for i, c := range opt.Classes {
			if strings.EqualFold(c, None) {
				return nil, fmt.Errorf("--classes names %q, which in a labels file means \"none of these\"; call the class something else", c)
			}
			if _, dup := classIndex[c]; dup {
				return nil, fmt.Errorf("--classes names %q twice", c)
			}
			classIndex[c] = i
		}
		s.Classes = opt.Classes
	} else {
		s.Classes = labels.Classes()
		for i, c := range s.Classes {
			classIndex[c] = i
		}
	}
	want := map[string]int{} // path -> class index
	for _, p := range labels.Order {
		lab := labels.ByPath[p]
		switch k, ok := classIndex[lab]; {
		case lab == "":
			s.Notes.Unlabelled++
		case !ok:
			s.Notes.OutsideClasses[lab]++
		default:
			want[p] = k
		}
	}

	feats, err := OpenFeatures(featuresPath, Columns{Label: opt.LabelColumn, Ignore: opt.Ignore, Want: opt.Columns})
	if err != nil {
		return nil, err
	}
	defer feats.Close()
	s.Meta = feats.Meta()
	s.Columns, s.FromCSV = slices.Clone(feats.Columns()), feats.CSV()
	dim := feats.Dim()
	found := map[string]bool{}
	// Every wanted path must be found (a missing one is an error below), so
	// len(want) rows is the size: allocating it once avoids append's
	// regrowth, which briefly holds the old and the new array (2.25 times
	// the data at the end).
	var data []float64
	var data32 []float32
	if opt.Float32 {
		data32 = make([]float32, 0, len(want)*dim)
	} else {
		data = make([]float64, 0, len(want)*dim)
	}
	var bad []string
	next := batched(feats, dim)
	for row := 0; ; row++ {
		if row%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		p, vec, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		k, ok := want[p]
		if !ok {
			continue
		}
		if found[p] {
			s.Notes.RepeatedFeature++
			continue
		}
		found[p] = true
		if len(vec) != dim {
			return nil, fmt.Errorf("%s: %s has %d features, want %d", featuresPath, p, len(vec), dim)
		}
		if i := FirstNonFinite(vec); i >= 0 {
			bad = append(bad, fmt.Sprintf("%s (feature %d is %g)", p, i, vec[i]))
			continue
		}
		if opt.Float32 {
			data32 = append(data32, vec...)
		} else {
			for _, v := range vec {
				data = append(data, float64(v))
			}
		}
		s.Paths = append(s.Paths, p)
		s.Y = append(s.Y, k)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s: %d labelled rows have NaN or infinite features: %s", featuresPath, len(bad), firstFew(bad))
	}
	var missing []string
	for _, p := range labels.Order {
		if _, ok := want[p]; ok && !found[p] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return nil, PathMismatch(featuresPath, missing, Columns{Label: opt.LabelColumn, Ignore: opt.Ignore, Want: opt.Columns})
	}
	if len(s.Paths) == 0 {
		return nil, fmt.Errorf("no labelled rows: %s and %s share no usable path", featuresPath, labelsPath)
	}
	if opt.Float32 {
		s.X32 = linear.NewDense32(len(s.Paths), dim, data32)
	} else {
		s.X = mat.NewDense(len(s.Paths), dim, data)
	}
	return s, nil
}

// batched returns feats.Next, or for a Parquet file a reader of the same
// rows through one reused batch: Next allocates fresh vectors for every 256
// rows, and on a large file that garbage (as much as the matrix being
// built) lets the heap grow to twice the matrix before the collector runs.
func batched(feats Features, dim int) func() (string, []float32, error) {
	br, ok := feats.(interface {
		ReadBatch([]featstore.Row) (int, error)
	})
	if !ok {
		return feats.Next
	}
	batch := make([]featstore.Row, 256)
	block := make([]float32, len(batch)*dim)
	for i := range batch {
		batch[i].Features = block[i*dim : (i+1)*dim : (i+1)*dim]
	}
	pos, n := 0, 0
	return func() (string, []float32, error) {
		if pos == n {
			k, err := br.ReadBatch(batch)
			if err != nil {
				return "", nil, err
			}
			if k == 0 {
				return "", nil, io.EOF
			}
			pos, n = 0, k
		}
		r := &batch[pos]
		pos++
		return r.Path, r.Features, nil
	}
}

// Counts returns the number of rows of each class.
func (s *Set) Counts() []int {
	c := make([]int, len(s.Classes))
	for _, y := range s.Y {
		c[y]++
	}
	return c
}

// CheckTrainable reports classes without rows and one-class sets: the
// objective has no minimum for a class never seen.
func (s *Set) CheckTrainable() error {
	var empty []string
	present := 0
	for k, n := range s.Counts() {
		if n == 0 {
			empty = append(empty, s.Classes[k])
		} else {
			present++
		}
	}
	if present < 2 {
		return fmt.Errorf("training needs at least two classes with rows; have %d (%s)", present, strings.Join(s.Classes, ", "))
	}
	if len(empty) > 0 {
		return fmt.Errorf("classes with no training rows: %s (label some, or leave them out of --classes)", strings.Join(empty, ", "))
	}
	return nil
}
