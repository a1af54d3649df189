package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/query"
)

func newSelectCmd() *cobra.Command {
	cfg := query.Config{}
	var labels labelFlags
	var describe strings.Builder
	for _, name := range query.Names() {
		fmt.Fprintf(&describe, "  %-17s %s\n", name, query.Describe[name])
	}
	var proj projectPaths
	cmd := &cobra.Command{
		Use:   "select [--model M] --features POOL -n 8 -o next.csv",
		Short: "Pick the images whose labels would help the model most",
		Long: `select scores the unlabelled images of a feature file with the model and
writes the n it would most like labelled next, as CSV:
  path, rank, score, predicted, p_<class>... (in the model's class order), label (empty)

Strategies and what their score is:
` + describe.String() + `
The pool is streamed: row scorers keep only the n best rows, coreset and badge
the --candidates rows of highest entropy (0: all rows, held in memory).
Ties are broken by a hash of (--seed, path), so the picks do not depend on the
order of the feature file.

Rows whose path is in an --exclude file (any CSV with a path column, such as
an earlier select output; "folders": every image in a sub-folder of the
featurized root) or in --labels are never picked: exclude the test labels too.
The output ends with an empty label column: fill it in and give the file to
train as one more --labels. committee refits
the model on the labelled rows of --labels; coreset keeps away from them. Their
features are read from --labelled-features, by default from --features.

Without --model (nothing labelled yet) select picks a first batch at random,
the rows --strategy random would pick with a model, and writes path, rank,
score and the empty label column: fill it in and train on it.

--balance picks n per predicted class; a class with fewer than n rows gives all
it has and the rest of the batch comes from the other classes. If the pool has
fewer rows than asked for, all are picked and select says so; an empty pool is
an error.`,
		Example: `  winnow select --features pool.parquet -n 20 -o first.csv
  winnow select --model model.json --features pool.parquet -n 8 -o next.csv
  winnow select --model model.json --features pool.parquet -n 8 --strategy badge --exclude queried.csv -o next.csv
  winnow select --model model.json --features all.parquet --labels labels.csv --strategy committee -n 16 -o next.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Log = printableWriter{cmd.ErrOrStderr()}
			if err := labels.check(); err != nil {
				return err
			}
			if cfg.Model == "" && proj.dir == "" {
				// Nothing labelled yet, so no model: a random first batch.
				if cfg.Features == "" {
					return usageError("--features is required (or --project DIR)")
				}
				if cmd.Flags().Changed("strategy") && cfg.Strategy != "random" {
					return usageError("--strategy %s ranks by the model's predictions: give --model (with nothing labelled yet, leave --strategy out for a random first batch)", cfg.Strategy)
				}
				if cfg.Balance {
					return usageError("--balance picks per predicted class: give --model")
				}
				cfg.Strategy = "random"
			} else if err := proj.fill(&cfg.Features, &cfg.Model); err != nil {
				return err
			}
			cfg.Exclude = append(cfg.Exclude, proj.labelFiles()...)
			cfg.LabelSources, cfg.Merge = labels.sources, labels.merge(nil)
			if err := firstError(
				intAtLeast("-n", cfg.N, 1),
				intAtLeast("--candidates", cfg.Candidates, 0),
				intAtLeast("--members", cfg.Members, 2),
			); err != nil {
				return err
			}
			if !(cfg.NoveltyShare >= 0 && cfg.NoveltyShare <= 1) {
				return usageError("--novelty-share %v: must be a share of the batch, from 0 (none) to 1 (all)", cfg.NoveltyShare)
			}
			var excl []string
			for _, e := range cfg.Exclude {
				if e != dataset.Folders {
					excl = append(excl, e)
				}
			}
			in := files{}.add("--model", cfg.Model).add("--features", cfg.Features).add("--exclude", excl...).
				add("--labels", labels.files()...).add("--labelled-features", cfg.LabelledFeatures)
			if err := refuseOverwrite(in, files{}.add("-o", cfg.Output)); err != nil {
				return err
			}
			_, err := query.Run(cmd.Context(), cfg)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.Model, "model", "", "model file written by train (without one: a random first batch)")
	fl.StringVar(&cfg.Features, "features", "", "the pool: Parquet from featurize, or CSV with a path column (required)")
	fl.StringVarP(&cfg.Output, "output", "o", "", "CSV file to write (required)")
	fl.IntVarP(&cfg.N, "number", "n", 8, "how many images to pick (per predicted class with --balance)")
	fl.StringVar(&cfg.Strategy, "strategy", "entropy", "one of "+strings.Join(query.Names(), ", "))
	fl.StringArrayVar(&cfg.Exclude, "exclude", nil, "CSV with a path column of images never to pick (repeatable; \"folders\": images in sub-folders)")
	fl.Uint64Var(&cfg.Seed, "seed", 1, "seed for ties, random and badge")
	fl.BoolVar(&cfg.Balance, "balance", false, "pick n per predicted class")
	fl.IntVar(&cfg.Candidates, "candidates", 10000, "coreset, badge: work on this many rows of highest entropy (0: all)")
	fl.IntVar(&cfg.Members, "members", 5, "committee: number of bootstrap members")
	fl.Float64Var(&cfg.NoveltyShare, "novelty-share", 0.25, "share of the batch given to the most novel images (unlike anything labelled; 0: none, and no novelty column)")
	labels.register(fl, "CSV with path and label columns: never picked; committee and coreset use them")
	fl.StringVar(&cfg.LabelledFeatures, "labelled-features", "", "features of the --labels rows (default: --features)")
	fl.StringVar(&cfg.LabelColumn, "label-column", "label", "name of the label column of --labels (never a feature of a features CSV)")
	fl.StringSliceVar(&cfg.Ignore, "ignore-columns", nil, "columns of a features CSV that are not features")
	proj.addFlag(cmd)
	for _, name := range []string{"output"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}
