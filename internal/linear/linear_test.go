package linear

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// The workshop's penalties.
const wsL1, wsL2 = 0.01, 0.01

// tight asks for more than the defaults so comparisons at 1e-7 are fair.
func tight(l1, l2 float64) Params {
	return Params{L1: l1, L2: l2, Tol: 1e-13, KKTTol: 1e-9, MaxIter: 20000}
}

// blobs draws n rows of d features in k classes: class means at random
// directions scaled by sep, plus unit noise. Labels cycle so every class is
// present.
func blobs(seed uint64, n, d, k int, sep float64) (*mat.Dense, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	means := make([][]float64, k)
	for c := range means {
		means[c] = make([]float64, d)
		for j := range means[c] {
			means[c][j] = sep * rng.NormFloat64()
		}
	}
	X := mat.NewDense(n, d, nil)
	y := make([]int, n)
	for i := 0; i < n; i++ {
		y[i] = i % k
		for j := 0; j < d; j++ {
			X.Set(i, j, means[y[i]][j]+rng.NormFloat64())
		}
	}
	return X, y
}

func mustFit(t *testing.T, X mat.Matrix, y []int, k int, p Params, warm *Model) *Model {
	t.Helper()
	m, err := Fit(X, y, k, p, warm)
	if err != nil {
		t.Fatal(err)
	}
	for c := range m.W {
		for j, v := range m.W[c] {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("W[%d][%d] = %g", c, j, v)
			}
		}
		if math.IsNaN(m.B[c]) || math.IsInf(m.B[c], 0) {
			t.Fatalf("B[%d] = %g", c, m.B[c])
		}
	}
	return m
}

// normalised returns the model's view of X, the space W acts on.
func normalised(m *Model, X mat.Matrix) *mat.Dense {
	n, d := X.Dims()
	return mat.NewDense(n, d, m.Norm.applyMatrix(X))
}

// smoothGradient is the gradient of loss + l2/2||W||² at the model, on the
// normalised features, computed without the solver's centring.
func smoothGradient(t *testing.T, m *Model, X mat.Matrix, y []int, p Params) (gw [][]float64, gb []float64) {
	t.Helper()
	n, d := X.Dims()
	k := m.K()
	prob, err := newProblem(AsMatrix(normalised(m, X)), y, k, p.Weights, p.L1, p.L2)
	if err != nil {
		t.Fatal(err)
	}
	theta := append(m.flatW(), m.B...)
	z := make([]float64, n*k)
	r := make([]float64, n*k)
	g := make([]float64, len(theta))
	prob.margins(theta[:k*d], z)
	prob.loss(z, theta[k*d:], r)
	prob.gradient(theta, r, g)
	gw = make([][]float64, k)
	for c := range gw {
		gw[c] = g[c*d : (c+1)*d]
	}
	return gw, g[k*d:]
}

// kktViolation is the max-norm of the minimum-norm subgradient.
func kktViolation(t *testing.T, m *Model, X mat.Matrix, y []int, p Params) float64 {
	gw, gb := smoothGradient(t, m, X, y, p)
	worst := 0.0
	for c := range gw {
		for j, g := range gw[c] {
			w := m.W[c][j]
			var v float64
			if w != 0 {
				v = math.Abs(g + p.L1*math.Copysign(1, w))
			} else {
				v = math.Max(0, math.Abs(g)-p.L1)
			}
			worst = math.Max(worst, v)
		}
	}
	for _, g := range gb {
		worst = math.Max(worst, math.Abs(g))
	}
	return worst
}

func TestGradientMatchesFiniteDifferences(t *testing.T) {
	X, y := blobs(1, 25, 6, 4, 1)
	n, d := X.Dims()
	k := 4
	rng := rand.New(rand.NewPCG(2, 2))
	wt := make([]float64, n)
	for i := range wt {
		wt[i] = 0.5 + rng.Float64()
	}
	nz, _ := FitNormalization(NormAuto, X)
	prob, err := newProblem(AsMatrix(mat.NewDense(n, d, nz.applyMatrix(X))), y, k, wt, 0, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	theta := make([]float64, k*d+k)
	for i := range theta {
		theta[i] = rng.NormFloat64()
	}
	f := func(th []float64) float64 {
		z := make([]float64, n*k)
		prob.margins(th[:k*d], z)
		sq, _ := prob.penalty(th[:k*d])
		return prob.loss(z, th[k*d:], nil) + sq
	}
	z := make([]float64, n*k)
	r := make([]float64, n*k)
	g := make([]float64, len(theta))
	prob.margins(theta[:k*d], z)
	prob.loss(z, theta[k*d:], r)
	prob.gradient(theta, r, g)
	const h = 1e-5
	for i := range theta {
		save := theta[i]
		theta[i] = save + h
		fp := f(theta)
		theta[i] = save - h
		fm := f(theta)
		theta[i] = save
		fd := (fp - fm) / (2 * h)
		if math.Abs(fd-g[i]) > 1e-6*math.Max(1, math.Abs(fd)) {
			t.Errorf("coordinate %d: analytic %.10g, finite difference %.10g", i, g[i], fd)
		}
	}
}

func TestSolutionSatisfiesKKT(t *testing.T) {
	X, y := blobs(3, 80, 10, 3, 0.4)
	// l1 strong enough that some weights are exactly zero and some are not,
	// so both branches of the optimality conditions are exercised.
	for _, pen := range []Pair{{wsL1, wsL2}, {3, wsL2}, {0, wsL2}, {3, 0}} {
		p := tight(pen.L1, pen.L2)
		m := mustFit(t, X, y, 3, p, nil)
		if !m.Summary.Converged {
			t.Errorf("%+v: not converged: %+v", pen, m.Summary)
		}
		if v := kktViolation(t, m, X, y, p); v > 1e-6 {
			t.Errorf("%+v: KKT violation %.3g", pen, v)
		}
		if pen.L1 == 3 {
			zeros := 0
			for _, row := range m.W {
				for _, v := range row {
					if v == 0 {
						zeros++
					}
				}
			}
			if zeros == 0 || zeros == 30 {
				t.Errorf("%+v: %d of 30 weights are zero; the test wants a mix", pen, zeros)
			}
		}
	}
}

func TestSeparableDataStaysFinite(t *testing.T) {
	X, y := blobs(4, 40, 5, 3, 20) // far-apart blobs: linearly separable
	for _, pen := range []Pair{{0, wsL2}, {wsL1, 0}, {wsL1, wsL2}} {
		p := Params{L1: pen.L1, L2: pen.L2}
		m := mustFit(t, X, y, 3, p, nil)
		if !m.Summary.Converged {
			t.Errorf("%+v: not converged: %+v", pen, m.Summary)
		}
		norm := 0.0
		for _, row := range m.W {
			for _, v := range row {
				norm += math.Abs(v)
			}
		}
		// The objective at W=0 bounds the penalty at the optimum.
		bound := 40 * math.Log(3) / math.Max(pen.L1, 1e-300)
		if pen.L1 == 0 {
			bound = math.Sqrt(2*40*math.Log(3)/pen.L2) * math.Sqrt(15)
		}
		if norm == 0 || norm > bound {
			t.Errorf("%+v: ||W||_1 = %g, want in (0, %g]", pen, norm, bound)
		}
		if v := kktViolation(t, m, X, y, p); v > 1e-4 {
			t.Errorf("%+v: KKT violation %.3g", pen, v)
		}
	}
}

func TestWorkshopShapeDMuchLargerThanN(t *testing.T) {
	X, y := blobs(5, 18, 512, 3, 0.3)
	p := Params{L1: wsL1, L2: wsL2}
	m := mustFit(t, X, y, 3, p, nil)
	if !m.Summary.Converged {
		t.Fatalf("not converged: %+v", m.Summary)
	}
	if v := kktViolation(t, m, X, y, p); v > 1e-4 {
		t.Errorf("KKT violation %.3g", v)
	}
	// With d >> n the training rows must be fitted nearly perfectly.
	probs := m.PredictBatch(X, nil)
	for i := range y {
		if probs.At(i, y[i]) < 0.5 {
			t.Errorf("row %d: p(true class) = %.3f", i, probs.At(i, y[i]))
		}
	}
}

func TestCollinearAndZeroColumns(t *testing.T) {
	base, y := blobs(6, 60, 3, 3, 1)
	X := mat.NewDense(60, 5, nil)
	for i := 0; i < 60; i++ {
		X.Set(i, 0, base.At(i, 0))
		X.Set(i, 1, base.At(i, 1))
		X.Set(i, 2, base.At(i, 1)) // duplicate of column 1
		X.Set(i, 3, 0)             // all zero
		X.Set(i, 4, base.At(i, 2))
	}
	for _, pen := range []Pair{{wsL1, wsL2}, {0, wsL2}} {
		for _, kind := range []string{NormAuto, NormStandard, NormNone} {
			p := tight(pen.L1, pen.L2)
			p.Norm = kind
			m := mustFit(t, X, y, 3, p, nil)
			if !m.Summary.Converged {
				t.Errorf("%+v %s: not converged: %+v", pen, kind, m.Summary)
			}
			for c := range m.W {
				if m.W[c][3] != 0 {
					t.Errorf("%+v %s: zero column has weight %g", pen, kind, m.W[c][3])
				}
				// l2 > 0 makes the optimum unique, and it is symmetric in
				// the duplicated columns.
				if d := math.Abs(m.W[c][1] - m.W[c][2]); d > 1e-6*math.Max(1, math.Abs(m.W[c][1])) {
					t.Errorf("%+v %s: duplicate columns got %g and %g", pen, kind, m.W[c][1], m.W[c][2])
				}
			}
		}
	}
}

func TestRowOrderAndClassLabelsDoNotMatter(t *testing.T) {
	X, y := blobs(7, 45, 6, 3, 0.8)
	p := tight(wsL1, wsL2)
	ref := mustFit(t, X, y, 3, p, nil)

	n, d := X.Dims()
	perm := rand.New(rand.NewPCG(8, 8)).Perm(n)
	Xp := mat.NewDense(n, d, nil)
	yp := make([]int, n)
	relabel := []int{2, 0, 1} // class c becomes relabel[c]
	yr := make([]int, n)
	for i, pi := range perm {
		Xp.SetRow(i, mat.Row(nil, pi, X))
		yp[i] = y[pi]
	}
	for i, c := range y {
		yr[i] = relabel[c]
	}
	mp := mustFit(t, Xp, yp, 3, p, nil)
	mr := mustFit(t, X, yr, 3, p, nil)
	for c := 0; c < 3; c++ {
		for j := 0; j < d; j++ {
			if diff := math.Abs(mp.W[c][j] - ref.W[c][j]); diff > 1e-8*math.Max(1, math.Abs(ref.W[c][j])) {
				t.Errorf("row permutation: W[%d][%d] %g vs %g", c, j, mp.W[c][j], ref.W[c][j])
			}
			if diff := math.Abs(mr.W[relabel[c]][j] - ref.W[c][j]); diff > 1e-8*math.Max(1, math.Abs(ref.W[c][j])) {
				t.Errorf("relabelling: W[%d][%d] %g vs %g", relabel[c], j, mr.W[relabel[c]][j], ref.W[c][j])
			}
		}
		if diff := math.Abs(mr.B[relabel[c]] - ref.B[c]); diff > 1e-8 {
			t.Errorf("relabelling: B %g vs %g", mr.B[relabel[c]], ref.B[c])
		}
	}
}

// With W = 0 the loss is sum_i -log softmax(b)_{y_i}; setting its gradient
// n_k - N softmax(b)_k to zero gives softmax(b) = class frequencies, i.e.
// b_k = log n_k + const. W = 0 stays optimal while every subgradient
// condition |∂loss/∂w_kj| = |sum_i x_ij (pi_k - [y_i=k])| <= l1 holds, so
// the smallest l1 with an all-zero W is lmax = max_kj of that quantity.
func TestLargeL1GivesInterceptOnlyModel(t *testing.T) {
	X, y := blobs(9, 50, 7, 4, 0.7)
	for i := 0; i < 12; i++ { // unbalance the classes
		y[i] = 0
	}
	n, d := X.Dims()
	nz, _ := FitNormalization(NormAuto, X)
	xn := mat.NewDense(n, d, nz.applyMatrix(X))
	count := make([]float64, 4)
	for _, c := range y {
		count[c]++
	}
	lmax := 0.0
	for c := 0; c < 4; c++ {
		for j := 0; j < d; j++ {
			s := 0.0
			for i := 0; i < n; i++ {
				ind := 0.0
				if y[i] == c {
					ind = 1
				}
				s += xn.At(i, j) * (count[c]/float64(n) - ind)
			}
			lmax = math.Max(lmax, math.Abs(s))
		}
	}
	m := mustFit(t, X, y, 4, Params{L1: 1.01 * lmax, L2: wsL2}, nil)
	for c := range m.W {
		for j, v := range m.W[c] {
			if v != 0 {
				t.Errorf("l1 > lmax: W[%d][%d] = %g, want exactly 0", c, j, v)
			}
		}
	}
	mean := 0.0
	for _, v := range count {
		mean += math.Log(v)
	}
	mean /= 4
	for c := range m.B {
		if want := math.Log(count[c]) - mean; math.Abs(m.B[c]-want) > 1e-9 {
			t.Errorf("B[%d] = %.12g, want log n_k - mean = %.12g", c, m.B[c], want)
		}
	}
	m = mustFit(t, X, y, 4, Params{L1: 0.9 * lmax, L2: wsL2}, nil)
	nonzero := 0
	for c := range m.W {
		for _, v := range m.W[c] {
			if v != 0 {
				nonzero++
			}
		}
	}
	if nonzero == 0 {
		t.Errorf("l1 = 0.9 lmax: all weights zero; lmax is not the threshold")
	}
}

// newtonSolve minimises the l2-only objective by Newton's method on the
// full Hessian, with b_0 pinned to 0 (the objective is invariant to a common
// shift of b, so that removes the only flat direction).
func newtonSolve(xn *mat.Dense, y []int, k int, l2 float64) ([][]float64, []float64) {
	n, d := xn.Dims()
	dim := k*(d+1) - 1 // W (k×d), then b_1..b_{k-1}
	theta := make([]float64, dim)
	unpack := func(th []float64) ([][]float64, []float64) {
		W := make([][]float64, k)
		for c := range W {
			W[c] = th[c*d : (c+1)*d]
		}
		b := append([]float64{0}, th[k*d:]...)
		return W, b
	}
	// feature index f in 0..d: d is the intercept.
	idx := func(c, f int) int {
		if f < d {
			return c*d + f
		}
		if c == 0 {
			return -1
		}
		return k*d + c - 1
	}
	for iter := 0; iter < 100; iter++ {
		W, b := unpack(theta)
		g := make([]float64, dim)
		H := mat.NewSymDense(dim, nil)
		xi := make([]float64, d+1)
		for i := 0; i < n; i++ {
			copy(xi, xn.RawRowView(i))
			xi[d] = 1
			p := make([]float64, k)
			for c := 0; c < k; c++ {
				p[c] = b[c]
				for j := 0; j < d; j++ {
					p[c] += W[c][j] * xi[j]
				}
			}
			softmax(p)
			for c := 0; c < k; c++ {
				rc := p[c]
				if y[i] == c {
					rc--
				}
				for f := 0; f <= d; f++ {
					if a := idx(c, f); a >= 0 {
						g[a] += rc * xi[f]
					}
				}
				for e := 0; e < k; e++ {
					h := -p[c] * p[e]
					if c == e {
						h += p[c]
					}
					for f := 0; f <= d; f++ {
						a := idx(c, f)
						if a < 0 {
							continue
						}
						for f2 := 0; f2 <= d; f2++ {
							if a2 := idx(e, f2); a2 >= a {
								H.SetSym(a, a2, H.At(a, a2)+h*xi[f]*xi[f2])
							}
						}
					}
				}
			}
		}
		for a := 0; a < k*d; a++ {
			g[a] += l2 * theta[a]
			H.SetSym(a, a, H.At(a, a)+l2)
		}
		var ch mat.Cholesky
		if !ch.Factorize(H) {
			panic("Hessian not positive definite")
		}
		step := mat.NewVecDense(dim, nil)
		if err := ch.SolveVecTo(step, mat.NewVecDense(dim, g)); err != nil {
			panic(err)
		}
		for a := range theta {
			theta[a] -= step.AtVec(a)
		}
		if mat.Norm(step, math.Inf(1)) < 1e-14 {
			break
		}
	}
	W, b := unpack(theta)
	mean := 0.0
	for _, v := range b {
		mean += v
	}
	for c := range b {
		b[c] -= mean / float64(k)
	}
	return W, b
}

func TestMatchesDirectNewtonSolve(t *testing.T) {
	X, y := blobs(10, 30, 4, 3, 1)
	p := tight(0, wsL2)
	m := mustFit(t, X, y, 3, p, nil)
	W, b := newtonSolve(normalised(m, X), y, 3, wsL2)
	for c := range W {
		for j := range W[c] {
			if diff := math.Abs(W[c][j] - m.W[c][j]); diff > 1e-6*math.Max(1, math.Abs(W[c][j])) {
				t.Errorf("W[%d][%d]: Fit %.10g, Newton %.10g", c, j, m.W[c][j], W[c][j])
			}
		}
		if diff := math.Abs(b[c] - m.B[c]); diff > 1e-6*math.Max(1, math.Abs(b[c])) {
			t.Errorf("B[%d]: Fit %.10g, Newton %.10g", c, m.B[c], b[c])
		}
	}
}

func TestWarmStart(t *testing.T) {
	X, y := blobs(11, 120, 20, 4, 0.5)
	first := mustFit(t, X, y, 4, Params{L1: 0.5, L2: wsL2}, nil)
	cold := mustFit(t, X, y, 4, Params{L1: 0.4, L2: wsL2}, nil)
	warm := mustFit(t, X, y, 4, Params{L1: 0.4, L2: wsL2}, first)
	if !cold.Summary.Converged || !warm.Summary.Converged {
		t.Fatalf("cold %+v warm %+v", cold.Summary, warm.Summary)
	}
	if rel := math.Abs(cold.Summary.Objective-warm.Summary.Objective) / cold.Summary.Objective; rel > 1e-8 {
		t.Errorf("objectives differ: cold %.12g warm %.12g", cold.Summary.Objective, warm.Summary.Objective)
	}
	if warm.Summary.Iterations >= cold.Summary.Iterations {
		t.Errorf("warm start took %d iterations, cold %d", warm.Summary.Iterations, cold.Summary.Iterations)
	}
	// Restarting at the optimum of the same problem should need (almost)
	// nothing, even across normalisations: the warm model is carried over
	// through raw feature space.
	again := mustFit(t, X, y, 4, Params{L1: 0.4, L2: wsL2, Norm: NormAuto}, cold)
	if again.Summary.Iterations > 3 {
		t.Errorf("restart at optimum took %d iterations", again.Summary.Iterations)
	}
	std := mustFit(t, X, y, 4, Params{L1: 0.4, L2: wsL2, Norm: NormStandard}, nil)
	fromStd := mustFit(t, X, y, 4, Params{L1: 0.4, L2: wsL2, Norm: NormAuto}, std)
	if rel := math.Abs(fromStd.Summary.Objective-cold.Summary.Objective) / cold.Summary.Objective; rel > 1e-8 {
		t.Errorf("warm start from another normalisation: %.12g vs %.12g", fromStd.Summary.Objective, cold.Summary.Objective)
	}
}

func TestDeterministic(t *testing.T) {
	X, y := blobs(12, 300, 80, 5, 0.3) // big enough for GEMM to go parallel
	a := mustFit(t, X, y, 5, Params{L1: wsL1, L2: wsL2}, nil)
	for r := 0; r < 2; r++ {
		b := mustFit(t, X, y, 5, Params{L1: wsL1, L2: wsL2}, nil)
		for c := range a.W {
			for j := range a.W[c] {
				if a.W[c][j] != b.W[c][j] {
					t.Fatalf("run %d: W[%d][%d] %v vs %v", r, c, j, a.W[c][j], b.W[c][j])
				}
			}
			if a.B[c] != b.B[c] {
				t.Fatalf("run %d: B[%d] differs", r, c)
			}
		}
	}
}

func TestBinaryAndErrors(t *testing.T) {
	X, y := blobs(13, 40, 5, 2, 1)
	m := mustFit(t, X, y, 2, Params{L1: wsL1, L2: wsL2}, nil)
	if !m.Summary.Converged || m.K() != 2 {
		t.Errorf("binary fit: %+v", m.Summary)
	}
	y3 := append([]int(nil), y...)
	if _, err := Fit(X, y3, 3, Params{}, nil); err == nil {
		t.Error("class 2 absent from training: want an error")
	}
	y3[0] = 5
	if _, err := Fit(X, y3, 3, Params{}, nil); err == nil {
		t.Error("label out of range: want an error")
	}
	if _, err := Fit(X, y, 2, Params{L1: -1}, nil); err == nil {
		t.Error("negative penalty: want an error")
	}
	w := make([]float64, 40)
	for i := range w {
		if y[i] == 0 {
			w[i] = 1
		}
	}
	if _, err := Fit(X, y, 2, Params{Weights: w}, nil); err == nil {
		t.Error("class with zero total weight: want an error")
	}
}

func TestWeightsActLikeRepeatedRows(t *testing.T) {
	X, y := blobs(14, 30, 4, 3, 1)
	n, d := X.Dims()
	w := make([]float64, n)
	Xr := mat.NewDense(n+10, d, nil)
	yr := make([]int, 0, n+10)
	for i := 0; i < n; i++ {
		w[i] = 1
		Xr.SetRow(i, mat.Row(nil, i, X))
		yr = append(yr, y[i])
	}
	for i := 0; i < 10; i++ { // rows 0..9 twice
		w[i] = 2
		Xr.SetRow(n+i, mat.Row(nil, i, X))
		yr = append(yr, y[i])
	}
	p := tight(wsL1, wsL2)
	p.Norm = NormNone // keep the normalisation out of it
	a := mustFit(t, Xr, yr, 3, p, nil)
	p.Weights = w
	b := mustFit(t, X, y, 3, p, nil)
	if rel := math.Abs(a.Summary.Objective-b.Summary.Objective) / a.Summary.Objective; rel > 1e-9 {
		t.Errorf("repeated rows %.12g vs weights %.12g", a.Summary.Objective, b.Summary.Objective)
	}
}

func TestNormalization(t *testing.T) {
	X := mat.NewDense(4, 3, []float64{
		1, 0, -4,
		-2, 0, 2,
		3, 0, 2,
		0, 0, 2,
	})
	auto, err := FitNormalization("", X)
	if err != nil {
		t.Fatal(err)
	}
	if auto.Kind != NormAuto || auto.Scale[0] != 1.0/3 || auto.Scale[1] != 1 || auto.Scale[2] != 0.25 || auto.Offset[0] != 0 {
		t.Errorf("auto: %+v", auto)
	}
	if got := auto.Apply([]float64{-3, 0, 0}, nil); got[0] != -1 || got[1] != 0 || got[2] != 0 {
		t.Errorf("auto keeps zero at zero and scales by max |x|: %v", got)
	}
	std, _ := FitNormalization(NormStandard, X)
	xs := std.applyMatrix(X)
	for j := 0; j < 3; j++ {
		mean, ss := 0.0, 0.0
		for i := 0; i < 4; i++ {
			mean += xs[i*3+j]
		}
		for i := 0; i < 4; i++ {
			ss += xs[i*3+j] * xs[i*3+j]
		}
		wantSS := 4.0
		if j == 1 {
			wantSS = 0 // constant column becomes 0
		}
		if math.Abs(mean) > 1e-12 || math.Abs(ss-wantSS) > 1e-12 {
			t.Errorf("standard column %d: mean %g, sum of squares %g", j, mean, ss)
		}
	}
	if _, err := FitNormalization("minmax", X); err == nil {
		t.Error("unknown kind: want an error")
	}
}

func TestPredictAndObjectiveAgree(t *testing.T) {
	X, y := blobs(15, 50, 6, 3, 1)
	p := Params{L1: wsL1, L2: wsL2, Norm: NormStandard}
	m := mustFit(t, X, y, 3, p, nil)
	batch := m.PredictBatch(X, nil)
	loss := 0.0
	for i := 0; i < 50; i++ {
		one := m.Predict(mat.Row(nil, i, X), nil)
		sum := 0.0
		for c, v := range one {
			sum += v
			if math.Abs(v-batch.At(i, c)) > 1e-12 {
				t.Fatalf("row %d: Predict %v, PredictBatch %v", i, one, mat.Row(nil, i, batch))
			}
		}
		if math.Abs(sum-1) > 1e-12 {
			t.Fatalf("row %d: probabilities sum to %v", i, sum)
		}
		loss -= math.Log(one[y[i]])
	}
	obj, err := Objective(normalised(m, X), y, m.W, m.B, p)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(obj-m.Summary.Objective) > 1e-10*obj {
		t.Errorf("Objective %.14g, Summary %.14g", obj, m.Summary.Objective)
	}
	l1, l2 := 0.0, 0.0
	for _, row := range m.W {
		for _, v := range row {
			l1 += math.Abs(v)
			l2 += v * v
		}
	}
	if want := loss + wsL1*l1 + wsL2/2*l2; math.Abs(obj-want) > 1e-10*want {
		t.Errorf("Objective %.14g, by hand from Predict %.14g", obj, want)
	}
	ll, _ := m.LogLoss(X, y, nil)
	if math.Abs(ll-loss/50) > 1e-12 {
		t.Errorf("LogLoss %g, by hand %g", ll, loss/50)
	}
	// Extreme margins must not overflow.
	big := m.Predict([]float64{1e300, -1e300, 1e300, 0, 0, 0}, nil)
	for _, v := range big {
		if math.IsNaN(v) {
			t.Fatalf("extreme input gave %v", big)
		}
	}
}

func TestModelJSONRoundTrip(t *testing.T) {
	X, y := blobs(16, 30, 4, 3, 1)
	m := mustFit(t, X, y, 3, Params{L1: wsL1, L2: wsL2}, nil)
	m.Classes = []string{"a", "b", "c"}
	buf, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back Model
	if err := json.Unmarshal(buf, &back); err != nil {
		t.Fatal(err)
	}
	x := mat.Row(nil, 3, X)
	p1, p2 := m.Predict(x, nil), back.Predict(x, nil)
	for c := range p1 {
		if p1[c] != p2[c] {
			t.Fatalf("after JSON round trip: %v vs %v", p1, p2)
		}
	}
	if back.Classes[2] != "c" || back.Summary.Iterations != m.Summary.Iterations {
		t.Errorf("fields lost: %+v", back)
	}
}

// weakSignal draws n rows of d standard normal features in k cycling
// classes, feature j shifted by shift in the rows of class j: a signal in k
// of the d features, the rest noise a weak penalty overfits.
func weakSignal(seed uint64, n, d, k int, shift float64) (*mat.Dense, []int) {
	rng := rand.New(rand.NewPCG(seed, seed))
	X := mat.NewDense(n, d, nil)
	y := make([]int, n)
	for i := 0; i < n; i++ {
		y[i] = i % k
		for j := 0; j < d; j++ {
			v := rng.NormFloat64()
			if j == y[i] {
				v += shift
			}
			X.Set(i, j, v)
		}
	}
	return X, y
}

func TestCrossValidation(t *testing.T) {
	// Weak signal in 3 of 30 features: an unpenalised fit overfits the
	// noise, a huge penalty predicts only class frequencies.
	n, d, k := 120, 30, 3
	X, y := weakSignal(17, n, d, k, 1.2)
	grid := []Pair{{1e-4, 1e-4}, {0.3, 0.3}, {3, 3}, {1e4, 1e4}}
	res, err := CV(X, y, k, 5, grid, 42, Params{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != len(grid) {
		t.Fatalf("%d rows for %d pairs", len(res.Rows), len(grid))
	}
	for g, row := range res.Rows {
		if row.Pair != grid[g] || len(row.FoldLogLoss) != 5 || !(row.LogLoss > 0) {
			t.Errorf("row %d: %+v", g, row)
		}
	}
	// The all-zero model's log loss is the class-frequency entropy.
	if ll := res.Rows[3].LogLoss; math.Abs(ll-math.Log(3)) > 0.02 {
		t.Errorf("huge penalty: log loss %g, want about log 3 = %g", ll, math.Log(3))
	}
	if res.Best == grid[0] || res.Best == grid[3] {
		t.Errorf("picked %+v; want a moderate penalty. Table: %+v", res.Best, res.Rows)
	}
	best := math.Inf(1)
	for _, row := range res.Rows {
		best = math.Min(best, row.LogLoss)
	}
	for _, row := range res.Rows {
		if row.Pair == res.Best && row.LogLoss != best {
			t.Errorf("best pair does not have the smallest log loss")
		}
	}
	again, err := CV(X, y, k, 5, grid, 42, Params{})
	if err != nil {
		t.Fatal(err)
	}
	for g := range res.Rows {
		if res.Rows[g].LogLoss != again.Rows[g].LogLoss {
			t.Errorf("same seed, different result for pair %d", g)
		}
	}
	other, _ := CV(X, y, k, 5, grid, 43, Params{})
	if other.Rows[1].LogLoss == res.Rows[1].LogLoss {
		t.Errorf("different seed gave identical folds")
	}
}

func TestStratifiedFolds(t *testing.T) {
	y := make([]int, 103)
	for i := range y {
		y[i] = i % 4
		if i > 90 {
			y[i] = 3
		}
	}
	fold, err := stratify(y, 4, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	perClass := make([][]int, 4)
	for c := range perClass {
		perClass[c] = make([]int, 5)
	}
	sizes := make([]int, 5)
	for i, f := range fold {
		perClass[y[i]][f]++
		sizes[f]++
	}
	for c, counts := range perClass {
		lo, hi := counts[0], counts[0]
		for _, v := range counts {
			lo, hi = min(lo, v), max(hi, v)
		}
		if hi-lo > 1 {
			t.Errorf("class %d spread over folds as %v", c, counts)
		}
	}
	lo, hi := sizes[0], sizes[0]
	for _, v := range sizes {
		lo, hi = min(lo, v), max(hi, v)
	}
	if hi-lo > 1 {
		t.Errorf("fold sizes %v", sizes)
	}
	if _, err := stratify([]int{0, 0, 1}, 2, 2, 1); err == nil {
		t.Error("a class with one row: want an error")
	}
}

// BenchmarkFit times a fit at the workshop penalties on dense, correlated,
// non-negative features (ReLU of a random mix), the shape embeddings have.
func BenchmarkFit(b *testing.B) {
	for _, sz := range []struct{ n, d, k int }{{18, 512, 3}, {500, 256, 5}} {
		base, y := blobs(20, sz.n, 32, sz.k, 0.5)
		rng := rand.New(rand.NewPCG(21, 21))
		mix := mat.NewDense(32, sz.d, nil)
		for i := 0; i < 32; i++ {
			for j := 0; j < sz.d; j++ {
				mix.Set(i, j, rng.NormFloat64())
			}
		}
		var X mat.Dense
		X.Mul(base, mix)
		X.Apply(func(_, _ int, v float64) float64 { return math.Max(v, 0) }, &X)
		b.Run(fmt.Sprintf("%dx%dx%d", sz.n, sz.d, sz.k), func(b *testing.B) {
			var m *Model
			for b.Loop() {
				var err error
				if m, err = Fit(&X, y, sz.k, Params{L1: wsL1, L2: wsL2}, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(m.Summary.Iterations), "iters")
		})
	}
}
