package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/linear"
)

// crossValidate picks (l1, l2) by stratified k-fold cross-validated log
// loss on train's float32 features, walking the grid as a warm-started path
// in every fold with the folds in parallel; a line per grid point goes to
// log as soon as all folds have fitted it, because a search of tens of fits
// that says nothing looks hung. It stops when ctx does (Ctrl-C).
func crossValidate(ctx context.Context, log io.Writer, set *dataset.Set, p linear.Params, folds int, seed int64) (linear.Pair, *linear.CVResult, error) {
	grid := linear.DefaultGrid()
	opt := linear.CVOptions{Progress: func(done, total int, r linear.CVRow) {
		if r.Skipped {
			fmt.Fprintf(log, "train: cv %2d/%d  l1=%-5g l2=%-5g  skipped: this l1's loss was already rising, and above the best, at a stronger l2\n",
				done, total, r.L1, r.L2)
			return
		}
		fmt.Fprintf(log, "train: cv %2d/%d  l1=%-5g l2=%-5g  log loss %.4f ± %.4f  accuracy %.3f ± %.3f  (%d iterations, %d features)\n",
			done, total, r.L1, r.L2, r.LogLoss, r.SD, r.Accuracy, r.AccuracySD, r.Iterations, r.Features/max(len(r.FoldLogLoss), 1))
	}}
	res, err := linear.CVPath(ctx, set.X32, set.Y, len(set.Classes), folds, grid, uint64(seed), p, opt)
	if err != nil {
		return linear.Pair{}, nil, err
	}
	return res.Best, res, nil
}

// printCVTable writes the grid as a table, l1 then l2 ascending (the order
// a reader scans), marking the chosen pair and the skipped ones.
func printCVTable(w io.Writer, res *linear.CVResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "l1\tl2\tlog loss\tsd\taccuracy\tsd\t\t\n")
	for _, r := range res.Rows {
		mark := ""
		if r.Pair == res.Best {
			mark = "<- chosen"
		}
		if r.Skipped {
			fmt.Fprintf(tw, "%g\t%g\t-\t-\t-\t-\tskipped\t\n", r.L1, r.L2)
			continue
		}
		fmt.Fprintf(tw, "%g\t%g\t%.4f\t%.4f\t%.3f\t%.3f\t%s\t\n", r.L1, r.L2, r.LogLoss, r.SD, r.Accuracy, r.AccuracySD, mark)
	}
	tw.Flush()
}
