package main

import (
	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/linear"
)

// cvGrid is the (l1, l2) grid --cv searches. The loss is summed over rows,
// so useful penalties grow with the data; the grid spans the workshop's
// 0.01 up to strong shrinkage, with and without sparsity.
func cvGrid() []linear.Pair {
	var grid []linear.Pair
	for _, l1 := range []float64{0, 0.01, 0.1, 1} {
		for _, l2 := range []float64{0.01, 0.1, 1, 10, 100} {
			grid = append(grid, linear.Pair{L1: l1, L2: l2})
		}
	}
	return grid
}

// crossValidate picks (l1, l2) by stratified k-fold cross-validated log loss.
func crossValidate(set *dataset.Set, p linear.Params, folds int, seed int64) (linear.Pair, *linear.CVResult, error) {
	res, err := linear.CV(set.X, set.Y, len(set.Classes), folds, cvGrid(), uint64(seed), p)
	if err != nil {
		return linear.Pair{}, nil, err
	}
	return res.Best, res, nil
}
