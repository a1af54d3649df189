package query

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/featstore"
	"github.com/winnowml/winnow/internal/linear"
)

const benchDim, benchK = 512, 10

// benchModel is a random 10-class model on 512 features with ML.NET-style
// scaling, as train would write for CNN features.
func benchModel() *linear.Model {
	rng := rand.New(rand.NewPCG(1, 2))
	m := &linear.Model{Norm: linear.Normalization{Kind: linear.NormAuto, Offset: make([]float64, benchDim), Scale: make([]float64, benchDim)},
		W: make([][]float64, benchK), B: make([]float64, benchK)}
	for j := range m.Norm.Scale {
		m.Norm.Scale[j] = 1 / (4 + rng.Float64())
	}
	for c := range m.W {
		m.W[c] = make([]float64, benchDim)
		for j := range m.W[c] {
			m.W[c][j] = 0.3 * rng.NormFloat64()
		}
		m.B[c] = rng.NormFloat64()
		m.Classes = append(m.Classes, fmt.Sprintf("c%d", c))
	}
	return m
}

// benchRow fills x like pooled CNN activations: non-negative, 30% zeros.
func benchRow(rng *rand.Rand, x []float32) {
	for j := range x {
		if rng.Float32() < 0.3 {
			x[j] = 0
		} else {
			x[j] = float32(rng.ExpFloat64())
		}
	}
}

// BenchmarkSelectInMemory is what simulate does each round: probabilities
// for a 100,000 x 512 pool, then entropy and the top 8 (or coreset's and
// badge's 8 among the 10,000 most uncertain).
func BenchmarkSelectInMemory(b *testing.B) {
	const n = 100_000
	m := benchModel()
	rng := rand.New(rand.NewPCG(3, 4))
	X := mat.NewDense(n, benchDim, nil)
	x := make([]float32, benchDim)
	paths := make([]string, n)
	for i := range n {
		benchRow(rng, x)
		row := X.RawRowView(i)
		for j, v := range x {
			row[j] = float64(v)
		}
		paths[i] = fmt.Sprintf("img/%07d.jpg", i)
	}
	P := m.PredictBatch(X, nil)
	pool := &Pool{Paths: paths, X: X, P: P, Model: m}
	s, _ := New("entropy", Options{Seed: 1})
	b.Run("predictbatch", func(b *testing.B) {
		b.SetBytes(n * benchDim * 4)
		for range b.N {
			m.PredictBatch(X, P)
		}
	})
	b.Run("entropy-top8", func(b *testing.B) {
		for range b.N {
			if _, err := s.Select(context.Background(), pool, 8); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, name := range []string{"coreset", "badge"} {
		st, _ := New(name, Options{Seed: 1, Candidates: 10000})
		b.Run(name+"-top8-of-10000", func(b *testing.B) {
			for range b.N {
				if _, err := st.Select(context.Background(), pool, 8); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStream selects from a 200,000 x 512 Parquet file next to merely
// reading it with featstore's batch loop: the ratio of the two is the cost
// of selecting over reading (SetBytes counts the float32 feature bytes).
func BenchmarkStream(b *testing.B) {
	const n = 200_000
	path := filepath.Join(b.TempDir(), "pool.parquet")
	meta := featstore.Meta{Backbone: "bench", BackboneSHA256: "00", Preprocess: "p", Dim: benchDim}
	w, err := featstore.Create(path, meta)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	batch := make([]featstore.Row, 250) // divides n
	for i := range batch {
		batch[i].Features = make([]float32, benchDim)
	}
	for i := 0; i < n; i += len(batch) {
		for k := range batch {
			benchRow(rng, batch[k].Features)
			batch[k].Path = fmt.Sprintf("img/%07d.jpg", i+k)
		}
		if err := w.Write(batch...); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	m := benchModel()

	b.Run("read", func(b *testing.B) {
		b.SetBytes(n * benchDim * 4)
		dst := make([]featstore.Row, 1024)
		for range b.N {
			r, err := featstore.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			rows := 0
			for {
				k, err := r.ReadBatch(dst)
				rows += k
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			r.Close()
			if rows != n {
				b.Fatalf("read %d rows", rows)
			}
		}
	})
	for _, name := range []string{"entropy", "coreset"} {
		b.Run("select-"+name, func(b *testing.B) {
			b.SetBytes(n * benchDim * 4)
			s, _ := New(name, Options{Seed: 1, Candidates: 10000})
			for range b.N {
				src, err := dataset.OpenFeatures(path, dataset.Columns{})
				if err != nil {
					b.Fatal(err)
				}
				res, err := Stream(context.Background(), src, s, 8, StreamOptions{Model: m})
				src.Close()
				if err != nil {
					b.Fatal(err)
				}
				if res.Rows != n || len(res.Picks) != 8 {
					b.Fatalf("read %d rows, %d picks", res.Rows, len(res.Picks))
				}
			}
		})
	}
}
