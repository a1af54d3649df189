package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/classify"
	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/metrics"
	"github.com/winnowml/winnow/internal/outfile"
	"github.com/winnowml/winnow/internal/report"
)

func newEvaluateCmd() *cobra.Command {
	var model, features, labelColumn, jsonOut, htmlOut, images string
	var labels labelFlags
	var ignore []string
	var target float64
	var classTargets []string
	var calibrate bool
	var proj projectPaths
	cmd := &cobra.Command{
		Use:   "evaluate --model M --features F --labels L.csv",
		Short: "Score a model on labelled features: accuracy, log loss, ROC AUC, confusion matrix",
		Long: `evaluate applies a model to labelled features and prints accuracy, the mean log
loss of the true class, one-vs-rest ROC AUC per class (Mann-Whitney, ties
counted half, as pROC), precision, recall and F1 per class with macro averages,
and the confusion matrix (rows true, columns predicted, in the model's class
order). Labels outside the model's classes, or empty, are dropped and counted.
A warning says how many rows the model was trained on: their scores flatter it.

--features and --labels follow the same rules as in train (--labels repeats;
--labels folders).

Triage: sorted by confidence (the highest probability), the most confident
rows are the most often right. evaluate prints the lowest confidence cut whose
rows reach --target-accuracy, writes the whole accuracy-vs-coverage curve to
--json ("triage") and draws it in --html. --calibrate stores the cut in the
model file for winnow classify --target-accuracy; --class-target CLASS=A adds
a cut for the rows predicted as CLASS (its predictions right A of the time).`,
		Example: `  winnow evaluate --model model.json --features test.parquet --labels test.csv --html report.html`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := labels.check(); err != nil {
				return err
			}
			if err := proj.fill(&features, &model); err != nil {
				return err
			}
			in := files{}.add("--model", model).add("--features", features).add("--labels", labels.files()...)
			if err := refuseOverwrite(in, files{}.add("--json", jsonOut).add("--html", htmlOut)); err != nil {
				return err
			}
			if !(target > 0 && target <= 1) {
				return usageError("--target-accuracy %v: must be in (0, 1]", target)
			}
			mf, err := classifier.Load(model)
			if err != nil {
				return err
			}
			perClass, err := classify.ParseClassTargets(classTargets, mf.Model.Classes)
			if err != nil {
				return usageError("%v", err)
			}
			set, err := dataset.LoadSources(cmd.Context(), features, labels.sources, labels.merge(mf.Model.Classes),
				dataset.Options{LabelColumn: labelColumn, Classes: mf.Model.Classes, Ignore: ignore, Columns: mf.Columns(), ClassesFrom: "the model's classes"})
			if err != nil {
				return err
			}
			if set.LabelNote != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "evaluate:", printable(set.LabelNote, false))
			}
			if n, err := trainingOverlap(mf, set.Paths); err != nil {
				return fmt.Errorf("%s: %w", model, err)
			} else if n > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "evaluate: warning: %d of the %d rows are rows %s was trained on: these scores flatter it (evaluate on labels kept out of training)\n", n, len(set.Paths), printable(model, false))
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
			tri := classify.NewTriage(set.Classes, set.Y, probs, target, perClass)
			if err := tri.WriteText(out); err != nil {
				return err
			}
			// The JSON and the HTML report replace older ones together or
			// not at all: a full disk must not leave a new JSON beside an
			// old report.
			var g outfile.Group
			defer g.Abort()
			if jsonOut != "" {
				data, err := classify.ReportJSON(r, tri)
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
				cases := &report.EvaluationCases{Paths: set.Paths, CaseOptions: report.CaseOptions{Root: images}}
				if err := report.EvaluationHTMLWith(&page, title, r, set.Classes, set.Y, probs, cases); err != nil {
					return err
				}
				if err := g.Add(htmlOut, page.Bytes()); err != nil {
					return err
				}
			}
			if calibrate {
				// The model file is rewritten with the cut, in the same
				// group: a JSON that reports a cut the model lacks (or the
				// reverse) cannot be left behind.
				var labelFiles []string
				for _, f := range in {
					if f.Flag == "--labels" {
						labelFiles = append(labelFiles, f.Path)
					}
				}
				tri.Calibration.Features, tri.Calibration.Labels = features, strings.Join(labelFiles, ",")
				mf.Calibration = tri.Calibration
				mf.Format = classifier.Format
				data, err := json.MarshalIndent(mf, "", " ")
				if err != nil {
					return err
				}
				if err := g.Add(model, append(data, '\n')); err != nil {
					return err
				}
			}
			if err := cmd.Context().Err(); err != nil {
				return err
			}
			if err := g.Commit(); err != nil {
				return err
			}
			if calibrate {
				fmt.Fprintf(cmd.ErrOrStderr(), "evaluate: stored the cut in %s (winnow classify --target-accuracy %g uses it)\n", printable(model, false), target)
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
	labels.register(fl, "CSV with path and label columns; may be the features CSV (required)")
	fl.StringVar(&labelColumn, "label-column", "label", "name of the label column (never a feature, also in a features CSV)")
	fl.StringSliceVar(&ignore, "ignore-columns", nil, "columns of a features CSV that are not features")
	fl.StringVar(&jsonOut, "json", "", "also write the metrics as JSON to this file")
	fl.StringVar(&htmlOut, "html", "", "also write a self-contained HTML report with plots to this file")
	fl.StringVar(&images, "images", "", "the folder featurize read: the HTML report shows thumbnails of the misclassified and least confident images")
	fl.Float64Var(&target, "target-accuracy", 0.95, "triage: report the confidence cut whose most confident rows reach this accuracy")
	fl.StringSliceVar(&classTargets, "class-target", nil, "CLASS=ACCURACY: also the cut at which the predictions of CLASS reach this accuracy (repeatable)")
	fl.BoolVar(&calibrate, "calibrate", false, "store the cut in the model file, for winnow classify --target-accuracy")
	proj.addFlag(cmd)
	for _, name := range []string{"labels"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}
