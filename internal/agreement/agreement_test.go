package agreement

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Cohen's kappa on the textbook table (Wikipedia, "Cohen's kappa"): 50
// items; both yes 20, A yes B no 5, A no B yes 10, both no 15. By hand:
// po = 35/50 = 0.7, pe = 0.5*0.6 + 0.5*0.4 = 0.5, kappa = 0.2/0.5 = 0.4.
func TestCohenKappaTextbook(t *testing.T) {
	var a, b []int
	add := func(n, x, y int) {
		for range n {
			a, b = append(a, x), append(b, y)
		}
	}
	add(20, 0, 0)
	add(5, 0, 1)
	add(10, 1, 0)
	add(15, 1, 1)
	got := CohenKappa(a, b, 2)
	if !got.OK || math.Abs(got.Value-0.4) > 1e-12 {
		t.Fatalf("kappa = %+v, want 0.4", got)
	}
	if s := CohenKappa(nil, nil, 2); s.OK || s.Why == "" {
		t.Errorf("no overlap: %+v, want undefined with a reason", s)
	}
	if s := CohenKappa([]int{1, 1, 1}, []int{1, 1, 1}, 3); s.OK || s.Why == "" {
		t.Errorf("one class used by both: %+v, want undefined", s)
	}
	if s := CohenKappa([]int{0, 1, 0, 1}, []int{1, 0, 1, 0}, 2); !s.OK || s.Value != -1 {
		t.Errorf("perfect disagreement: %+v, want -1", s)
	}
}

// Fleiss' kappa on Fleiss' worked example (Wikipedia, "Fleiss' kappa"): 10
// items, 14 raters, 5 categories; P-bar = 0.378, P_e = 0.213, kappa = 0.210.
func TestFleissKappaTextbook(t *testing.T) {
	counts := [][]int{
		{0, 0, 0, 0, 14}, {0, 2, 6, 4, 2}, {0, 0, 3, 5, 6}, {0, 3, 9, 2, 0}, {2, 2, 8, 1, 1},
		{7, 7, 0, 0, 0}, {3, 2, 6, 3, 0}, {2, 5, 3, 2, 2}, {6, 5, 2, 1, 0}, {0, 2, 2, 3, 7},
	}
	got := FleissKappa(counts)
	if !got.OK || math.Abs(got.Value-0.210) > 0.0005 {
		t.Fatalf("Fleiss kappa = %+v, want 0.210", got)
	}
	// With two raters and the same answers, Fleiss' kappa is Scott's pi,
	// which for the Cohen table above is (0.7 - 0.505) / (1 - 0.505).
	two := [][]int{}
	for range 20 {
		two = append(two, []int{2, 0})
	}
	for range 15 {
		two = append(two, []int{1, 1})
	}
	for range 15 {
		two = append(two, []int{0, 2})
	}
	pe := 0.55*0.55 + 0.45*0.45
	if got := FleissKappa(two); !got.OK || math.Abs(got.Value-(0.7-pe)/(1-pe)) > 1e-12 {
		t.Errorf("two raters: %+v, want Scott's pi %.6f", got, (0.7-pe)/(1-pe))
	}
	if s := FleissKappa([][]int{{1, 0}, {0, 1}}); s.OK || s.Why == "" {
		t.Errorf("items with one answer each: %+v, want undefined", s)
	}
	if s := FleissKappa([][]int{{3, 0}, {2, 0}}); s.OK || s.Why == "" {
		t.Errorf("one class only: %+v, want undefined", s)
	}
}

func TestMajorityTies(t *testing.T) {
	got := Majority([][]int{{2, 1, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 3}})
	want := []int{0, -1, -1, 2}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Majority = %v, want %v", got, want)
		}
	}
}

// synthetic plants known confusion matrices: labellers of accuracy 0.95,
// 0.8 and 0.6 (errors uniform over the other classes), and one adversary who
// always answers the next class.
func synthetic(seed uint64, items, k int) (truth []int, answers []Answer) {
	r := rand.New(rand.NewPCG(seed, 1))
	acc := []float64{0.95, 0.8, 0.6}
	for i := range items {
		c := r.IntN(k)
		truth = append(truth, c)
		for l, a := range acc {
			g := c
			if r.Float64() >= a {
				g = (c + 1 + r.IntN(k-1)) % k
			}
			answers = append(answers, Answer{Item: i, Labeller: l, Class: g})
		}
		answers = append(answers, Answer{Item: i, Labeller: 3, Class: (c + 1) % k})
	}
	return truth, answers
}

func accuracy(labels, truth []int) float64 {
	ok := 0
	for i := range truth {
		if labels[i] == truth[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(truth))
}

func TestDawidSkeneRecoversPlantedLabellers(t *testing.T) {
	const items, k = 600, 4
	truth, answers := synthetic(7, items, k)
	res := DawidSkene(answers, items, 4, k, DSOptions{})
	if !res.Converged {
		t.Fatalf("EM did not converge in %d iterations", res.Iterations)
	}
	for l, want := range []float64{0.95, 0.8, 0.6} {
		for c := range k {
			if got := res.Confusion[l][c][c]; math.Abs(got-want) > 0.08 {
				t.Errorf("labeller %d, class %d: estimated accuracy %.3f, planted %.2f", l, c, got, want)
			}
		}
	}
	for c := range k {
		if got := res.Confusion[3][c][(c+1)%k]; got < 0.9 {
			t.Errorf("adversary, class %d: p(answers next class) = %.3f, planted 1", c, got)
		}
	}
	maj := Majority(Counts(answers, items, k))
	ds, mv := accuracy(res.Labels, truth), accuracy(maj, truth)
	t.Logf("Dawid-Skene %.3f, majority vote %.3f", ds, mv)
	if ds < mv+0.05 {
		t.Errorf("Dawid-Skene accuracy %.3f does not beat majority vote %.3f with an adversary", ds, mv)
	}
	if ds < 0.95 {
		t.Errorf("Dawid-Skene accuracy %.3f, want >= 0.95 with a 0.95 labeller and a decodable adversary", ds)
	}
}

func TestDawidSkeneClampsGold(t *testing.T) {
	const items, k = 200, 3
	truth, answers := synthetic(3, items, k)
	gold := map[int]int{}
	for i := range 20 {
		// Gold that contradicts every labeller still wins.
		gold[i] = (truth[i] + 2) % k
	}
	res := DawidSkene(answers, items, 4, k, DSOptions{Gold: gold})
	for i, g := range gold {
		if res.Labels[i] != g || res.Posterior[i][g] != 1 {
			t.Fatalf("gold item %d: label %d posterior %v, want clamped to %d", i, res.Labels[i], res.Posterior[i], g)
		}
	}
	for _, row := range res.Posterior {
		for _, p := range row {
			if math.IsNaN(p) {
				t.Fatal("NaN posterior")
			}
		}
	}
}

func TestDawidSkeneUnansweredItems(t *testing.T) {
	res := DawidSkene([]Answer{{Item: 0, Labeller: 0, Class: 1}}, 3, 1, 2, DSOptions{})
	if res.Labels[0] != 1 || res.Labels[1] != -1 || res.Labels[2] != -1 {
		t.Fatalf("labels %v, want [1 -1 -1]", res.Labels)
	}
}

// Two labellers, both right on 12 gold items, disagree on 3 of 4 others:
// the likelihood is the same whichever of them is right there, so EM
// wanders along a ridge and stops where its iterations run out, a few
// hundredths apart in one direction or the other. GoldOnly learns both
// from the gold alone: equal accuracies, and a posterior for the others.
func TestDawidSkeneGoldOnlyTwoLabellers(t *testing.T) {
	var answers []Answer
	gold := map[int]int{}
	for i := range 12 {
		gold[i] = i % 4
		answers = append(answers, Answer{i, 0, i % 4}, Answer{i, 1, i % 4})
	}
	for c := range 4 {
		answers = append(answers, Answer{12 + c, 0, c}, Answer{12 + c, 1, 0})
	}
	acc := func(r DSResult, l int) float64 {
		a := 0.0
		for t, p := range r.Prior {
			a += p * r.Confusion[l][t][t]
		}
		return a
	}
	if free := DawidSkene(answers, 16, 2, 4, DSOptions{Gold: gold}); free.Converged {
		t.Errorf("without GoldOnly EM converged (%.4f, %.4f): the ridge this test is about is gone", acc(free, 0), acc(free, 1))
	}
	r := DawidSkene(answers, 16, 2, 4, DSOptions{Gold: gold, GoldOnly: true})
	if a, b := acc(r, 0), acc(r, 1); math.Abs(a-b) > 1e-9 || a < 0.95 || !r.Converged {
		t.Errorf("gold only: accuracies %.4f and %.4f (converged %v), want equal and near 1", a, b, r.Converged)
	}
	// The item both called class 0 is class 0.
	if r.Labels[12] != 0 || r.Posterior[12][0] < 0.9 {
		t.Errorf("item both called 0: label %d, posterior %v", r.Labels[12], r.Posterior[12])
	}
}
