// Package classify applies a trained model to images: it ties a model file
// to the backbone its features came from, streams feature rows through the
// model's head into the predictions CSV (shared by `winnow predict` and
// `winnow classify`), turns a target accuracy into a confidence cut, and
// classifies a single uploaded image for the web API.
package classify

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"

	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/metrics"
)

// Options change what WritePredictions writes.
type Options struct {
	// Cut, when set, adds a status column: settled for rows at or above
	// their class's confidence cut, uncertain for the rest.
	Cut *Cut
	// Keep, when set, skips the rows it returns false for: a feature cache
	// may hold images of an earlier run that are not in this one's source.
	Keep func(path string) bool
}

// Counts are what WritePredictions wrote.
type Counts struct {
	Rows    int
	Settled int // rows marked settled (0 without a cut)
	Novel   int // rows above the model's novelty cut (never settled)
}

// WritePredictions writes one CSV row per feature row of src: path,
// predicted, p_<class>... in the model's class order, max_prob, entropy
// (bits), novelty when the model has a reference (see package novelty),
// and status when opt.Cut is set: novel above the model's novelty cut, else
// settled or uncertain by the cut. It streams src in blocks so the
// matrix product stays fast and memory stays bounded by the block.
func WritePredictions(ctx context.Context, w io.Writer, mf *classifier.File, src dataset.Features, opt Options) (Counts, error) {
	const block = 4096
	classes := mf.Model.Classes
	cw := csv.NewWriter(w)
	head := []string{"path", "predicted"}
	for _, c := range classes {
		head = append(head, "p_"+c)
	}
	head = append(head, "max_prob", "entropy")
	// Novelty follows the probabilities: how unlike the labelled rows the
	// image is, which a confident probability cannot tell. Models saved
	// before the reference existed have no such column.
	novCol := -1
	if mf.Novelty != nil {
		novCol = len(head)
		head = append(head, "novelty")
	}
	if opt.Cut != nil {
		head = append(head, "status")
	}
	cw.Write(head)
	d := src.Dim()
	buf := make([]float64, 0, block*d)
	paths := make([]string, 0, block)
	rec := make([]string, len(head))
	var n Counts
	flush := func() error {
		if len(paths) == 0 {
			return nil
		}
		P := mf.Predict(mat.NewDense(len(paths), d, buf))
		var nov []float64
		if novCol >= 0 {
			var err error
			if nov, err = mf.Novelties(buf, len(paths)); err != nil {
				return err
			}
		}
		for i, p := range paths {
			probs := P.RawRowView(i)
			pred := metrics.Argmax(probs)
			maxp := metrics.MaxProb(probs)
			rec[0], rec[1] = p, classes[pred]
			for k, v := range probs {
				rec[2+k] = strconv.FormatFloat(v, 'g', 6, 64)
			}
			rec[2+len(classes)] = strconv.FormatFloat(maxp, 'g', 6, 64)
			rec[3+len(classes)] = strconv.FormatFloat(metrics.Entropy(probs), 'g', 6, 64)
			novel := false
			if nov != nil {
				rec[novCol] = strconv.FormatFloat(nov[i], 'g', 4, 64)
				if novel = mf.Novel(nov[i]); novel {
					n.Novel++
				}
			}
			if opt.Cut != nil {
				st := Decide(opt.Cut, pred, maxp, novel)
				rec[len(rec)-1] = st
				if st == Settled {
					n.Settled++
				}
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		n.Rows += len(paths)
		buf, paths = buf[:0], paths[:0]
		return nil
	}
	for {
		p, vec, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, err
		}
		if opt.Keep != nil && !opt.Keep(p) {
			continue
		}
		if i := dataset.FirstNonFinite(vec); i >= 0 {
			return n, fmt.Errorf("%s: feature %d is %g; refusing to predict from non-finite features", p, i, vec[i])
		}
		for _, v := range vec {
			buf = append(buf, float64(v))
		}
		paths = append(paths, p)
		if len(paths) == block {
			if err := ctx.Err(); err != nil {
				return n, err
			}
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := flush(); err != nil {
		return n, err
	}
	cw.Flush()
	return n, cw.Error()
}
