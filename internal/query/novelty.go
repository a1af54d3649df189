package query

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/metrics"
	"github.com/winnowml/winnow/internal/novelty"
)

// NoveltyFunc scores n rows of raw features (row-major) by novelty; see
// package novelty.
type NoveltyFunc func(x []float64, n int) ([]float64, error)

// noveltyScorer ranks rows by novelty, most unlike the labelled set first.
// It is the one strategy that looks for what the model has never seen: every
// probability-based score is low far from the labelled data, where a linear
// model's margins only grow, and coreset spends its batch on whatever is
// far, one image per empty region.
type noveltyScorer struct {
	seed uint64
	fn   NoveltyFunc
	// record, when set, receives every scored row's novelty by path.
	record map[string]float64
}

func (s *noveltyScorer) Name() string { return "novelty" }

func (s *noveltyScorer) keys(ctx context.Context, env *Pool) (keyFunc, error) {
	fn := s.fn
	if fn == nil {
		// No reference from the model file (simulate): the labelled set
		// the round has is the reference.
		var err error
		if fn, err = labelledNovelty(env); err != nil {
			return nil, err
		}
	}
	return func(b *Pool, dst []key) error {
		n := len(b.Paths)
		if n == 0 {
			return nil
		}
		r, d := b.X.Dims()
		raw := b.X.RawMatrix()
		x := raw.Data
		if raw.Stride != d {
			x = make([]float64, 0, r*d)
			for i := 0; i < r; i++ {
				x = append(x, b.X.RawRowView(i)...)
			}
		}
		scores, err := fn(x[:n*d], n)
		if err != nil {
			return err
		}
		for i, path := range b.Paths {
			dst[i] = key{score: scores[i], tie: tieOf(s.seed, path)}
			if s.record != nil {
				s.record[path] = scores[i]
			}
		}
		return nil
	}, nil
}

func labelledNovelty(env *Pool) (NoveltyFunc, error) {
	if env.Model == nil || env.Labelled.Len() < 2 {
		return nil, errors.New("query: novelty needs a model with a novelty reference (train stores one) or at least 2 labelled rows")
	}
	l := env.Labelled
	_, d := l.X.Dims()
	nz := env.Model.Norm
	buf := make([]float64, d)
	ref, err := novelty.Build(l.Len(), d, func(i int) []float64 { return nz.Apply(l.X.RawRowView(i), buf) }, l.Y, 1, 0)
	if err != nil {
		return nil, err
	}
	return func(x []float64, n int) ([]float64, error) {
		xn := make([]float32, len(x))
		for i := 0; i < n; i++ {
			row := nz.Apply(x[i*d:(i+1)*d], buf)
			for j, v := range row {
				xn[i*d+j] = float32(v)
			}
		}
		out := make([]float64, n)
		ref.Score(xn, n, out)
		return out, nil
	}, nil
}

func (s *noveltyScorer) prepare(ctx context.Context, pool *Pool) (prepared, error) {
	if err := pool.check(true, s.fn == nil); err != nil {
		return nil, err
	}
	return prepareScorer(ctx, s, pool)
}

func (s *noveltyScorer) Select(ctx context.Context, pool *Pool, n int) ([]Pick, error) {
	return selectWith(ctx, s, pool, n)
}

// mixedPick is one row of select's output when the model has a novelty
// reference: where it came from and its novelty.
type mixedPick struct {
	pool    *Pool
	pick    Pick
	by      string
	novelty float64
}

func countNovel(m []mixedPick) int {
	n := 0
	for _, p := range m {
		if p.by == "novelty" {
			n++
		}
	}
	return n
}

// mixNovelty reads the pool a second time with the novelty scorer, which
// records every candidate's novelty (one float per row, so select's output
// has the column for any strategy), and gives the first share of the batch
// to the most novel rows, the rest to main's picks in their order.
func mixNovelty(ctx context.Context, cfg Config, mf *classifier.File, main *StreamResult, excluded func(string) bool, logw io.Writer) ([]mixedPick, error) {
	nNov := 0
	switch {
	case cfg.Strategy == "novelty":
	case cfg.Balance && cfg.NoveltyShare > 0:
		fmt.Fprintln(logw, "select: --balance: no share of the batch reserved for novelty")
	case cfg.NoveltyShare > 0:
		nNov = max(1, int(math.Round(cfg.NoveltyShare*float64(cfg.N))))
	}
	src, _, err := mf.OpenFeatures(cfg.Features, dataset.Columns{Label: cfg.LabelColumn, Ignore: cfg.Ignore})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	s := &noveltyScorer{seed: cfg.Seed, fn: mf.Novelties, record: map[string]float64{}}
	nov, err := Stream(ctx, src, s, max(nNov, 1), StreamOptions{Model: mf.Model, Exclude: excluded})
	if err != nil {
		return nil, fmt.Errorf("novelty: %w", err)
	}
	var out []mixedPick
	taken := map[string]bool{}
	for _, pk := range nov.Picks[:min(nNov, len(nov.Picks))] {
		p := nov.Pool.Paths[pk.Index]
		taken[p] = true
		out = append(out, mixedPick{pool: nov.Pool, pick: pk, by: "novelty", novelty: pk.Score})
	}
	want := len(main.Picks)
	if nNov > 0 {
		want = max(cfg.N, len(out))
	}
	for _, pk := range main.Picks {
		if len(out) >= want {
			break
		}
		p := main.Pool.Paths[pk.Index]
		if taken[p] {
			continue
		}
		out = append(out, mixedPick{pool: main.Pool, pick: pk, by: cfg.Strategy, novelty: s.record[p]})
	}
	return out, nil
}

// writeMixedCSV is WriteCSV with two more columns: novelty, and picked_by
// (novelty or the strategy). score is the score of the strategy that
// picked the row.
func writeMixedCSV(w io.Writer, picks []mixedPick, classes []string) error {
	cw := csv.NewWriter(w)
	head := []string{"path", "rank", "score", "predicted"}
	for _, c := range classes {
		head = append(head, "p_"+c)
	}
	// An empty label last, as WriteCSV: the file goes back to train as --labels.
	head = append(head, "novelty", "picked_by", "label")
	if err := cw.Write(head); err != nil {
		return err
	}
	rec := make([]string, len(head))
	for i, m := range picks {
		probs := m.pool.P.RawRowView(m.pick.Index)
		rec[0] = m.pool.Paths[m.pick.Index]
		rec[1] = strconv.Itoa(i + 1)
		rec[2] = formatScore(m.pick.Score)
		rec[3] = classes[metrics.Argmax(probs)]
		for c, v := range probs {
			rec[4+c] = strconv.FormatFloat(v, 'g', 6, 64)
		}
		rec[4+len(classes)] = strconv.FormatFloat(m.novelty, 'g', 4, 64)
		rec[5+len(classes)] = m.by
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
