package query

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"gonum.org/v1/gonum/mat"

	"github.com/winnowml/winnow/internal/dataset"
	"github.com/winnowml/winnow/internal/featstore"
	"github.com/winnowml/winnow/internal/linear"
	"github.com/winnowml/winnow/internal/metrics"
)

// StreamOptions configure Stream.
type StreamOptions struct {
	Model    *linear.Model // required
	Labelled *Labelled     // for committee and coreset
	// Exclude reports rows never to pick (already labelled or queried).
	// It is called from the goroutine that reads src, one call at a time.
	Exclude func(path string) bool
	// Block is how many rows are scored at a time (default 4096).
	Block int
}

// StreamResult is what Stream kept and picked.
type StreamResult struct {
	// Pool holds the rows kept from the stream; the picks index it. X is
	// set only for batch-aware strategies.
	Pool  *Pool
	Picks []Pick
	// Rows counts the rows read, Excluded those skipped by Exclude.
	Rows, Excluded int64
}

// Stream selects n rows from a feature stream in bounded memory: row
// scorers keep the n best rows seen (n per class and n × K overall when
// balanced); batch-aware strategies keep their Candidates rows of highest
// entropy (per class, plus n, when balanced) and run on those. The picks
// are the ones Select would make on the whole stream held in memory (up to
// repeated paths, of which one row is kept). Reading runs in its own
// goroutine, overlapping with the scoring.
func Stream(ctx context.Context, src dataset.Features, s Strategy, n int, opt StreamOptions) (*StreamResult, error) {
	if n <= 0 {
		return nil, fmt.Errorf("query: n must be positive, got %d", n)
	}
	m := opt.Model
	if m == nil {
		return nil, errors.New("query: Stream needs the model")
	}
	if src.Dim() != m.D() {
		return nil, errDim("pool", src.Dim(), m.D())
	}
	if opt.Block <= 0 {
		opt.Block = 4096
	}
	var inner preparer
	isBalanced := false
	switch st := s.(type) {
	case *balanced:
		inner, isBalanced = st.inner, true
	case preparer:
		inner = st
	default:
		return nil, fmt.Errorf("query: Stream does not know strategy %q", s.Name())
	}
	k := m.K()
	env := &Pool{Model: m, Labelled: opt.Labelled}

	// What to keep so that choosing among the kept rows is choosing among
	// all rows: see the comments in each case.
	var (
		keyFn          keyFunc
		global, per    int // heap sizes; 0: no such heap
		needX          bool
		scorerStrategy = false
	)
	switch in := inner.(type) {
	case scorer:
		fn, err := in.keys(ctx, env)
		if err != nil {
			return nil, err
		}
		keyFn, scorerStrategy = fn, true
		global = n
		if isBalanced {
			// n per class for the class rounds; the fill takes the best
			// rows not yet picked, which are among the n × K best overall.
			global, per = n*k, n
		}
	case *coreset, *badge:
		var seed uint64
		var cands int
		switch b := in.(type) {
		case *coreset:
			seed, cands = b.seed, b.m
		case *badge:
			seed, cands = b.seed, b.m
		}
		keyFn, needX = probKeyer(entropy)(seed), true
		// Each choose looks at its max(cands, n) rows of highest entropy.
		switch {
		case cands == 0:
			global = math.MaxInt
		case !isBalanced:
			global = max(cands, n)
		default:
			// A class round looks at the max(share, n) best rows of its
			// class (share = cands / K); the fill, of at most n × K rows,
			// at the max(share, fill) best rows left, each with fewer
			// than that many rows left of its class ahead of it, plus at
			// most n picked.
			per = max(shareOf(cands, k), n*k) + n
		}
	default:
		return nil, fmt.Errorf("query: Stream does not know strategy %q", s.Name())
	}

	var heaps []*kept
	var gh *kept
	if global > 0 {
		gh = newKept(global)
		heaps = append(heaps, gh)
	}
	var ph []*kept
	if per > 0 {
		ph = make([]*kept, k)
		for c := range ph {
			ph[c] = newKept(per)
			heaps = append(heaps, ph[c])
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rd := startReader(ctx, src, opt.Block, opt.Exclude)
	res := &StreamResult{}
	d := m.D()
	xs := mat.NewDense(opt.Block, d, nil)
	ps := mat.NewDense(opt.Block, k, nil)
	keys := make([]key, opt.Block)
	pred := m.Predictor()
	for blk := range rd.full {
		nb := len(blk.paths)
		raw := xs.RawMatrix().Data
		for i, v := range blk.x[:nb*d] {
			raw[i] = float64(v)
		}
		X := xs.Slice(0, nb, 0, d).(*mat.Dense)
		P := ps.Slice(0, nb, 0, k).(*mat.Dense)
		pred.Predict(X, P)
		b := &Pool{Paths: blk.paths, X: X, P: P, Model: m, Labelled: opt.Labelled}
		if err := keyFn(b, keys[:nb]); err != nil {
			return nil, err
		}
		for i := 0; i < nb; i++ {
			kk := keys[i]
			var x []float32
			if needX {
				x = blk.x[i*d : (i+1)*d]
			}
			row := blk.first + int64(i)
			if gh != nil {
				gh.offer(kk, blk.paths[i], row, P.RawRowView(i), x)
			}
			if ph != nil {
				ph[metrics.Argmax(P.RawRowView(i))].offer(kk, blk.paths[i], row, P.RawRowView(i), x)
			}
		}
		rd.free <- blk
	}
	if rd.err != nil {
		return nil, rd.err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.Rows, res.Excluded = rd.rows, rd.excluded

	pool, pkeys := gather(heaps, m, opt.Labelled, needX, k)
	res.Pool = pool
	if pool.Len() == 0 {
		return res, nil
	}
	var p prepared
	if scorerStrategy {
		p = ranked(pkeys)
	} else {
		var err error
		if p, err = inner.prepare(ctx, pool); err != nil {
			return nil, err
		}
	}
	var err error
	if isBalanced {
		res.Picks, err = balanceChoose(ctx, p, pool, allRows(pool.Len()), n)
	} else {
		res.Picks, err = p.choose(ctx, allRows(pool.Len()), nil, n)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

func errDim(what string, got, want int) error {
	return fmt.Errorf("the %s features have %d dimensions, the model was trained on %d", what, got, want)
}

// kept is a topN with the data of its rows.
type kept struct {
	t    *topN
	path []string
	row  []int64
	key  []key
	p    [][]float64
	x    [][]float32
}

func newKept(n int) *kept { return &kept{t: newTopN(n)} }

func (h *kept) offer(k key, path string, row int64, p []float64, x []float32) {
	if h.t.full() && !k.before(h.t.keys[0]) {
		return // the common case, without a call
	}
	s := h.t.offer(k)
	if s < 0 {
		return
	}
	if s == len(h.path) {
		h.path = append(h.path, path)
		h.row = append(h.row, row)
		h.key = append(h.key, k)
		h.p = append(h.p, append([]float64(nil), p...))
		var xc []float32
		if x != nil {
			xc = append([]float32(nil), x...)
		}
		h.x = append(h.x, xc)
		return
	}
	h.path[s], h.row[s], h.key[s] = path, row, k
	copy(h.p[s], p)
	if x != nil {
		copy(h.x[s], x)
	}
}

// gather makes one in-memory pool of the rows the heaps kept, in stream
// order. A row kept by several heaps appears once; so does a path repeated
// in the stream (its first kept row).
func gather(heaps []*kept, m *linear.Model, l *Labelled, needX bool, k int) (*Pool, []key) {
	type ref struct {
		h *kept
		s int
	}
	var refs []ref
	seen := map[int64]bool{}
	for _, h := range heaps {
		for s, r := range h.row {
			if !seen[r] {
				seen[r] = true
				refs = append(refs, ref{h, s})
			}
		}
	}
	sort.Slice(refs, func(a, b int) bool { return refs[a].h.row[refs[a].s] < refs[b].h.row[refs[b].s] })
	// Drop repeated paths first, so the matrices are allocated once at
	// their size: growing them by append cost more than the whole
	// selection on 10,000 candidates.
	paths := make(map[string]bool, len(refs))
	uniq := refs[:0]
	for _, rf := range refs {
		if p := rf.h.path[rf.s]; !paths[p] {
			paths[p] = true
			uniq = append(uniq, rf)
		}
	}
	n, d := len(uniq), m.D()
	pool := &Pool{Model: m, Labelled: l, Paths: make([]string, n), P: &mat.Dense{}}
	keys := make([]key, n)
	if n == 0 {
		return pool, keys
	}
	pool.P = mat.NewDense(n, k, nil)
	if needX {
		pool.X = mat.NewDense(n, d, nil)
	}
	for i, rf := range uniq {
		pool.Paths[i] = rf.h.path[rf.s]
		keys[i] = rf.h.key[rf.s]
		pool.P.SetRow(i, rf.h.p[rf.s])
		if needX {
			row := pool.X.RawRowView(i)
			for j, v := range rf.h.x[rf.s] {
				row[j] = float64(v)
			}
		}
	}
	return pool, keys
}

// block is a batch of pool rows on its way from the reader to the scorer.
type block struct {
	first int64 // stream ordinal of the first row
	paths []string
	x     []float32 // len(paths) x dim
}

type reader struct {
	full     chan *block
	free     chan *block
	err      error // valid after full is closed
	rows     int64
	excluded int64
}

// rowBatcher is the fast path of featstore's reader: whole batches into
// reused buffers.
type rowBatcher interface {
	ReadBatch(dst []featstore.Row) (int, error)
}

// startReader reads src in a goroutine, skipping excluded rows, and sends
// blocks of up to size rows on full; the consumer returns them on free.
// Two blocks circulate, so reading one overlaps with scoring the other.
func startReader(ctx context.Context, src dataset.Features, size int, exclude func(string) bool) *reader {
	rd := &reader{full: make(chan *block, 2), free: make(chan *block, 2)}
	dim := src.Dim()
	for range 2 {
		rd.free <- &block{paths: make([]string, 0, size), x: make([]float32, size*dim)}
	}
	go func() {
		defer close(rd.full)
		var blk *block
		get := func() bool {
			select {
			case blk = <-rd.free:
				blk.paths = blk.paths[:0]
				blk.first = rd.rows
				return true
			case <-ctx.Done():
				return false
			}
		}
		send := func() bool {
			select {
			case rd.full <- blk:
				blk = nil
				return true
			case <-ctx.Done():
				return false
			}
		}
		// accept appends a row to the current block unless it is excluded;
		// false means stop, with rd.err set.
		accept := func(path string, vec []float32) bool {
			rd.rows++
			if exclude != nil && exclude(path) {
				rd.excluded++
				return true
			}
			if len(vec) != dim {
				rd.err = fmt.Errorf("%s has %d features, want %d", path, len(vec), dim)
				return false
			}
			for j, v := range vec {
				if v-v != 0 { // NaN or ±Inf
					rd.err = fmt.Errorf("%s: feature %d is %g; refusing to select from non-finite features", path, j, v)
					return false
				}
			}
			i := len(blk.paths)
			if dst := blk.x[i*dim : (i+1)*dim]; &dst[0] != &vec[0] {
				copy(dst, vec)
			}
			blk.paths = append(blk.paths, path)
			return true
		}
		if rb, ok := src.(rowBatcher); ok {
			// featstore decodes straight into the block (ReadBatch reuses
			// Features slices with room for dim values); rows after an
			// excluded one are moved down by accept.
			rows := make([]featstore.Row, min(size, 1024))
			for {
				if blk == nil && !get() {
					return
				}
				base := len(blk.paths)
				want := min(size-base, len(rows))
				for i := range want {
					o := (base + i) * dim
					rows[i].Features = blk.x[o : o+dim : o+dim]
				}
				nr, err := rb.ReadBatch(rows[:want])
				for i := range nr {
					if !accept(rows[i].Path, rows[i].Features) {
						return
					}
				}
				if err != nil && !errors.Is(err, io.EOF) {
					rd.err = err
					return
				}
				if len(blk.paths) == size && !send() {
					return
				}
				if err != nil { // io.EOF
					break
				}
			}
		} else {
			for {
				path, vec, err := src.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					rd.err = err
					return
				}
				if blk == nil && !get() {
					return
				}
				if !accept(path, vec) {
					return
				}
				if len(blk.paths) == size && !send() {
					return
				}
			}
		}
		if blk != nil && len(blk.paths) > 0 {
			send()
		}
	}()
	return rd
}
