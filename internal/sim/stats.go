package sim

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"sort"
	"strings"
)

// Curve is one strategy's learning curve over its replays: per round, the
// mean and the 90% band (5th to 95th percentile) of each metric over the
// draws where it is defined.
type Curve struct {
	Strategy     string
	NAsked       []float64 // labels asked (initial + queried), mean over replays: the x axis
	NTrain       []float64 // rows trained on, mean over replays
	NQueried     []float64
	Mean, Lo, Hi map[string][]float64 // metric -> per round
	Replays      int
}

// BandLo and BandHi are the quantiles of the 90% band.
const BandLo, BandHi = 0.05, 0.95

func curves(res *Result) []Curve {
	var out []Curve
	for _, s := range res.Config.Strategies {
		byRound := map[int][]Point{}
		reps := map[int]bool{}
		for _, p := range res.Points {
			if p.Strategy == s {
				byRound[p.Round] = append(byRound[p.Round], p)
				reps[p.Repeat] = true
			}
		}
		c := Curve{Strategy: s, Mean: map[string][]float64{}, Lo: map[string][]float64{}, Hi: map[string][]float64{}, Replays: len(reps)}
		for round := 0; ; round++ {
			pts, ok := byRound[round]
			if !ok {
				break
			}
			c.NAsked = append(c.NAsked, meanOf(pts, func(p Point) float64 { return float64(p.NAsked) }))
			c.NTrain = append(c.NTrain, meanOf(pts, func(p Point) float64 { return float64(p.NTrain) }))
			c.NQueried = append(c.NQueried, meanOf(pts, func(p Point) float64 { return float64(p.NQueried) }))
			for _, m := range Metrics {
				var vals []float64
				for _, p := range pts {
					if v := Value(p.Report, m); !math.IsNaN(v) {
						vals = append(vals, v)
					}
				}
				c.Mean[m] = append(c.Mean[m], mean(vals))
				c.Lo[m] = append(c.Lo[m], Quantile(vals, BandLo))
				c.Hi[m] = append(c.Hi[m], Quantile(vals, BandHi))
			}
		}
		out = append(out, c)
	}
	return out
}

func meanOf(pts []Point, f func(Point) float64) float64 {
	s := 0.0
	for _, p := range pts {
		s += f(p)
	}
	return s / float64(len(pts))
}

// mean is NaN for no values: an undefined mean is not 0.
func mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// Quantile is the q-quantile of v by linear interpolation between order
// statistics (R's type 7, numpy's default); NaN for no values. +Inf values
// (a target never reached) sort last and make any quantile that touches
// them +Inf.
func Quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	f := pos - float64(i)
	if f == 0 {
		return s[i]
	}
	if math.IsInf(s[i+1], 1) {
		return math.Inf(1)
	}
	return s[i] + f*(s[i+1]-s[i])
}

// Paired is one paired comparison of a strategy with random over draws.
type Paired struct {
	N        int     // draws where both are defined
	MeanDiff float64 // mean of strategy minus random; NaN when N = 0
	P        float64 // two-sided sign-flip p-value; NaN when N = 0
	Exact    bool
}

// Comparison is a strategy against random, metric by metric, at the final
// round and in the area under the learning curve.
type Comparison struct {
	Final map[string]Paired
	AULC  map[string]Paired
}

// ExactMaxDraws is the most draws for which the sign-flip test enumerates
// every sign vector (2^20, about a million); beyond it, MonteCarloFlips
// random sign vectors from MonteCarloSeed are used.
const (
	ExactMaxDraws   = 20
	MonteCarloFlips = 100000
	MonteCarloSeed  = 1
)

// SignFlip is the two-sided sign-flip permutation test of "the paired
// differences d are symmetric around 0": under that null every sign vector
// is as likely as the observed one, so p is the share of sign vectors whose
// |sum| is at least the observed |sum|. Exactly, over all 2^n vectors, for
// n <= ExactMaxDraws (so all n differences positive give p = 2/2^n: the
// observed signs and their mirror image); otherwise by Monte Carlo,
// (1 + hits) / (1 + MonteCarloFlips), which is never 0. p is NaN for no
// differences.
func SignFlip(d []float64) (p float64, exact bool) {
	n := len(d)
	if n == 0 {
		return math.NaN(), false
	}
	obs, scale := 0.0, 0.0
	for _, v := range d {
		obs += v
		scale += math.Abs(v)
	}
	obs = math.Abs(obs)
	// Sums that are equal in exact arithmetic can differ in the last bits
	// after a different order of additions; a tie must count as a tie.
	tol := 1e-9 * scale
	if n <= ExactMaxDraws {
		// Gray code: each step flips one sign, so each vector costs O(1).
		sign := make([]float64, n)
		for i := range sign {
			sign[i] = 1
		}
		sum, hits := 0.0, 1 // the observed (all-plus) vector counts
		for _, v := range d {
			sum += v
		}
		total := uint64(1) << n
		for k := uint64(1); k < total; k++ {
			j := bits.TrailingZeros64(k)
			sign[j] = -sign[j]
			sum += 2 * sign[j] * d[j]
			if math.Abs(sum) >= obs-tol {
				hits++
			}
		}
		return float64(hits) / float64(total), true
	}
	rng := rand.New(rand.NewPCG(MonteCarloSeed, uint64(n)))
	hits := 0
	for k := 0; k < MonteCarloFlips; k++ {
		sum := 0.0
		for i := 0; i < n; i += 64 {
			b := rng.Uint64()
			for j := i; j < min(i+64, n); j++ {
				if b&(1<<(j-i)) != 0 {
					sum += d[j]
				} else {
					sum -= d[j]
				}
			}
		}
		if math.Abs(sum) >= obs-tol {
			hits++
		}
	}
	return float64(1+hits) / float64(1+MonteCarloFlips), false
}

// Target is how many labels a strategy needed to reach a share of the full
// model's accuracy (on the same draw), over its replays. A replay that never
// reached it counts as +Inf, so the median is +Inf when most did not.
type Target struct {
	Share            float64
	Median, Lo, Hi   float64 // labels asked; 90% band
	NTrainMedian     float64 // rows trained on at that round, over the replays that reached it
	Reached, Replays int
}

// Targets are the shares of the full model's accuracy that
// labels-to-target reports.
var Targets = []struct {
	Name  string
	Share float64
}{{"95%", 0.95}, {"99%", 0.99}}

// summarise fills curves, paired comparisons and labels-to-target.
func summarise(res *Result) {
	res.Curves = curves(res)
	type key struct {
		strategy string
		repeat   int
	}
	replays := map[key][]Point{}
	for _, p := range res.Points {
		k := key{p.Strategy, p.Repeat}
		replays[k] = append(replays[k], p)
	}

	// Paired differences, strategy minus random, draw by draw. A
	// deterministic strategy that ran once (fixed splits) pairs its one
	// replay with every draw of random.
	res.Comparisons = map[string]Comparison{}
	exactAll, anyDefined := true, false
	for _, s := range res.Config.Strategies {
		if s == Random {
			continue
		}
		if _, ok := replays[key{Random, 0}]; !ok {
			break
		}
		cmp := Comparison{Final: map[string]Paired{}, AULC: map[string]Paired{}}
		for _, m := range Metrics {
			var dFinal, dArea []float64
			for r := 0; r < res.Config.Repeats; r++ {
				rnd, ok := replays[key{Random, r}]
				if !ok {
					continue
				}
				own, ok := replays[key{s, r}]
				if !ok {
					own, ok = replays[key{s, 0}]
					if !ok || !res.Fixed {
						continue
					}
				}
				// An undefined score on either side leaves the draw out:
				// it is neither evidence for nor against.
				if a, b := Value(own[len(own)-1].Report, m), Value(rnd[len(rnd)-1].Report, m); !math.IsNaN(a) && !math.IsNaN(b) {
					dFinal = append(dFinal, a-b)
				}
				if a, b := area(own, m), area(rnd, m); !math.IsNaN(a) && !math.IsNaN(b) {
					dArea = append(dArea, a-b)
				}
			}
			cmp.Final[m] = paired(dFinal)
			cmp.AULC[m] = paired(dArea)
			for _, p := range []Paired{cmp.Final[m], cmp.AULC[m]} {
				if p.N > 0 {
					anyDefined = true
					exactAll = exactAll && p.Exact
				}
			}
		}
		res.Comparisons[s] = cmp
	}
	switch {
	case !anyDefined:
		res.PairedTest = "no paired comparison (random not among the strategies, or no defined score)"
	case exactAll:
		res.PairedTest = fmt.Sprintf("two-sided sign-flip permutation test over the draws, exact (all 2^n sign vectors, n <= %d)", ExactMaxDraws)
	default:
		res.PairedTest = fmt.Sprintf("two-sided sign-flip permutation test over the draws: exact for n <= %d draws, otherwise Monte Carlo with %d random sign vectors (seed %d), p = (1 + hits) / (1 + %d)",
			ExactMaxDraws, MonteCarloFlips, MonteCarloSeed, MonteCarloFlips)
	}

	res.LabelsToTarget = map[string]map[string]Target{}
	for _, s := range res.Config.Strategies {
		targets := map[string]Target{}
		for _, t := range Targets {
			tg := Target{Share: t.Share}
			var asked, trained []float64
			for r := 0; r < res.Config.Repeats; r++ {
				pts, ok := replays[key{s, r}]
				if !ok {
					continue
				}
				tg.Replays++
				full := res.Fulls[r].Report.Accuracy
				n := math.Inf(1)
				for _, p := range pts {
					if !math.IsNaN(full) && p.Report.Accuracy >= t.Share*full {
						n = float64(p.NAsked)
						trained = append(trained, float64(p.NTrain))
						tg.Reached++
						break
					}
				}
				asked = append(asked, n)
			}
			tg.Median, tg.Lo, tg.Hi = Quantile(asked, 0.5), Quantile(asked, BandLo), Quantile(asked, BandHi)
			tg.NTrainMedian = Quantile(trained, 0.5)
			targets[t.Name] = tg
		}
		res.LabelsToTarget[s] = targets
	}

	var nc []string
	for _, s := range append([]string{"full"}, res.Config.Strategies...) {
		if n := res.NotConverged[s]; n > 0 {
			nc = append(nc, fmt.Sprintf("%s %d of %d", s, n, res.Fits[s]))
		}
	}
	if len(nc) > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("fits that stopped at the iteration cap (--l1/--l2 too small for the data, or a cap too low) before reaching the tolerance: %s; their scores are used as they are",
			strings.Join(nc, ", ")))
	}
}

func paired(d []float64) Paired {
	p, exact := SignFlip(d)
	return Paired{N: len(d), MeanDiff: mean(d), P: p, Exact: exact}
}

// area is the area under a replay's learning curve of metric m against
// labels asked, divided by the labels spanned: the curve's average height,
// comparable across strategies that queried the same number of labels. NaN
// if the metric is undefined at any round, or with a single round.
func area(pts []Point, m string) float64 {
	if len(pts) < 2 {
		return math.NaN()
	}
	sum := 0.0
	for i := 1; i < len(pts); i++ {
		a, b := Value(pts[i-1].Report, m), Value(pts[i].Report, m)
		if math.IsNaN(a) || math.IsNaN(b) {
			return math.NaN()
		}
		sum += (a + b) / 2 * float64(pts[i].NAsked-pts[i-1].NAsked)
	}
	span := float64(pts[len(pts)-1].NAsked - pts[0].NAsked)
	if span == 0 {
		return math.NaN()
	}
	return sum / span
}
