package query

import (
	"context"
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/metrics"
)

// candidates returns the rows of highest entropy, at most m but at least n
// (m = 0: all), in tie-hash order: the batch-aware strategies walk them in
// that order, so their result does not depend on the order of the pool.
func candidates(ent []key, rows []int, m, n int) []int {
	if m > 0 {
		m = max(m, n)
	}
	if m > 0 && len(rows) > m {
		rows = best(ent, rows, m)
	} else {
		rows = append([]int(nil), rows...)
	}
	sort.Slice(rows, func(a, b int) bool {
		ta, tb := ent[rows[a]].tie, ent[rows[b]].tie
		if ta != tb {
			return ta < tb
		}
		return rows[a] < rows[b] // only for a path repeated in the pool
	})
	return rows
}

// entropyKeys ranks every row of the pool by entropy.
func entropyKeys(seed uint64, pool *Pool) []key {
	keys := make([]key, pool.Len())
	probKeyer(entropy)(seed)(pool, keys)
	return keys
}

// normalised returns the rows of the pool's features under the model's
// normalisation, as a len(rows) x D matrix.
func normalised(pool *Pool, rows []int) *mat.Dense {
	if len(rows) == 0 {
		return nil
	}
	out := mat.NewDense(len(rows), pool.Model.D(), nil)
	for i, r := range rows {
		pool.Model.Norm.Apply(pool.X.RawRowView(r), out.RawRowView(i))
	}
	return out
}

func sqNorms(X *mat.Dense) []float64 {
	if X == nil {
		return nil
	}
	n, _ := X.Dims()
	out := make([]float64, n)
	for i := range out {
		r := X.RawRowView(i)
		out[i] = dot(r, r)
	}
	return out
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func sqDist(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		d := v - b[i]
		s += d * d
	}
	return s
}

// share divides the candidates among k rounds, one per class, so that a
// balanced selection costs what an unbalanced one does.
func (p *coresetPrep) share(k int) { p.m = shareOf(p.m, k) }
func (p *badgePrep) share(k int)   { p.m = shareOf(p.m, k) }

func shareOf(m, k int) int {
	if m == 0 {
		return 0
	}
	return (m + k - 1) / k
}

// coreset is greedy k-center (Sener & Savarese's core-set selection): each
// pick is the candidate farthest from its nearest labelled or already picked
// row, in the model's normalised feature space, so the batch covers the
// parts of the pool the labels do not. With nothing labelled the first pick
// is the candidate of highest entropy, scored +Inf (no labelled row is
// near it); equal distances go to the higher entropy too.
type coreset struct {
	seed uint64
	m    int
}

func (c *coreset) Name() string { return "coreset" }

func (c *coreset) Select(ctx context.Context, pool *Pool, n int) ([]Pick, error) {
	return selectWith(ctx, c, pool, n)
}

func (c *coreset) prepare(ctx context.Context, pool *Pool) (prepared, error) {
	if err := pool.check(true, true); err != nil {
		return nil, err
	}
	p := &coresetPrep{pool: pool, m: c.m, ent: entropyKeys(c.seed, pool)}
	if l := pool.Labelled; l.Len() > 0 {
		if _, d := l.X.Dims(); d != pool.Model.D() {
			return nil, errDim("labelled", d, pool.Model.D())
		}
		lp := &Pool{X: l.X, Model: pool.Model}
		p.lab = normalised(lp, allRows(l.Len()))
		p.labNorm = sqNorms(p.lab)
	}
	return p, nil
}

type coresetPrep struct {
	pool    *Pool
	m       int // candidates per choose
	ent     []key
	lab     *mat.Dense // normalised labelled rows
	labNorm []float64
}

// labBlock bounds the candidates x labelled distance block in memory.
const labBlock = 1024

func (p *coresetPrep) choose(ctx context.Context, rows, chosen []int, n int) ([]Pick, error) {
	cand := candidates(p.ent, without(rows, chosen), p.m, n)
	if len(cand) == 0 || n <= 0 {
		return nil, nil
	}
	X := normalised(p.pool, cand)
	xNorm := sqNorms(X)
	mind := make([]float64, len(cand))
	for i := range mind {
		mind[i] = math.Inf(1)
	}
	// Distances to the labelled rows by ||x||² + ||l||² - 2 x·l, one GEMM
	// per block of labelled rows.
	if p.lab != nil {
		nl, d := p.lab.Dims()
		var G mat.Dense
		for lo := 0; lo < nl; lo += labBlock {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			hi := min(lo+labBlock, nl)
			G.Reset()
			G.Mul(X, p.lab.Slice(lo, hi, 0, d).T())
			for i := range cand {
				g := G.RawRowView(i)
				for j, v := range g {
					mind[i] = min(mind[i], max(xNorm[i]+p.labNorm[lo+j]-2*v, 0))
				}
			}
		}
	}
	centre := make([]float64, p.pool.Model.D())
	update := func(c []float64) {
		for i := range cand {
			mind[i] = min(mind[i], sqDist(X.RawRowView(i), c))
		}
	}
	for _, r := range chosen {
		update(p.pool.Model.Norm.Apply(p.pool.X.RawRowView(r), centre))
	}
	picked := make([]bool, len(cand))
	var picks []Pick
	for len(picks) < n && len(picks) < len(cand) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		bi := -1
		var bk key
		for i, r := range cand {
			if picked[i] {
				continue
			}
			k := key{score: mind[i], second: p.ent[r].score, tie: p.ent[r].tie}
			if bi < 0 || k.before(bk) {
				bi, bk = i, k
			}
		}
		picked[bi] = true
		picks = append(picks, Pick{Index: cand[bi], Score: math.Sqrt(mind[bi])})
		update(X.RawRowView(bi))
	}
	return picks, nil
}

// badge is BADGE (Ash et al.): k-means++ seeding on the gradient of the
// loss with respect to the last layer (W and b), taking the predicted class
// as the label: g_i = (p_i - onehot(argmax p_i)) ⊗ (x_i, 1), x_i normalised.
// Its length is large for uncertain rows and the seeding spreads the batch
// out, so it trades uncertainty against diversity. The K·(D+1) vectors are
// never formed: with a_i = p_i - onehot and x̃_i = (x_i, 1),
//
//	||g_i - g_j||² = ||a_i||²||x̃_i||² + ||a_j||²||x̃_j||² - 2(a_i·a_j)(x̃_i·x̃_j).
//
// The first pick is the longest gradient (as in the paper), unless rows
// were chosen already; each further pick is drawn with probability
// proportional to its squared distance to the nearest pick. If every
// remaining candidate coincides with a pick, the rest of the batch is the
// remaining candidates of highest entropy.
type badge struct {
	seed uint64
	m    int
}

func (b *badge) Name() string { return "badge" }

func (b *badge) Select(ctx context.Context, pool *Pool, n int) ([]Pick, error) {
	return selectWith(ctx, b, pool, n)
}

func (b *badge) prepare(ctx context.Context, pool *Pool) (prepared, error) {
	if err := pool.check(true, true); err != nil {
		return nil, err
	}
	return &badgePrep{seed: b.seed, pool: pool, m: b.m, ent: entropyKeys(b.seed, pool)}, nil
}

type badgePrep struct {
	seed uint64
	pool *Pool
	m    int // candidates per choose
	ent  []key
}

// gradEmbedding is the factored gradient embedding of some rows.
type gradEmbedding struct {
	x      *mat.Dense // normalised features
	xx, aa []float64  // ||x̃||² (with the bias's 1) and ||a||²
	a      [][]float64
}

func (p *badgePrep) embed(rows []int) gradEmbedding {
	e := gradEmbedding{x: normalised(p.pool, rows), aa: make([]float64, len(rows)), a: make([][]float64, len(rows))}
	e.xx = sqNorms(e.x)
	for i, r := range rows {
		e.xx[i]++
		pr := p.pool.P.RawRowView(r)
		a := append([]float64(nil), pr...)
		a[metrics.Argmax(pr)]--
		e.a[i] = a
		e.aa[i] = dot(a, a)
	}
	return e
}

// dist is ||g_i - g_j||² between row i of e and row j of f.
func dist(e gradEmbedding, i int, f gradEmbedding, j int) float64 {
	xd := dot(e.x.RawRowView(i), f.x.RawRowView(j)) + 1
	return max(e.aa[i]*e.xx[i]+f.aa[j]*f.xx[j]-2*dot(e.a[i], f.a[j])*xd, 0)
}

func (p *badgePrep) choose(ctx context.Context, rows, chosen []int, n int) ([]Pick, error) {
	cand := candidates(p.ent, without(rows, chosen), p.m, n)
	if len(cand) == 0 || n <= 0 {
		return nil, nil
	}
	e := p.embed(cand)
	mind := make([]float64, len(cand))
	for i := range mind {
		mind[i] = math.Inf(1)
	}
	update := func(f gradEmbedding, j int) {
		for i := range cand {
			mind[i] = min(mind[i], dist(e, i, f, j))
		}
	}
	if len(chosen) > 0 {
		f := p.embed(chosen)
		for j := range chosen {
			update(f, j)
		}
	}
	rng := rand.New(rand.NewPCG(p.seed, 0xbad6e))
	picked := make([]bool, len(cand))
	var picks []Pick
	for len(picks) < n && len(picks) < len(cand) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		bi := -1
		score := 0.0
		total := 0.0
		for i := range cand {
			if !picked[i] {
				total += mind[i]
			}
		}
		switch {
		case math.IsInf(total, 1): // nothing picked yet: the longest gradient
			var bk key
			for i, r := range cand {
				k := key{score: e.aa[i] * e.xx[i], tie: p.ent[r].tie}
				if bi < 0 || k.before(bk) {
					bi, bk = i, k
				}
			}
			score = math.Sqrt(bk.score)
		case total > 0: // D² sampling
			u := rng.Float64() * total
			for i := range cand {
				if picked[i] || mind[i] == 0 {
					continue
				}
				bi = i // the last positive one, should rounding leave u unspent
				if u -= mind[i]; u < 0 {
					break
				}
			}
			score = math.Sqrt(mind[bi])
		default: // only duplicates of picks remain
			for i, r := range cand {
				if !picked[i] && (bi < 0 || p.ent[r].before(p.ent[cand[bi]])) {
					bi = i
				}
			}
		}
		picked[bi] = true
		picks = append(picks, Pick{Index: cand[bi], Score: score})
		update(e, bi)
	}
	return picks, nil
}
