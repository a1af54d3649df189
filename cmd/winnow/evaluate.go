package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/metrics"
	"github.com/winnowml/winnow/internal/outfile"
	"github.com/winnowml/winnow/internal/report"
)

func newEvaluateCmd() *cobra.Command {
	var model, features, labels, labelColumn, jsonOut, htmlOut string
	var ignore []string
	cmd := &cobra.Command{
		Use:   "evaluate --model M --features F --labels L.csv",
		Short: "Score a model on labelled features: accuracy, log loss, ROC AUC, confusion matrix",
		Long: `evaluate applies a model to labelled features and prints accuracy, the mean log
loss of the true class, one-vs-rest ROC AUC per class (Mann-Whitney, ties
counted half, as pROC), precision, recall and F1 per class with macro averages,
and the confusion matrix (rows true, columns predicted, in the model's class
order). Labels outside the model's classes, or empty, are dropped and counted.

--features and --labels follow the same rules as in train.`,
		Example: `  winnow evaluate --model model.json --features test.parquet --labels test.csv --html report.html`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			in := files{}.add("--model", model).add("--features", features).add("--labels", labels)
			if err := refuseOverwrite(in, files{}.add("--json", jsonOut).add("--html", htmlOut)); err != nil {
				return err
			}
			mf, err := classifier.Load(model)
			if err != nil {
				return err
			}
			set, err := dataset.Load(features, labels, dataset.Options{LabelColumn: labelColumn, Classes: mf.Model.Classes, Ignore: ignore, Columns: mf.Columns()})
			if err != nil {
				return err
			}
			if err := mf.Check(set.Meta); err != nil {
				return fmt.Errorf("%s does not fit %s: %w", features, model, err)
			}
			if note := mf.UncheckedFor(set.Meta, set.FromCSV); note != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "evaluate:", printable(note, false))
			}
			out := cmd.OutOrStdout()
			if note := set.Notes.Summary(); note != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "evaluate:", printable(note, false))
			}
			probs := classifier.Rows(mf.Predict(set.X))
			r := metrics.Evaluate(set.Classes, set.Y, probs)
			if err := r.WriteText(out); err != nil {
				return err
			}
			// The JSON and the HTML report replace older ones together or
			// not at all: a full disk must not leave a new JSON beside an
			// old report.
			var g outfile.Group
			defer g.Abort()
			if jsonOut != "" {
				data, err := json.MarshalIndent(r, "", " ")
				if err != nil {
					return err
				}
				if err := g.Add(jsonOut, append(data, '\n')); err != nil {
					return err
				}
			}
			if htmlOut != "" {
				title := fmt.Sprintf("winnow evaluate: %s on %s", model, features)
				var page bytes.Buffer
				if err := report.EvaluationHTML(&page, title, r, set.Classes, set.Y, probs); err != nil {
					return err
				}
				if err := g.Add(htmlOut, page.Bytes()); err != nil {
					return err
				}
			}
			if err := cmd.Context().Err(); err != nil {
				return err
			}
			if err := g.Commit(); err != nil {
				return err
			}
			for _, p := range []string{jsonOut, htmlOut} {
				if p != "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "evaluate: wrote %s\n", printable(p, false))
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&model, "model", "", "model file written by train (required)")
	fl.StringVar(&features, "features", "", "features: Parquet from featurize, or CSV with a path column (required)")
	fl.StringVar(&labels, "labels", "", "CSV with path and label columns; may be the features CSV (required)")
	fl.StringVar(&labelColumn, "label-column", "label", "name of the label column (never a feature, also in a features CSV)")
	fl.StringSliceVar(&ignore, "ignore-columns", nil, "columns of a features CSV that are not features")
	fl.StringVar(&jsonOut, "json", "", "also write the metrics as JSON to this file")
	fl.StringVar(&htmlOut, "html", "", "also write a self-contained HTML report with plots to this file")
	for _, name := range []string{"model", "features", "labels"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}
