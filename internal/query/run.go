package query

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/imageset"
	"github.com/winnowml/winnow/internal/metrics"
	"github.com/winnowml/winnow/internal/outfile"
	"github.com/winnowml/winnow/internal/plural"
)

// Config is `winnow select` once its flags are parsed.
type Config struct {
	Model    string // model file written by train
	Features string // the pool: Parquet from featurize, or CSV with a path column
	Output   string // CSV to write
	// Exclude are CSV files with a path column: rows never to pick.
	Exclude []string
	// Labels is a CSV with path and label columns: its paths are never
	// picked; committee refits on its labelled rows and coreset keeps away
	// from them, reading their features from LabelledFeatures (default:
	// Features). LabelSources, when set, replaces it with several sources
	// merged as Merge says (dataset.ReadSources; dataset.Folders too).
	Labels           string
	LabelSources     []string
	Merge            dataset.Merge
	LabelledFeatures string
	LabelColumn      string   // default "label"
	Ignore           []string // columns of a features CSV that are not features
	Strategy         string
	N                int
	// NoveltyShare is the share of the batch given to the most novel rows
	// (rounded, at least 1 when positive); the strategy picks the rest. It
	// needs a model with a novelty reference, and is not combined with
	// Balance.
	NoveltyShare float64
	Options
	Log io.Writer // progress notes; nil: discarded
}

// Summary is what Run did.
type Summary struct {
	Rows, Excluded int64 // rows read, rows skipped as excluded or labelled
	Picked         int
	// Unmatched counts paths of the Exclude files found nowhere in the
	// pool: often a sign of paths written differently (relative vs
	// absolute).
	Unmatched int
}

// Run is `winnow select`: it streams the pool, picks with the strategy and
// writes the picks as CSV — path, rank, score, predicted, p_<class>... in
// the model's class order — atomically (temporary file, then rename).
//
// A pool with fewer candidate rows than asked for is not an error: all of
// them are picked, ranked, and the log says so. An empty pool (every row
// excluded) is an error, as it usually means a wrong --exclude or
// --features. Without a Model (no labels yet) the strategy must be random:
// see runFirst.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	logw := cfg.Log
	if logw == nil {
		logw = io.Discard
	}
	if cfg.N <= 0 {
		return nil, fmt.Errorf("-n must be positive, got %d", cfg.N)
	}
	if cfg.LabelColumn == "" {
		cfg.LabelColumn = "label"
	}
	st, err := New(cfg.Strategy, cfg.Options)
	if err != nil {
		return nil, err
	}
	if len(cfg.LabelSources) == 0 && cfg.Labels != "" {
		cfg.LabelSources = []string{cfg.Labels}
	}
	if len(cfg.LabelSources) == 0 && cfg.LabelledFeatures != "" {
		return nil, errors.New("--labelled-features needs --labels (which of its rows are labelled, and as what)")
	}
	if cfg.Model == "" {
		return runFirst(ctx, cfg, logw)
	}
	if cfg.Strategy == "committee" && len(cfg.LabelSources) == 0 {
		return nil, errors.New("committee refits the model on the labelled set: give --labels L.csv (and --labelled-features F if those rows are not in --features)")
	}
	mf, err := classifier.Load(cfg.Model)
	if err != nil {
		return nil, err
	}
	model := mf.Model
	if mf.Novelty != nil {
		cfg.Options.Novelty = mf.Novelties
		if st, err = New(cfg.Strategy, cfg.Options); err != nil {
			return nil, err
		}
	} else if cfg.Strategy == "novelty" {
		return nil, fmt.Errorf("%s has no novelty reference (trained by an older winnow): train it again", cfg.Model)
	}

	src, note, err := mf.OpenFeatures(cfg.Features, dataset.Columns{Label: cfg.LabelColumn, Ignore: cfg.Ignore})
	if err != nil {
		return nil, fmt.Errorf("%w (model %s)", err, cfg.Model)
	}
	defer src.Close()
	if note != "" {
		fmt.Fprintln(logw, "select:", note)
	}

	exclude, err := excludedPaths(cfg)
	if err != nil {
		return nil, err
	}
	var labelled *Labelled
	if len(cfg.LabelSources) > 0 {
		lf := labelledFeatures(cfg)
		if cfg.Strategy == "committee" || cfg.Strategy == "coreset" {
			set, err := dataset.LoadSources(ctx, lf, cfg.LabelSources, cfg.Merge, dataset.Options{LabelColumn: cfg.LabelColumn, Classes: model.Classes, Ignore: cfg.Ignore, Columns: mf.Columns(), ClassesFrom: "the model's classes"})
			if err != nil {
				return nil, fmt.Errorf("the labelled set: %w", err)
			}
			if err := mf.Check(set.Meta); err != nil {
				return nil, fmt.Errorf("%s does not fit %s: %w", lf, cfg.Model, err)
			}
			if note := set.Notes.Summary(); note != "" {
				fmt.Fprintf(logw, "select: labelled set: %s\n", note)
			}
			labelled = &Labelled{X: set.X, Y: set.Y}
			fmt.Fprintf(logw, "select: labelled set: %s from %s\n", plural.N(labelled.Len(), "row"), lf)
		}
	} else if cfg.Strategy == "coreset" {
		fmt.Fprintln(logw, "select: coreset without --labels: it spreads the picks among themselves only, not away from what is labelled")
	}

	res, err := Stream(ctx, src, st, cfg.N, StreamOptions{
		Model:    model,
		Labelled: labelled,
		Exclude: func(p string) bool {
			if m := exclude[p]; m != nil {
				m.seen = true
				return true
			}
			return false
		},
	})
	if err != nil {
		return nil, err
	}
	sum := &Summary{Rows: res.Rows, Excluded: res.Excluded, Picked: len(res.Picks), Unmatched: unmatched(exclude)}
	want := cfg.N
	if cfg.Balance {
		want *= model.K()
	}
	if err := checkPool(cfg, sum, want, logw); err != nil {
		return nil, err
	}
	var mixed []mixedPick
	// --novelty-share 0 skips the second pass (and the column): on a huge
	// pool its cost, reference rows x features per image, is the point.
	if mf.Novelty != nil && (cfg.NoveltyShare > 0 || cfg.Strategy == "novelty") {
		mixed, err = mixNovelty(ctx, cfg, mf, res, func(p string) bool { return exclude[p] != nil }, logw)
		if err != nil {
			return nil, err
		}
		sum.Picked = len(mixed)
	}
	if err := outfile.Write(cfg.Output, func(w io.Writer) error {
		if mixed != nil {
			return writeMixedCSV(w, mixed, model.Classes)
		}
		return WriteCSV(w, res.Pool, res.Picks, model.Classes)
	}); err != nil {
		return nil, err
	}
	how := st.Name()
	if n := countNovel(mixed); n > 0 && cfg.Strategy != "novelty" {
		how = fmt.Sprintf("novelty (%d) + %s", n, how)
	}
	if cfg.Balance {
		how += fmt.Sprintf(", %d per predicted class", cfg.N)
	}
	fmt.Fprintf(logw, "select: %s picked %d of %s (%d excluded or labelled) -> %s\n", how, sum.Picked, plural.N(int(res.Rows), "row"), res.Excluded, cfg.Output)
	return sum, nil
}

// mark is a path never to pick, and whether the pool has it: paths of
// --exclude files that it never has suggest a mismatch worth a warning.
type mark struct{ fromExclude, seen bool }

// excludedPaths are the paths of the Exclude files and of the labelled
// sources: never picked.
func excludedPaths(cfg Config) (map[string]*mark, error) {
	exclude := map[string]*mark{}
	for _, name := range cfg.Exclude {
		paths, err := ReadPaths(name)
		if name == dataset.Folders {
			// The images sorted into class folders are labelled; the pool
			// is the rest.
			var lab *dataset.Labels
			lab, err = dataset.ReadSources([]string{dataset.Folders}, dataset.SourceOptions{Features: []string{cfg.Features}, Column: cfg.LabelColumn, Ignore: cfg.Ignore}, dataset.Merge{OnConflict: "last", FoldCase: true})
			if lab != nil {
				paths = lab.Order
			}
		}
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			exclude[p] = &mark{fromExclude: true}
		}
	}
	if len(cfg.LabelSources) > 0 {
		labs, err := dataset.ReadSources(cfg.LabelSources, dataset.SourceOptions{Features: []string{labelledFeatures(cfg)}, Column: cfg.LabelColumn, Ignore: cfg.Ignore}, cfg.Merge)
		if err != nil {
			return nil, err
		}
		for _, p := range labs.Order {
			if exclude[p] == nil {
				exclude[p] = &mark{}
			}
		}
	}
	return exclude, nil
}

func labelledFeatures(cfg Config) string {
	if cfg.LabelledFeatures != "" {
		return cfg.LabelledFeatures
	}
	return cfg.Features
}

// checkPool counts the --exclude paths the pool did not have, warns about
// them and about a pool smaller than want, and refuses an empty one.
func checkPool(cfg Config, sum *Summary, want int, logw io.Writer) error {
	if sum.Unmatched > 0 {
		fmt.Fprintf(logw, "select: %s of --exclude %s not in %s (written differently?)\n", plural.N(sum.Unmatched, "path"), plural.IsAre(sum.Unmatched), cfg.Features)
	}
	cands := sum.Rows - sum.Excluded
	if cands == 0 {
		return fmt.Errorf("nothing to select: all %s of %s are excluded or labelled", plural.N(int(sum.Rows), "row"), cfg.Features)
	}
	if int64(want) > cands {
		fmt.Fprintf(logw, "select: the pool has %s left, fewer than the %d asked for: selecting all of them\n", plural.N(int(cands), "row"), want)
	}
	return nil
}

// WriteCSV writes the picks: path, rank (1 = first pick), score, predicted
// class, the probability of each class, and an empty label column: the file
// is filled in and given back to train as one more --labels file.
func WriteCSV(w io.Writer, pool *Pool, picks []Pick, classes []string) error {
	cw := csv.NewWriter(w)
	head := []string{"path", "rank", "score", "predicted"}
	for _, c := range classes {
		head = append(head, "p_"+c)
	}
	head = append(head, "label")
	if err := cw.Write(head); err != nil {
		return err
	}
	rec := make([]string, len(head))
	for i, pk := range picks {
		probs := pool.P.RawRowView(pk.Index)
		rec[0] = pool.Paths[pk.Index]
		rec[1] = strconv.Itoa(i + 1)
		rec[2] = formatScore(pk.Score)
		rec[3] = classes[metrics.Argmax(probs)]
		for c, v := range probs {
			rec[4+c] = strconv.FormatFloat(v, 'g', 6, 64)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func formatScore(v float64) string {
	if math.IsInf(v, 1) {
		return "inf"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// ReadPaths returns the "path" column of a CSV (other columns ignored),
// such as a labels file or an earlier select output. A file without that
// column is an error: taking it for a list would exclude nothing, silently.
func ReadPaths(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	items, err := imageset.ReadCSV(bufio.NewReaderSize(f, 1<<16), "", name)
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(items))
	for i, it := range items {
		paths[i] = it.Path
	}
	return paths, nil
}

func unmatched(exclude map[string]*mark) int {
	n := 0
	for _, m := range exclude {
		if m.fromExclude && !m.seen {
			n++
		}
	}
	return n
}
