package main

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/linear"
	"github.com/winnowml/winnow/internal/novelty"
	"github.com/winnowml/winnow/internal/plural"
)

type trainFlags struct {
	features, out, labelColumn, normalize string
	labels                                labelFlags
	classes, ignore                       []string
	l1, l2, noveltyQuantile               float64
	cv, maxIter                           int
	seed                                  int64
	quiet                                 bool
}

func newTrainCmd() *cobra.Command {
	f := &trainFlags{}
	cmd := &cobra.Command{
		Use:   "train --features F --labels L.csv -o model.json",
		Short: "Fit an elastic-net multinomial logistic regression on labelled features",
		Long: `train fits p(class | x) = softmax(W x + b) by minimising

  sum_i -log p(y_i | x_i) + (l2/2) ||W||^2 + l1 ||W||_1

(the loss is summed over rows, as in ML.NET's multiclass logistic regression;
intercepts are not penalised). Features are normalised first, with the scaling
fitted on the training rows and stored in the model.

--features is the Parquet file featurize writes, or a CSV with a "path" column
and numeric feature columns of any names (e.g. Features.0..Features.511): every
column other than path, the label column and --ignore-columns is a feature,
and a column of words that is none of these is an error naming it. The model
records the CSV's column names, so predict, evaluate and select later read
those columns by name, in any order.
--labels is a CSV with "path" and the label column; it may be the same CSV.
Repeat --labels to merge files (the loop's labels.csv and next.csv), or give
--labels folders to label each image by its first folder under the featurized
root. Rows whose label is empty or "none" ("none of these": the image fits no class)
and rows with a label outside --classes are left out and counted.

The model also keeps (a sample of) the training rows as a novelty reference:
predict, classify and select score how unlike them an image is, and an image
above the novelty cut (by default the 0.99 quantile of the training rows' own
novelty, --novelty-quantile) is reported "novel" and never settled by triage,
however confident its probabilities.`,
		Example: `  winnow train --features features.parquet --labels labels.csv -o model.json
  winnow train --features knots.csv --labels knots.csv --classes sound,dry,encased --label-column knot_class -o model.json
  winnow train --features f.parquet --labels l.csv --cv 5 -o model.json
  winnow train --features f.parquet --labels labels.csv --labels next.csv -o model.json
  winnow train --features f.parquet --labels folders -o model.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runTrain(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.features, "features", "", "features: Parquet from featurize, or CSV with a path column (required)")
	f.labels.register(fl, "CSV with path and label columns; may be the features CSV (required)")
	fl.StringVarP(&f.out, "output", "o", "", "model file to write (required)")
	fl.Float64Var(&f.l1, "l1", 0.01, "L1 penalty weight (sparsity)")
	fl.Float64Var(&f.l2, "l2", 0.01, "L2 penalty weight (shrinkage)")
	fl.StringVar(&f.normalize, "normalize", "auto", "feature scaling: auto (divide by the largest absolute value, as ML.NET), standard, none")
	fl.StringSliceVar(&f.classes, "classes", nil, "class names in order, e.g. sound,dry,encased; other labels are dropped and counted")
	fl.StringVar(&f.labelColumn, "label-column", "label", "name of the label column (never a feature, also in a features CSV)")
	fl.StringSliceVar(&f.ignore, "ignore-columns", nil, "columns of a features CSV that are not features, e.g. id,date")
	fl.IntVar(&f.cv, "cv", 0, "choose l1 and l2 from a grid by K-fold cross-validated log loss (0: use --l1 and --l2)")
	fl.Int64Var(&f.seed, "seed", 1, "seed for the cross-validation folds")
	fl.Float64Var(&f.noveltyQuantile, "novelty-quantile", novelty.DefaultCutQuantile, "novelty cut: this quantile of the training rows' own novelty (leave-one-out); images above it are novel")
	fl.IntVar(&f.maxIter, "max-iter", 5000, "stop the solver after this many iterations (the model is then marked not converged)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress lines (--cv's line per grid point); the tables, warnings and summary are still printed")
	for _, name := range []string{"features", "labels", "output"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}

func runTrain(cmd *cobra.Command, f *trainFlags) error {
	stderr := cmd.ErrOrStderr()
	if err := firstError(penaltyFlag("--l1", f.l1), penaltyFlag("--l2", f.l2), intAtLeast("--max-iter", f.maxIter, 1),
		floatBetween("--novelty-quantile", f.noveltyQuantile, 0.5, 1)); err != nil {
		return err
	}
	if f.cv < 0 || f.cv == 1 {
		return usageError("--cv %d: must be 0 (no cross-validation) or a number of folds of at least 2", f.cv)
	}
	if err := f.labels.check(); err != nil {
		return err
	}
	if err := refuseOverwrite(files{}.add("--features", f.features).add("--labels", f.labels.files()...), files{}.add("-o", f.out)); err != nil {
		return err
	}
	set, err := dataset.LoadSources(cmd.Context(), f.features, f.labels.sources, f.labels.merge(f.classes), dataset.Options{LabelColumn: f.labelColumn, Classes: f.classes, Ignore: f.ignore, Float32: true})
	if err != nil {
		return err
	}
	if set.LabelNote != "" {
		fmt.Fprintln(stderr, "train:", printable(set.LabelNote, false))
	}
	if note := set.Notes.Summary(); note != "" {
		fmt.Fprintln(stderr, "train:", printable(note, false))
	}
	if err := set.CheckTrainable(); err != nil {
		return err
	}
	counts := set.Counts()
	per := map[string]int{}
	for k, c := range set.Classes {
		per[c] = counts[k]
	}
	n, d := set.X32.Dims()
	fmt.Fprintf(stderr, "train: %s x %s, %s\n", plural.N(n, "row"), plural.N(d, "feature"), plural.N(len(set.Classes), "class"))
	classTable(stderr, "train", set.Classes, counts)

	params := linear.Params{L1: f.l1, L2: f.l2, Norm: f.normalize, MaxIter: f.maxIter}
	var cvResult any
	var warm *linear.Model
	if f.cv > 0 {
		folds := f.cv
		if smallest := slices.Min(counts); smallest < folds {
			name := set.Classes[slices.Index(counts, smallest)]
			if smallest < 2 {
				return fmt.Errorf("--cv %d: class %q has %s; cross-validation needs at least 2 rows of every class (label more of it, leave it out of --classes, or train without --cv)", f.cv, printable(name, false), plural.N(smallest, "row"))
			}
			// A stratified fold needs a row of every class.
			folds = smallest
			fmt.Fprintf(stderr, "train: the smallest class, %q, has %d rows; using %d folds instead of %d\n", printable(name, false), smallest, folds, f.cv)
		}
		cvStart := time.Now()
		progress := stderr
		if f.quiet {
			progress = io.Discard
		}
		best, table, err := crossValidate(cmd.Context(), progress, set, params, folds, f.seed)
		if err != nil {
			return err
		}
		params.L1, params.L2 = best.L1, best.L2
		cvResult, warm = table, table.Warm
		printCVTable(stderr, table)
		fmt.Fprintf(stderr, "train: %d-fold cross-validation chose l1=%g l2=%g (%.1f s)\n", folds, params.L1, params.L2, time.Since(cvStart).Seconds())
	}
	start := time.Now()
	// After cross-validation the folds' fits at the chosen pair, averaged,
	// start the final fit near its solution; it still converges to the
	// final fit's tight tolerance.
	m, err := linear.FitMatrix(cmd.Context(), set.X32, set.Y, len(set.Classes), params, warm)
	if err != nil {
		return err
	}
	m.Classes = set.Classes
	s := m.Summary
	conv := "converged"
	if !s.Converged {
		conv = "NOT converged (raise the penalties or check the features)"
	}
	fmt.Fprintf(stderr, "train: %s after %s, objective %.10g, %.3f s\n", conv, plural.N(s.Iterations, "iteration"), s.Objective, time.Since(start).Seconds())
	file := &classifier.File{Winnow: version, Created: time.Now().UTC(), Backbone: classifier.BackboneOf(set.Meta), Model: m,
		Training: classifier.Training{Features: f.features, Labels: f.labels.String(), Rows: n, Paths: classifier.NewPathSet(set.Paths), PerClass: per, Dropped: set.Notes.Summary(), CV: cvResult}}
	if set.FromCSV {
		// Names, not positions: predict and select then read these columns
		// whatever order a later CSV has them in.
		file.FeatureColumns = set.Columns
	}
	// The labelled rows, so predict and select can score novelty.
	if err := file.BuildNovelty(set.X32, set.Y, uint64(f.seed), f.noveltyQuantile); err != nil {
		fmt.Fprintln(stderr, "train: no novelty reference:", err)
	}
	if err := classifier.Save(f.out, file); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "train: wrote %s\n", f.out)
	return nil
}

// penaltyFlag refuses a penalty the objective cannot take: a negative one
// makes it unbounded below, NaN or infinity meaningless.
func penaltyFlag(flag string, v float64) error {
	if linear.CheckPenalties(v, 0) != nil {
		return usageError("%s %v: must be a finite number >= 0", flag, v)
	}
	return nil
}
