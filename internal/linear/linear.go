// Package linear fits elastic-net multinomial logistic regression, the
// model winnow trains on image features. It minimises, over W (k×d) and
// unpenalised intercepts b (k),
//
//	sum_i wt_i * -log softmax(W x_i + b)_{y_i} + l2/2 ||W||_F² + l1 ||W||_1
//
// with the full k-class parametrisation (as ML.NET's multiclass logistic
// regression). The loss is a sum over rows, not a mean, so the same l1, l2
// regularise less as the training set grows.
//
// Features arrive as any Matrix: winnow's train keeps them in the float32
// they are stored in (Dense32), other callers pass gonum float64 matrices.
// Above 16 MiB (copyBudget) nothing makes a normalised float64 copy: the
// products widen, normalise and centre a tile of rows or columns at a time,
// so a fit needs the features once plus O(n·k + k·d) working memory. Every
// sum is float64: the convergence tolerances (relative objective change
// 1e-9) are below float32 resolution. Cross-validation's path fits, which
// stop at 1e-4, keep a fold's normalised copy in float32 when only that is
// within the 16 MiB (keepCopyWithin).
package linear

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/mat"
)

// Params controls one fit.
type Params struct {
	L1, L2 float64
	// Norm is the normalisation kind fitted on the training rows: "auto"
	// (default), "standard" or "none".
	Norm string
	// MaxIter bounds solver iterations (default 5000).
	MaxIter int
	// Tol is the relative objective change below which the solver may stop
	// (default 1e-9); KKTTol bounds the max-norm of the minimum-norm
	// subgradient relative to the smallest l1 that zeroes all weights
	// (default 1e-8: on the benchmark data 1e-6 left the objective 3e-9 to
	// 2e-8 above the optimum, 1e-8 reaches glmnet's best at 1.3-1.6x the
	// iterations). Both must hold.
	Tol, KKTTol float64
	// Weights are optional per-row observation weights (nil: all 1).
	Weights []float64
}

func (p Params) withDefaults() Params {
	if p.Norm == "" {
		p.Norm = NormAuto
	}
	if p.MaxIter <= 0 {
		p.MaxIter = 5000
	}
	if p.Tol <= 0 {
		p.Tol = 1e-9
	}
	if p.KKTTol <= 0 {
		p.KKTTol = 1e-8
	}
	return p
}

// Summary describes how a fit went.
type Summary struct {
	Iterations int     `json:"iterations"`
	Objective  float64 `json:"objective"`
	Seconds    float64 `json:"seconds"`
	Converged  bool    `json:"converged"`
	// KKT is the max-norm of the minimum-norm subgradient at the solution,
	// divided by the scale it was judged against.
	KKT float64 `json:"kkt"`
	N   int     `json:"n"`
	D   int     `json:"d"`
}

// Model is a fitted classifier. W and B act on normalised features;
// Predict applies Norm first. Classes is not set by Fit (it only sees class
// indices); callers that know the names fill it in before saving.
type Model struct {
	Classes []string      `json:"classes,omitempty"`
	Norm    Normalization `json:"normalization"`
	W       [][]float64   `json:"w"` // k×d
	B       []float64     `json:"b"` // k, centred to mean 0
	L1      float64       `json:"l1"`
	L2      float64       `json:"l2"`
	Summary Summary       `json:"summary"`
}

// K returns the number of classes, D the number of raw features.
func (m *Model) K() int { return len(m.B) }
func (m *Model) D() int { return len(m.Norm.Scale) }

// Fit trains on X (n×d raw features) with labels y in 0..k-1. Every class
// must have positive total weight: with a class absent the objective has no
// minimum (its intercept would run to -inf). If warm is not nil the solver
// starts from it; its weights are carried over through raw feature space,
// so a warm model fitted under a different normalisation (e.g. on fewer
// rows) is still a good start.
func Fit(X mat.Matrix, y []int, k int, p Params, warm *Model) (*Model, error) {
	return FitMatrix(context.Background(), AsMatrix(X), y, k, p, warm)
}

// FitMatrix is Fit on any feature storage (a Dense32 keeps train's features
// in float32) that stops, returning ctx's error, once ctx is done: it checks
// every solver iteration and every tile of the products, so even an
// iteration over gigabytes of features is cut short.
func FitMatrix(ctx context.Context, X Matrix, y []int, k int, p Params, warm *Model) (*Model, error) {
	start := time.Now()
	p = p.withDefaults()
	pp, err := prepare(ctx, X, y, k, p, copyBudget, false)
	if err != nil {
		return nil, err
	}
	prob, d := pp.prob, pp.prob.d
	theta := make([]float64, k*d+k)
	if warm != nil {
		if warm.K() != k || warm.D() != d {
			return nil, fmt.Errorf("linear: warm start has %d classes × %d features, data has %d × %d", warm.K(), warm.D(), k, d)
		}
		transfer(warm, &pp.nz, theta)
	} else {
		copy(theta[k*d:], interceptOnly(pp.cw))
	}
	shiftIntercepts(theta, pp.mu, k, d, +1)
	res := prob.solve(theta, p.MaxIter, p.Tol, p.KKTTol)
	// Report the objective freshly computed, not the solver's running
	// value (same value as Objective up to rounding: the change of
	// variables is exact).
	obj := prob.objective(theta)
	// A cancelled product left garbage behind: never return it as a model.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := pp.model(theta)
	m.L1, m.L2 = p.L1, p.L2
	m.Summary = Summary{
		Iterations: res.iters,
		Objective:  obj,
		Seconds:    time.Since(start).Seconds(),
		Converged:  res.converged,
		KKT:        res.kkt / res.kktScale,
		N:          prob.n,
		D:          d,
	}
	return m, nil
}

// prepared is a data set made ready for the solver once, for one fit or for
// a path of them (cross-validation's fold): the normalisation fitted on its
// rows, the columns centred, and the normalised, centred float64 copy kept
// when it is at most budget bytes (for a path, its float32 rounding when only
// that fits; see keepCopyWithin). prob carries p's penalties; a path fit
// works on a copy of the struct with its own.
type prepared struct {
	prob *problem
	nz   Normalization
	mu   []float64
	cw   []float64
}

func prepare(ctx context.Context, X Matrix, y []int, k int, p Params, budget int, path bool) (*prepared, error) {
	n, _ := X.Dims()
	if n == 0 {
		return nil, fmt.Errorf("linear: no training rows")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prob, err := newProblem(X, y, k, p.Weights, p.L1, p.L2)
	if err != nil {
		return nil, err
	}
	prob.done = ctx.Done()
	nz, err := fitNormalization(p.Norm, X, prob.done)
	if errors.Is(err, errStopped) {
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	prob.off, prob.scale = nz.Offset, nz.Scale
	// The solver works on column-centred features with shifted intercepts
	// b' = b + W mu. This is an exact change of variables (the penalties
	// only see W), but it removes the dominant eigenvalue of XᵀX that
	// non-negative features (ReLU embeddings, pixel-like data) have along
	// their mean, which otherwise makes the problem badly conditioned.
	mu, err := prob.columnMeans()
	if errors.Is(err, errStopped) {
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	cw := prob.classWeights()
	for c, w := range cw {
		if !(w > 0) {
			return nil, fmt.Errorf("linear: class %d has no training rows (or zero total weight)", c)
		}
	}
	prob.mu = mu
	prob.keepCopyWithin(budget, path)
	return &prepared{prob: prob, nz: nz, mu: mu, cw: cw}, nil
}

// model turns the solver's theta (centred space) into a Model on raw
// features; theta is not modified.
func (pp *prepared) model(theta []float64) *Model {
	k, d := pp.prob.k, pp.prob.d
	m := &Model{Norm: pp.nz, L1: pp.prob.l1, L2: pp.prob.l2, W: make([][]float64, k), B: make([]float64, k)}
	for c := range m.W {
		m.W[c] = append([]float64(nil), theta[c*d:(c+1)*d]...)
	}
	copy(m.B, theta[k*d:])
	for c := range m.B {
		m.B[c] -= dot(m.W[c], pp.mu)
	}
	mean := 0.0
	for _, v := range m.B {
		mean += v
	}
	mean /= float64(k)
	for c := range m.B {
		m.B[c] -= mean
	}
	return m
}

// objective evaluates the full objective at theta with a fresh product.
func (p *problem) objective(theta []float64) float64 {
	kd := p.k * p.d
	z := make([]float64, p.n*p.k)
	p.margins(theta[:kd], z)
	sq, abs := p.penalty(theta[:kd])
	return p.loss(z, theta[kd:], nil) + sq + abs
}

// copyBudget is the size up to which a fit keeps the normalised, centred
// features as one float64 copy instead of making tiles in every product.
// Making a tile costs about as much as the product that reads it when k is
// small (30-40% of a 500×256, 5-class fit), and the fits simulate and select
// make on a few hundred labelled rows would pay that hundreds of times;
// 16 MiB is nothing next to the runtime, while the matrices the bounded
// memory is for are far above it. A variable so the tests can turn it off.
var copyBudget = 16 << 20

// keepCopy replaces the problem's storage by its normalised, centred float64
// copy, which the products then read in place.
func (p *problem) keepCopy() {
	n, d := p.n, p.d
	xs := make([]float64, n*d)
	for i0 := 0; i0 < n; i0 += tileRows {
		i1 := min(i0+tileRows, n)
		p.tile(xs[i0*d:], i0, i1, 0, d)
	}
	p.x = AsMatrix(mat.NewDense(n, d, xs))
	p.off, p.scale, p.mu = nil, nil, nil
	p.copied = true
}

// keepCopyWithin keeps the normalised, centred copy when its float64 form is
// at most budget bytes. With path (cross-validation's fits, which stop at
// 1e-5, not 1e-9) it otherwise keeps the copy rounded to float32 when that
// fits: the products then only widen each tile instead of gathering,
// normalising and centring it, while the data moves by float32 rounding
// (6e-8 relative), far below what the path's tolerances resolve. The
// held-out rows are always scored on the caller's features.
func (p *problem) keepCopyWithin(budget int, path bool) {
	n, d := p.n, p.d
	switch {
	case d == 0:
	case 8*n*d <= budget:
		p.keepCopy()
	case path && 4*n*d <= budget:
		xs := make([]float32, n*d)
		buf := make([]float64, tileRows*d)
		for i0 := 0; i0 < n; i0 += tileRows {
			i1 := min(i0+tileRows, n)
			x := p.tile(buf, i0, i1, 0, d)
			for i, v := range x[:(i1-i0)*d] {
				xs[i0*d+i] = float32(v)
			}
		}
		p.x = NewDense32(n, d, xs)
		p.off, p.scale, p.mu = nil, nil, nil
		p.copied = true
	}
}

// columnMeans returns the means of the normalised columns, in one pass that
// also refuses non-finite values (a finite raw value can still normalise to
// an infinite one, e.g. 1e308 under standard scaling).
func (p *problem) columnMeans() ([]float64, error) {
	n, d := p.n, p.d
	mu := make([]float64, d)
	buf := make([]float64, tileRows*d)
	for i0 := 0; i0 < n; i0 += tileRows {
		if p.cancelled() {
			return nil, errStopped
		}
		i1 := min(i0+tileRows, n)
		x := p.tile(buf, i0, i1, 0, d)
		for r := 0; r < i1-i0; r++ {
			row := x[r*d : (r+1)*d]
			for j, v := range row {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return nil, fmt.Errorf("linear: non-finite feature in row %d column %d", i0+r, j)
				}
			}
			axpy(1, row, mu)
		}
	}
	for j := range mu {
		mu[j] /= float64(n)
	}
	return mu, nil
}

// shiftIntercepts adds sign * W mu to the intercepts in theta.
func shiftIntercepts(theta, mu []float64, k, d int, sign float64) {
	for c := 0; c < k; c++ {
		theta[k*d+c] += sign * dot(theta[c*d:(c+1)*d], mu)
	}
}

// transfer maps a model's weights into the normalised space of nz via raw
// feature space: raw weights ω_kj = W_kj s_j and raw intercepts
// b_k - Σ_j ω_kj o_j, then back with the new offsets and scales. Columns
// that the new normalisation zeroes get weight 0.
func transfer(warm *Model, nz *Normalization, theta []float64) {
	k, d := warm.K(), warm.D()
	for c := 0; c < k; c++ {
		b := warm.B[c]
		for j := 0; j < d; j++ {
			omega := warm.W[c][j] * warm.Norm.Scale[j]
			b += omega * (nz.Offset[j] - warm.Norm.Offset[j])
			if nz.Scale[j] != 0 {
				theta[c*d+j] = omega / nz.Scale[j]
			}
		}
		theta[k*d+c] = b
	}
}

// Predict writes the class probabilities for one raw feature vector into
// dst (allocated if short) and returns it.
func (m *Model) Predict(x []float64, dst []float64) []float64 {
	k := m.K()
	if cap(dst) < k {
		dst = make([]float64, k)
	}
	dst = dst[:k]
	xn := m.Norm.Apply(x, nil)
	for c := range dst {
		dst[c] = m.B[c] + dot(m.W[c], xn)
	}
	softmax(dst)
	return dst
}

// LogLoss returns the weighted mean of -log p(y_i | x_i) over the rows of
// X (raw features); weights may be nil.
func (m *Model) LogLoss(X mat.Matrix, y []int, weights []float64) (float64, error) {
	return m.logLoss(AsMatrix(X), y, weights)
}

func (m *Model) logLoss(X Matrix, y []int, weights []float64) (float64, error) {
	n, d := X.Dims()
	if d != m.D() {
		return 0, fmt.Errorf("linear: model has %d features, X has %d", m.D(), d)
	}
	prob, err := newProblem(X, y, m.K(), weights, 0, 0)
	if err != nil {
		return 0, err
	}
	prob.off, prob.scale = m.Norm.Offset, m.Norm.Scale
	z := make([]float64, n*m.K())
	prob.margins(m.flatW(), z)
	total := 0.0
	for i := 0; i < n; i++ {
		total += prob.weight(i)
	}
	if total == 0 {
		return 0, fmt.Errorf("linear: no weight to average over")
	}
	return prob.loss(z, m.B, nil) / total, nil
}

func (m *Model) flatW() []float64 {
	w := make([]float64, 0, m.K()*m.D())
	for _, row := range m.W {
		w = append(w, row...)
	}
	return w
}

// softmax replaces z by softmax(z), shifting by the max so no exp
// overflows.
func softmax(z []float64) {
	mx := math.Inf(-1)
	for _, v := range z {
		mx = math.Max(mx, v)
	}
	s := 0.0
	for c, v := range z {
		z[c] = math.Exp(v - mx)
		s += z[c]
	}
	for c := range z {
		z[c] /= s
	}
}
