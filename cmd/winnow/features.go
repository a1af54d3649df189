package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/featstore"
	"github.com/winnowml/winnow/internal/outfile"
)

func newFeaturesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "features",
		Short: "Inspect and convert feature files",
	}
	var out string
	var withMeta bool
	export := &cobra.Command{
		Use:   "export FEATURES.parquet -o OUT.csv",
		Short: "Write features as CSV (path,f0,...,f{D-1}) for R and spreadsheets",
		Long: `export writes one CSV line per row of a feature file: path, then f0 to
f{D-1}, each float in the shortest form that reads back as the same float32.

--with-meta adds sha256,width,height after path (the file's bytes and the
image's size in pixels, as featurize recorded them), to join the features
with other tables by content or to find images by size. train, predict and
the other verbs read every column of a CSV but path (and the label) as a
feature: give them --ignore-columns sha256,width,height for such a file.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return featstore.ExportCSV(args[0], ctxWriter{cmd.Context(), cmd.OutOrStdout()}, withMeta)
			}
			if err := refuseOverwrite(files{}.add("FEATURES", args[0]), files{}.add("-o", out)); err != nil {
				return err
			}
			return outfile.Write(out, func(w io.Writer) error {
				return featstore.ExportCSV(args[0], ctxWriter{cmd.Context(), w}, withMeta)
			})
		},
	}
	export.Flags().StringVarP(&out, "output", "o", "", "CSV file to write (default: standard output)")
	export.Flags().BoolVar(&withMeta, "with-meta", false, "add the columns sha256,width,height after path, before the features")
	info := &cobra.Command{
		Use:   "info FEATURES.parquet",
		Short: "Show a feature file's backbone, preprocessing, dimension and row count",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := featstore.Open(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			m := r.Meta()
			// The metadata is the file's to choose: shown, never obeyed.
			w := printableWriter{cmd.OutOrStdout()}
			fmt.Fprintf(w, "rows:        %d\n", r.NumRows())
			fmt.Fprintf(w, "dimension:   %d\n", m.Dim)
			if m.BackboneSHA256 == "" {
				// Another tool's file (DuckDB, pandas): same data, no record
				// of where the vectors came from.
				fmt.Fprintf(w, "backbone:    unknown (no winnow metadata: the file was not written by featurize)\n")
				return nil
			}
			fmt.Fprintf(w, "backbone:    %s (sha256 %s)\n", m.Backbone, m.BackboneSHA256)
			fmt.Fprintf(w, "preprocess:  %s\n", m.Preprocess)
			fmt.Fprintf(w, "written by:  winnow %s\n", m.Version)
			return nil
		},
	}
	cmd.AddCommand(export, info, newMergeCmd())
	return cmd
}

// ctxWriter fails every write once ctx is done: an export of millions of
// rows then stops on a signal at its next buffer flush, and outfile drops
// the unfinished file.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
