package query

import (
	"testing"

	"gonum.org/v1/gonum/mat"
)

// Labelled rows in two of three clusters: the novelty strategy (with the
// labelled set as its reference, as in simulate) picks the unlabelled
// cluster's rows first, whatever the probabilities say; with neither a
// reference nor a labelled set it refuses.
func TestNoveltyPicksTheUnlabelledCluster(t *testing.T) {
	xs, cl := threeClusters()
	m := identityModel([][]float64{{0, 0}, {0, 0}}, []float64{0, 0})
	lab := mat.NewDense(6, 2, nil)
	y := make([]int, 6)
	for i := 0; i < 6; i++ {
		src := xs[i%2*10+i/2] // three rows each of clusters 0 and 1
		lab.SetRow(i, src)
		y[i] = i % 2
	}
	pool := geomPool(m, xs, &Labelled{X: lab, Y: y})
	picks := mustSelect(t, "novelty", Options{Seed: 1}, pool, 10)
	for _, pk := range picks {
		if cl[pk.Index] != 2 {
			t.Errorf("pick %d is in labelled cluster %d (score %g)", pk.Index, cl[pk.Index], pk.Score)
		}
		if pk.Score < 5 {
			t.Errorf("unlabelled cluster row scores novelty %g", pk.Score)
		}
	}
	pool.Labelled = nil
	s, _ := New("novelty", Options{})
	if _, err := s.Select(t.Context(), pool, 3); err == nil {
		t.Error("novelty without reference or labelled set: no error")
	}
}
