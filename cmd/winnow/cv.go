package main

import (
	"context"

	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/linear"
)

// crossValidate picks (l1, l2) by stratified k-fold cross-validated log
// loss, on train's float32 features; it stops when ctx does (Ctrl-C).
func crossValidate(ctx context.Context, set *dataset.Set, p linear.Params, folds int, seed int64) (linear.Pair, *linear.CVResult, error) {
	res, err := linear.CVMatrix(ctx, set.X32, set.Y, len(set.Classes), folds, linear.DefaultGrid(), uint64(seed), p)
	if err != nil {
		return linear.Pair{}, nil, err
	}
	return res.Best, res, nil
}
