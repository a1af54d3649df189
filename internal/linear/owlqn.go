package linear

import (
	"math"

	"gonum.org/v1/gonum/floats"
)

// Why OWL-QN (orthant-wise limited-memory quasi-Newton, Andrew & Gao 2007)
// rather than glmnet-style coordinate descent or a proximal Newton method:
//
//   - Cost per iteration is two level-3 GEMMs (X Dᵀ for the line search and
//     Rᵀ X for the gradient, each n·d·k multiply-adds) plus O(n·k) work;
//     line-search trials along a fixed direction reuse X Dᵀ and cost only
//     O(n·k). GEMM runs near machine speed and is deterministic in gonum
//     (each output block is owned by one goroutine), whereas coordinate
//     descent on the multinomial touches the n-vector of each of the k·d
//     coordinates one at a time in scalar code, several sweeps per outer
//     step.
//   - The winnow regime is weak regularisation of a summed loss (l1 = l2 =
//     0.01 against n terms) on dense, strongly correlated CNN features, often
//     with d >> n. Solutions are dense, the problem is badly conditioned and
//     often (nearly) separable. Coordinate descent slows down badly on
//     correlated columns and needs a regularisation path to be competitive;
//     a quasi-Newton method picks up curvature across coordinates and needs
//     no path.
//   - Memory is O(m·k·d) for the m curvature pairs, independent of n, and
//     no k·d × k·d Hessian is ever formed (a proximal Newton method would
//     need an inner solver over the same coupled quadratic).
//
// The smooth part handed to the quasi-Newton model is loss + l2/2 ||W||²;
// only the l1 term is handled orthant-wise. Intercepts are unpenalised
// coordinates of the same vector. Two departures from the paper matter for
// tight convergence (both found by the tests, which stalled without them):
// the sign constraint on the direction is applied only to weights at zero,
// and near the optimum a full step whose objective change is lost in
// rounding is judged by the subgradient norm instead of by Armijo.
// Fit also centres the columns (see there), which on ReLU features cut the
// iteration count several-fold.

// trace, when set by a test, sees every iteration.
var trace func(it int, F, kkt float64)

const (
	lbfgsMemory   = 20
	armijo        = 1e-4
	maxBacktracks = 60
	refreshEvery  = 50
	noiseBand     = 1e-12 // recompute X Wᵀ from scratch to stop rounding drift
)

type solveResult struct {
	iters     int
	converged bool
	cancelled bool
	kkt       float64 // max-norm of the minimum-norm subgradient
	kktScale  float64 // the scale kkt is judged against
	// g and r are the smooth part's gradient and the residuals at the
	// final theta (a path fit reuses them for its KKT check).
	g, r []float64
}

// pseudoGradient writes the minimum-norm subgradient of the full objective
// at theta into pg and returns its max-norm. g is the smooth gradient.
func (p *problem) pseudoGradient(theta, g, pg []float64) float64 {
	kd := p.k * p.d
	l1 := p.l1
	worst := 0.0
	for j := range theta {
		v := g[j]
		if j < kd && l1 > 0 {
			switch w := theta[j]; {
			case w > 0:
				v += l1
			case w < 0:
				v -= l1
			case v+l1 < 0:
				v += l1
			case v-l1 > 0:
				v -= l1
			default:
				v = 0
			}
		}
		pg[j] = v
		worst = math.Max(worst, math.Abs(v))
	}
	return worst
}

// kktScale is the largest |∂loss/∂w| at W = 0 with the intercept-only
// optimum, i.e. the smallest l1 at which all weights vanish. Judging the
// subgradient against it makes the tolerance independent of n and of the
// feature scale, and of the starting point (warm starts are judged the same).
func (p *problem) kktScale() float64 {
	cw := p.classWeights()
	theta := make([]float64, p.k*p.d+p.k)
	copy(theta[p.k*p.d:], interceptOnly(cw))
	z := make([]float64, p.n*p.k)
	r := make([]float64, p.n*p.k)
	g := make([]float64, len(theta))
	p.loss(z, theta[p.k*p.d:], r)
	p.gradient(theta, r, g)
	s := 0.0
	for _, v := range g[:p.k*p.d] {
		s = math.Max(s, math.Abs(v))
	}
	return math.Max(s, 1)
}

// interceptOnly returns the optimal intercepts of the model with W = 0:
// log class weights, centred (softmax is invariant to a common shift).
func interceptOnly(cw []float64) []float64 {
	b := make([]float64, len(cw))
	mean := 0.0
	for c, w := range cw {
		b[c] = math.Log(w)
		mean += b[c]
	}
	mean /= float64(len(cw))
	for c := range b {
		b[c] -= mean
	}
	return b
}

// solve minimises the objective from theta (modified in place), until the
// relative objective change is below tol and the subgradient's max-norm is
// below kktTol times the problem's kktScale.
func (p *problem) solve(theta []float64, maxIter int, tol, kktTol float64) solveResult {
	scale := p.kktScale()
	return p.solveTo(theta, maxIter, tol, kktTol*scale, scale)
}

// solveTo is solve with the subgradient bound given absolutely (kktAbs) and
// the scale reported with it: a path fit passes its fold's scale, and a
// screened subproblem must not judge itself by its own columns alone.
func (p *problem) solveTo(theta []float64, maxIter int, tol, kktAbs, scale float64) solveResult {
	n, k, d := p.n, p.k, p.d
	kd := k * d
	dim := kd + k

	z := make([]float64, n*k)
	zNew := make([]float64, n*k)
	xd := make([]float64, n*k)
	r := make([]float64, n*k)
	rNew := make([]float64, n*k)
	g := make([]float64, dim)
	gNew := make([]float64, dim)
	pg := make([]float64, dim)
	dir := make([]float64, dim)
	thNew := make([]float64, dim)
	tmp := make([]float64, dim)
	orth := make([]float64, kd)
	hit := make([]bool, d)
	lbfgsMemory := lbfgsMemory
	if p.memory > 0 {
		lbfgsMemory = p.memory
	}
	alpha := make([]float64, lbfgsMemory)
	rho := make([]float64, lbfgsMemory)
	S := make([][]float64, lbfgsMemory)
	Y := make([][]float64, lbfgsMemory)
	for i := range S {
		S[i] = make([]float64, dim)
		Y[i] = make([]float64, dim)
	}
	mem, head := 0, 0 // number of stored pairs, index of the next slot

	eval := func(th, z, r []float64) float64 {
		sq, abs := p.penalty(th[:kd])
		return p.loss(z, th[kd:], r) + sq + abs
	}
	p.margins(theta[:kd], z)
	F := eval(theta, z, r)
	p.gradient(theta, r, g)
	kkt := p.pseudoGradient(theta, g, pg)
	res := solveResult{kktScale: scale, kkt: kkt}
	if kkt <= kktAbs {
		res.converged = true
		res.g, res.r = g, r
		return res
	}

	for it := 1; it <= maxIter; it++ {
		if p.cancelled() {
			res.cancelled = true
			break
		}
		res.iters = it
		// Two-loop recursion: dir = -H pg.
		for j, v := range pg {
			dir[j] = -v
		}
		for m := 0; m < mem; m++ {
			i := (head - 1 - m + lbfgsMemory) % lbfgsMemory
			alpha[i] = rho[i] * dot(S[i], dir)
			axpy(-alpha[i], Y[i], dir)
		}
		if mem > 0 {
			last := (head - 1 + lbfgsMemory) % lbfgsMemory
			gamma := dot(S[last], Y[last]) / dot(Y[last], Y[last])
			for j := range dir {
				dir[j] *= gamma
			}
		}
		for m := mem - 1; m >= 0; m-- {
			i := (head - 1 - m + lbfgsMemory) % lbfgsMemory
			beta := rho[i] * dot(Y[i], dir)
			axpy(alpha[i]-beta, S[i], dir)
		}
		// A weight at zero may only leave it in the direction -pg points
		// to. Andrew & Gao apply this sign constraint to every coordinate;
		// for nonzero weights the objective is smooth inside their orthant
		// and the point projection below already stops sign changes, so
		// clipping the quasi-Newton direction there only throws curvature
		// away (it stalls convergence at tight tolerances).
		for j := 0; j < kd; j++ {
			if theta[j] == 0 && dir[j]*pg[j] >= 0 {
				dir[j] = 0
			}
		}
		if dot(dir, pg) >= 0 { // lost descent: forget curvature
			mem = 0
			for j, v := range pg {
				dir[j] = -v
			}
		}
		for j := 0; j < kd; j++ {
			switch {
			case theta[j] > 0:
				orth[j] = 1
			case theta[j] < 0:
				orth[j] = -1
			default:
				orth[j] = -math.Copysign(1, pg[j])
				if pg[j] == 0 {
					orth[j] = 0
				}
			}
		}
		p.margins(dir[:kd], xd)

		step := 1.0
		if mem == 0 {
			step = math.Min(1, 1/norm2(pg))
		}
		accepted, gradKnown := false, false
		var FNew float64
		for bt := 0; bt < maxBacktracks; bt++ {
			projected, projCols := 0, 0
			clear(hit)
			for j := range theta {
				v := theta[j] + step*dir[j]
				if j < kd && v*orth[j] <= 0 {
					if v != 0 {
						projected++
						if c := j % d; !hit[c] {
							hit[c] = true
							projCols++
						}
					}
					v = 0
				}
				thNew[j] = v
			}
			// Correcting column by column reads each column across all
			// rows, strided; from tiles (widened and normalised an element
			// at a time, not a copy read in place) past a sixteenth of the
			// columns one fresh product is cheaper (1,333 x 1,920 folds).
			if projected > 0 && (projected*8 > d*k || !p.copied && projCols*16 > d) {
				p.margins(thNew[:kd], zNew)
			} else {
				for i, v := range z {
					zNew[i] = v + step*xd[i]
				}
				if projected > 0 {
					p.unproject(theta, thNew, dir, step, zNew)
				}
			}
			FNew = eval(thNew, zNew, rNew)
			decrease := 0.0
			for j := range theta {
				decrease += pg[j] * (thNew[j] - theta[j])
			}
			if FNew <= F+armijo*decrease {
				accepted = true
				break
			}
			// Near the optimum the predicted decrease falls below the
			// rounding noise of F (a sum of n terms) long before the
			// subgradient is small, and Armijo can no longer tell a good
			// step from a bad one. Within that noise band judge the full
			// step by the subgradient norm instead, which stays accurate.
			if bt == 0 && math.Abs(FNew-F) <= noiseBand*math.Max(1, math.Abs(F)) {
				p.gradient(thNew, rNew, gNew)
				if p.pseudoGradient(thNew, gNew, tmp) < kkt {
					accepted, gradKnown = true, true
					break
				}
			}
			step *= 0.5
		}
		if !accepted {
			if mem > 0 { // retry once along steepest descent
				mem = 0
				it--
				continue
			}
			break
		}
		if it%refreshEvery == 0 {
			p.margins(thNew[:kd], zNew)
			FNew = eval(thNew, zNew, rNew)
			gradKnown = false
		}
		if !gradKnown {
			p.gradient(thNew, rNew, gNew)
		}

		// Curvature pair from the smooth part only.
		s, yv := S[head], Y[head]
		for j := range theta {
			s[j] = thNew[j] - theta[j]
			yv[j] = gNew[j] - g[j]
		}
		if sy := dot(s, yv); sy > 1e-12*dot(yv, yv) && sy > 0 {
			rho[head] = 1 / sy
			head = (head + 1) % lbfgsMemory
			if mem < lbfgsMemory {
				mem++
			}
		}

		rel := (F - FNew) / math.Max(1, math.Abs(FNew))
		copy(theta, thNew)
		z, zNew = zNew, z
		r, rNew = rNew, r
		g, gNew = gNew, g
		F = FNew
		kkt = p.pseudoGradient(theta, g, pg)
		res.kkt = kkt
		if trace != nil {
			trace(it, F, kkt/scale)
		}
		if kkt <= kktAbs && rel < tol {
			res.converged = true
			break
		}
	}
	res.g, res.r = g, r
	return res
}

// unproject corrects zNew = Z + step·X Dᵀ for the weights that the orthant
// projection set to zero instead of theta+step·dir: a rank-one column update
// each, cheaper than a fresh GEMM while few weights cross zero. A column is
// read once for all the classes whose weight on it was projected.
func (p *problem) unproject(theta, thNew, dir []float64, step float64, zNew []float64) {
	k, d := p.k, p.d
	for j := 0; j < d; j++ {
		var col []float64
		for c := 0; c < k; c++ {
			idx := c*d + j
			full := theta[idx] + step*dir[idx]
			if thNew[idx] == full {
				continue
			}
			if col == nil {
				col = p.column(j)
			}
			delta := thNew[idx] - full
			for i, v := range col {
				zNew[i*k+c] += delta * v
			}
		}
	}
}

// dot and axpy run gonum's assembly kernels: the quasi-Newton two-loop
// recursion (4·m of them over all k·d+k coordinates per iteration) cost as
// much as the products on 133 x 1,920 fold fits in plain Go.
func dot(a, b []float64) float64 { return floats.Dot(a, b[:len(a)]) }

func axpy(a float64, x, y []float64) { floats.AddScaled(y[:len(x)], a, x) }

func norm2(a []float64) float64 { return math.Sqrt(dot(a, a)) }
