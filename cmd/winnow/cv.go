package main

import (
	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/linear"
)

// crossValidate picks (l1, l2) by stratified k-fold cross-validated log loss.
func crossValidate(set *dataset.Set, p linear.Params, folds int, seed int64) (linear.Pair, *linear.CVResult, error) {
	res, err := linear.CV(set.X, set.Y, len(set.Classes), folds, linear.DefaultGrid(), uint64(seed), p)
	if err != nil {
		return linear.Pair{}, nil, err
	}
	return res.Best, res, nil
}
