package metrics

import (
	"cmp"
	"math"
	"slices"
)

// Point is one point of an ROC curve: predicting "positive" for every score
// >= Threshold gives false-positive rate FPR and true-positive rate TPR.
type Point struct {
	FPR, TPR, Threshold float64
}

// AUC is the area under the ROC curve of scores against the binary labels
// positive: the probability that a random positive scores higher than a
// random negative, ties counting one half (the Mann-Whitney U statistic
// divided by P·N). This is the value pROC and scikit-learn report.
//
// AUC is NaN when there are no positives or no negatives (the question has
// no answer) and when any score is NaN. It runs in O(n log n).
func AUC(scores []float64, positive []bool) float64 {
	cases, nPos, nNeg, ok := sortedByScore(scores, positive)
	if !ok || nPos == 0 || nNeg == 0 {
		return math.NaN()
	}
	// Walk tie groups from the lowest score up. Each positive beats every
	// negative already passed and ties with the negatives of its own group.
	u := 0.0
	negBelow := 0
	forEachTieGroup(cases, func(_ float64, pos, neg int) {
		u += float64(pos)*float64(negBelow) + 0.5*float64(pos)*float64(neg)
		negBelow += neg
	})
	return u / (float64(nPos) * float64(nNeg))
}

// ROC returns the ROC curve of scores against positive: one point per
// distinct score, taken as a threshold from the highest down, preceded by
// (0,0) at threshold +Inf and thus ending at (1,1) at the lowest score. Tied
// scores move the curve diagonally, so the trapezoid area under the points is
// exactly AUC(scores, positive).
//
// ROC returns nil when AUC would be NaN: without positives (or negatives)
// the true- (or false-) positive rate is 0/0.
func ROC(scores []float64, positive []bool) []Point {
	cases, nPos, nNeg, ok := sortedByScore(scores, positive)
	if !ok || nPos == 0 || nNeg == 0 {
		return nil
	}
	// Collect tie groups in ascending order, then emit them descending.
	type group struct {
		score    float64
		pos, neg int
	}
	var groups []group
	forEachTieGroup(cases, func(s float64, pos, neg int) {
		groups = append(groups, group{s, pos, neg})
	})
	pts := make([]Point, 0, len(groups)+1)
	pts = append(pts, Point{0, 0, math.Inf(1)})
	tp, fp := 0, 0
	for i := len(groups) - 1; i >= 0; i-- {
		g := groups[i]
		tp += g.pos
		fp += g.neg
		pts = append(pts, Point{
			FPR:       float64(fp) / float64(nNeg),
			TPR:       float64(tp) / float64(nPos),
			Threshold: g.score,
		})
	}
	return pts
}

// TrapezoidArea is the area under the polyline pts (FPR on x, TPR on y) by
// the trapezoid rule; for the output of ROC it equals the AUC.
func TrapezoidArea(pts []Point) float64 {
	a := 0.0
	for i := 1; i < len(pts); i++ {
		a += (pts[i].FPR - pts[i-1].FPR) * (pts[i].TPR + pts[i-1].TPR) / 2
	}
	return a
}

// scored is one case: its score and whether it is positive. Sorting these
// by value rather than indices by indirection keeps the sort cache-friendly.
type scored struct {
	score    float64
	positive bool
}

// sortedByScore returns the cases in ascending score order and the class
// counts; ok is false if a score is NaN (no order exists).
func sortedByScore(scores []float64, positive []bool) (cases []scored, nPos, nNeg int, ok bool) {
	if len(scores) != len(positive) {
		panic("metrics: scores and labels differ in length")
	}
	cases = make([]scored, len(scores))
	for i, s := range scores {
		if math.IsNaN(s) {
			return nil, 0, 0, false
		}
		cases[i] = scored{s, positive[i]}
		if positive[i] {
			nPos++
		} else {
			nNeg++
		}
	}
	slices.SortFunc(cases, func(a, b scored) int { return cmp.Compare(a.score, b.score) })
	return cases, nPos, nNeg, true
}

// forEachTieGroup calls f once per run of equal scores in the sorted cases,
// with the run's score and its counts of positives and negatives.
func forEachTieGroup(cases []scored, f func(score float64, pos, neg int)) {
	for i := 0; i < len(cases); {
		s := cases[i].score
		pos, neg := 0, 0
		j := i
		for ; j < len(cases) && cases[j].score == s; j++ {
			if cases[j].positive {
				pos++
			} else {
				neg++
			}
		}
		f(s, pos, neg)
		i = j
	}
}
