package novelty

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

func blobs(rng *rand.Rand, n, d int) ([][]float64, []int) {
	X := make([][]float64, n)
	y := make([]int, n)
	for i := range X {
		y[i] = i % 3
		X[i] = make([]float64, d)
		for j := range X[i] {
			X[i][j] = rng.NormFloat64() * 0.3
		}
		X[i][y[i]] += 3
	}
	return X, y
}

// Labelled rows score about 1 (the median of their leave-one-out scores is
// 1 by construction), fresh rows of the same blobs about 1 too, and a point
// far from every blob far above; the scores survive the model file.
func TestNoveltyScaleAndOutlier(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const d = 8
	X, y := blobs(rng, 60, d)
	r, err := Build(len(X), d, func(i int) []float64 { return X[i] }, y, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rows != 60 || r.K != K {
		t.Fatalf("rows %d k %d", r.Rows, r.K)
	}
	fresh, _ := blobs(rng, 30, d)
	q := make([]float32, 0, 31*d)
	for _, row := range fresh {
		for _, v := range row {
			q = append(q, float32(v))
		}
	}
	for j := 0; j < d; j++ {
		q = append(q, 2) // between and away from all three blobs
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Ref
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	s := make([]float64, 31)
	back.Score(q, 31, s)
	maxFresh := 0.0
	for _, v := range s[:30] {
		maxFresh = math.Max(maxFresh, v)
	}
	if maxFresh > 2 {
		t.Errorf("an image of a labelled blob scores %g", maxFresh)
	}
	if s[30] < 3*maxFresh {
		t.Errorf("outlier scores %g, fresh blob images up to %g", s[30], maxFresh)
	}
	// A labelled row counts itself among its neighbours at distance 0, so
	// without leaving it out it scores below the scale it set.
	lab := make([]float32, 0, 60*d)
	for _, row := range X {
		for _, v := range row {
			lab = append(lab, float32(v))
		}
	}
	own := make([]float64, 60)
	back.Score(lab, 60, own)
	below := 0
	for _, v := range own {
		if v < 1 {
			below++
		}
	}
	if below < 55 {
		t.Errorf("only %d of 60 labelled rows score below 1 counting themselves", below)
	}
}

// Above MaxRows the reference is a stratified sample that keeps every
// class.
func TestSampleKeepsClasses(t *testing.T) {
	y := make([]int, 5000)
	y[17] = 1 // a class with one row
	idx := sample(len(y), y, 100, 3)
	if len(idx) < 99 || len(idx) > 102 {
		t.Fatalf("%d rows sampled for a cap of 100", len(idx))
	}
	has := false
	for _, i := range idx {
		has = has || i == 17
	}
	if !has {
		t.Error("the one-row class was sampled away")
	}
}
