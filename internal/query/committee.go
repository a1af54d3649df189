package query

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/linear"
	"github.com/winnowml/winnow/internal/metrics"
)

// committee is query by committee with a bootstrap ensemble of the same
// model: each member is linear.Fit, with the model's penalties and
// normalisation kind, on a resample of the labelled set. A row's score is
// the entropy of the members' votes (argmax classes); ties, common with a
// handful of members, go to the higher entropy of the members' mean
// probabilities, so rows far from every boundary still rank sensibly.
type committee struct {
	seed    uint64
	members int
}

func newCommittee(o Options) *committee {
	m := o.Members
	if m == 0 {
		m = 5
	}
	return &committee{seed: o.Seed, members: m}
}

func (c *committee) Name() string { return "committee" }

func (c *committee) Select(ctx context.Context, pool *Pool, n int) ([]Pick, error) {
	return selectWith(ctx, c, pool, n)
}

func (c *committee) prepare(ctx context.Context, pool *Pool) (prepared, error) {
	if err := pool.check(true, true); err != nil {
		return nil, err
	}
	return prepareScorer(ctx, c, pool)
}

// fit returns the members. The resample is stratified: each class keeps its
// number of rows, drawn with replacement from its own rows, so every member
// sees every class (linear.Fit has no minimum otherwise). The resample is
// expressed as observation weights (how often each row was drawn), which
// is the same objective without copying the features.
func (c *committee) fit(ctx context.Context, m *linear.Model, l *Labelled) ([]*linear.Model, error) {
	if l.Len() == 0 {
		return nil, fmt.Errorf("committee needs the labelled set (features and labels) to refit the model on")
	}
	n, d := l.X.Dims()
	if d != m.D() {
		return nil, fmt.Errorf("committee: labelled features have %d dimensions, the model %d", d, m.D())
	}
	if len(l.Y) != n {
		return nil, fmt.Errorf("committee: %d labels for %d labelled rows", len(l.Y), n)
	}
	k := m.K()
	byClass := make([][]int, k)
	for i, y := range l.Y {
		if y < 0 || y >= k {
			return nil, fmt.Errorf("committee: labelled row %d has class %d, the model has %d classes", i, y, k)
		}
		byClass[y] = append(byClass[y], i)
	}
	var empty []string
	for y, rows := range byClass {
		if len(rows) == 0 {
			empty = append(empty, className(m, y))
		}
	}
	if len(empty) > 0 {
		return nil, fmt.Errorf("committee: no labelled rows of class %s; every member refits all classes", strings.Join(empty, ", "))
	}
	members := make([]*linear.Model, c.members)
	for r := range members {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rng := rand.New(rand.NewPCG(c.seed, uint64(r)))
		w := make([]float64, n)
		for _, rows := range byClass {
			for range rows {
				w[rows[rng.IntN(len(rows))]]++
			}
		}
		// Warm-starting from the model: members are small perturbations of
		// it, so the solver starts close to each solution.
		fit, err := linear.FitMatrix(ctx, linear.AsMatrix(l.X), l.Y, k, linear.Params{L1: m.L1, L2: m.L2, Norm: m.Norm.Kind, Weights: w}, m)
		if err != nil {
			return nil, fmt.Errorf("committee member %d: %w", r+1, err)
		}
		members[r] = fit
	}
	return members, nil
}

func className(m *linear.Model, y int) string {
	if y < len(m.Classes) {
		return fmt.Sprintf("%q", m.Classes[y])
	}
	return fmt.Sprint(y)
}

func (c *committee) keys(ctx context.Context, env *Pool) (keyFunc, error) {
	if env.Model == nil {
		return nil, fmt.Errorf("committee needs the model")
	}
	members, err := c.fit(ctx, env.Model, env.Labelled)
	if err != nil {
		return nil, err
	}
	k := env.Model.K()
	preds := make([]*linear.Predictor, len(members))
	for r, mem := range members {
		preds[r] = mem.Predictor()
	}
	probs := make([]*mat.Dense, len(members))
	votes := make([]float64, k)
	mean := make([]float64, k)
	return func(b *Pool, dst []key) error {
		n := b.Len()
		if n == 0 {
			return nil
		}
		if b.X == nil {
			return fmt.Errorf("committee needs the pool's features")
		}
		for r, pr := range preds {
			if probs[r] == nil || probs[r].RawMatrix().Rows != n {
				probs[r] = mat.NewDense(n, k, nil)
			}
			pr.Predict(b.X, probs[r])
		}
		inv := 1 / float64(len(members))
		for i := 0; i < n; i++ {
			clear(votes)
			clear(mean)
			for _, P := range probs {
				row := P.RawRowView(i)
				votes[metrics.Argmax(row)] += inv
				for c, v := range row {
					mean[c] += v * inv
				}
			}
			dst[i] = key{score: metrics.Entropy(votes), second: metrics.Entropy(mean), tie: tieOf(c.seed, b.Paths[i])}
		}
		return nil
	}, nil
}
