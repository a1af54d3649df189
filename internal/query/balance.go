package query

import (
	"context"
	"fmt"

	"github.com/winnowml/winnow/internal/metrics"
)

// balanced picks n rows per predicted class (the workshop's
// BALANCE_CLASSES), so a batch is not all one confusing class. The classes
// are served in the model's order, each with the inner strategy on the rows
// predicted as that class; batch-aware strategies keep away from the rows
// picked for earlier classes, and each round looks at Candidates / K rows
// of highest entropy (or n if more), so balancing does not multiply their
// cost by K. A class with fewer than n rows gives all it
// has, and the shortfall is filled by the inner strategy from all rows not
// yet picked, so the batch has n × K rows whenever the pool has that many.
// Ranks follow that order: class by class, then the fill.
type balanced struct {
	inner preparer
}

func (b *balanced) Name() string { return b.inner.Name() }

func (b *balanced) Select(ctx context.Context, pool *Pool, n int) ([]Pick, error) {
	if n <= 0 {
		return nil, fmt.Errorf("query: n must be positive, got %d", n)
	}
	p, err := b.inner.prepare(ctx, pool)
	if err != nil {
		return nil, err
	}
	return balanceChoose(ctx, p, pool, allRows(pool.Len()), n)
}

// sharer is a prepared batch-aware strategy whose candidates (the rows of
// highest entropy it looks at in one choose) are split among the rounds.
type sharer interface{ share(k int) }

func balanceChoose(ctx context.Context, p prepared, pool *Pool, rows []int, n int) ([]Pick, error) {
	_, k := pool.P.Dims()
	if sh, ok := p.(sharer); ok && k > 0 {
		sh.share(k)
	}
	byClass := make([][]int, k)
	for _, r := range rows {
		c := metrics.Argmax(pool.P.RawRowView(r))
		byClass[c] = append(byClass[c], r)
	}
	var picks []Pick
	var taken []int
	add := func(ps []Pick) {
		for _, pk := range ps {
			picks = append(picks, pk)
			taken = append(taken, pk.Index)
		}
	}
	for _, rs := range byClass {
		ps, err := p.choose(ctx, rs, taken, n)
		if err != nil {
			return nil, err
		}
		add(ps)
	}
	if short := n*k - len(picks); short > 0 {
		ps, err := p.choose(ctx, without(rows, taken), taken, short)
		if err != nil {
			return nil, err
		}
		add(ps)
	}
	return picks, nil
}
