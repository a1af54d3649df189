package linear

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"time"

	"gonum.org/v1/gonum/mat"
)

// Pair is one point of the penalty grid.
type Pair struct {
	L1 float64 `json:"l1"`
	L2 float64 `json:"l2"`
}

// CVRow is the cross-validated result for one pair.
type CVRow struct {
	Pair
	// LogLoss is the held-out -log p(y|x), pooled over all rows (weighted
	// mean); FoldLogLoss has the per-fold means and SD their spread.
	LogLoss     float64   `json:"log_loss"`
	SD          float64   `json:"sd"`
	FoldLogLoss []float64 `json:"fold_log_loss"`
	// Accuracy is the pooled held-out accuracy (weighted), AccuracySD the
	// spread of the per-fold accuracies.
	Accuracy     float64   `json:"accuracy"`
	AccuracySD   float64   `json:"accuracy_sd"`
	FoldAccuracy []float64 `json:"fold_accuracy"`
	Iterations   int       `json:"iterations"` // summed over folds
	// Features is the number of columns the fits solved for after
	// screening (l1 > 0), and Refits how often a fit had to take back
	// screened-out columns that violated the optimality conditions; both
	// summed over folds.
	Features  int  `json:"features"`
	Refits    int  `json:"refits"`
	Converged bool `json:"converged"` // in every fold
	// Skipped says the pair was not fitted: its l1's held-out loss was
	// already rising, and clearly above the best, at a stronger l2 (see
	// CVPath). Its numbers are then zero.
	Skipped bool `json:"skipped,omitempty"`
	// Seconds is the fits' wall time summed over folds (folds overlap, so
	// it can exceed the elapsed time).
	Seconds float64 `json:"seconds"`
}

// CVResult holds the grid in the caller's order and the chosen pair.
type CVResult struct {
	Best  Pair    `json:"best"`
	Rows  []CVRow `json:"rows"`
	Folds int     `json:"folds"`
	Seed  uint64  `json:"seed"`
	// Tol and KKTTol are the path fits' stopping rules (looser than a final
	// fit's; see CVOptions).
	Tol    float64 `json:"tol"`
	KKTTol float64 `json:"kkt_tol"`
	// Warm is the folds' fits at Best averaged in raw feature space: a
	// start for the final fit on all the rows, much nearer its solution
	// than zero (FitMatrix's warm).
	Warm *Model `json:"-"`
}

// CVOptions are the knobs of CVPath beyond the data.
type CVOptions struct {
	// Progress, if set, is called once per grid point, in path order (the
	// strongest penalty first), as soon as every fold has fitted it: done
	// of total points, and that point's finished row. Calls are serialised.
	Progress func(done, total int, row CVRow)
	// Workers bounds the fits run at once (default GOMAXPROCS).
	Workers int
}

// The path fits stop at a looser tolerance than a final fit (1e-9, 1e-8):
// cross-validation only has to rank penalties, and a held-out log loss does
// not move in its third digit between the two. glmnet's cv.glmnet makes the
// same trade (thresh 1e-7 relative to the null deviance). Against the tight
// full-grid search on 200 and 2,000 x 1,920 Fashion-MNIST features these
// rules moved no pair's held-out loss by more than 0.5% (1e-5 and 1e-3:
// 0.1%, for 1.3x the iterations), and chose the same pair
// (bench/cv-vs-glmnet.sh checks it). A looser KKT tolerance alone used to
// let warm-started fits stop at once and copy their neighbours' rows;
// pathProgress rules that out.
const (
	cvTol    = 1e-4
	cvKKTTol = 1e-2
)

// skipMargin is how far above the best held-out loss so far, in every
// fold, a rising point must be for the rest of its l1 column to be skipped.
const skipMargin = 0.05

// CV picks (l1, l2) from grid by stratified k-fold cross-validated log
// loss; see CVPath.
func CV(X mat.Matrix, y []int, k int, folds int, grid []Pair, seed uint64, p Params) (*CVResult, error) {
	return CVPath(context.Background(), AsMatrix(X), y, k, folds, grid, seed, p, CVOptions{})
}

// CVMatrix is CVPath without progress reports.
func CVMatrix(ctx context.Context, X Matrix, y []int, k int, folds int, grid []Pair, seed uint64, p Params) (*CVResult, error) {
	return CVPath(ctx, X, y, k, folds, grid, seed, p, CVOptions{})
}

// CVPath picks (l1, l2) from grid by stratified k-fold cross-validated log
// loss. Within each fold the grid is walked as a path, in order of total
// penalty, strongest first (as glmnet walks its lambda path): each fit is
// warm-started from the fold's fit with the same l1 and the next stronger
// l2, or, for the strongest l2 of an l1, from the point before it in that
// order; strongly penalised solutions are cheap and are good starts for the
// next. Each warm-started fit with l1 > 0 first screens features with the
// sequential strong rule (Tibshirani et al. 2012; see fitPoint) and fits
// only the kept columns, then checks the discarded ones and refits with any
// that violate the optimality conditions, so the solution is the full
// problem's. The fits whose warm starts are ready run at once, up to
// opt.Workers, earliest in the path first; the folds' paths, and the l1
// columns within a fold once their first points are fitted, are
// independent. Folds are assigned by shuffling each class with a PCG
// generator seeded by seed, so the result depends only on the inputs, never
// on the scheduling. p supplies normalisation, iteration limits and
// weights; its L1/L2 are ignored, and its Tol/KKTTol, when zero, become the
// path's looser cvTol/cvKKTTol. A pair whose l1 is clearly losing at a
// stronger l2 is skipped, and marked so (see skip below); the others are
// all fitted. Ties go to the stronger penalty. It stops
// with ctx's error once ctx is done. The folds are views of X's rows, never
// copies; a fold's normalised copy is kept only within the 16 MiB budget of
// a single fit's (in float32 when only that fits; see keepCopyWithin).
func CVPath(ctx context.Context, X Matrix, y []int, k int, folds int, grid []Pair, seed uint64, p Params, opt CVOptions) (*CVResult, error) {
	n, _ := X.Dims()
	if len(y) != n {
		return nil, fmt.Errorf("linear: %d labels for %d rows", len(y), n)
	}
	if folds < 2 || folds > n {
		return nil, fmt.Errorf("linear: need 2 <= folds <= rows, got %d folds for %d rows", folds, n)
	}
	if len(grid) == 0 {
		return nil, fmt.Errorf("linear: empty penalty grid")
	}
	if p.Weights != nil && len(p.Weights) != n {
		return nil, fmt.Errorf("linear: %d weights for %d rows", len(p.Weights), n)
	}
	for _, g := range grid {
		if err := CheckPenalties(g.L1, g.L2); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if p.Tol <= 0 {
		p.Tol = cvTol
	}
	if p.KKTTol <= 0 {
		p.KKTTol = cvKKTTol
	}
	p = p.withDefaults()
	fold, err := stratify(y, k, folds, seed)
	if err != nil {
		return nil, err
	}
	order := make([]int, len(grid))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		ga, gb := grid[order[a]], grid[order[b]]
		if ga.L1+ga.L2 != gb.L1+gb.L2 {
			return ga.L1+ga.L2 > gb.L1+gb.L2
		}
		return ga.L1 > gb.L1
	})
	pred := pathPredecessors(grid, order)
	succ := make([]int, len(order))
	for _, q := range pred {
		if q >= 0 {
			succ[q]++
		}
	}

	res := &CVResult{Folds: folds, Seed: seed, Rows: make([]CVRow, len(grid)), Tol: p.Tol, KKTTol: p.KKTTol}
	for g := range grid {
		res.Rows[g] = CVRow{Pair: grid[g], FoldLogLoss: make([]float64, folds), FoldAccuracy: make([]float64, folds), Converged: true}
	}
	// Per fold and grid point: the held-out sums, so pooling needs no
	// second pass and does not depend on which fold finished first.
	lossSum := make([][]float64, folds)
	hitSum := make([][]float64, folds)
	wsum := make([]float64, folds)
	for f := range lossSum {
		lossSum[f] = make([]float64, len(grid))
		hitSum[f] = make([]float64, len(grid))
	}
	fs := make([]*cvFold, folds)
	for f := range fs {
		fs[f] = &cvFold{theta: make([][]float64, len(order)), grad: make([][]float64, len(order)), left: append([]int(nil), succ...), sol: make([][]float64, len(grid))}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		wake     = sync.NewCond(&mu)
		finished = make([]int, len(grid))
		started  = make([][]bool, folds)
		done     = make([][]bool, folds)
		running  = 0
		emitted  = 0
		firstErr error
	)
	for f := range started {
		started[f] = make([]bool, len(order))
		done[f] = make([]bool, len(order))
	}
	// report runs under mu: it emits every grid point, in path order, that
	// all folds have fitted.
	report := func() {
		for emitted < len(order) && finished[order[emitted]] == folds {
			g := order[emitted]
			emitted++
			if !res.Rows[g].Skipped {
				finishRow(&res.Rows[g], lossSum, hitSum, wsum, g)
			}
			if opt.Progress != nil {
				opt.Progress(emitted, len(order), res.Rows[g])
			}
		}
	}
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
		cancel()
	}
	// column[at]: the point follows another of its l1 in the path;
	// skippable[at]: so does that one, which is what may make at skippable.
	column := make([]bool, len(order))
	skippable := make([]bool, len(order))
	decided := make([]bool, len(order))
	for at, q := range pred {
		column[at] = q >= 0 && grid[order[q]].L1 == grid[order[at]].L1
		skippable[at] = column[at] && column[q]
	}
	// skip, under mu with every point up to at's column predecessor c in,
	// says whether at is left out: c was skipped, or c's held-out loss rose
	// from the point before it in the column and is, in every fold, more
	// than skipMargin above the fold's loss at the best point up to c.
	// Weaker l2 only moves further from a penalty that has started to
	// overfit, so the rest of the column cannot win.
	skip := func(at int) bool {
		c := pred[at]
		rc := &res.Rows[order[c]]
		if rc.Skipped {
			return true
		}
		cp := pred[c]
		if res.Rows[order[cp]].Skipped || rc.LogLoss <= res.Rows[order[cp]].LogLoss {
			return false
		}
		best := -1
		for q := 0; q <= c; q++ {
			if r := &res.Rows[order[q]]; !r.Skipped && (best < 0 || r.LogLoss < res.Rows[order[best]].LogLoss) {
				best = q
			}
		}
		rb := &res.Rows[order[best]]
		for f := range folds {
			if !(rc.FoldLogLoss[f] > (1+skipMargin)*rb.FoldLogLoss[f]) {
				return false
			}
		}
		return true
	}
	// next, under mu, picks the ready fit earliest in the path (then the
	// lowest fold), waiting while fits that others wait on are running; ok
	// is false once there is nothing left to do.
	next := func() (f, at int, ok bool) {
		for {
			if ctx.Err() != nil {
				return 0, 0, false
			}
			left := false
			for at := range order {
				if skippable[at] && !decided[at] {
					// Whether to fit it at all is decided once every
					// point up to its column predecessor is in, so the
					// decision does not depend on the scheduling.
					if emitted <= pred[at] {
						left = true
						continue
					}
					decided[at] = true
					if skip(at) {
						g := order[at]
						res.Rows[g].Skipped = true
						finished[g] = folds
						for f := range folds {
							started[f][at], done[f][at] = true, true
						}
						report()
						continue
					}
				}
				for f := range folds {
					if started[f][at] {
						continue
					}
					left = true
					if pred[at] < 0 || done[f][pred[at]] {
						return f, at, true
					}
				}
			}
			if !left || running == 0 {
				return 0, 0, false
			}
			wake.Wait()
		}
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				f, at, ok := next()
				if !ok {
					mu.Unlock()
					return
				}
				started[f][at] = true
				running++
				fd := fs[f]
				var warmTheta, warmGrad []float64
				warmL1 := 0.0
				q := pred[at]
				for q >= 0 && res.Rows[order[q]].Skipped {
					q = pred[q]
				}
				if q >= 0 {
					warmTheta, warmGrad, warmL1 = fd.theta[q], fd.grad[q], grid[order[q]].L1
					// (Reached past a skipped point, q keeps its
					// solution: its count of successors is the skipped
					// one's.)
					if q == pred[at] {
						if fd.left[q]--; fd.left[q] == 0 {
							fd.theta[q], fd.grad[q] = nil, nil
						}
					}
				}
				mu.Unlock()

				g := order[at]
				var (
					st       pathFit
					ll, hits float64
					err      error
				)
				fitStart := time.Now()
				if at == 0 {
					err = fd.prepare(ctx, X, y, k, p, fold, f)
				}
				if err == nil {
					st, err = fd.fitPoint(p, grid[g], warmTheta, warmGrad, warmL1)
				}
				if err == nil && ctx.Err() == nil {
					ll, hits, err = fd.pp.model(st.theta).heldOut(fd.xte, fd.yte, fd.wte)
				}
				secs := time.Since(fitStart).Seconds()

				mu.Lock()
				running--
				switch {
				case ctx.Err() != nil:
				case err != nil:
					fail(fmt.Errorf("linear: fold %d, l1=%g l2=%g: %w", f, grid[g].L1, grid[g].L2, err))
				default:
					if fd.left[at] > 0 {
						fd.theta[at], fd.grad[at] = st.theta, st.grad
					}
					fd.sol[g] = append([]float64(nil), st.theta...)
					wsum[f] = fd.ws
					row := &res.Rows[g]
					row.FoldLogLoss[f] = ll / fd.ws
					row.FoldAccuracy[f] = hits / fd.ws
					row.Iterations += st.iters
					row.Features += st.fitted
					row.Refits += st.refits
					row.Converged = row.Converged && st.converged
					row.Seconds += secs
					lossSum[f][g], hitSum[f][g] = ll, hits
					finished[g]++
					done[f][at] = true
					report()
				}
				wake.Broadcast()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		// The caller's context, not our own cancel: no fold failed.
		return nil, err
	}
	best := -1
	for _, g := range order {
		if !res.Rows[g].Skipped && (best < 0 || res.Rows[g].LogLoss < res.Rows[best].LogLoss) {
			best = g
		}
	}
	res.Best = grid[best]
	res.Warm = averageFits(fs, best)
	return res, nil
}

// averageFits is the mean, in raw feature space (raw weights W_kj / s_j,
// intercepts with the offsets folded in), of the folds' fits at grid
// index g, as a Model with the identity normalisation.
func averageFits(fs []*cvFold, g int) *Model {
	var avg *Model
	for _, fd := range fs {
		if fd.sol[g] == nil {
			return nil
		}
		m := fd.pp.model(fd.sol[g])
		if avg == nil {
			d := m.D()
			avg = &Model{W: make([][]float64, m.K()), B: make([]float64, m.K()),
				Norm: Normalization{Kind: "none", Offset: make([]float64, d), Scale: make([]float64, d)}}
			for j := range avg.Norm.Scale {
				avg.Norm.Scale[j] = 1
			}
			for c := range avg.W {
				avg.W[c] = make([]float64, d)
			}
		}
		for c := range m.W {
			b := m.B[c]
			for j, w := range m.W[c] {
				omega := w * m.Norm.Scale[j]
				avg.W[c][j] += omega / float64(len(fs))
				b -= omega * m.Norm.Offset[j]
			}
			avg.B[c] += b / float64(len(fs))
		}
	}
	return avg
}

// pathPredecessors gives, for each position of the path order, the position
// its fit is warm-started from (-1: a cold start): the latest earlier point
// with the same l1, whose solution differs from it in l2 only, else the
// point just before it.
func pathPredecessors(grid []Pair, order []int) []int {
	pred := make([]int, len(order))
	last := map[float64]int{}
	for at, g := range order {
		q, ok := last[grid[g].L1]
		if !ok {
			q = at - 1
		}
		pred[at] = q
		last[grid[g].L1] = at
	}
	return pred
}

// cvFold is one fold's training problem, prepared once for all its path
// fits, its held-out rows, and the solutions its later fits start from.
type cvFold struct {
	pp          *prepared
	scale       float64 // the fold's kktScale, which every fit is judged by
	xte         Matrix
	yte         []int
	wte         []float64
	ws          float64     // the held-out rows' total weight
	theta, grad [][]float64 // by path position, until its successors start
	left        []int       // by path position: successors not yet started
	sol         [][]float64 // by grid index: every fit's solution, for CVResult.Warm
}

func (fd *cvFold) prepare(ctx context.Context, X Matrix, y []int, k int, p Params, fold []int, f int) error {
	var tr, te []int
	for i, fi := range fold {
		if fi == f {
			te = append(te, i)
		} else {
			tr = append(tr, i)
		}
	}
	Xtr, ytr, wtr := subset(X, y, p.Weights, tr)
	fd.xte, fd.yte, fd.wte = subset(X, y, p.Weights, te)
	fd.ws = float64(len(te))
	if fd.wte != nil {
		fd.ws = 0
		for _, w := range fd.wte {
			fd.ws += w
		}
	}
	q := p
	q.Weights = wtr
	pp, err := prepare(ctx, Xtr, ytr, k, q, copyBudget, true)
	if err != nil {
		return err
	}
	fd.pp = pp
	fd.scale = pp.prob.kktScale()
	return ctx.Err()
}

// finishRow pools the folds' held-out sums for grid point g (summed in fold
// order, so the result does not depend on the scheduling) and the spreads.
func finishRow(row *CVRow, lossSum, hitSum [][]float64, wsum []float64, g int) {
	var l, h, w float64
	for f := range lossSum {
		l += lossSum[f][g]
		h += hitSum[f][g]
		w += wsum[f]
	}
	row.LogLoss, row.Accuracy = l/w, h/w
	row.SD, row.AccuracySD = sampleSD(row.FoldLogLoss), sampleSD(row.FoldAccuracy)
}

func sampleSD(v []float64) float64 {
	if len(v) < 2 {
		return 0
	}
	mean := 0.0
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	ss := 0.0
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return math.Sqrt(ss / float64(len(v)-1))
}

// heldOut returns the weighted sums of -log p(y_i | x_i) and of correct
// predictions (argmax, ties to the lower class) over X's rows.
func (m *Model) heldOut(X Matrix, y []int, weights []float64) (loss, hits float64, err error) {
	n, d := X.Dims()
	if d != m.D() {
		return 0, 0, fmt.Errorf("linear: model has %d features, X has %d", m.D(), d)
	}
	prob, err := newProblem(X, y, m.K(), weights, 0, 0)
	if err != nil {
		return 0, 0, err
	}
	prob.off, prob.scale = m.Norm.Offset, m.Norm.Scale
	k := m.K()
	z := make([]float64, n*k)
	prob.margins(m.flatW(), z)
	loss = prob.loss(z, m.B, nil)
	for i := 0; i < n; i++ {
		arg := 0
		for c := 1; c < k; c++ {
			if z[i*k+c]+m.B[c] > z[i*k+arg]+m.B[arg] {
				arg = c
			}
		}
		if arg == y[i] {
			hits += prob.weight(i)
		}
	}
	return loss, hits, nil
}

// stratify assigns each row to a fold so that every class is spread as
// evenly as possible: rows of each class are shuffled, then dealt to folds
// round-robin, continuing the deal across classes so fold sizes stay
// balanced too.
func stratify(y []int, k, folds int, seed uint64) ([]int, error) {
	byClass := make([][]int, k)
	for i, c := range y {
		if c < 0 || c >= k {
			return nil, fmt.Errorf("linear: row %d has class %d outside 0..%d", i, c, k-1)
		}
		byClass[c] = append(byClass[c], i)
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	fold := make([]int, len(y))
	next := 0
	for c, rows := range byClass {
		if len(rows) < 2 {
			return nil, fmt.Errorf("linear: class %d has %d rows; cross-validation needs at least 2 so every training fold has it", c, len(rows))
		}
		rng.Shuffle(len(rows), func(a, b int) { rows[a], rows[b] = rows[b], rows[a] })
		for _, i := range rows {
			fold[i] = next
			next = (next + 1) % folds
		}
	}
	return fold, nil
}

func subset(X Matrix, y []int, w []float64, idx []int) (Matrix, []int, []float64) {
	ys := make([]int, len(idx))
	var ws []float64
	if w != nil {
		ws = make([]float64, len(idx))
	}
	for r, i := range idx {
		ys[r] = y[i]
		if w != nil {
			ws[r] = w[i]
		}
	}
	return rowSubset{m: X, idx: idx}, ys, ws
}
