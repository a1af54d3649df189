// Package query chooses which images to label next (active learning).
//
// A Strategy looks at a Pool — the unlabelled images' features and the
// current model's class probabilities — and returns the n rows whose labels
// it expects to help most. Two kinds exist:
//
//   - row scorers (random, least-confidence, margin, entropy, committee) give
//     every row a score on its own; the picks are the n best scores. They
//     select from a stream of any length with a heap of n rows (Stream).
//   - batch-aware strategies (coreset, badge) choose the n rows together, so
//     the batch is not n near-copies of one confusing image. They work on a
//     candidate set in memory: the Candidates most uncertain rows (highest
//     entropy), which is also what Stream keeps.
//
// Every ranking breaks ties by a hash of (seed, path), and the batch-aware
// strategies work through their candidates in that hash order, so the picks
// depend on the seed and the pool's content, never on the order of its rows.
package query

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/linear"
)

// Pool is the images a strategy chooses from, held in memory.
type Pool struct {
	// Paths identify the rows; ties are broken by a hash of the path.
	Paths []string
	// X holds the raw features (as in the feature file), one row per path.
	// Row scorers other than committee do not need it.
	X *mat.Dense
	// P holds the class probabilities under Model, one row per path.
	P *mat.Dense
	// Model is the current classifier. Its normalisation is the geometry
	// coreset and badge measure distances in; committee refits it. Row
	// scorers other than committee only need P.
	Model *linear.Model
	// Labelled is what is already labelled, or nil: coreset keeps away from
	// it, committee resamples it.
	Labelled *Labelled
}

// Labelled is the labelled set: raw features and class indices into the
// model's classes.
type Labelled struct {
	X *mat.Dense
	Y []int
}

// Len returns the number of rows of the labelled set (0 for nil).
func (l *Labelled) Len() int {
	if l == nil || l.X == nil {
		return 0
	}
	n, _ := l.X.Dims()
	return n
}

// NewPool computes the probabilities of X's rows under m and returns the
// pool of them.
func NewPool(paths []string, X *mat.Dense, m *linear.Model, labelled *Labelled) *Pool {
	P := &mat.Dense{}
	if n, _ := X.Dims(); n > 0 {
		P = m.PredictBatch(X, nil)
	}
	return &Pool{Paths: paths, X: X, P: P, Model: m, Labelled: labelled}
}

// Len returns the number of rows.
func (p *Pool) Len() int { return len(p.Paths) }

func (p *Pool) check(needX, needModel bool) error {
	n := len(p.Paths)
	if n == 0 {
		return nil // nothing to pick from, nothing to check
	}
	if p.P == nil {
		return fmt.Errorf("query: pool has no probabilities")
	}
	if r, _ := p.P.Dims(); r != n {
		return fmt.Errorf("query: pool has %d paths but %d probability rows", n, r)
	}
	if needModel && p.Model == nil {
		return fmt.Errorf("query: this strategy needs the model")
	}
	if needX {
		if p.X == nil {
			return fmt.Errorf("query: this strategy needs the pool's features")
		}
		r, d := p.X.Dims()
		if r != n {
			return fmt.Errorf("query: pool has %d paths but %d feature rows", n, r)
		}
		if p.Model != nil && d != p.Model.D() {
			return fmt.Errorf("query: pool has %d features, the model %d", d, p.Model.D())
		}
	}
	if p.Model != nil {
		if _, k := p.P.Dims(); k != p.Model.K() {
			return fmt.Errorf("query: pool has %d probabilities per row, the model %d classes", k, p.Model.K())
		}
	}
	return nil
}

// Pick is one chosen row.
type Pick struct {
	Index int     // row of the pool
	Score float64 // the strategy's score; see Describe
}

// Strategy chooses rows to label.
type Strategy interface {
	Name() string
	// Select returns up to n picks (n per predicted class when balanced),
	// best first: all rows, ranked, if the pool has fewer. The pool is
	// only read.
	Select(ctx context.Context, pool *Pool, n int) ([]Pick, error)
}

// Options configure a strategy.
type Options struct {
	// Seed breaks ties and drives random and badge's sampling.
	Seed uint64
	// Candidates restricts coreset and badge to the Candidates rows of
	// highest entropy, or n if more (0: all rows); balanced, each class
	// round to Candidates / K of its class. Stream keeps about that many
	// rows in memory.
	Candidates int
	// Members is committee's size (default 5).
	Members int
	// Balance picks n rows per predicted class instead of n in all (the
	// workshop's BALANCE_CLASSES); see balanced for the details.
	Balance bool
	// Novelty scores raw rows against the model's novelty reference; nil:
	// the novelty strategy uses the pool's labelled set instead.
	Novelty NoveltyFunc
}

var constructors = map[string]func(Options) preparer{
	"random":           scoringOf("random", randomKeyer),
	"least-confidence": scoringOf("least-confidence", probKeyer(leastConfidence)),
	"margin":           scoringOf("margin", probKeyer(margin)),
	"entropy":          scoringOf("entropy", probKeyer(entropy)),
	"committee":        func(o Options) preparer { return newCommittee(o) },
	"coreset":          func(o Options) preparer { return &coreset{seed: o.Seed, m: o.Candidates} },
	"badge":            func(o Options) preparer { return &badge{seed: o.Seed, m: o.Candidates} },
	"novelty":          func(o Options) preparer { return &noveltyScorer{seed: o.Seed, fn: o.Novelty} },
}

func scoringOf(name string, keyer func(seed uint64) keyFunc) func(Options) preparer {
	return func(o Options) preparer { return &scoring{name: name, seed: o.Seed, keyer: keyer} }
}

// Describe says what each strategy's score is.
var Describe = map[string]string{
	"random":           "uniform in [0,1) from a hash of (seed, path); a random sample",
	"least-confidence": "1 - max probability; highest first",
	"margin":           "1 - (top - second probability); highest (smallest gap) first",
	"entropy":          "entropy of the probabilities in bits; highest first",
	"committee":        "vote entropy (bits) of bootstrap refits on the labelled set; ties by the entropy of their mean",
	"coreset":          "distance to the nearest labelled or earlier pick, in the model's normalised space (greedy k-center)",
	"badge":            "distance to the nearest earlier pick in last-layer gradient space (k-means++ seeding)",
	"novelty":          "distance to the 3 nearest labelled rows (normalised space) over their median leave-one-out distance; highest first",
}

// Names lists the strategies New knows, sorted.
func Names() []string {
	names := make([]string, 0, len(constructors))
	for n := range constructors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New returns the named strategy.
func New(name string, opt Options) (Strategy, error) {
	c, ok := constructors[name]
	if !ok {
		return nil, fmt.Errorf("unknown strategy %q; valid: %s", name, strings.Join(Names(), ", "))
	}
	if opt.Candidates < 0 {
		return nil, fmt.Errorf("candidates must be >= 0 (0: all rows), got %d", opt.Candidates)
	}
	if opt.Members < 0 || opt.Members == 1 {
		return nil, fmt.Errorf("a committee needs at least 2 members, got %d", opt.Members)
	}
	if opt.Balance {
		return &balanced{inner: c(opt)}, nil
	}
	return c(opt), nil
}

// prepared is a strategy readied for one pool: the expensive per-pool work
// (scores, committee fits) is done, and choose can be called repeatedly on
// subsets, which is what Balance does.
type prepared interface {
	// choose picks up to n of rows (pool indices), given the rows already
	// chosen for this batch: batch-aware strategies keep away from them.
	choose(ctx context.Context, rows, chosen []int, n int) ([]Pick, error)
}

// preparer is implemented by every strategy of this package.
type preparer interface {
	Strategy
	prepare(ctx context.Context, pool *Pool) (prepared, error)
}

func selectWith(ctx context.Context, s preparer, pool *Pool, n int) ([]Pick, error) {
	if n <= 0 {
		return nil, fmt.Errorf("query: n must be positive, got %d", n)
	}
	p, err := s.prepare(ctx, pool)
	if err != nil {
		return nil, err
	}
	return p.choose(ctx, allRows(pool.Len()), nil, n)
}

func allRows(n int) []int {
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i
	}
	return rows
}
