package linear

import (
	"context"
	"math"
	"testing"
)

// screenFold prepares fold 0 of a 3-fold split of a d >> n ReLU problem, as
// CVPath does; copy says whether its normalised copy is kept or it reads
// tiles.
func screenFold(t *testing.T, copy bool) (*cvFold, Params) {
	t.Helper()
	X32, _, y := reluData(61, 150, 120, 3)
	p := Params{Tol: 1e-10, KKTTol: 1e-9}.withDefaults()
	fold, err := stratify(y, 3, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !copy {
		defer func(b int) { copyBudget = b }(copyBudget)
		copyBudget = 0
	}
	fd := &cvFold{}
	if err := fd.prepare(context.Background(), X32, y, 3, p, fold, 0); err != nil {
		t.Fatal(err)
	}
	return fd, p
}

// unscreened fits pair at from the same warm start with every column in
// play: the reference a screened fit must reach.
func unscreened(t *testing.T, fd *cvFold, p Params, at Pair, warm []float64) []float64 {
	t.Helper()
	prob := *fd.pp.prob
	prob.bufs, prob.col = nil, nil
	prob.l1, prob.l2 = at.L1, at.L2
	theta := append([]float64(nil), warm...)
	res := prob.solveTo(theta, p.MaxIter, p.Tol, p.KKTTol*fd.scale, fd.scale)
	if !res.converged {
		t.Fatalf("unscreened fit of %+v did not converge", at)
	}
	return theta
}

func objectiveAt(fd *cvFold, at Pair, theta []float64) float64 {
	prob := *fd.pp.prob
	prob.bufs, prob.col = nil, nil
	prob.l1, prob.l2 = at.L1, at.L2
	return prob.objective(theta)
}

// Along an l1 column of the path the strong rule leaves most features out
// of the fit, yet the result is the unscreened fit's: same objective to the
// tolerance, same zero pattern, weights to 1e-5 of the largest. On tiles and
// on the kept copy.
func TestScreenedFitMatchesUnscreened(t *testing.T) {
	for _, copy := range []bool{true, false} {
		fd, p := screenFold(t, copy)
		first, err := fd.fitPoint(p, Pair{L1: 3, L2: 10}, nil, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		at := Pair{L1: 3, L2: 0.1}
		got, err := fd.fitPoint(p, at, first.theta, first.grad, 3)
		if err != nil {
			t.Fatal(err)
		}
		d := fd.pp.prob.d
		if !got.converged || got.fitted >= d/2 {
			t.Fatalf("copy=%v: converged %v with %d of %d columns fitted; the test needs screening to drop most", copy, got.converged, got.fitted, d)
		}
		want := unscreened(t, fd, p, at, first.theta)
		fg, fw := objectiveAt(fd, at, got.theta), objectiveAt(fd, at, want)
		if relDiff(fg, fw) > 1e-8 {
			t.Errorf("copy=%v: objective screened %.12g, unscreened %.12g", copy, fg, fw)
		}
		big := 0.0
		for _, v := range want[:3*d] {
			big = math.Max(big, math.Abs(v))
		}
		for j, v := range want[:3*d] {
			if (v == 0) != (got.theta[j] == 0) && math.Abs(v-got.theta[j]) > 1e-6*big {
				t.Errorf("copy=%v: weight %d: screened %g, unscreened %g", copy, j, got.theta[j], v)
			} else if math.Abs(v-got.theta[j]) > 1e-5*big {
				t.Errorf("copy=%v: weight %d: screened %g, unscreened %g", copy, j, got.theta[j], v)
			}
		}
	}
}

// When the strong rule is wrong (here: told that a feature the solution
// needs has no gradient), the KKT check over the discarded columns finds
// the violation and the fit takes the feature back, so the result is still
// the unscreened one.
func TestScreeningTakesBackAViolator(t *testing.T) {
	fd, p := screenFold(t, true)
	// Up the l2 column: more features enter than leave.
	first, err := fd.fitPoint(p, Pair{L1: 3, L2: 0.1}, nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	at := Pair{L1: 3, L2: 10}
	want := unscreened(t, fd, p, at, first.theta)
	d := fd.pp.prob.d
	// A feature that is zero at the warm start but active in the answer.
	victim := -1
	for j := 0; j < d && victim < 0; j++ {
		for c := 0; c < 3; c++ {
			if first.theta[c*d+j] == 0 && want[c*d+j] != 0 {
				zero := true
				for c2 := 0; c2 < 3; c2++ {
					zero = zero && first.theta[c2*d+j] == 0
				}
				if zero {
					victim = j
				}
				break
			}
		}
	}
	if victim < 0 {
		t.Fatal("no feature enters between the two fits; the test needs one")
	}
	lie := append([]float64(nil), first.grad...)
	for c := 0; c < 3; c++ {
		lie[c*d+victim] = 0
	}
	got, err := fd.fitPoint(p, at, first.theta, lie, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got.refits == 0 {
		t.Fatalf("feature %d was screened out but no refit happened", victim)
	}
	nonzero := false
	for c := 0; c < 3; c++ {
		nonzero = nonzero || got.theta[c*d+victim] != 0
	}
	if !nonzero || !got.converged {
		t.Errorf("feature %d: weights %v after %d refits (converged %v)", victim, []float64{got.theta[victim], got.theta[d+victim], got.theta[2*d+victim]}, got.refits, got.converged)
	}
	if fg, fw := objectiveAt(fd, at, got.theta), objectiveAt(fd, at, want); relDiff(fg, fw) > 1e-8 {
		t.Errorf("objective after the refit %.12g, unscreened %.12g", fg, fw)
	}
}

// A warm start that already meets the path's tolerance still gets fitted:
// every path fit shrinks the subgradient it starts from tenfold, so no
// table row is a copy of its neighbour's.
func TestPathFitNeverStopsAtItsWarmStart(t *testing.T) {
	fd, p := screenFold(t, true)
	p.KKTTol = 0.5 // loose enough that the warm start below meets it
	prev, err := fd.fitPoint(p, Pair{L1: 0.01, L2: 1}, nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fd.fitPoint(p, Pair{L1: 0, L2: 1}, prev.theta, prev.grad, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	if got.iters == 0 {
		t.Fatal("the l1 = 0 fit stopped at its warm start")
	}
	same := true
	for j := range got.theta {
		same = same && got.theta[j] == prev.theta[j]
	}
	if same {
		t.Error("the l1 = 0 fit returned its warm start")
	}
}

// A column subset reads, normalises and centres exactly the columns it
// names, through every storage the products read.
func TestColumnSubsetTiles(t *testing.T) {
	X32, X, y := reluData(62, 40, 30, 3)
	cols := []int{0, 3, 4, 17, 29}
	for name, x := range map[string]Matrix{"float32": X32, "float64": AsMatrix(X), "rows": rowSubset{m: X32, idx: []int{5, 1, 30, 2}}} {
		n, d := x.Dims()
		prob, err := newProblem(x, y[:n], 3, nil, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		prob.off, prob.scale, prob.mu = make([]float64, d), make([]float64, d), make([]float64, d)
		for j := 0; j < d; j++ {
			prob.off[j], prob.scale[j], prob.mu[j] = 0.5, 1/float64(j+1), float64(j)/10
		}
		full := prob.tile(make([]float64, n*d), 0, n, 0, d)
		for _, materialise := range []bool{false, true} {
			sub := prob.columns(cols, materialise)
			got := sub.tile(make([]float64, n*len(cols)), 0, n, 0, len(cols))
			for i := 0; i < n; i++ {
				for c, j := range cols {
					if got[i*len(cols)+c] != full[i*d+j] {
						t.Fatalf("%s materialise=%v: (%d, %d) is %g, want %g", name, materialise, i, j, got[i*len(cols)+c], full[i*d+j])
					}
				}
			}
			for c, j := range cols {
				col := sub.column(c)
				for i := 0; i < n; i++ {
					if col[i] != full[i*d+j] {
						t.Fatalf("%s materialise=%v: column %d row %d is %g, want %g", name, materialise, j, i, col[i], full[i*d+j])
					}
				}
			}
		}
	}
}

// Along an l1 column whose held-out loss has started to rise, clearly above
// the best, the weaker l2s are skipped and marked so: never chosen, reported
// in order, zero in the table, and the same whatever the worker count.
func TestCVSkipsAColumnThatIsLosing(t *testing.T) {
	// Weak signal, few rows: without shrinkage the fit overfits the noise.
	k := 3
	X, y := weakSignal(23, 60, 40, k, 1)
	var grid []Pair
	for _, l2 := range []float64{1000, 30, 1, 0.03, 0.001, 3e-5} {
		grid = append(grid, Pair{L1: 0, L2: l2}, Pair{L1: 0.3, L2: l2})
	}
	var seen []CVRow
	res, err := CVPath(context.Background(), AsMatrix(X), y, k, 3, grid, 3, Params{}, CVOptions{Workers: 3, Progress: func(done, total int, r CVRow) {
		seen = append(seen, r)
	}})
	if err != nil {
		t.Fatal(err)
	}
	one, err := CVPath(context.Background(), AsMatrix(X), y, k, 3, grid, 3, Params{}, CVOptions{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(grid) {
		t.Fatalf("%d progress calls for %d points", len(seen), len(grid))
	}
	skipped, best := 0, math.Inf(1)
	for g, r := range res.Rows {
		if r.Skipped != one.Rows[g].Skipped || r.LogLoss != one.Rows[g].LogLoss {
			t.Errorf("%+v: 3 workers %+v, 1 worker %+v", r.Pair, r, one.Rows[g])
		}
		if r.Skipped {
			skipped++
			if r.LogLoss != 0 || r.Iterations != 0 {
				t.Errorf("skipped %+v has numbers: %+v", r.Pair, r)
			}
			// The point before it in its column was fitted and worse than
			// the one before that, or was skipped itself.
			var prev []CVRow
			for _, q := range res.Rows {
				if q.L1 == r.L1 && q.L2 > r.L2 {
					prev = append(prev, q)
				}
			}
			if len(prev) < 2 {
				t.Errorf("skipped %+v with %d stronger points in its column", r.Pair, len(prev))
				continue
			}
			a, b := prev[len(prev)-2], prev[len(prev)-1]
			if !b.Skipped && !(b.LogLoss > a.LogLoss) {
				t.Errorf("skipped %+v after %+v (loss %g) fell from %+v (%g)", r.Pair, b.Pair, b.LogLoss, a.Pair, a.LogLoss)
			}
			continue
		}
		best = math.Min(best, r.LogLoss)
	}
	if skipped == 0 {
		t.Fatalf("nothing skipped; the test needs an overfitting column. Table: %+v", res.Rows)
	}
	for _, r := range res.Rows {
		if r.Pair == res.Best && (r.Skipped || r.LogLoss != best) {
			t.Errorf("best %+v: %+v, smallest fitted loss %g", res.Best, r, best)
		}
	}
}
