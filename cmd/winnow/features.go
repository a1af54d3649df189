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
	export := &cobra.Command{
		Use:   "export FEATURES.parquet -o OUT.csv",
		Short: "Write features as CSV (path,f0,...,f{D-1}) for R and spreadsheets",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return featstore.ExportCSV(args[0], ctxWriter{cmd.Context(), cmd.OutOrStdout()})
			}
			if err := refuseOverwrite(files{}.add("FEATURES", args[0]), files{}.add("-o", out)); err != nil {
				return err
			}
			return outfile.Write(out, func(w io.Writer) error { return featstore.ExportCSV(args[0], ctxWriter{cmd.Context(), w}) })
		},
	}
	export.Flags().StringVarP(&out, "output", "o", "", "CSV file to write (default: standard output)")
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
