// Package metrics scores probabilistic classifiers: accuracy, log loss,
// one-vs-rest ROC curves and AUC, the confusion matrix with per-class
// precision, recall and F1, and the per-case uncertainty measures (entropy,
// maximum probability) that active learning ranks by.
//
// It is the only place in winnow where these are computed: the evaluate
// command, the simulate report and the HTML pages all call it, so a number
// printed in one place always agrees with the same number elsewhere.
//
// Inputs follow one convention throughout: K class names, true labels y in
// 0..K-1, and an N x K matrix probs whose rows are probability vectors. The
// functions panic on inputs of inconsistent shape (a programming error in
// the caller); Check returns the same problems as an error for callers that
// build their inputs from user data.
package metrics

import (
	"fmt"
	"math"
)

// LogLossEps is the lower clip applied to probabilities in LogLoss, so that
// one confident mistake costs -ln(1e-15) ≈ 34.5 instead of +Inf.
const LogLossEps = 1e-15

// Check reports whether classes, y and probs are consistent: class names
// unique, len(y) == len(probs), every row of length K with finite entries in
// [0,1], every label in 0..K-1. It does not require rows to sum to 1 exactly:
// float32 model outputs are off by a few ulps.
func Check(classes []string, y []int, probs [][]float64) error {
	k := len(classes)
	if k < 2 {
		return fmt.Errorf("metrics: need at least 2 classes, got %d", k)
	}
	seen := make(map[string]bool, k)
	for _, c := range classes {
		if seen[c] {
			return fmt.Errorf("metrics: duplicate class name %q", c)
		}
		seen[c] = true
	}
	if len(y) != len(probs) {
		return fmt.Errorf("metrics: %d labels but %d probability rows", len(y), len(probs))
	}
	for i, row := range probs {
		if len(row) != k {
			return fmt.Errorf("metrics: row %d has %d probabilities, want %d", i, len(row), k)
		}
		sum := 0.0
		for _, p := range row {
			if !(p >= 0 && p <= 1) { // also catches NaN
				return fmt.Errorf("metrics: row %d: probability %v outside [0,1]", i, p)
			}
			sum += p
		}
		if math.Abs(sum-1) > 1e-3 {
			return fmt.Errorf("metrics: row %d sums to %v, not 1", i, sum)
		}
		if y[i] < 0 || y[i] >= k {
			return fmt.Errorf("metrics: label %d of case %d outside 0..%d", y[i], i, k-1)
		}
	}
	return nil
}

func mustSameLen(y []int, probs [][]float64) {
	if len(y) != len(probs) {
		panic(fmt.Sprintf("metrics: %d labels but %d probability rows", len(y), len(probs)))
	}
}

// Argmax returns the index of the largest entry of p, the lowest index on
// ties (so a uniform row predicts class 0, deterministically), or -1 for an
// empty p.
func Argmax(p []float64) int {
	best := -1
	for i, v := range p {
		if best < 0 || v > p[best] {
			best = i
		}
	}
	return best
}

// Predict returns the predicted class (Argmax) of every row.
func Predict(probs [][]float64) []int {
	pred := make([]int, len(probs))
	for i, row := range probs {
		pred[i] = Argmax(row)
	}
	return pred
}

// Accuracy is the fraction of rows whose Argmax is the true label; NaN when
// there are no rows.
func Accuracy(y []int, probs [][]float64) float64 {
	mustSameLen(y, probs)
	if len(y) == 0 {
		return math.NaN()
	}
	hits := 0
	for i, row := range probs {
		if Argmax(row) == y[i] {
			hits++
		}
	}
	return float64(hits) / float64(len(y))
}

// LogLoss is the mean over rows of -ln p(true class), natural log, with
// each probability clipped to [LogLossEps, 1]. NaN when there are no rows.
func LogLoss(y []int, probs [][]float64) float64 {
	mustSameLen(y, probs)
	if len(y) == 0 {
		return math.NaN()
	}
	sum := 0.0
	for i, row := range probs {
		p := min(max(row[y[i]], LogLossEps), 1)
		sum -= math.Log(p)
	}
	return sum / float64(len(y))
}

// Entropy is the Shannon entropy of the probability vector p in bits
// (log base 2), with 0·log 0 = 0: 0 for a certain prediction, log2(K) for a
// uniform one.
func Entropy(p []float64) float64 {
	h := 0.0
	for _, v := range p {
		if v > 0 {
			h -= v * math.Log2(v)
		}
	}
	return h
}

// MaxProb is the largest entry of p, the model's confidence in its own
// prediction; NaN for an empty p.
func MaxProb(p []float64) float64 {
	i := Argmax(p)
	if i < 0 {
		return math.NaN()
	}
	return p[i]
}

// OneVsRest returns the scores and labels of the binary problem "class k
// against the rest": scores[i] = probs[i][k], positive[i] = y[i] == k. It is
// what AUC and ROC are given for a multiclass model.
func OneVsRest(y []int, probs [][]float64, k int) (scores []float64, positive []bool) {
	mustSameLen(y, probs)
	scores = make([]float64, len(y))
	positive = make([]bool, len(y))
	for i, row := range probs {
		scores[i] = row[k]
		positive[i] = y[i] == k
	}
	return scores, positive
}
