package metrics

import (
	"math"
	"math/rand/v2"
	"testing"
)

func bools(labels ...int) []bool {
	b := make([]bool, len(labels))
	for i, l := range labels {
		b[i] = l == 1
	}
	return b
}

func TestAUCHandComputed(t *testing.T) {
	cases := []struct {
		name   string
		scores []float64
		labels []int // 1 = positive
		want   float64
	}{
		// Positive 0.35 beats negative 0.1, loses to 0.4; 0.8 beats both: 3/4.
		{"no ties", []float64{0.1, 0.4, 0.35, 0.8}, []int{0, 0, 1, 1}, 0.75},
		// Positive 0.5 beats 0.2 and ties the negative 0.5 (1/2); 0.9 beats
		// both: (1 + 0.5 + 2) / 4.
		{"tie across classes", []float64{0.2, 0.5, 0.5, 0.9}, []int{0, 0, 1, 1}, 0.875},
		// Ties within one class are no ties at all: each positive 0.7 beats
		// both negatives (0.1, 0.3), the positive 0.2 only 0.1: 5/6.
		{"tie within class", []float64{0.7, 0.7, 0.2, 0.1, 0.3}, []int{1, 1, 1, 0, 0}, 5.0 / 6},
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []int{0, 0, 1, 1}, 1},
		{"inverse", []float64{0.9, 0.8, 0.2, 0.1}, []int{0, 0, 1, 1}, 0},
		{"constant", []float64{0.5, 0.5, 0.5, 0.5, 0.5}, []int{0, 1, 0, 1, 1}, 0.5},
		{"one pair tied", []float64{0.3, 0.3}, []int{1, 0}, 0.5},
	}
	for _, c := range cases {
		got := AUC(c.scores, bools(c.labels...))
		if math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: AUC = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestAUCUndefined(t *testing.T) {
	for name, c := range map[string]struct {
		scores []float64
		labels []int
	}{
		"no positives": {[]float64{0.1, 0.2}, []int{0, 0}},
		"no negatives": {[]float64{0.1, 0.2}, []int{1, 1}},
		"empty":        {nil, nil},
		"NaN score":    {[]float64{0.1, math.NaN(), 0.3}, []int{0, 1, 1}},
	} {
		if got := AUC(c.scores, bools(c.labels...)); !math.IsNaN(got) {
			t.Errorf("%s: AUC = %v, want NaN", name, got)
		}
		if pts := ROC(c.scores, bools(c.labels...)); pts != nil {
			t.Errorf("%s: ROC = %v, want nil", name, pts)
		}
	}
}

// pairwiseAUC is the definition, O(n²): the fraction of (positive, negative)
// pairs ordered correctly, ties counting one half.
func pairwiseAUC(scores []float64, positive []bool) float64 {
	u, pairs := 0.0, 0
	for i := range scores {
		if !positive[i] {
			continue
		}
		for j := range scores {
			if positive[j] {
				continue
			}
			pairs++
			switch {
			case scores[i] > scores[j]:
				u++
			case scores[i] == scores[j]:
				u += 0.5
			}
		}
	}
	return u / float64(pairs)
}

// randomTied draws n scores from only a few distinct values, so that ties
// within and across classes are common.
func randomTied(rng *rand.Rand, n, levels int) ([]float64, []bool) {
	scores := make([]float64, n)
	pos := make([]bool, n)
	for i := range scores {
		pos[i] = rng.IntN(3) == 0
		s := float64(rng.IntN(levels)) / float64(levels)
		if pos[i] && rng.IntN(2) == 0 {
			s = min(1, s+0.2) // positives tend to score higher
		}
		scores[i] = s
	}
	pos[0], pos[1] = true, false // both classes present
	return scores, pos
}

func TestAUCMatchesPairwiseDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n := 2 + rng.IntN(60)
		scores, pos := randomTied(rng, n, 1+rng.IntN(8))
		got, want := AUC(scores, pos), pairwiseAUC(scores, pos)
		if math.Abs(got-want) > 1e-12 {
			t.Fatalf("trial %d: AUC = %v, pairwise = %v (scores %v, positive %v)", trial, got, want, scores, pos)
		}
	}
}

func TestROCHandComputed(t *testing.T) {
	pts := ROC([]float64{0.1, 0.4, 0.35, 0.8}, bools(0, 0, 1, 1))
	want := []Point{
		{0, 0, math.Inf(1)},
		{0, 0.5, 0.8},
		{0.5, 0.5, 0.4},
		{0.5, 1, 0.35},
		{1, 1, 0.1},
	}
	if len(pts) != len(want) {
		t.Fatalf("ROC = %v, want %v", pts, want)
	}
	for i := range want {
		if pts[i] != want[i] {
			t.Errorf("point %d = %+v, want %+v", i, pts[i], want[i])
		}
	}
}

func TestROCAreaEqualsAUC(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 200 {
		n := 2 + rng.IntN(300)
		scores, pos := randomTied(rng, n, 1+rng.IntN(20))
		pts := ROC(scores, pos)

		distinct := map[float64]bool{}
		for _, s := range scores {
			distinct[s] = true
		}
		if len(pts) != len(distinct)+1 {
			t.Fatalf("trial %d: %d points for %d distinct scores", trial, len(pts), len(distinct))
		}
		first, last := pts[0], pts[len(pts)-1]
		if first.FPR != 0 || first.TPR != 0 || last.FPR != 1 || last.TPR != 1 {
			t.Fatalf("trial %d: curve runs from %+v to %+v", trial, first, last)
		}
		for i := 1; i < len(pts); i++ {
			p, q := pts[i-1], pts[i]
			if q.FPR < p.FPR || q.TPR < p.TPR || !(q.Threshold < p.Threshold) {
				t.Fatalf("trial %d: not monotone at %d: %+v then %+v", trial, i, p, q)
			}
		}
		if a, auc := TrapezoidArea(pts), AUC(scores, pos); math.Abs(a-auc) > 1e-12 {
			t.Fatalf("trial %d: area under ROC %v != AUC %v", trial, a, auc)
		}
	}
}

func BenchmarkAUC(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	scores, pos := randomTied(rng, 100_000, 1000)
	b.ResetTimer()
	for b.Loop() {
		AUC(scores, pos)
	}
}
