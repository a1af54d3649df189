package linear

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// problem is the solver's view of a data set: the caller's raw features,
// normalised and centred tile by tile as the products read them, as
// (x - off) * scale - mu (nil off/scale/mu mean none), class labels,
// optional observation weights and the penalties. Nothing of size n×d is
// ever allocated here: the features stay in whatever storage the caller has
// (float32 for train), which is what bounds train's memory.
type problem struct {
	n, d, k    int
	x          Matrix
	off, scale []float64
	mu         []float64
	copied     bool // x is the normalised, centred copy (keepCopyWithin)
	memory     int  // quasi-Newton pairs kept (0: lbfgsMemory)
	y          []int
	wt         []float64 // nil means all ones
	l1, l2     float64

	done <-chan struct{} // the fit's ctx.Done(); nil: never
	bufs [][]float64     // one tile buffer per worker
	col  []float64
}

func newProblem(x Matrix, y []int, k int, wt []float64, l1, l2 float64) (*problem, error) {
	n, d := x.Dims()
	if len(y) != n {
		return nil, fmt.Errorf("linear: %d labels for %d rows", len(y), n)
	}
	if k < 2 {
		return nil, fmt.Errorf("linear: need at least 2 classes, got %d", k)
	}
	if wt != nil && len(wt) != n {
		return nil, fmt.Errorf("linear: %d weights for %d rows", len(wt), n)
	}
	if err := CheckPenalties(l1, l2); err != nil {
		return nil, err
	}
	for i, c := range y {
		if c < 0 || c >= k {
			return nil, fmt.Errorf("linear: row %d has class %d outside 0..%d", i, c, k-1)
		}
	}
	for i, w := range wt {
		if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("linear: row %d has invalid weight %g", i, w)
		}
	}
	return &problem{n: n, d: d, k: k, x: x, y: y, wt: wt, l1: l1, l2: l2}, nil
}

// CheckPenalties reports penalties outside [0, +inf): a negative one makes
// the objective unbounded below, a NaN or infinite one makes it meaningless.
func CheckPenalties(l1, l2 float64) error {
	if l1 < 0 || l2 < 0 || math.IsNaN(l1) || math.IsNaN(l2) || math.IsInf(l1, 0) || math.IsInf(l2, 0) {
		return fmt.Errorf("linear: penalties must be finite and >= 0 (l1=%g, l2=%g)", l1, l2)
	}
	return nil
}

func (p *problem) weight(i int) float64 {
	if p.wt == nil {
		return 1
	}
	return p.wt[i]
}

// classWeights returns the total observation weight of each class.
func (p *problem) classWeights() []float64 {
	cw := make([]float64, p.k)
	for i, c := range p.y {
		cw[c] += p.weight(i)
	}
	return cw
}

// loss returns sum_i wt_i * -log softmax(z_i + b)_{y_i}. If r is not nil it
// also stores the residuals r_ik = wt_i (p_ik - [y_i = k]), which are the
// gradient of the loss with respect to the margins.
func (p *problem) loss(z, b, r []float64) float64 {
	k := p.k
	total := 0.0
	for i := 0; i < p.n; i++ {
		zi := z[i*k : (i+1)*k]
		m := math.Inf(-1)
		for c, v := range zi {
			m = math.Max(m, v+b[c])
		}
		s := 0.0
		for c, v := range zi {
			s += math.Exp(v + b[c] - m)
		}
		lse := m + math.Log(s)
		wi := p.weight(i)
		yi := p.y[i]
		if wi != 0 {
			total += wi * (lse - zi[yi] - b[yi])
		}
		if r != nil {
			ri := r[i*k : (i+1)*k]
			for c, v := range zi {
				ri[c] = wi * math.Exp(v+b[c]-lse)
			}
			ri[yi] -= wi
		}
	}
	return total
}

// gradient turns residuals into the gradient of the smooth part
// (loss + l2/2 ||W||²) with respect to theta = [W (k×d row-major), b (k)].
func (p *problem) gradient(theta, r, g []float64) {
	kd := p.k * p.d
	gw, gb := g[:kd], g[kd:]
	if p.n == 0 {
		clear(gw)
	} else {
		p.gradientW(r, gw)
	}
	for j, w := range theta[:kd] {
		gw[j] += p.l2 * w
	}
	clear(gb)
	for i := 0; i < p.n; i++ {
		for c, v := range r[i*p.k : (i+1)*p.k] {
			gb[c] += v
		}
	}
}

// penalty returns l2/2 ||W||² and l1 ||W||_1 of the weight part of theta.
func (p *problem) penalty(w []float64) (sq, abs float64) {
	for _, v := range w {
		sq += v * v
		abs += math.Abs(v)
	}
	return 0.5 * p.l2 * sq, p.l1 * abs
}

// Objective evaluates
//
//	sum_i wt_i * -log softmax(W x_i + b)_{y_i} + l2/2 ||W||_F² + l1 ||W||_1
//
// on features X that are already in the space W acts on (i.e. normalised
// the way the model was trained). It is the one shared yardstick: the tests
// and the peer benchmark score every solver's solution with it. Only
// p.L1, p.L2 and p.Weights are used.
func Objective(X mat.Matrix, y []int, W [][]float64, b []float64, p Params) (float64, error) {
	n, d := X.Dims()
	k := len(b)
	if len(W) != k {
		return 0, fmt.Errorf("linear: W has %d rows, b has %d", len(W), k)
	}
	prob, err := newProblem(AsMatrix(X), y, k, p.Weights, p.L1, p.L2)
	if err != nil {
		return 0, err
	}
	w := make([]float64, 0, k*d)
	for c, row := range W {
		if len(row) != d {
			return 0, fmt.Errorf("linear: W row %d has %d entries, X has %d columns", c, len(row), d)
		}
		w = append(w, row...)
	}
	z := make([]float64, n*k)
	prob.margins(w, z)
	sq, abs := prob.penalty(w)
	return prob.loss(z, b, nil) + sq + abs, nil
}

func ones(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = 1
	}
	return s
}
