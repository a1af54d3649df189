package query

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/outfile"
	"github.com/winnowml/winnow/internal/plural"
)

// runFirst is Run without a model, for a first batch when nothing is
// labelled: only random can pick without predictions. It picks the rows
// random would pick with a model (the key is a hash of seed and path, the
// model plays no part), so a first batch is the same whether or not a
// model exists, and it streams the pool keeping n paths. The CSV has path,
// rank, score and the empty label column: no prediction to show.
func runFirst(ctx context.Context, cfg Config, logw io.Writer) (*Summary, error) {
	if cfg.Strategy != "random" {
		return nil, fmt.Errorf("--strategy %s ranks by the model's predictions: give --model (with nothing labelled yet, use --strategy random for a first batch)", cfg.Strategy)
	}
	if cfg.Balance {
		return nil, errors.New("--balance picks per predicted class: give --model")
	}
	exclude, err := excludedPaths(cfg)
	if err != nil {
		return nil, err
	}
	src, err := dataset.OpenFeatures(cfg.Features, dataset.Columns{Label: cfg.LabelColumn, Ignore: cfg.Ignore})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	top := newTopN(cfg.N)
	var held []string        // by slot
	kept := map[string]int{} // path -> slot, so a repeated path is kept once
	sum := &Summary{}
	for {
		p, _, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		sum.Rows++
		if sum.Rows%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if m := exclude[p]; m != nil {
			m.seen = true
			sum.Excluded++
			continue
		}
		if _, ok := kept[p]; ok {
			continue
		}
		s := top.offer(randomKey(cfg.Seed, p))
		switch {
		case s < 0:
			continue
		case s == len(held):
			held = append(held, p)
		default:
			delete(kept, held[s])
			held[s] = p
		}
		kept[p] = s
	}
	sum.Unmatched = unmatched(exclude)
	if err := checkPool(cfg, sum, cfg.N, logw); err != nil {
		return nil, err
	}
	order := top.sorted()
	scores := make(map[int]float64, len(order))
	for i, s := range top.slot {
		scores[s] = top.keys[i].score
	}
	if err := outfile.Write(cfg.Output, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write([]string{"path", "rank", "score", "label"})
		for i, s := range order {
			cw.Write([]string{held[s], strconv.Itoa(i + 1), formatScore(scores[s]), ""})
		}
		cw.Flush()
		return cw.Error()
	}); err != nil {
		return nil, err
	}
	sum.Picked = len(order)
	fmt.Fprintf(logw, "select: no --model: random picked %d of %s (%d excluded or labelled) -> %s (fill in its label column)\n",
		sum.Picked, plural.N(int(sum.Rows), "row"), sum.Excluded, cfg.Output)
	return sum, nil
}
