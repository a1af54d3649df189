package main

import (
	"errors"

	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/linear"
)

// crossValidate is wired to linear's cross-validation once it lands.
func crossValidate(set *dataset.Set, p linear.Params, folds int, seed int64) (linear.Params, any, error) {
	return p, nil, errors.New("--cv: cross-validation is not implemented yet")
}
