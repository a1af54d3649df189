package classifier

import (
	"math/rand/v2"
	"testing"

	"github.com/winnowml/winnow/internal/linear"
	"github.com/winnowml/winnow/internal/novelty"
)

// sparseRows draws rows like a CNN's ReLU features: most features rarely
// fire, so a few labelled rows miss many of them.
func sparseRows(rng *rand.Rand, n, d int) []float32 {
	x := make([]float32, n*d)
	for i := range n {
		for j := range d {
			p := 0.02 + 0.5*float64(j%10)/10 // features fire 2% to 47% of the time
			if rng.Float64() < p {
				x[i*d+j] = float32(rng.ExpFloat64())
			}
		}
	}
	return x
}

// The cut is calibrated as an unlabelled image meets it: images drawn like
// the labelled ones are novel about 1 - q of the time, with 40 labels too.
// A cut taken from the labelled rows scored in a normalisation fitted on
// them (novelty.Build's own) flags many more, since a new image's rare
// features exceed the largest value the fit saw.
func TestNoveltyCutIsCalibratedOnUnseenRows(t *testing.T) {
	const n, d, held, draws, q = 60, 200, 2000, 6, 0.95
	rng := rand.New(rand.NewPCG(3, 4))
	var got, naive float64
	for range draws {
		X := linear.NewDense32(n, d, sparseRows(rng, n, d))
		y := make([]int, n)
		for i := range y {
			y[i] = i % 2
		}
		nz, err := linear.FitNormalization(linear.NormAuto, X)
		if err != nil {
			t.Fatal(err)
		}
		f := &File{Model: &linear.Model{Norm: nz}}
		if err := f.BuildNovelty(X, y, 1, q); err != nil {
			t.Fatal(err)
		}
		H := sparseRows(rng, held, d)
		x := make([]float64, len(H))
		for i, v := range H {
			x[i] = float64(v)
		}
		nov, err := f.Novelties(x, held)
		if err != nil {
			t.Fatal(err)
		}
		above := func(cut float64) float64 {
			k := 0
			for _, v := range nov {
				if v > cut {
					k++
				}
			}
			return float64(k) / held / draws
		}
		plain, err := novelty.Build(n, d, func(i int) []float64 {
			raw := make([]float64, d)
			X.Widen(raw, i, i+1, 0, d)
			return nz.Apply(raw, raw)
		}, y, 1, q)
		if err != nil {
			t.Fatal(err)
		}
		got += above(f.NoveltyCut())
		naive += above(plain.Cut)
	}
	t.Logf("unseen rows above the cut: %.3f; above a cut taken in the fitted normalisation: %.3f", got, naive)
	// Conformal: 1 - q on average over training sets, plus the rank's
	// rounding (at most 1/(n+1)); the mean of 6 draws varies by about 0.01.
	if got > 1-q+1.0/(n+1)+0.03 {
		t.Errorf("%.3f of unseen rows are above the cut; want about %.2f", got, 1-q)
	}
	if naive < 2*got {
		t.Errorf("the naive cut flags %.3f, the calibrated one %.3f: the test no longer shows the difference", naive, got)
	}
}

func TestConformalCut(t *testing.T) {
	v := []float64{5, 1, 4, 2, 3, 9, 8, 7, 6, 10}
	if got := novelty.ConformalCut(append([]float64(nil), v...), 0.5); got != 6 { // ceil(11*0.5) = 6th smallest
		t.Errorf("q 0.5 of 1..10: %v, want 6", got)
	}
	if got := novelty.ConformalCut(append([]float64(nil), v...), 0.99); got != 10 { // too few rows: the largest
		t.Errorf("q 0.99 of 1..10: %v, want 10", got)
	}
}

// BenchmarkBuildNovelty is train's cost of the reference and its cut at
// 1,000 labels of 1,920 features (mobilenet-v2's), where the cut is
// measured on 200 rows each in a normalisation fitted without it.
func BenchmarkBuildNovelty(b *testing.B) {
	const n, d = 1000, 1920
	rng := rand.New(rand.NewPCG(1, 2))
	X := linear.NewDense32(n, d, sparseRows(rng, n, d))
	y := make([]int, n)
	for i := range y {
		y[i] = i % 10
	}
	nz, err := linear.FitNormalization(linear.NormAuto, X)
	if err != nil {
		b.Fatal(err)
	}
	f := &File{Model: &linear.Model{Norm: nz}}
	for b.Loop() {
		if err := f.BuildNovelty(X, y, 1, 0); err != nil {
			b.Fatal(err)
		}
	}
}
