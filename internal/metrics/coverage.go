package metrics

import (
	"math"
	"sort"
)

// CoveragePoint is one confidence cut: the rows whose maximum probability is
// at least Threshold, what share of all rows they are, and how often their
// predicted class is right.
type CoveragePoint struct {
	Threshold float64 `json:"threshold"`
	N         int     `json:"n"`
	Coverage  float64 `json:"coverage"`
	Accuracy  float64 `json:"accuracy"`
}

// Coverage is the accuracy-vs-coverage curve (the workshop's triage
// question: how much of the pile can the model settle at a given accuracy?).
// Rows are sorted by confidence, most confident first; there is one point
// per distinct confidence, since rows of equal confidence are kept or left
// together by any threshold. Coverage grows and Threshold falls along the
// curve; the last point covers every row.
func Coverage(y []int, probs [][]float64) []CoveragePoint {
	mustSameLen(y, probs)
	type row struct {
		conf  float64
		right bool
	}
	rows := make([]row, len(y))
	for i, p := range probs {
		rows[i] = row{MaxProb(p), Argmax(p) == y[i]}
	}
	sort.SliceStable(rows, func(a, b int) bool { return rows[a].conf > rows[b].conf })
	var out []CoveragePoint
	right := 0
	for i, r := range rows {
		if r.right {
			right++
		}
		if i+1 < len(rows) && rows[i+1].conf == r.conf {
			continue
		}
		n := i + 1
		out = append(out, CoveragePoint{Threshold: r.conf, N: n, Coverage: float64(n) / float64(len(rows)), Accuracy: float64(right) / float64(n)})
	}
	return out
}

// CoverageAt reads the curve at the given coverages (shares in (0,1]): the
// accuracy of the most confident ceil(c*n) rows, or of the smallest cut that
// holds them when ties make the exact count impossible.
func CoverageAt(curve []CoveragePoint, at []float64) []CoveragePoint {
	out := make([]CoveragePoint, 0, len(at))
	if len(curve) == 0 {
		return out
	}
	total := float64(curve[len(curve)-1].N)
	for _, c := range at {
		need := int(math.Ceil(c*total - 1e-9))
		i := sort.Search(len(curve), func(i int) bool { return curve[i].N >= need })
		if i == len(curve) {
			i = len(curve) - 1
		}
		out = append(out, curve[i])
	}
	return out
}

// ThresholdFor returns the cut that settles the most rows while their
// accuracy stays at or above target: the lowest threshold whose point meets
// it. ok is false when no cut does (not even the most confident rows alone).
func ThresholdFor(curve []CoveragePoint, target float64) (CoveragePoint, bool) {
	best, ok := CoveragePoint{}, false
	for _, p := range curve {
		if p.Accuracy >= target {
			best, ok = p, true
		}
	}
	return best, ok
}

// ClassThresholds gives each predicted class its own cut: for class k, the
// lowest confidence at which the rows predicted as k are right (precision)
// at least targets[k] of the time. A class whose target no cut meets gets
// +Inf, so none of its predictions is settled; a class never predicted also
// gets +Inf.
func ClassThresholds(y []int, probs [][]float64, targets []float64) []float64 {
	mustSameLen(y, probs)
	out := make([]float64, len(targets))
	for k, target := range targets {
		var ys []int
		var ps [][]float64
		for i, p := range probs {
			if Argmax(p) == k {
				ys, ps = append(ys, y[i]), append(ps, p)
			}
		}
		out[k] = math.Inf(1)
		if p, ok := ThresholdFor(Coverage(ys, ps), target); ok {
			out[k] = p.Threshold
		}
	}
	return out
}
