package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/metrics"
	"github.com/winnowml/winnow/internal/outfile"
)

func newPredictCmd() *cobra.Command {
	var model, features, out, labelColumn string
	var ignore []string
	cmd := &cobra.Command{
		Use:   "predict --model M --features F -o preds.csv",
		Short: "Predict the class of every image in a feature file",
		Long: `predict writes one CSV row per feature row:
  path, predicted, p_<class>... (in the model's class order), max_prob, entropy (bits)
It streams the features, so any number of rows fits in memory. The model's
feature columns are read by name, whatever order the file has them in; other
columns (a class, an id) are not read.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
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
			var n int
			err = outfile.Write(out, func(w io.Writer) error {
				n, err = writePredictions(cmd.Context(), w, mf, src)
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "predict: %d rows -> %s\n", n, printable(out, false))
			return nil
		},
	}
	cmd.Flags().StringVar(&model, "model", "", "model file written by train (required)")
	cmd.Flags().StringVar(&features, "features", "", "features: Parquet from featurize, or CSV with a path column (required)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "CSV file to write (required)")
	cmd.Flags().StringVar(&labelColumn, "label-column", "label", "a label column in a features CSV: never a feature")
	cmd.Flags().StringSliceVar(&ignore, "ignore-columns", nil, "columns of a features CSV that are not features")
	for _, name := range []string{"model", "features", "output"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}

// writePredictions streams src in blocks so the matrix product stays fast and
// memory stays bounded by the block.
func writePredictions(ctx context.Context, w io.Writer, mf *classifier.File, src dataset.Features) (int, error) {
	const block = 4096
	classes := mf.Model.Classes
	cw := csv.NewWriter(w)
	head := []string{"path", "predicted"}
	for _, c := range classes {
		head = append(head, "p_"+c)
	}
	cw.Write(append(head, "max_prob", "entropy"))
	d := src.Dim()
	buf := make([]float64, 0, block*d)
	paths := make([]string, 0, block)
	rec := make([]string, len(head)+2)
	total := 0
	flush := func() error {
		if len(paths) == 0 {
			return nil
		}
		P := mf.Predict(mat.NewDense(len(paths), d, buf))
		for i, p := range paths {
			probs := P.RawRowView(i)
			rec[0], rec[1] = p, classes[metrics.Argmax(probs)]
			for k, v := range probs {
				rec[2+k] = strconv.FormatFloat(v, 'g', 6, 64)
			}
			rec[2+len(classes)] = strconv.FormatFloat(metrics.MaxProb(probs), 'g', 6, 64)
			rec[3+len(classes)] = strconv.FormatFloat(metrics.Entropy(probs), 'g', 6, 64)
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		total += len(paths)
		buf, paths = buf[:0], paths[:0]
		return nil
	}
	for {
		p, vec, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return total, err
		}
		if i := dataset.FirstNonFinite(vec); i >= 0 {
			return total, fmt.Errorf("%s: feature %d is %g; refusing to predict from non-finite features", p, i, vec[i])
		}
		for _, v := range vec {
			buf = append(buf, float64(v))
		}
		paths = append(paths, p)
		if len(paths) == block {
			if err := ctx.Err(); err != nil {
				return total, err
			}
			if err := flush(); err != nil {
				return total, err
			}
		}
	}
	if err := flush(); err != nil {
		return total, err
	}
	cw.Flush()
	return total, cw.Error()
}
