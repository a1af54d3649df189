package classifier

import (
	"fmt"

	"github.com/winnowml/winnow/internal/linear"
	"github.com/winnowml/winnow/internal/novelty"
)

// BuildNovelty stores the novelty reference of the training rows X (raw
// features, as the model was fitted on) with classes y.
func (f *File) BuildNovelty(X *linear.Dense32, y []int, seed uint64) error {
	n, d := X.Dims()
	raw := make([]float64, d)
	norm := make([]float64, d)
	ref, err := novelty.Build(n, d, func(i int) []float64 {
		for j, v := range X.Row(i) {
			raw[j] = float64(v)
		}
		return f.Model.Norm.Apply(raw, norm)
	}, y, seed)
	if err != nil {
		return err
	}
	f.Novelty = ref
	return nil
}

// Novelties returns the novelty of each of the n rows of raw features x
// (row-major, the model's D columns), or an error if the model has no
// reference.
func (f *File) Novelties(x []float64, n int) ([]float64, error) {
	if f.Novelty == nil {
		return nil, fmt.Errorf("the model has no novelty reference (trained before winnow stored one; train it again)")
	}
	d := f.Model.D()
	if f.Novelty.D != d {
		return nil, fmt.Errorf("novelty reference has %d features, the model %d", f.Novelty.D, d)
	}
	xn := make([]float32, n*d)
	buf := make([]float64, d)
	for i := 0; i < n; i++ {
		f.Model.Norm.Apply(x[i*d:(i+1)*d], buf)
		for j, v := range buf {
			xn[i*d+j] = float32(v)
		}
	}
	out := make([]float64, n)
	f.Novelty.Score(xn, n, out)
	return out, nil
}
