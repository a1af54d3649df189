package linear

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Normalization kinds.
const (
	NormAuto     = "auto"
	NormStandard = "standard"
	NormNone     = "none"
)

// Normalization maps a raw feature vector x to x' = (x - Offset) * Scale,
// column by column. It is fitted on training rows only and stored in the
// model, because the penalties act on the weights of the normalised
// features: the same raw data under another normalisation is a different
// optimisation problem.
type Normalization struct {
	Kind   string    `json:"kind"`
	Offset []float64 `json:"offset"`
	Scale  []float64 `json:"scale"`
}

// FitNormalization fits a normalisation of the given kind ("" means auto) on
// the rows of X. Observation weights are deliberately ignored: ML.NET's
// normalisers ignore them too, and it keeps the mapping a property of the
// feature matrix alone.
//
//   - auto: each column is divided by its largest absolute value, so zero
//     stays zero and sparsity patterns are kept (ML.NET's min-max
//     normaliser with fixZero). An all-zero column gets scale 1 and stays 0.
//   - standard: (x - mean) / sd with the population sd; a constant column
//     gets scale 0, i.e. it becomes 0 and carries no weight.
//   - none: identity.
func FitNormalization(kind string, X mat.Matrix) (Normalization, error) {
	return fitNormalization(kind, AsMatrix(X), nil)
}

// errStopped is returned by the passes over the data when done is closed;
// FitMatrix turns it into the context's error.
var errStopped = errors.New("linear: stopped")

// fitNormalization streams X a block of rows at a time; every sum runs in
// row order, so the result is the same as a column-by-column pass. It
// returns errStopped once done is closed (a pass over a large matrix takes
// seconds).
func fitNormalization(kind string, X Matrix, done <-chan struct{}) (Normalization, error) {
	if kind == "" {
		kind = NormAuto
	}
	n, d := X.Dims()
	nz := Normalization{Kind: kind, Offset: make([]float64, d), Scale: make([]float64, d)}
	buf := make([]float64, tileRows*d)
	stopped := false
	rows := func(fn func(row []float64)) {
		for i0 := 0; i0 < n && !stopped; i0 += tileRows {
			if stopped = isDone(done); stopped {
				return
			}
			i1 := min(i0+tileRows, n)
			X.Widen(buf, i0, i1, 0, d)
			for r := 0; r < i1-i0; r++ {
				fn(buf[r*d : (r+1)*d])
			}
		}
	}
	switch kind {
	case NormNone:
		for j := range nz.Scale {
			nz.Scale[j] = 1
		}
	case NormAuto:
		m := make([]float64, d)
		rows(func(row []float64) {
			for j, v := range row {
				m[j] = math.Max(m[j], math.Abs(v))
			}
		})
		for j := 0; j < d; j++ {
			if m[j] == 0 || math.IsInf(m[j], 0) || math.IsNaN(m[j]) {
				nz.Scale[j] = 1
			} else {
				nz.Scale[j] = 1 / m[j]
			}
		}
	case NormStandard:
		if n == 0 {
			return nz, fmt.Errorf("linear: standard normalisation needs at least one row")
		}
		mean, ss := nz.Offset, make([]float64, d)
		rows(func(row []float64) { axpy(1, row, mean) })
		for j := range mean {
			mean[j] /= float64(n)
		}
		rows(func(row []float64) {
			for j, v := range row {
				r := v - mean[j]
				ss[j] += r * r
			}
		})
		for j := 0; j < d; j++ {
			sd := math.Sqrt(ss[j] / float64(n))
			// A relative threshold: a column that is constant up to
			// rounding would otherwise be blown up to pure noise.
			if sd > 1e-12*math.Max(1, math.Abs(mean[j])) {
				nz.Scale[j] = 1 / sd
			}
		}
	default:
		return nz, fmt.Errorf("linear: unknown normalisation %q (want auto, standard or none)", kind)
	}
	if stopped {
		return nz, errStopped
	}
	for j := 0; j < d; j++ {
		if math.IsNaN(nz.Offset[j]) || math.IsInf(nz.Offset[j], 0) || math.IsNaN(nz.Scale[j]) || math.IsInf(nz.Scale[j], 0) {
			return nz, fmt.Errorf("linear: column %d has non-finite values", j)
		}
	}
	return nz, nil
}

// Apply writes the normalised x into dst (allocated if nil or short) and
// returns it.
func (nz *Normalization) Apply(x, dst []float64) []float64 {
	if cap(dst) < len(x) {
		dst = make([]float64, len(x))
	}
	dst = dst[:len(x)]
	for j, v := range x {
		dst[j] = (v - nz.Offset[j]) * nz.Scale[j]
	}
	return dst
}

// applyMatrix returns the normalised copy of X as a row-major slice. The
// solver no longer makes one (it normalises tile by tile); the tests use it
// as the straightforward reference.
func (nz *Normalization) applyMatrix(X mat.Matrix) []float64 {
	n, d := X.Dims()
	out := make([]float64, n*d)
	if rv, ok := X.(mat.RawMatrixer); ok {
		raw := rv.RawMatrix()
		for i := 0; i < n; i++ {
			nz.Apply(raw.Data[i*raw.Stride:i*raw.Stride+d], out[i*d:(i+1)*d])
		}
		return out
	}
	for i := 0; i < n; i++ {
		row := out[i*d : (i+1)*d]
		for j := range row {
			row[j] = (X.At(i, j) - nz.Offset[j]) * nz.Scale[j]
		}
	}
	return out
}
