package linear

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// Matrix is feature storage the solver reads one tile at a time: it never
// holds a whole float64 copy of the data, so the features can stay in the
// float32 they were stored in (Dense32) while every product still
// accumulates in float64.
type Matrix interface {
	Dims() (n, d int)
	// Widen writes rows [i0, i1) and columns [j0, j1) into dst as float64,
	// row-major with row stride j1-j0.
	Widen(dst []float64, i0, i1, j0, j1 int)
}

// Dense32 is an n×d row-major float32 matrix: half the memory of a
// *mat.Dense, and exactly the precision featurize stores. It also satisfies
// mat.Matrix, so code written for gonum can read it (slowly, by At).
type Dense32 struct {
	n, d int
	data []float32
}

// NewDense32 wraps data (n*d values, row-major) without copying; nil data
// allocates zeros.
func NewDense32(n, d int, data []float32) *Dense32 {
	if data == nil {
		data = make([]float32, n*d)
	}
	if len(data) != n*d {
		panic(fmt.Sprintf("linear: %d values for a %d×%d matrix", len(data), n, d))
	}
	return &Dense32{n: n, d: d, data: data}
}

func (m *Dense32) Dims() (int, int)        { return m.n, m.d }
func (m *Dense32) At(i, j int) float64     { return float64(m.data[i*m.d+j]) }
func (m *Dense32) T() mat.Matrix           { return mat.Transpose{Matrix: m} }
func (m *Dense32) Row(i int) []float32     { return m.data[i*m.d : (i+1)*m.d] }
func (m *Dense32) Set(i, j int, v float32) { m.data[i*m.d+j] = v }

func (m *Dense32) Widen(dst []float64, i0, i1, j0, j1 int) {
	w := j1 - j0
	for i := i0; i < i1; i++ {
		out := dst[(i-i0)*w : (i-i0+1)*w]
		for j, v := range m.data[i*m.d+j0 : i*m.d+j1] {
			out[j] = float64(v)
		}
	}
}

// AsMatrix adapts a gonum matrix (or returns X itself if it already is a
// Matrix, e.g. a Dense32).
func AsMatrix(X mat.Matrix) Matrix {
	if m, ok := X.(Matrix); ok {
		return m
	}
	a := gonumRows{m: X}
	if rv, ok := X.(mat.RawMatrixer); ok {
		raw := rv.RawMatrix()
		a.raw = &raw
	}
	return a
}

type gonumRows struct {
	m   mat.Matrix
	raw *blas64.General
}

func (a gonumRows) Dims() (int, int) { return a.m.Dims() }

func (a gonumRows) Widen(dst []float64, i0, i1, j0, j1 int) {
	w := j1 - j0
	for i := i0; i < i1; i++ {
		out := dst[(i-i0)*w : (i-i0+1)*w]
		if a.raw != nil {
			copy(out, a.raw.Data[i*a.raw.Stride+j0:i*a.raw.Stride+j1])
			continue
		}
		for j := range out {
			out[j] = a.m.At(i, j0+j)
		}
	}
}

// rowSubset is the rows idx of m, in that order: cross-validation's folds
// without copying them.
type rowSubset struct {
	m   Matrix
	idx []int
}

func (s rowSubset) Dims() (int, int) {
	_, d := s.m.Dims()
	return len(s.idx), d
}

func (s rowSubset) Widen(dst []float64, i0, i1, j0, j1 int) {
	w := j1 - j0
	for r := i0; r < i1; r++ {
		i := s.idx[r]
		s.m.Widen(dst[(r-i0)*w:(r-i0+1)*w], i, i+1, j0, j1)
	}
}

// colSubset is the columns cols of m, in that order (increasing): a path
// fit's screened subproblem, without copying it.
type colSubset struct {
	m    Matrix
	cols []int
}

func (s colSubset) Dims() (int, int) {
	n, _ := s.m.Dims()
	return n, len(s.cols)
}

func (s colSubset) Widen(dst []float64, i0, i1, j0, j1 int) {
	w := j1 - j0
	if w == 0 {
		return
	}
	lo, hi := s.cols[j0], s.cols[j1-1]+1
	row := make([]float64, hi-lo)
	for i := i0; i < i1; i++ {
		s.m.Widen(row, i, i+1, lo, hi)
		out := dst[(i-i0)*w : (i-i0+1)*w]
		for c, j := range s.cols[j0:j1] {
			out[c] = row[j-lo]
		}
	}
}

// Tile sizes. A margins task is tileRows whole rows (1 MB of float64 at
// d = 2,000, so it stays in L2 across the k dot products); a gradient task
// is a chunk of colChunk columns over all rows, walked gradRows at a time.
// Both are multiples of gonum's 64 block and small enough that each GEMM
// call runs serially inside its worker: parallelism comes from the tasks,
// and splitting the gradient by columns (never by rows) keeps every output
// element's sum in row order, so results do not depend on the core count.
const (
	tileRows = 64
	colChunk = 128
	gradRows = 256
)

// tile writes the solver's view of rows [i0, i1) and columns [j0, j1),
// ((x - off) * scale) - mu, into buf and returns it. The arithmetic is the
// same, operation for operation, as normalising a full copy once and then
// centring it. Widening and normalising are one pass for the two storages
// train and the other callers use: even so, making the tiles adds 30-55% to
// the CPU time of the products that read them (BenchmarkProducts).
func (p *problem) tile(buf []float64, i0, i1, j0, j1 int) []float64 {
	w := j1 - j0
	buf = buf[:(i1-i0)*w]
	var off, sc, mu []float64
	if p.off != nil {
		off, sc = p.off[j0:j1], p.scale[j0:j1]
	}
	if p.mu != nil {
		mu = p.mu[j0:j1]
	}
	src, cols := p.x, []int(nil)
	if cs, ok := src.(colSubset); ok {
		src, cols = cs.m, cs.cols[j0:j1]
	}
	if r32, r64 := rawRows(src); r32 != nil || r64 != nil {
		for i := i0; i < i1; i++ {
			out := buf[(i-i0)*w : (i-i0+1)*w]
			switch {
			case cols != nil && r32 != nil:
				gatherRow(r32(i), cols, out, off, sc, mu)
			case cols != nil:
				gatherRow(r64(i), cols, out, off, sc, mu)
			case r32 != nil:
				normRow(r32(i)[j0:j1], out, off, sc, mu)
			default:
				normRow(r64(i)[j0:j1], out, off, sc, mu)
			}
		}
		return buf
	}
	p.x.Widen(buf, i0, i1, j0, j1)
	for r := 0; r < i1-i0; r++ {
		row := buf[r*w : (r+1)*w]
		normRow(row, row, off, sc, mu)
	}
	return buf
}

// view is tile without the copy when there is nothing to normalise and the
// storage is float64 already (Objective's input, or the small-problem copy
// FitMatrix keeps): a strided window on the caller's matrix.
func (p *problem) view(buf []float64, i0, i1, j0, j1 int) ([]float64, int) {
	if x, ok := p.x.(gonumRows); ok && x.raw != nil && p.off == nil && p.mu == nil {
		s := x.raw.Stride
		return x.raw.Data[i0*s+j0 : (i1-1)*s+j1], s
	}
	return p.tile(buf, i0, i1, j0, j1), j1 - j0
}

// rawRows returns a function giving row i of storage the products can read
// in place (float32 or float64, at most one is not nil), looking through
// row subsets; both nil for any other storage.
func rawRows(x Matrix) (r32 func(int) []float32, r64 func(int) []float64) {
	switch x := x.(type) {
	case *Dense32:
		return func(i int) []float32 { return x.data[i*x.d : (i+1)*x.d] }, nil
	case gonumRows:
		if x.raw != nil {
			raw := x.raw
			return nil, func(i int) []float64 { return raw.Data[i*raw.Stride : i*raw.Stride+raw.Cols] }
		}
	case rowSubset:
		a, b := rawRows(x.m)
		switch {
		case a != nil:
			return func(i int) []float32 { return a(x.idx[i]) }, nil
		case b != nil:
			return nil, func(i int) []float64 { return b(x.idx[i]) }
		}
	}
	return nil, nil
}

// gatherRow writes the columns cols of src, normalised as normRow does (off,
// sc and mu are already the subset's), into dst.
func gatherRow[T float32 | float64](src []T, cols []int, dst, off, sc, mu []float64) {
	dst = dst[:len(cols)]
	for c, j := range cols {
		dst[c] = float64(src[j])
	}
	normRow(dst, dst, off, sc, mu)
}

// normRow writes ((src - off) * sc) - mu into dst; nil off (and sc) or mu
// leave that step out.
func normRow[T float32 | float64](src []T, dst, off, sc, mu []float64) {
	dst = dst[:len(src)]
	switch {
	case off == nil && mu == nil:
		for j, v := range src {
			dst[j] = float64(v)
		}
	case mu == nil:
		off, sc = off[:len(src)], sc[:len(src)]
		for j, v := range src {
			dst[j] = (float64(v) - off[j]) * sc[j]
		}
	case off == nil:
		mu = mu[:len(src)]
		for j, v := range src {
			dst[j] = float64(v) - mu[j]
		}
	default:
		off, sc, mu = off[:len(src)], sc[:len(src)], mu[:len(src)]
		for j, v := range src {
			dst[j] = (float64(v)-off[j])*sc[j] - mu[j]
		}
	}
}

// parallel runs tasks 0..tasks-1 on up to GOMAXPROCS workers, each with its
// own tile buffer. It stops handing out tasks once the fit is cancelled; the
// caller then discards the half-computed product.
func (p *problem) parallel(tasks int, do func(task int, buf []float64)) {
	w := min(tasks, runtime.GOMAXPROCS(0))
	for len(p.bufs) < max(w, 1) {
		p.bufs = append(p.bufs, make([]float64, max(tileRows*p.d, gradRows*min(colChunk, p.d))))
	}
	if w <= 1 {
		for t := 0; t < tasks && !p.cancelled(); t++ {
			do(t, p.bufs[0])
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < w; i++ {
		wg.Add(1)
		go func(buf []float64) {
			defer wg.Done()
			for {
				t := int(next.Add(1) - 1)
				if t >= tasks || p.cancelled() {
					return
				}
				do(t, buf)
			}
		}(p.bufs[i])
	}
	wg.Wait()
}

// cancelled is a non-blocking receive: lock-free while the channel is open,
// cheap enough to ask per tile.
func (p *problem) cancelled() bool { return isDone(p.done) }

func isDone(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// margins computes Z = X Wᵀ (n×k) for the k×d weights w.
func (p *problem) margins(w, z []float64) {
	if p.d == 0 {
		clear(z)
		return
	}
	k, d := p.k, p.d
	W := blas64.General{Rows: k, Cols: d, Stride: d, Data: w}
	p.parallel((p.n+tileRows-1)/tileRows, func(t int, buf []float64) {
		i0 := t * tileRows
		i1 := min(i0+tileRows, p.n)
		x, stride := p.view(buf, i0, i1, 0, d)
		blas64.Gemm(blas.NoTrans, blas.Trans, 1,
			blas64.General{Rows: i1 - i0, Cols: d, Stride: stride, Data: x}, W,
			0, blas64.General{Rows: i1 - i0, Cols: k, Stride: k, Data: z[i0*k : i1*k]})
	})
}

// gradientW computes gw = Rᵀ X (k×d) for the n×k residuals r.
func (p *problem) gradientW(r, gw []float64) {
	k, d := p.k, p.d
	if d == 0 {
		return
	}
	p.parallel((d+colChunk-1)/colChunk, func(t int, buf []float64) {
		j0 := t * colChunk
		j1 := min(j0+colChunk, d)
		G := blas64.General{Rows: k, Cols: j1 - j0, Stride: d, Data: gw[j0:]}
		for i0 := 0; i0 < p.n; i0 += gradRows {
			i1 := min(i0+gradRows, p.n)
			x, stride := p.view(buf, i0, i1, j0, j1)
			beta := 1.0
			if i0 == 0 {
				beta = 0
			}
			blas64.Gemm(blas.Trans, blas.NoTrans, 1,
				blas64.General{Rows: i1 - i0, Cols: k, Stride: k, Data: r[i0*k : i1*k]},
				blas64.General{Rows: i1 - i0, Cols: j1 - j0, Stride: stride, Data: x},
				beta, G)
		}
	})
}

// column returns column j of the solver's view of X, in a buffer reused
// across calls.
func (p *problem) column(j int) []float64 {
	if len(p.col) < p.n {
		p.col = make([]float64, p.n)
	}
	col := p.col[:p.n]
	if p.off == nil && p.mu == nil {
		switch x := p.x.(type) {
		case *Dense32:
			for i := range col {
				col[i] = float64(x.data[i*x.d+j])
			}
			return col
		case gonumRows:
			if x.raw != nil {
				for i := range col {
					col[i] = x.raw.Data[i*x.raw.Stride+j]
				}
				return col
			}
		}
	}
	return p.tile(col, 0, p.n, j, j+1)
}
