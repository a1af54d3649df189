package query

import (
	"context"
	"math"

	"github.com/winnowml/winnow/internal/metrics"
)

// keyFunc ranks the rows of a block of the pool (a Pool sharing the
// pool's Model and Labelled), writing one key per row into dst. It may keep
// buffers between calls, so it is not safe for concurrent use.
type keyFunc func(b *Pool, dst []key) error

// scorer is a strategy that scores every row on its own: its picks are the
// n best keys, so Stream needs to keep only n rows.
type scorer interface {
	preparer
	// keys readies the scoring for pools with env's Model and Labelled.
	keys(ctx context.Context, env *Pool) (keyFunc, error)
}

// scoring is a scorer that needs nothing but the probabilities (and, for
// random, the paths).
type scoring struct {
	name  string
	seed  uint64
	keyer func(seed uint64) keyFunc
}

func (s *scoring) Name() string { return s.name }

func (s *scoring) keys(ctx context.Context, env *Pool) (keyFunc, error) { return s.keyer(s.seed), nil }

func (s *scoring) prepare(ctx context.Context, pool *Pool) (prepared, error) {
	if err := pool.check(false, false); err != nil {
		return nil, err
	}
	return prepareScorer(ctx, s, pool)
}

func (s *scoring) Select(ctx context.Context, pool *Pool, n int) ([]Pick, error) {
	return selectWith(ctx, s, pool, n)
}

// prepareScorer computes every row's key once; choose is then a top-n.
func prepareScorer(ctx context.Context, s scorer, pool *Pool) (prepared, error) {
	fn, err := s.keys(ctx, pool)
	if err != nil {
		return nil, err
	}
	keys := make([]key, pool.Len())
	if err := fn(pool, keys); err != nil {
		return nil, err
	}
	return ranked(keys), nil
}

// ranked chooses by precomputed keys.
type ranked []key

func (r ranked) choose(ctx context.Context, rows, chosen []int, n int) ([]Pick, error) {
	idx := best(r, without(rows, chosen), n)
	picks := make([]Pick, len(idx))
	for i, j := range idx {
		picks[i] = Pick{Index: j, Score: r[j].score}
	}
	return picks, nil
}

// probKeyer turns a function of one probability row into a keyFunc.
func probKeyer(f func(p []float64) float64) func(seed uint64) keyFunc {
	return func(seed uint64) keyFunc {
		return func(b *Pool, dst []key) error {
			for i, path := range b.Paths {
				dst[i] = key{score: f(b.P.RawRowView(i)), tie: tieOf(seed, path)}
			}
			return nil
		}
	}
}

// randomKeyer scores a row by its tie hash: the top n are a uniform sample
// that depends on the seed and the paths only.
func randomKeyer(seed uint64) keyFunc {
	return func(b *Pool, dst []key) error {
		for i, path := range b.Paths {
			dst[i] = randomKey(seed, path)
		}
		return nil
	}
}

func randomKey(seed uint64, path string) key {
	t := tieOf(seed, path)
	return key{score: float64(t>>11) / (1 << 53), tie: t}
}

// leastConfidence is the workshop's "worst best score", as an uncertainty:
// 1 - the largest probability.
func leastConfidence(p []float64) float64 { return 1 - metrics.MaxProb(p) }

// margin is 1 - (top - second probability): 1 when the two leading classes
// tie, 0 for a certain prediction.
func margin(p []float64) float64 {
	top := metrics.Argmax(p)
	second := math.Inf(-1)
	for c, v := range p {
		if c != top {
			second = max(second, v)
		}
	}
	return 1 - (p[top] - second)
}

func entropy(p []float64) float64 { return metrics.Entropy(p) }
