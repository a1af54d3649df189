package query

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/linear"
	"github.com/winnowml/winnow/internal/metrics"
)

// handTable has rankings worked out by hand below; r5 and r6 are identical,
// so every strategy has to break their tie by the hash.
var handTable = [][]float64{
	{0.5, 0.3, 0.2},    // r0: max .5   gap .2   H = .5+.5211+.4644 = 1.4855
	{0.4, 0.4, 0.2},    // r1: max .4   gap 0    H = 2(.5288)+.4644 = 1.5219
	{0.9, 0.05, 0.05},  // r2: max .9   gap .85  H = .1368+2(.2161) = 0.5690
	{0.34, 0.33, 0.33}, // r3: max .34  gap .01  H = 1.5848
	{0.6, 0.2, 0.2},    // r4: max .6   gap .4   H = .4422+2(.4644) = 1.3710
	{0.45, 0.45, 0.1},  // r5: max .45  gap 0    H = 2(.5184)+.3322 = 1.3690
	{0.45, 0.45, 0.1},  // r6: = r5
}

func TestHandRankings(t *testing.T) {
	const seed = 11
	// tieOrder puts the tied rows in the order the hash decides.
	tieOrder := func(paths ...string) []string {
		sort.Slice(paths, func(a, b int) bool { return tieOf(seed, paths[a]) < tieOf(seed, paths[b]) })
		return paths
	}
	cat := func(parts ...[]string) []string { return slices.Concat(parts...) }
	for _, tc := range []struct {
		name   string
		want   []string
		scores map[string]float64 // a few scores checked by value
	}{
		// 1 - max: r3 .66, r1 .60, r5 = r6 .55, r0 .50, r4 .40, r2 .10
		{"least-confidence", cat([]string{"r3", "r1"}, tieOrder("r5", "r6"), []string{"r0", "r4", "r2"}),
			map[string]float64{"r3": 0.66, "r0": 0.5, "r2": 0.1}},
		// 1 - gap: r1 = r5 = r6 1, r3 .99, r0 .8, r4 .6, r2 .15
		{"margin", cat(tieOrder("r1", "r5", "r6"), []string{"r3", "r0", "r4", "r2"}),
			map[string]float64{"r1": 1, "r3": 0.99, "r2": 0.15}},
		// entropy: r3, r1, r0, r4 (1.3710) just ahead of r5 = r6 (1.3690), r2
		{"entropy", cat([]string{"r3", "r1", "r0", "r4"}, tieOrder("r5", "r6"), []string{"r2"}),
			map[string]float64{"r2": 0.5690, "r4": 1.3710, "r5": 1.3690}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := probPool(handTable...)
			picks := mustSelect(t, tc.name, Options{Seed: seed}, pool, len(handTable))
			if got := pickPaths(pool, picks); !slices.Equal(got, tc.want) {
				t.Fatalf("ranking %v, want %v", got, tc.want)
			}
			for _, pk := range picks {
				if want, ok := tc.scores[pool.Paths[pk.Index]]; ok && math.Abs(pk.Score-want) > 1e-3 {
					t.Errorf("%s: score %v, want %v", pool.Paths[pk.Index], pk.Score, want)
				}
			}
			// The top 3 are the head of the full ranking.
			top := mustSelect(t, tc.name, Options{Seed: seed}, pool, 3)
			if got := pickPaths(pool, top); !slices.Equal(got, tc.want[:3]) {
				t.Fatalf("top 3 %v, want %v", got, tc.want[:3])
			}
		})
	}
}

// TestSeedDecidesTies: another seed can order the same tie the other way,
// and the order follows the seed, not the pool.
func TestSeedDecidesTies(t *testing.T) {
	pool := probPool(handTable...)
	orders := map[string]bool{}
	for seed := uint64(0); seed < 16; seed++ {
		picks := mustSelect(t, "entropy", Options{Seed: seed}, pool, len(handTable))
		got := pickPaths(pool, picks)
		tail := strings.Join(got[4:6], ",")
		orders[tail] = true
		want := "r5,r6"
		if tieOf(seed, "r6") < tieOf(seed, "r5") {
			want = "r6,r5"
		}
		if tail != want {
			t.Fatalf("seed %d: tie ordered %s, want %s", seed, tail, want)
		}
		again := pickPaths(permuted(pool, seed), mustSelect(t, "entropy", Options{Seed: seed}, permuted(pool, seed), len(handTable)))
		if !slices.Equal(got, again) {
			t.Fatalf("seed %d: permuted pool ranked %v, original %v", seed, again, got)
		}
	}
	if len(orders) != 2 {
		t.Fatalf("16 seeds gave tie orders %v; want both", orders)
	}
}

func TestRandomIsASample(t *testing.T) {
	s := newRandomSetup(t, 300, 4, 3, 1)
	a := pickPaths(s.pool, mustSelect(t, "random", Options{Seed: 1}, s.pool, 20))
	b := pickPaths(s.pool, mustSelect(t, "random", Options{Seed: 2}, s.pool, 20))
	if slices.Equal(a, b) {
		t.Fatal("seeds 1 and 2 drew the same sample")
	}
	// Not the head of the pool, and no repeats.
	seen := map[string]bool{}
	late := 0
	for _, p := range a {
		if seen[p] {
			t.Fatalf("%s drawn twice", p)
		}
		seen[p] = true
		if p >= "img/0100" {
			late++
		}
	}
	if late < 5 {
		t.Fatalf("only %d of 20 picks beyond the first third of the pool: %v", late, a)
	}
}

// TestOrderIndependence: every strategy, balanced or not, picks the same
// paths with the same scores from a permuted pool.
func TestOrderIndependence(t *testing.T) {
	s := newRandomSetup(t, 240, 6, 3, 2)
	for _, name := range Names() {
		for _, bal := range []bool{false, true} {
			opt := Options{Seed: 5, Candidates: 60, Balance: bal}
			a := mustSelect(t, name, opt, s.pool, 7)
			q := permuted(s.pool, 9)
			b := mustSelect(t, name, opt, q, 7)
			pa, pb := pickPaths(s.pool, a), pickPaths(q, b)
			if !slices.Equal(pa, pb) {
				t.Fatalf("%s balance=%v: %v vs permuted %v", name, bal, pa, pb)
			}
			for i := range a {
				if math.Abs(a[i].Score-b[i].Score) > 1e-9*max(1, math.Abs(a[i].Score)) {
					t.Fatalf("%s balance=%v: pick %d score %v vs %v", name, bal, i, a[i].Score, b[i].Score)
				}
			}
			want := 7
			if bal {
				want = 21
			}
			if len(a) != want {
				t.Fatalf("%s balance=%v: %d picks, want %d", name, bal, len(a), want)
			}
			uniq := map[int]bool{}
			for _, pk := range a {
				uniq[pk.Index] = true
			}
			if len(uniq) != len(a) {
				t.Fatalf("%s balance=%v: a row picked twice: %v", name, bal, pa)
			}
		}
	}
}

func TestPoolSmallerThanN(t *testing.T) {
	pool := probPool(handTable[:3]...)
	picks := mustSelect(t, "margin", Options{}, pool, 10)
	if len(picks) != 3 {
		t.Fatalf("%d picks from a pool of 3", len(picks))
	}
	if _, err := New("entropy", Options{}); err != nil {
		t.Fatal(err)
	}
	s, _ := New("entropy", Options{})
	if _, err := s.Select(context.Background(), pool, 0); err == nil {
		t.Fatal("n = 0 accepted")
	}
	// An empty pool is no error in memory: simulate's last round may have
	// nothing left.
	xs, _ := threeClusters()
	empty := geomPool(identityModel([][]float64{{1, 0}, {0, 1}}, []float64{0, 0}), xs, nil)
	empty.Paths, empty.X, empty.P = nil, &mat.Dense{}, &mat.Dense{}
	for _, name := range []string{"entropy", "coreset", "badge", "random"} {
		for _, bal := range []bool{false, true} {
			if picks := mustSelect(t, name, Options{Balance: bal}, empty, 3); len(picks) != 0 {
				t.Fatalf("%s: %d picks from an empty pool", name, len(picks))
			}
		}
	}
}

func TestUnknownStrategy(t *testing.T) {
	_, err := New("uncertainty", Options{})
	if err == nil {
		t.Fatal("unknown strategy accepted")
	}
	for _, n := range Names() {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not list %s", err, n)
		}
	}
	if len(Names()) != 8 || len(Describe) != len(Names()) {
		t.Errorf("Names %v, Describe has %d", Names(), len(Describe))
	}
}

// threeClusters returns 10 points around each of (0,0), (10,0), (0,10),
// and which cluster each is in.
func threeClusters() ([][]float64, []int) {
	rng := rand.New(rand.NewPCG(3, 3))
	centres := [][]float64{{0, 0}, {10, 0}, {0, 10}}
	var xs [][]float64
	var cl []int
	for c, ce := range centres {
		for range 10 {
			xs = append(xs, []float64{ce[0] + 0.2*rng.Float64() - 0.1, ce[1] + 0.2*rng.Float64() - 0.1})
			cl = append(cl, c)
		}
	}
	return xs, cl
}

func geomPool(m *linear.Model, xs [][]float64, l *Labelled) *Pool {
	X := mat.NewDense(len(xs), len(xs[0]), nil)
	paths := make([]string, len(xs))
	for i, x := range xs {
		X.SetRow(i, x)
		paths[i] = "p" + string(rune('A'+i/26)) + string(rune('a'+i%26))
	}
	return NewPool(paths, X, m, l)
}

func TestCoresetSpreads(t *testing.T) {
	xs, cl := threeClusters()
	// A model with no opinion: every probability 1/2, so only geometry counts.
	m := identityModel([][]float64{{0, 0}, {0, 0}}, []float64{0, 0})
	pool := geomPool(m, xs, nil)
	picks := mustSelect(t, "coreset", Options{Seed: 1}, pool, 3)
	got := map[int]bool{}
	for _, pk := range picks {
		got[cl[pk.Index]] = true
	}
	if len(got) != 3 {
		t.Fatalf("picks %v cover clusters %v, want all three", picks, got)
	}

	// Labelled: the centre of cluster 0, which the pool also holds (row 30).
	l := &Labelled{X: mat.NewDense(1, 2, []float64{0, 0}), Y: []int{0}}
	xs = append(xs, []float64{0, 0})
	cl = append(cl, 0)
	pool = geomPool(m, xs, l)
	picks = mustSelect(t, "coreset", Options{Seed: 1}, pool, 2)
	if a, b := cl[picks[0].Index], cl[picks[1].Index]; a == 0 || b == 0 || a == b {
		t.Fatalf("with cluster 0 labelled, picks are in clusters %d and %d; want 1 and 2", a, b)
	}
	// Even asked for all but one, it never takes the copy of the labelled point.
	picks = mustSelect(t, "coreset", Options{Seed: 1}, pool, pool.Len()-1)
	for _, pk := range picks {
		if pk.Index == 30 {
			t.Fatal("coreset picked a copy of a labelled point")
		}
	}
	for i := 1; i < len(picks); i++ {
		if picks[i].Score > picks[i-1].Score+1e-12 {
			t.Fatalf("greedy k-center distances rose: %v then %v", picks[i-1].Score, picks[i].Score)
		}
	}
}

// TestCoresetUsesModelNormalisation: raw, the far point is B; in the
// model's normalised space (y divided by 1000) it is A.
func TestCoresetUsesModelNormalisation(t *testing.T) {
	m := identityModel([][]float64{{0, 0}, {0, 0}}, []float64{0, 0})
	m.Norm.Scale[1] = 1.0 / 1000
	l := &Labelled{X: mat.NewDense(1, 2, []float64{0, 0}), Y: []int{0}}
	pool := geomPool(m, [][]float64{{5, 0}, {0, 3000}}, l) // A, B
	picks := mustSelect(t, "coreset", Options{}, pool, 1)
	if picks[0].Index != 0 || math.Abs(picks[0].Score-5) > 1e-9 {
		t.Fatalf("picked row %d at distance %v, want row 0 (A) at 5", picks[0].Index, picks[0].Score)
	}
}

// TestBadgeAvoidsDuplicates: the most uncertain point, six times over, fills
// an entropy batch; badge takes it at most once.
func TestBadgeAvoidsDuplicates(t *testing.T) {
	// Two classes split at x = 0; probabilities sharpen with |x|.
	m := identityModel([][]float64{{-2, 0}, {2, 0}}, []float64{0, 0})
	var xs [][]float64
	for range 6 {
		xs = append(xs, []float64{0.05, 1})
	}
	for _, x := range []float64{-0.6, -0.3, 0.4, 0.8, -1.2, 1.5, 2.5, -3} {
		xs = append(xs, []float64{x, -1})
	}
	pool := geomPool(m, xs, nil)
	const n = 4
	ent := mustSelect(t, "entropy", Options{Seed: 2}, pool, n)
	dups := 0
	for _, pk := range ent {
		if pk.Index < 6 {
			dups++
		}
	}
	if dups != n {
		t.Fatalf("entropy took %d copies of the most uncertain point; the test needs it to take %d", dups, n)
	}
	for seed := uint64(0); seed < 10; seed++ {
		picks := mustSelect(t, "badge", Options{Seed: seed}, pool, n)
		seen := map[[2]float64]bool{}
		for _, pk := range picks {
			v := [2]float64{pool.X.At(pk.Index, 0), pool.X.At(pk.Index, 1)}
			if seen[v] {
				t.Fatalf("seed %d: badge picked %v twice: %v", seed, v, picks)
			}
			seen[v] = true
		}
		if len(picks) != n {
			t.Fatalf("seed %d: %d picks", seed, len(picks))
		}
	}
}

// TestCommitteePrefersBoundary: on a separable set the members disagree
// near the boundary only.
func TestCommitteePrefersBoundary(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	var lx []float64
	var ly []int
	for i := range 40 {
		c := i % 2
		x := 0.5 + 2.5*rng.Float64()
		if c == 0 {
			x = -x
		}
		lx = append(lx, x, rng.NormFloat64())
		ly = append(ly, c)
	}
	LX := mat.NewDense(40, 2, lx)
	m, err := linear.Fit(LX, ly, 2, linear.Params{L2: 0.1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Classes = []string{"neg", "pos"}
	var xs [][]float64
	for i := range 60 {
		// On the x2 = 0 line the boundary is where x1 is near 0.
		xs = append(xs, []float64{-2.95 + 0.1*float64(i), 0})
	}
	pool := geomPool(m, xs, &Labelled{X: LX, Y: ly})
	picks := mustSelect(t, "committee", Options{Seed: 1}, pool, 3)
	for _, pk := range picks {
		if x := pool.X.At(pk.Index, 0); math.Abs(x) > 0.5 {
			t.Errorf("committee picked x = %v, far from the boundary at 0", x)
		}
	}
	if picks[0].Score <= 0 {
		t.Errorf("top pick has vote entropy %v: the members never disagreed", picks[0].Score)
	}
	far := 0
	s, _ := New("committee", Options{Seed: 1})
	all, err := s.Select(context.Background(), pool, pool.Len())
	if err != nil {
		t.Fatal(err)
	}
	for _, pk := range all {
		if math.Abs(pool.X.At(pk.Index, 0)) > 1.5 && pk.Score > 0 {
			far++
		}
	}
	if far > 0 {
		t.Errorf("%d rows with |x| > 1.5 got votes against the majority", far)
	}

	// Without a labelled set there is no committee.
	pool.Labelled = nil
	if _, err := s.Select(context.Background(), pool, 3); err == nil || !strings.Contains(err.Error(), "labelled") {
		t.Fatalf("no labelled set: err %v", err)
	}
}

func TestBalance(t *testing.T) {
	pool := probPool(
		[]float64{0.5, 0.3, 0.2},   // r0 class 0
		[]float64{0.7, 0.2, 0.1},   // r1 class 0
		[]float64{0.4, 0.35, 0.25}, // r2 class 0, most uncertain of class 0
		[]float64{0.9, 0.05, 0.05}, // r3 class 0
		[]float64{0.6, 0.3, 0.1},   // r4 class 0
		[]float64{0.2, 0.5, 0.3},   // r5 class 1
		[]float64{0.1, 0.8, 0.1},   // r6 class 1
		[]float64{0.3, 0.4, 0.3},   // r7 class 1, most uncertain of class 1
		[]float64{0.3, 0.3, 0.4},   // r8 class 2, the only one
	)
	picks := mustSelect(t, "entropy", Options{Balance: true}, pool, 2)
	got := pickPaths(pool, picks)
	// Class 0: r2, r0; class 1: r7, r5; class 2: r8 alone; the missing one
	// is the most uncertain row left: r4 (H 1.295) beats r1 (1.157).
	want := []string{"r2", "r0", "r7", "r5", "r8", "r4"}
	if !slices.Equal(got, want) {
		t.Fatalf("balanced picks %v, want %v", got, want)
	}
	for _, name := range Names() {
		if name == "committee" || name == "coreset" || name == "badge" || name == "novelty" {
			continue
		}
		picks := mustSelect(t, name, Options{Balance: true}, pool, 1)
		per := map[int]int{}
		for _, pk := range picks {
			per[metrics.Argmax(pool.P.RawRowView(pk.Index))]++
		}
		if per[0] != 1 || per[1] != 1 || per[2] != 1 {
			t.Fatalf("%s: one per class gave %v", name, per)
		}
	}
}

func TestBestMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	keys := make([]key, 1000)
	for i := range keys {
		keys[i] = key{score: float64(rng.IntN(20)), tie: rng.Uint64()}
	}
	rows := allRows(len(keys))
	full := append([]int(nil), rows...)
	sort.Slice(full, func(a, b int) bool { return keys[full[a]].before(keys[full[b]]) })
	for _, n := range []int{1, 7, 100, 999, 1000, 2000} {
		got := best(keys, rows, n)
		if !slices.Equal(got, full[:min(n, len(full))]) {
			t.Fatalf("best %d disagrees with a full sort", n)
		}
	}
}

// TestTieOfIsFNV1a pins the tie hash to FNV-1a of (seed little-endian,
// path) plus the splitmix64 finaliser, so picks stay the same across
// versions for the same seed.
func TestTieOfIsFNV1a(t *testing.T) {
	for _, tc := range []struct {
		seed uint64
		path string
	}{{0, ""}, {1, "img/0001.jpg"}, {0xdeadbeef12345678, "ünïcode/ä.png"}} {
		h := fnv.New64a()
		h.Write(binary.LittleEndian.AppendUint64(nil, tc.seed))
		h.Write([]byte(tc.path))
		z := h.Sum64()
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		if got := tieOf(tc.seed, tc.path); got != z {
			t.Errorf("tieOf(%d, %q) = %x, want %x", tc.seed, tc.path, got, z)
		}
	}
}
