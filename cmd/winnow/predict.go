package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/classify"
	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/outfile"
	"github.com/winnowml/winnow/internal/plural"
)

func newPredictCmd() *cobra.Command {
	var model, features, out, labelColumn string
	var ignore []string
	var proj projectPaths
	cmd := &cobra.Command{
		Use:   "predict --model M --features F -o preds.csv",
		Short: "Predict the class of every image in a feature file",
		Long: `predict writes one CSV row per feature row:
  path, predicted, p_<class>... (in the model's class order), max_prob, entropy (bits),
  novelty (distance to the nearest labelled rows over their own typical
  nearest-neighbour distance: about 1 for images like the labelled ones,
  several times that for images unlike anything labelled)
It streams the features, so any number of rows fits in memory. The model's
feature columns are read by name, whatever order the file has them in; other
columns (a class, an id) are not read.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := proj.fill(&features, &model); err != nil {
				return err
			}
			if err := refuseOverwrite(files{}.add("--model", model).add("--features", features), files{}.add("-o", out)); err != nil {
				return err
			}
			mf, err := classifier.Load(model)
			if err != nil {
				return err
			}
			src, note, err := mf.OpenFeatures(features, dataset.Columns{Label: labelColumn, Ignore: ignore})
			if err != nil {
				return fmt.Errorf("%w (model %s)", err, model)
			}
			defer src.Close()
			if note != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "predict:", printable(note, false))
			}
			var n classify.Counts
			err = outfile.Write(out, func(w io.Writer) error {
				n, err = classify.WritePredictions(cmd.Context(), w, mf, src, classify.Options{})
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "predict: %s -> %s\n", plural.N(n.Rows, "row"), printable(out, false))
			return nil
		},
	}
	cmd.Flags().StringVar(&model, "model", "", "model file written by train (required)")
	cmd.Flags().StringVar(&features, "features", "", "features: Parquet from featurize, or CSV with a path column (required)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "CSV file to write (required)")
	cmd.Flags().StringVar(&labelColumn, "label-column", "label", "a label column in a features CSV: never a feature")
	cmd.Flags().StringSliceVar(&ignore, "ignore-columns", nil, "columns of a features CSV that are not features")
	proj.addFlag(cmd)
	for _, name := range []string{"output"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}
