package linear

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// The folded batch path must give what normalising each row and applying
// the weights directly (Predict) gives, for every normalisation.
func TestPredictBatchMatchesRowByRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, d, k = 60, 9, 4
	X := mat.NewDense(n, d, nil)
	y := make([]int, n)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			X.Set(i, j, rng.NormFloat64()*float64(j+1)+float64(j))
		}
		y[i] = i % k
	}
	for _, norm := range []string{NormAuto, NormStandard, NormNone} {
		m, err := Fit(X, y, k, Params{L1: 0.01, L2: 0.1, Norm: norm}, nil)
		if err != nil {
			t.Fatal(err)
		}
		P := m.PredictBatch(X, nil)
		for i := 0; i < n; i++ {
			want := m.Predict(X.RawRowView(i), nil)
			sum := 0.0
			for c, w := range want {
				if g := P.At(i, c); math.Abs(g-w) > 1e-12 {
					t.Fatalf("%s row %d class %d: batch %g, row %g", norm, i, c, g, w)
				}
				sum += P.At(i, c)
			}
			if math.Abs(sum-1) > 1e-12 {
				t.Fatalf("%s row %d sums to %g", norm, i, sum)
			}
		}
	}
}
