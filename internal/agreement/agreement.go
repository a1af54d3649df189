// Package agreement measures how far labellers agree and turns their answers
// into consensus labels: Cohen's kappa between two labellers, Fleiss' kappa
// among many, majority vote, and Dawid and Skene's (1979) EM estimate of each
// labeller's confusion matrix and each item's true class.
//
// Statistics that are not defined for the data at hand (no overlap, a single
// category used, one labeller) come back with ok = false and the reason,
// never as NaN.
package agreement

import (
	"fmt"
	"math"
)

// Answer is one labeller's class for one item. Items, labellers and classes
// are dense indices; the caller maps names to them.
type Answer struct {
	Item, Labeller, Class int
}

// Stat is a statistic that may be undefined.
type Stat struct {
	Value float64
	OK    bool
	Why   string // why it is not defined, when !OK
}

func undefined(format string, args ...any) Stat {
	return Stat{Why: fmt.Sprintf(format, args...)}
}

// CohenKappa is the chance-corrected agreement of two labellers over the
// items both labelled: a[i] and b[i] are their classes for item i, in
// [0, k). kappa = (po - pe) / (1 - pe).
func CohenKappa(a, b []int, k int) Stat {
	n := len(a)
	if n != len(b) {
		return undefined("the two answer lists differ in length")
	}
	if n == 0 {
		return undefined("no item labelled by both")
	}
	ma, mb := make([]float64, k), make([]float64, k)
	agree := 0.0
	for i := range a {
		ma[a[i]]++
		mb[b[i]]++
		if a[i] == b[i] {
			agree++
		}
	}
	po := agree / float64(n)
	pe := 0.0
	for c := range k {
		pe += (ma[c] / float64(n)) * (mb[c] / float64(n))
	}
	if pe >= 1 {
		return undefined("both labellers used a single class, the same one: agreement by chance is certain")
	}
	return Stat{Value: (po - pe) / (1 - pe), OK: true}
}

// FleissKappa is the agreement among any number of labellers: counts[i][c]
// is how many labellers put item i in class c. Items with fewer than two
// answers carry no agreement and are left out; items may have different
// numbers of answers (each item's agreement is weighted equally, as in
// Fleiss' formula with n_i per item).
func FleissKappa(counts [][]int) Stat {
	var pBar float64
	var used int
	var total float64
	k := 0
	for _, row := range counts {
		k = max(k, len(row))
	}
	pj := make([]float64, k)
	for _, row := range counts {
		n := 0
		for _, c := range row {
			n += c
		}
		if n < 2 {
			continue
		}
		s := 0.0
		for j, c := range row {
			s += float64(c * c)
			pj[j] += float64(c)
		}
		pBar += (s - float64(n)) / float64(n*(n-1))
		total += float64(n)
		used++
	}
	if used == 0 {
		return undefined("no item has two or more answers")
	}
	pBar /= float64(used)
	pe := 0.0
	for j := range pj {
		p := pj[j] / total
		pe += p * p
	}
	if pe >= 1 {
		return undefined("every answer is the same class: agreement by chance is certain")
	}
	return Stat{Value: (pBar - pe) / (1 - pe), OK: true}
}

// Counts tallies answers into counts[item][class].
func Counts(answers []Answer, items, k int) [][]int {
	out := make([][]int, items)
	for i := range out {
		out[i] = make([]int, k)
	}
	for _, a := range answers {
		out[a.Item][a.Class]++
	}
	return out
}

// Majority returns each item's most frequent class, or -1 for an item
// without answers or with a tie at the top.
func Majority(counts [][]int) []int {
	out := make([]int, len(counts))
	for i, row := range counts {
		best, at, tie := 0, -1, false
		for c, n := range row {
			switch {
			case n > best:
				best, at, tie = n, c, false
			case n == best && n > 0:
				tie = true
			}
		}
		if tie {
			at = -1
		}
		out[i] = at
	}
	return out
}

// DSResult is the Dawid-Skene estimate.
type DSResult struct {
	// Posterior[i][c] is p(item i is class c | all answers).
	Posterior [][]float64
	// Confusion[l][t][g] is p(labeller l answers g | true class t).
	Confusion [][][]float64
	Prior     []float64 // class frequencies
	// Labels is each item's most probable class, -1 for an item without
	// answers and not gold.
	Labels     []int
	Iterations int
	Converged  bool
}

// DSOptions tune DawidSkene.
type DSOptions struct {
	// Gold clamps items whose class is known: their posterior is that
	// class, and they teach the confusion matrices.
	Gold map[int]int
	// GoldOnly learns the confusion matrices and the class prior from the
	// gold items alone; the other items still get posteriors from them.
	// For two labellers: where they disagree on an item of unknown class,
	// the likelihood is the same whichever of them is right, so letting
	// such items teach only amplifies wherever EM happened to start. For
	// an item one labeller answered alone, it would teach that labeller
	// that they are right.
	GoldOnly bool
	// Smoothing is added to every confusion count (a Dirichlet prior), so a
	// labeller seen on few items is not taken as certain. Default 0.01.
	Smoothing float64
	MaxIter   int     // default 200
	Tol       float64 // stop when no posterior moves more than this; default 1e-7
}

// DawidSkene estimates each labeller's confusion matrix and each item's
// class by EM, started from majority vote (ties split evenly), with gold
// items clamped.
func DawidSkene(answers []Answer, items, labellers, k int, opt DSOptions) DSResult {
	if opt.Smoothing <= 0 {
		opt.Smoothing = 0.01
	}
	if opt.MaxIter <= 0 {
		opt.MaxIter = 200
	}
	if opt.Tol <= 0 {
		opt.Tol = 1e-7
	}
	counts := Counts(answers, items, k)
	post := make([][]float64, items)
	answered := make([]bool, items)
	for _, a := range answers {
		answered[a.Item] = true
	}
	for i := range post {
		post[i] = make([]float64, k)
		if g, ok := opt.Gold[i]; ok {
			post[i][g] = 1
			continue
		}
		// Majority vote, ties shared: the usual start, which keeps EM from
		// settling on a permutation of the classes.
		best := 0
		for _, n := range counts[i] {
			best = max(best, n)
		}
		if best == 0 {
			continue
		}
		var top float64
		for _, n := range counts[i] {
			if n == best {
				top++
			}
		}
		for c, n := range counts[i] {
			if n == best {
				post[i][c] = 1 / top
			}
		}
	}
	conf := make([][][]float64, labellers)
	for l := range conf {
		conf[l] = make([][]float64, k)
		for t := range conf[l] {
			conf[l][t] = make([]float64, k)
		}
	}
	byItem := make([][]Answer, items)
	for _, a := range answers {
		byItem[a.Item] = append(byItem[a.Item], a)
	}
	prior := make([]float64, k)
	res := DSResult{}
	logp := make([]float64, k)
	for it := 1; it <= opt.MaxIter; it++ {
		res.Iterations = it
		// M step: confusion matrices and prior from the posteriors.
		for l := range conf {
			for t := range conf[l] {
				for g := range conf[l][t] {
					conf[l][t][g] = opt.Smoothing
				}
			}
		}
		for _, a := range answers {
			if _, gold := opt.Gold[a.Item]; opt.GoldOnly && !gold {
				continue
			}
			for t, p := range post[a.Item] {
				conf[a.Labeller][t][a.Class] += p
			}
		}
		for l := range conf {
			for t := range conf[l] {
				s := 0.0
				for _, v := range conf[l][t] {
					s += v
				}
				for g := range conf[l][t] {
					conf[l][t][g] /= s
				}
			}
		}
		clear(prior)
		n := 0.0
		for i := range post {
			if _, gold := opt.Gold[i]; !gold && (!answered[i] || opt.GoldOnly) {
				continue
			}
			for c, p := range post[i] {
				prior[c] += p
			}
			n++
		}
		for c := range prior {
			prior[c] = (prior[c] + opt.Smoothing) / (n + opt.Smoothing*float64(k))
		}
		// E step: posteriors from the confusion matrices, in logs so many
		// answers per item do not underflow.
		moved := 0.0
		for i := range post {
			if _, gold := opt.Gold[i]; gold || !answered[i] {
				continue
			}
			for c := range logp {
				logp[c] = math.Log(prior[c])
				for _, a := range byItem[i] {
					logp[c] += math.Log(conf[a.Labeller][c][a.Class])
				}
			}
			m := math.Inf(-1)
			for _, v := range logp {
				m = max(m, v)
			}
			s := 0.0
			for c := range logp {
				logp[c] = math.Exp(logp[c] - m)
				s += logp[c]
			}
			for c := range logp {
				v := logp[c] / s
				moved = max(moved, math.Abs(v-post[i][c]))
				post[i][c] = v
			}
		}
		if moved < opt.Tol {
			res.Converged = true
			break
		}
	}
	res.Posterior, res.Confusion, res.Prior = post, conf, prior
	res.Labels = make([]int, items)
	for i, p := range post {
		res.Labels[i] = -1
		if _, gold := opt.Gold[i]; !gold && !answered[i] {
			continue
		}
		best := -1.0
		for c, v := range p {
			if v > best {
				best, res.Labels[i] = v, c
			}
		}
	}
	return res
}
