package metrics

import (
	"math"
	"testing"
)

// Six rows, by hand. Confidence (max prob) and whether the prediction is right:
//
//	0.9 right, 0.9 wrong, 0.8 right, 0.7 right, 0.6 wrong, 0.55 right
//
// Cuts: >=0.9 keeps 2 rows, 1 right (0.5); >=0.8: 3 rows, 2 right; >=0.7:
// 4, 3; >=0.6: 5, 3; >=0.55: 6, 4.
func handCase() ([]int, [][]float64) {
	probs := [][]float64{{0.9, 0.1}, {0.1, 0.9}, {0.8, 0.2}, {0.3, 0.7}, {0.6, 0.4}, {0.45, 0.55}}
	y := []int{0, 0, 0, 1, 1, 1}
	return y, probs
}

func TestCoverageByHand(t *testing.T) {
	y, probs := handCase()
	got := Coverage(y, probs)
	want := []CoveragePoint{
		{0.9, 2, 2.0 / 6, 0.5},
		{0.8, 3, 3.0 / 6, 2.0 / 3},
		{0.7, 4, 4.0 / 6, 3.0 / 4},
		{0.6, 5, 5.0 / 6, 3.0 / 5},
		{0.55, 6, 1, 4.0 / 6},
	}
	if len(got) != len(want) {
		t.Fatalf("%d points, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Threshold != w.Threshold || g.N != w.N || math.Abs(g.Coverage-w.Coverage) > 1e-15 || math.Abs(g.Accuracy-w.Accuracy) > 1e-15 {
			t.Errorf("point %d: %+v, want %+v", i, g, w)
		}
	}
	// The largest cut with accuracy >= 0.7 is >= 0.7 (4 rows, 0.75).
	if p, ok := ThresholdFor(got, 0.7); !ok || p.Threshold != 0.7 || p.N != 4 {
		t.Errorf("ThresholdFor(0.7) = %+v %v, want the 0.7 cut", p, ok)
	}
	if _, ok := ThresholdFor(got, 0.8); ok {
		t.Error("ThresholdFor(0.8) found a cut; none reaches 0.8")
	}
	// 50% coverage is 3 rows; 10% is 1 row, which the tie at 0.9 widens to 2.
	at := CoverageAt(got, []float64{0.1, 0.5, 1})
	if at[0].N != 2 || at[1].N != 3 || at[2].N != 6 {
		t.Errorf("CoverageAt = %+v", at)
	}
}

func TestClassThresholdsByHand(t *testing.T) {
	y, probs := handCase()
	// Predicted 0: rows at 0.9 (right), 0.8 (right), 0.6 (wrong).
	// Predicted 1: rows at 0.9 (wrong), 0.7 (right), 0.55 (right).
	got := ClassThresholds(y, probs, []float64{0.9, 0.6})
	if got[0] != 0.8 {
		t.Errorf("class 0 threshold %g, want 0.8 (two right, then a wrong one)", got[0])
	}
	if got[1] != 0.55 {
		t.Errorf("class 1 threshold %g, want 0.55 (2 of 3 right >= 0.6)", got[1])
	}
	if got := ClassThresholds(y, probs, []float64{1, 1}); !math.IsInf(got[1], 1) {
		t.Errorf("unreachable target: %v, want +Inf", got)
	}
}
