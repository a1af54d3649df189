// Package novelty scores how unlike the labelled images a feature vector
// is: its distance to its nearest labelled neighbours in the model's
// normalised feature space, in units of the labelled rows' own typical
// nearest-neighbour distance.
//
//	novelty(x) = d_k(x) / median_i d_k^(-i)(x_i)
//
// d_k is the mean Euclidean distance to the k nearest reference rows;
// d_k^(-i) leaves row i itself out. A labelled row has novelty about 1 by
// construction (half are below 1), an unlabelled image from the same
// classes too, and one unlike anything labelled (a photo among product
// shots) scores several times that. The scale is what makes the number
// readable without knowing the backbone: raw distances in 1,920 ReLU
// dimensions mean nothing, a ratio to how far labelled images are from one
// another does. A model's probabilities cannot say this: a softmax is
// confident far from its training data, where the linear margins only grow.
package novelty

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// MaxRows caps the reference. Scoring costs rows × d multiply-adds per
// image, and the model file grows by 5.3 bytes per value (base64 float32):
// 1,000 rows of 1,920 features are 10 MB of model.json and score a pool of
// 5,000 images in a few seconds. Above the cap a seeded random sample
// (stratified by class) stands in for the labelled set; its nearest
// neighbours are a little farther, but so is the scale measured on it.
const MaxRows = 1000

// K is the most neighbours averaged: one neighbour makes a single
// near-duplicate decide the score, many blur small classes (a class with 2
// labels has only 1 other member; see Build).
const K = 3

// Ref is the labelled rows, normalised, with the scale measured on them.
type Ref struct {
	Rows int `json:"rows"`
	D    int `json:"d"`
	K    int `json:"k"`
	// Scale is the median leave-one-out d_k over the reference rows.
	Scale float64 `json:"scale"`
	// Sampled is the number of labelled rows the reference was drawn from
	// (equal to Rows when none were left out).
	Sampled int `json:"sampled_from"`
	// Cut is the novelty above which an image counts as novel, set so
	// that an image like the labelled ones lies above it with probability
	// about 1 - CutQuantile: the conformal quantile (ConformalCut) of the
	// labelled rows' own leave-one-out novelties. 0 in references from
	// before the cut (no image is then novel).
	Cut         float64 `json:"cut,omitempty"`
	CutQuantile float64 `json:"cut_quantile,omitempty"`
	// Data holds Rows × D normalised values, row-major, as little-endian
	// float32 encoded in base64 (a JSON array of numbers would be twice
	// the size).
	Data []float32 `json:"-"`
}

// MarshalJSON writes Data as base64 float32.
func (r *Ref) MarshalJSON() ([]byte, error) {
	buf := make([]byte, 4*len(r.Data))
	for i, v := range r.Data {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	type plain Ref
	return json.Marshal(struct {
		*plain
		Data string `json:"data_f32_base64"`
	}{(*plain)(r), base64.StdEncoding.EncodeToString(buf)})
}

// UnmarshalJSON reads what MarshalJSON writes and checks its shape.
func (r *Ref) UnmarshalJSON(b []byte) error {
	type plain Ref
	var v struct {
		*plain
		Data string `json:"data_f32_base64"`
	}
	v.plain = (*plain)(r)
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	raw, err := base64.StdEncoding.DecodeString(v.Data)
	if err != nil {
		return fmt.Errorf("novelty reference: %w", err)
	}
	if len(raw) != 4*r.Rows*r.D {
		return fmt.Errorf("novelty reference: %d bytes for %d × %d float32", len(raw), r.Rows, r.D)
	}
	r.Data = make([]float32, r.Rows*r.D)
	for i := range r.Data {
		r.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	if r.K < 1 || !(r.Scale > 0) {
		return fmt.Errorf("novelty reference: k %d, scale %g", r.K, r.Scale)
	}
	if !(r.Cut >= 0) || math.IsInf(r.Cut, 0) || !(r.CutQuantile >= 0 && r.CutQuantile <= 1) {
		return fmt.Errorf("novelty reference: cut %g at quantile %g", r.Cut, r.CutQuantile)
	}
	return nil
}

// DefaultCutQuantile leaves about 1% of images like the labelled ones
// above the cut: few enough that a person can look at each, while a photo
// among product shots scores several times the cut.
const DefaultCutQuantile = 0.99

// Novel reports whether a novelty is above the cut; never without one.
func (r *Ref) Novel(v float64) bool { return r != nil && r.Cut > 0 && v > r.Cut }

// Build makes the reference from the labelled rows, already normalised
// (row(i) returns row i; it may reuse its buffer), with classes y for the
// stratified sample above MaxRows, and sets the cut at quantile q of the
// rows' leave-one-out novelties (0: DefaultCutQuantile). It needs at least
// 2 rows.
func Build(n, d int, row func(i int) []float64, y []int, seed uint64, q float64) (*Ref, error) {
	if q == 0 {
		q = DefaultCutQuantile
	}
	if !(q > 0 && q <= 1) {
		return nil, fmt.Errorf("novelty: cut quantile %g is not in (0, 1]", q)
	}
	if n < 2 {
		return nil, fmt.Errorf("novelty: need at least 2 labelled rows, have %d", n)
	}
	idx := sample(n, y, MaxRows, seed)
	// k is also at most the smallest class's rows minus one, so that a
	// labelled row's neighbours can all be of its own class: with 2 labels
	// per class (simulate's start) a third neighbour is in another class,
	// and the scale would measure the distance between classes instead.
	k := min(K, len(idx)-1)
	if y != nil {
		count := map[int]int{}
		for _, i := range idx {
			count[y[i]]++
		}
		for _, c := range count {
			k = min(k, max(1, c-1))
		}
	}
	r := &Ref{Rows: len(idx), D: d, K: k, Sampled: n, Data: make([]float32, len(idx)*d)}
	for o, i := range idx {
		for j, v := range row(i) {
			r.Data[o*d+j] = float32(v)
		}
	}
	loo := make([]float64, r.Rows)
	r.distances(r.Data, r.Rows, func(q int, dist []float64) {
		dist[q] = math.Inf(1) // leave the row itself out
		loo[q] = meanSmallest(dist, r.K)
	})
	sort.Float64s(loo)
	r.Scale = median(loo)
	if !(r.Scale > 0) {
		// All labelled rows identical (or K duplicates each): no scale.
		return nil, fmt.Errorf("novelty: the labelled rows' nearest-neighbour distances are all 0 (duplicates?)")
	}
	for i := range loo {
		loo[i] /= r.Scale
	}
	r.Cut, r.CutQuantile = ConformalCut(loo, q), q
	return r, nil
}

// Score writes the novelty of each of the n normalised rows of x
// (row-major, d columns) into dst.
func (r *Ref) Score(x []float32, n int, dst []float64) {
	r.distances(x, n, func(q int, dist []float64) {
		dst[q] = meanSmallest(dist, r.K) / r.Scale
	})
}

// distances calls fn(q, dist) for each query row, dist holding its
// Euclidean distances to every reference row (fn may overwrite it). The
// cross products are one GEMM per block: ||a-b||² = ||a||² + ||b||² - 2a·b.
func (r *Ref) distances(x []float32, n int, fn func(q int, dist []float64)) {
	const block = 256
	d := r.D
	ref := widen(r.Data)
	rn := rowNorms(ref, r.Rows, d)
	prod := make([]float64, block*r.Rows)
	for q0 := 0; q0 < n; q0 += block {
		q1 := min(q0+block, n)
		qs := widen(x[q0*d : q1*d])
		qn := rowNorms(qs, q1-q0, d)
		blas64.Gemm(blas.NoTrans, blas.Trans, 1,
			blas64.General{Rows: q1 - q0, Cols: d, Stride: d, Data: qs},
			blas64.General{Rows: r.Rows, Cols: d, Stride: d, Data: ref},
			0, blas64.General{Rows: q1 - q0, Cols: r.Rows, Stride: r.Rows, Data: prod})
		for q := 0; q < q1-q0; q++ {
			dist := prod[q*r.Rows : (q+1)*r.Rows]
			for j := range dist {
				// Rounding can make the square slightly negative.
				dist[j] = math.Sqrt(max(0, qn[q]+rn[j]-2*dist[j]))
			}
			fn(q0+q, dist)
		}
	}
}

func widen(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func rowNorms(x []float64, n, d int) []float64 {
	out := make([]float64, n)
	for i := range out {
		s := 0.0
		for _, v := range x[i*d : (i+1)*d] {
			s += v * v
		}
		out[i] = s
	}
	return out
}

// meanSmallest is the mean of the k smallest values (k small: a partial
// selection, not a sort).
func meanSmallest(v []float64, k int) float64 {
	best := make([]float64, 0, k)
	for _, x := range v {
		if len(best) < k {
			best = append(best, x)
			sort.Float64s(best)
		} else if x < best[k-1] {
			best[k-1] = x
			sort.Float64s(best)
		}
	}
	s := 0.0
	for _, x := range best {
		s += x
	}
	return s / float64(len(best))
}

// ConformalCut is the cut for scores of n labelled rows (each scored
// against the others, leave-one-out) that a new image's score, exchangeable
// with them, exceeds with probability at most 1-q: the ⌈(n+1)q⌉-th
// smallest score (split conformal prediction; Vovk et al. 2005). With fewer
// than about 1/(1-q) rows it is the largest score, which a new image then
// exceeds with probability 1/(n+1): few labels cannot promise 1%. scores
// is sorted in place.
func ConformalCut(scores []float64, q float64) float64 {
	sort.Float64s(scores)
	r := int(math.Ceil(float64(len(scores)+1)*q)) - 1
	return scores[min(max(r, 0), len(scores)-1)]
}

// MeanSmallest is the mean of the k smallest of v (the mean distance to
// the k nearest neighbours).
func MeanSmallest(v []float64, k int) float64 { return meanSmallest(v, k) }

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// sample returns all rows if n <= max, else max of them drawn per class in
// proportion (each class keeps at least one row), in increasing order.
func sample(n int, y []int, maxRows int, seed uint64) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	if n <= maxRows {
		return idx
	}
	byClass := map[int][]int{}
	var classes []int
	for i := 0; i < n; i++ {
		c := 0
		if y != nil {
			c = y[i]
		}
		if byClass[c] == nil {
			classes = append(classes, c)
		}
		byClass[c] = append(byClass[c], i)
	}
	sort.Ints(classes)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	var out []int
	for _, c := range classes {
		rows := byClass[c]
		take := max(1, int(math.Round(float64(len(rows))*float64(maxRows)/float64(n))))
		rng.Shuffle(len(rows), func(a, b int) { rows[a], rows[b] = rows[b], rows[a] })
		out = append(out, rows[:min(take, len(rows))]...)
	}
	sort.Ints(out)
	return out
}
