package query

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/featstore"
	"github.com/winnowml/winnow/internal/linear"
)

// probPool is a pool of hand-made probabilities, named r0, r1, ...
func probPool(probs ...[]float64) *Pool {
	k := len(probs[0])
	P := mat.NewDense(len(probs), k, nil)
	paths := make([]string, len(probs))
	for i, p := range probs {
		P.SetRow(i, p)
		paths[i] = fmt.Sprintf("r%d", i)
	}
	return &Pool{Paths: paths, P: P}
}

// identityModel has no normalisation (scale 1) and the given weights.
func identityModel(w [][]float64, b []float64) *linear.Model {
	d := len(w[0])
	nz := linear.Normalization{Kind: linear.NormNone, Offset: make([]float64, d), Scale: make([]float64, d)}
	for j := range nz.Scale {
		nz.Scale[j] = 1
	}
	classes := make([]string, len(w))
	for c := range classes {
		classes[c] = fmt.Sprintf("c%d", c)
	}
	return &linear.Model{Classes: classes, Norm: nz, W: w, B: b}
}

// randomSetup is a pool of n rows of dim d from a blob per class, a model
// fitted on a labelled set drawn the same way, and some exact duplicates
// in the pool so that ties occur.
type randomSetup struct {
	pool     *Pool
	model    *linear.Model
	labelled *Labelled
	x32      [][]float32 // the pool's features as stored
}

func newRandomSetup(t testing.TB, n, d, k int, seed uint64) *randomSetup {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	centres := make([][]float64, k)
	for c := range centres {
		centres[c] = make([]float64, d)
		for j := range centres[c] {
			centres[c][j] = 2 * rng.NormFloat64()
		}
	}
	draw := func(c int) []float32 {
		x := make([]float32, d)
		for j := range x {
			x[j] = float32(centres[c][j] + 1.5*rng.NormFloat64())
		}
		return x
	}
	nl := 12 * k
	LX := mat.NewDense(nl, d, nil)
	ly := make([]int, nl)
	for i := range nl {
		ly[i] = i % k // every class present
		for j, v := range draw(ly[i]) {
			LX.Set(i, j, float64(v))
		}
	}
	m, err := linear.Fit(LX, ly, k, linear.Params{L1: 0.01, L2: 0.5, Norm: linear.NormStandard}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for c := range k {
		m.Classes = append(m.Classes, fmt.Sprintf("k%d", c))
	}
	s := &randomSetup{model: m, labelled: &Labelled{X: LX, Y: ly}}
	paths := make([]string, n)
	X := mat.NewDense(n, d, nil)
	for i := range n {
		var x []float32
		if i >= 5 && i%10 == 0 {
			x = s.x32[i-5] // an exact duplicate under another path
		} else {
			x = draw(rng.IntN(k))
		}
		s.x32 = append(s.x32, x)
		paths[i] = fmt.Sprintf("img/%04d.jpg", i)
		for j, v := range x {
			X.Set(i, j, float64(v))
		}
	}
	s.pool = NewPool(paths, X, m, s.labelled)
	return s
}

// permuted returns the pool with its rows in another order.
func permuted(p *Pool, seed uint64) *Pool {
	n := p.Len()
	perm := rand.New(rand.NewPCG(seed, 3)).Perm(n)
	_, k := p.P.Dims()
	q := &Pool{Paths: make([]string, n), P: mat.NewDense(n, k, nil), Model: p.Model, Labelled: p.Labelled}
	if p.X != nil {
		_, d := p.X.Dims()
		q.X = mat.NewDense(n, d, nil)
	}
	for i, j := range perm {
		q.Paths[i] = p.Paths[j]
		q.P.SetRow(i, p.P.RawRowView(j))
		if p.X != nil {
			q.X.SetRow(i, p.X.RawRowView(j))
		}
	}
	return q
}

func pickPaths(p *Pool, picks []Pick) []string {
	out := make([]string, len(picks))
	for i, pk := range picks {
		out[i] = p.Paths[pk.Index]
	}
	return out
}

func mustSelect(t testing.TB, name string, opt Options, pool *Pool, n int) []Pick {
	t.Helper()
	s, err := New(name, opt)
	if err != nil {
		t.Fatal(err)
	}
	picks, err := s.Select(context.Background(), pool, n)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return picks
}

var testMeta = featstore.Meta{Backbone: "test", BackboneSHA256: "abc123", Preprocess: "none", Version: "test"}

// writePool writes the setup's pool as a feature file.
func writePool(t testing.TB, dir string, paths []string, x32 [][]float32) string {
	t.Helper()
	meta := testMeta
	meta.Dim = len(x32[0])
	name := filepath.Join(dir, "pool.parquet")
	w, err := featstore.Create(name, meta)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for i, p := range paths {
		if err := w.Write(featstore.Row{Path: p, SHA256: fmt.Sprintf("%064x", i), Width: 1, Height: 1, Features: x32[i]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return name
}
