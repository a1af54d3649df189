package linear

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"
)

// reluData is the shape train sees: dense, non-negative, correlated
// columns (ReLU of a random mix of class blobs), held as float32 as the
// feature files store them. The float64 copy holds the same values exactly.
func reluData(seed uint64, n, d, k int) (*Dense32, *mat.Dense, []int) {
	base, y := blobs(seed, n, 24, k, 0.6)
	rng := rand.New(rand.NewPCG(seed, 99))
	mix := mat.NewDense(24, d, nil)
	for i := 0; i < 24; i++ {
		for j := 0; j < d; j++ {
			mix.Set(i, j, rng.NormFloat64())
		}
	}
	var X mat.Dense
	X.Mul(base, mix)
	X32 := NewDense32(n, d, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			v := float32(math.Max(X.At(i, j), 0))
			X32.Set(i, j, v)
			X.Set(i, j, float64(v))
		}
	}
	return X32, &X, y
}

// naiveObjective is the objective written out term by term on a normalised
// float64 copy made by Normalization.Apply, sharing no code with the
// solver's tiled products: the independent yardstick for the comparisons
// below.
func naiveObjective(m *Model, X *mat.Dense, y []int, p Params) float64 {
	n, _ := X.Dims()
	total := 0.0
	for i := 0; i < n; i++ {
		xn := m.Norm.Apply(X.RawRowView(i), nil)
		z := make([]float64, m.K())
		mx := math.Inf(-1)
		for c := range z {
			z[c] = m.B[c]
			for j, v := range xn {
				z[c] += m.W[c][j] * v
			}
			mx = math.Max(mx, z[c])
		}
		s := 0.0
		for _, v := range z {
			s += math.Exp(v - mx)
		}
		w := 1.0
		if p.Weights != nil {
			w = p.Weights[i]
		}
		total += w * (mx + math.Log(s) - z[y[i]])
	}
	for _, row := range m.W {
		for _, v := range row {
			total += p.L2/2*v*v + p.L1*math.Abs(v)
		}
	}
	return total
}

// referenceFit is the float64 path Fit had before it learnt tiles: the
// whole normalised, centred matrix copied into float64 up front and handed
// to the same solver, as one n×d block. The tiled fits must reach the same
// optimum.
func referenceFit(t *testing.T, X *mat.Dense, y []int, k int, p Params) *Model {
	t.Helper()
	p = p.withDefaults()
	n, d := X.Dims()
	nz, err := FitNormalization(p.Norm, X)
	if err != nil {
		t.Fatal(err)
	}
	xn := nz.applyMatrix(X)
	mu := make([]float64, d)
	for i := 0; i < n; i++ {
		axpy(1, xn[i*d:(i+1)*d], mu)
	}
	for j := range mu {
		mu[j] /= float64(n)
	}
	for i := 0; i < n; i++ {
		axpy(-1, mu, xn[i*d:(i+1)*d])
	}
	prob, err := newProblem(AsMatrix(mat.NewDense(n, d, xn)), y, k, p.Weights, p.L1, p.L2)
	if err != nil {
		t.Fatal(err)
	}
	theta := make([]float64, k*d+k)
	copy(theta[k*d:], interceptOnly(prob.classWeights()))
	shiftIntercepts(theta, mu, k, d, +1)
	res := prob.solve(theta, p.MaxIter, p.Tol, p.KKTTol)
	if !res.converged {
		t.Fatalf("reference fit did not converge in %d iterations", res.iters)
	}
	shiftIntercepts(theta, mu, k, d, -1)
	m := &Model{Norm: nz, W: make([][]float64, k), B: theta[k*d:]}
	for c := range m.W {
		m.W[c] = theta[c*d : (c+1)*d]
	}
	return m
}

func relDiff(a, b float64) float64 { return math.Abs(a-b) / math.Max(math.Abs(a), math.Abs(b)) }

// withTiles runs fn with the small-problem copy turned off, so the data this
// small goes through the tiles a large matrix gets, and then with it on.
func withTiles(t *testing.T, fn func(t *testing.T)) {
	defer func(b int) { copyBudget = b }(copyBudget)
	copyBudget = 0
	t.Run("tiles", fn)
	copyBudget = 16 << 20
	t.Run("copy", fn)
}

// The contract of the bounded-memory fit: on float32 storage, normalised
// per tile, the objective is the reference's to 1e-9 relative.
func TestFloat32StorageReachesTheFloat64Optimum(t *testing.T) {
	withTiles(t, testFloat32Optimum)
}

func testFloat32Optimum(t *testing.T) {
	// n is not a multiple of the tile sizes and d not of the column chunk,
	// so partial tiles are exercised.
	X32, X, y := reluData(31, 700, 300, 5)
	rng := rand.New(rand.NewPCG(32, 32))
	wt := make([]float64, 700)
	for i := range wt {
		wt[i] = 0.5 + rng.Float64()
	}
	for _, tc := range []struct {
		name string
		p    Params
	}{
		{"auto", Params{L1: wsL1, L2: wsL2}},
		{"standard+weights", Params{L1: 0.1, L2: 1, Norm: NormStandard, Weights: wt}},
		{"none", Params{L1: 0, L2: 1, Norm: NormNone}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := referenceFit(t, X, y, 5, tc.p)
			m32, err := FitMatrix(context.Background(), X32, y, 5, tc.p, nil)
			if err != nil {
				t.Fatal(err)
			}
			m64 := mustFit(t, X, y, 5, tc.p, nil)
			if !m32.Summary.Converged || !m64.Summary.Converged {
				t.Fatalf("not converged: float32 %+v, float64 %+v", m32.Summary, m64.Summary)
			}
			want := naiveObjective(ref, X, y, tc.p)
			for name, m := range map[string]*Model{"float32": m32, "float64": m64} {
				got := naiveObjective(m, X, y, tc.p)
				if r := relDiff(got, want); r > 1e-9 {
					t.Errorf("%s storage: objective %.15g, reference %.15g (relative %.2g)", name, got, want, r)
				}
				// The reported objective is the one the model has.
				if r := relDiff(m.Summary.Objective, got); r > 1e-11 {
					t.Errorf("%s storage: Summary.Objective %.15g, recomputed %.15g", name, m.Summary.Objective, got)
				}
			}
		})
	}
}

// Splitting the gradient by columns keeps each sum in row order, so the
// fit must be bit-identical whatever the number of workers.
func TestFitDoesNotDependOnCoreCount(t *testing.T) {
	withTiles(t, testCoreCount)
}

func testCoreCount(t *testing.T) {
	X32, _, y := reluData(33, 400, 300, 4)
	fit := func(procs int) *Model {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		m, err := FitMatrix(context.Background(), X32, y, 4, Params{L1: wsL1, L2: wsL2}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := fit(1), fit(5)
	if a.Summary.Iterations != b.Summary.Iterations {
		t.Fatalf("1 worker: %d iterations, 5 workers: %d", a.Summary.Iterations, b.Summary.Iterations)
	}
	for c := range a.W {
		for j := range a.W[c] {
			if a.W[c][j] != b.W[c][j] {
				t.Fatalf("W[%d][%d]: %v with 1 worker, %v with 5", c, j, a.W[c][j], b.W[c][j])
			}
		}
	}
}

func TestDense32AndViews(t *testing.T) {
	X32, X, _ := reluData(34, 9, 7, 3)
	if AsMatrix(X32) != Matrix(X32) {
		t.Error("AsMatrix wrapped a Dense32 instead of using it")
	}
	var viaGonum mat.Dense
	viaGonum.CloneFrom(X32) // through mat.Matrix's At
	if !mat.Equal(&viaGonum, X) {
		t.Error("Dense32 read through mat.Matrix differs from the float64 copy")
	}
	idx := []int{8, 0, 3, 3}
	sub := rowSubset{m: X32, idx: idx}
	if n, d := sub.Dims(); n != 4 || d != 7 {
		t.Fatalf("subset dims %d×%d", n, d)
	}
	got := make([]float64, 3*4)
	sub.Widen(got, 1, 4, 2, 6) // rows 0, 3, 3 of X, columns 2..5
	for r, i := range idx[1:] {
		for j := 2; j < 6; j++ {
			if got[r*4+j-2] != X.At(i, j) {
				t.Fatalf("subset row %d col %d: %v, want %v", r+1, j, got[r*4+j-2], X.At(i, j))
			}
		}
	}
	g := make([]float64, 2*3)
	AsMatrix(X).Widen(g, 4, 6, 1, 4)
	if g[0] != X.At(4, 1) || g[5] != X.At(5, 3) {
		t.Errorf("gonum adapter: %v", g)
	}
}

// CV's folds are views of the caller's rows; on float32 storage the table
// must be the one the float64 copy gives.
func TestCVOnFloat32MatchesFloat64(t *testing.T) {
	X32, X, y := reluData(35, 150, 40, 3)
	grid := []Pair{{0.01, 0.01}, {1, 1}, {10, 10}}
	a, err := CVMatrix(context.Background(), X32, y, 3, 4, grid, 7, Params{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := CV(X, y, 3, 4, grid, 7, Params{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Best != b.Best {
		t.Errorf("best %+v on float32, %+v on float64", a.Best, b.Best)
	}
	for g := range grid {
		if r := relDiff(a.Rows[g].LogLoss, b.Rows[g].LogLoss); r > 1e-9 {
			t.Errorf("pair %+v: log loss %.12g vs %.12g", grid[g], a.Rows[g].LogLoss, b.Rows[g].LogLoss)
		}
	}
}

func TestFitAndCVStopWhenCancelled(t *testing.T) {
	X32, _, y := reluData(36, 300, 60, 3)
	p := tight(wsL1, wsL2) // far more iterations than the cancellation allows

	// Cancelled between iterations: the solver must notice at the next one.
	ctx, cancel := context.WithCancel(context.Background())
	var last atomic.Int64
	trace = func(it int, _, _ float64) {
		last.Store(int64(it))
		if it == 3 {
			cancel()
		}
	}
	defer func() { trace = nil }()
	m, err := FitMatrix(ctx, X32, y, 3, p, nil)
	if !errors.Is(err, context.Canceled) || m != nil {
		t.Fatalf("cancelled fit: model %v, error %v", m != nil, err)
	}
	if it := last.Load(); it != 3 {
		t.Errorf("solver ran to iteration %d after the cancel at 3", it)
	}
	trace = nil

	// Already cancelled: nothing runs.
	if _, err := FitMatrix(ctx, X32, y, 3, p, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("fit with a done context: %v", err)
	}
	if _, err := CVMatrix(ctx, X32, y, 3, 3, DefaultGrid(), 1, p); !errors.Is(err, context.Canceled) {
		t.Errorf("CV with a done context: %v", err)
	}

	// Cancelled in the middle of CV: it returns the context's error, well
	// before the 3 folds x 20 pairs would finish.
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel2)
	start := time.Now()
	_, err = CVMatrix(ctx2, X32, y, 3, 3, DefaultGrid(), 1, p)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("CV cancelled after 50 ms: %v", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("CV took %v to stop", el)
	}
}

// Inside one iteration the products check for cancellation per tile, which
// is what bounds the delay on a matrix where one product takes seconds.
func TestProductsStopPerTile(t *testing.T) {
	X32, _, y := reluData(37, 1000, 50, 3)
	prob, err := newProblem(X32, y, 3, nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	close(stop)
	prob.done = stop
	z := make([]float64, 1000*3)
	for i := range z {
		z[i] = math.NaN()
	}
	w := make([]float64, 3*50)
	for i := range w {
		w[i] = 1
	}
	prob.margins(w, z)
	for i, v := range z {
		if !math.IsNaN(v) {
			t.Fatalf("margin %d computed after the stop", i)
		}
	}
	// The passes before the solver, over the same data, stop too.
	if _, err := fitNormalization(NormStandard, X32, stop); !errors.Is(err, errStopped) {
		t.Errorf("normalisation pass after the stop: %v", err)
	}
	if _, err := prob.columnMeans(); !errors.Is(err, errStopped) {
		t.Errorf("column means after the stop: %v", err)
	}
	prob.done = nil
	if _, err := prob.columnMeans(); err != nil {
		t.Errorf("column means without a stop: %v", err)
	}
	prob.margins(w, z)
	if math.IsNaN(z[0]) || math.IsNaN(z[len(z)-1]) {
		t.Fatal("margins not computed without a stop")
	}
}

// BenchmarkProducts times one X Wᵀ and one Rᵀ X, the solver's per-iteration
// work, from float32 tiles and from the kept float64 copy.
func BenchmarkProducts(b *testing.B) {
	for _, sz := range []struct{ n, d, k int }{{700, 300, 5}, {2000, 1280, 10}} {
		X32, _, y := reluData(40, sz.n, sz.d, sz.k)
		for _, mode := range []string{"tiles", "copy"} {
			b.Run(fmt.Sprintf("%dx%dx%d/%s", sz.n, sz.d, sz.k, mode), func(b *testing.B) {
				prob, err := newProblem(X32, y, sz.k, nil, 0, 0)
				if err != nil {
					b.Fatal(err)
				}
				nz, _ := fitNormalization(NormAuto, X32, nil)
				prob.off, prob.scale = nz.Offset, nz.Scale
				if prob.mu, err = prob.columnMeans(); err != nil {
					b.Fatal(err)
				}
				if mode == "copy" {
					prob.keepCopy()
				}
				w := make([]float64, sz.k*sz.d)
				for i := range w {
					w[i] = 0.01
				}
				z := make([]float64, sz.n*sz.k)
				g := make([]float64, sz.k*sz.d)
				c0 := cpuTime()
				for b.Loop() {
					prob.margins(w, z)
					prob.gradientW(z, g)
				}
				// Wall time means little on a shared machine; CPU time is
				// what the two modes spend.
				b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
