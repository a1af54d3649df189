package linear

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

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
	Iterations  int       `json:"iterations"` // summed over folds
	Converged   bool      `json:"converged"`  // in every fold
}

// CVResult holds the grid in the caller's order and the chosen pair.
type CVResult struct {
	Best  Pair    `json:"best"`
	Rows  []CVRow `json:"rows"`
	Folds int     `json:"folds"`
	Seed  uint64  `json:"seed"`
}

// CV picks (l1, l2) from grid by stratified k-fold cross-validated log
// loss. Within each fold the grid is walked from the strongest total
// penalty to the weakest, each fit warm-started from the previous one (as
// glmnet walks its lambda path): strongly penalised solutions are cheap and
// are good starts for the next. Folds are assigned by shuffling each class
// with a PCG generator seeded by seed, so the result depends only on the
// inputs. p supplies normalisation, iteration limits, tolerances and
// weights; its L1/L2 are ignored. Ties go to the stronger penalty.
func CV(X mat.Matrix, y []int, k int, folds int, grid []Pair, seed uint64, p Params) (*CVResult, error) {
	return CVMatrix(context.Background(), AsMatrix(X), y, k, folds, grid, seed, p)
}

// CVMatrix is CV on any feature storage, stopping with ctx's error once ctx
// is done (checked between fits and inside each one). The folds are views
// of X's rows, never copies, so cross-validation needs no more memory than
// one fit.
func CVMatrix(ctx context.Context, X Matrix, y []int, k int, folds int, grid []Pair, seed uint64, p Params) (*CVResult, error) {
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

	res := &CVResult{Folds: folds, Seed: seed, Rows: make([]CVRow, len(grid))}
	lossSum := make([]float64, len(grid))
	weightSum := 0.0
	for g := range grid {
		res.Rows[g] = CVRow{Pair: grid[g], FoldLogLoss: make([]float64, folds), Converged: true}
	}
	for f := 0; f < folds; f++ {
		var tr, te []int
		for i, fi := range fold {
			if fi == f {
				te = append(te, i)
			} else {
				tr = append(tr, i)
			}
		}
		Xtr, ytr, wtr := subset(X, y, p.Weights, tr)
		Xte, yte, wte := subset(X, y, p.Weights, te)
		wsum := float64(len(te))
		if wte != nil {
			wsum = 0
			for _, w := range wte {
				wsum += w
			}
		}
		weightSum += wsum
		var warm *Model
		for _, g := range order {
			q := p
			q.L1, q.L2, q.Weights = grid[g].L1, grid[g].L2, wtr
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			m, err := FitMatrix(ctx, Xtr, ytr, k, q, warm)
			if err != nil {
				if ctx.Err() != nil {
					return nil, err
				}
				return nil, fmt.Errorf("linear: fold %d, l1=%g l2=%g: %w", f, q.L1, q.L2, err)
			}
			ll, err := m.logLoss(Xte, yte, wte)
			if err != nil {
				return nil, err
			}
			row := &res.Rows[g]
			row.FoldLogLoss[f] = ll
			row.Iterations += m.Summary.Iterations
			row.Converged = row.Converged && m.Summary.Converged
			lossSum[g] += ll * wsum
			warm = m
		}
	}
	best := -1
	for _, g := range order {
		row := &res.Rows[g]
		row.LogLoss = lossSum[g] / weightSum
		mean := 0.0
		for _, v := range row.FoldLogLoss {
			mean += v
		}
		mean /= float64(folds)
		ss := 0.0
		for _, v := range row.FoldLogLoss {
			ss += (v - mean) * (v - mean)
		}
		row.SD = math.Sqrt(ss / float64(folds-1))
		if best < 0 || row.LogLoss < res.Rows[best].LogLoss {
			best = g
		}
	}
	res.Best = grid[best]
	return res, nil
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
