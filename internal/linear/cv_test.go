package linear

import (
	"context"
	"math"
	"testing"
)

// The path reports every grid point once, strongest penalty first, with the
// row the result ends up holding; folds run in parallel yet the table is the
// one a single worker computes, and the first point of each fold's path (a
// cold start) scores as the same fit made by hand.
func TestCVPathProgressParallelAndScores(t *testing.T) {
	X32, _, y := reluData(41, 240, 30, 3)
	grid := []Pair{{0, 0.1}, {0.1, 1}, {1, 10}, {0, 10}, {0.01, 0.01}}
	var seen []CVRow
	par, err := CVPath(context.Background(), X32, y, 3, 3, grid, 5, Params{}, CVOptions{Workers: 3,
		Progress: func(done, total int, r CVRow) {
			if done != len(seen)+1 || total != len(grid) {
				t.Errorf("progress %d/%d after %d calls", done, total, len(seen))
			}
			seen = append(seen, r)
		}})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(grid) {
		t.Fatalf("%d progress calls for %d grid points", len(seen), len(grid))
	}
	for i := 1; i < len(seen); i++ {
		if seen[i].L1+seen[i].L2 > seen[i-1].L1+seen[i-1].L2 {
			t.Errorf("progress out of path order: %+v after %+v", seen[i].Pair, seen[i-1].Pair)
		}
	}
	one, err := CVPath(context.Background(), X32, y, 3, 3, grid, 5, Params{}, CVOptions{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	for g := range grid {
		a, b := par.Rows[g], one.Rows[g]
		if a.LogLoss != b.LogLoss || a.Accuracy != b.Accuracy || a.Iterations != b.Iterations {
			t.Errorf("pair %+v: parallel %+v, one worker %+v", grid[g], a, b)
		}
		if a.Accuracy < 0.5 || a.Accuracy > 1 || a.AccuracySD < 0 {
			t.Errorf("pair %+v: accuracy %g ± %g on separable blobs", grid[g], a.Accuracy, a.AccuracySD)
		}
		for _, r := range seen {
			if r.Pair == grid[g] && r.LogLoss != a.LogLoss {
				t.Errorf("pair %+v: progress said log loss %g, result %g", grid[g], r.LogLoss, a.LogLoss)
			}
		}
	}

	// Fold 0's first fit, {1, 10}, has no warm start: redo it by hand.
	fold, _ := stratify(y, 3, 3, 5)
	var tr, te []int
	for i, f := range fold {
		if f == 0 {
			te = append(te, i)
		} else {
			tr = append(tr, i)
		}
	}
	Xtr, ytr, _ := subset(X32, y, nil, tr)
	m, err := FitMatrix(context.Background(), Xtr, ytr, 3, Params{L1: 1, L2: 10, Tol: cvTol, KKTTol: cvKKTTol}, nil)
	if err != nil {
		t.Fatal(err)
	}
	loss, hits := 0.0, 0
	row := make([]float64, 30)
	for _, i := range te {
		for j := range row {
			row[j] = X32.At(i, j)
		}
		p := m.Predict(row, nil)
		loss -= math.Log(p[y[i]])
		best := 0
		for c := range p {
			if p[c] > p[best] {
				best = c
			}
		}
		if best == y[i] {
			hits++
		}
	}
	got := par.Rows[2]
	if relDiff(got.FoldLogLoss[0], loss/float64(len(te))) > 1e-9 {
		t.Errorf("fold 0 log loss %g, by hand %g", got.FoldLogLoss[0], loss/float64(len(te)))
	}
	if want := float64(hits) / float64(len(te)); got.FoldAccuracy[0] != want {
		t.Errorf("fold 0 accuracy %g, by hand %g", got.FoldAccuracy[0], want)
	}
}

// CVResult.Warm, the folds' fits at the chosen pair averaged in raw feature
// space, starts the final fit near its solution: the same optimum as a cold
// start, in fewer iterations.
func TestCVWarmStartsTheFinalFit(t *testing.T) {
	X, y := blobs(23, 240, 40, 4, 0.6)
	grid := []Pair{{0, 1}, {0.01, 1}, {0.1, 1}, {0, 0.1}, {0.01, 0.1}, {0.1, 0.1}}
	res, err := CV(X, y, 4, 3, grid, 7, Params{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Warm == nil {
		t.Fatal("no warm start from the CV")
	}
	p := Params{L1: res.Best.L1, L2: res.Best.L2}
	cold := mustFit(t, X, y, 4, p, nil)
	warm := mustFit(t, X, y, 4, p, res.Warm)
	if rel := math.Abs(cold.Summary.Objective-warm.Summary.Objective) / cold.Summary.Objective; rel > 1e-8 {
		t.Errorf("objectives differ: cold %.12g, from the CV %.12g", cold.Summary.Objective, warm.Summary.Objective)
	}
	if warm.Summary.Iterations >= cold.Summary.Iterations {
		t.Errorf("from the CV %d iterations, cold %d", warm.Summary.Iterations, cold.Summary.Iterations)
	}
	t.Logf("final fit at l1=%g l2=%g: %d iterations cold, %d from the CV's average", p.L1, p.L2, cold.Summary.Iterations, warm.Summary.Iterations)
}
