package classify

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/winnowml/winnow/internal/classifier"
	"github.com/winnowml/winnow/internal/metrics"
)

// Status values of the predictions CSV.
const (
	Settled   = "settled"
	Uncertain = "uncertain"
	// Novel is an image above the model's novelty cut: unlike every
	// labelled image, so its probabilities say nothing, however high.
	Novel = "novel"
)

// Decide is a prediction's status: Novel when novel, whatever its
// confidence; otherwise the cut's Settled or Uncertain, or "" without a cut.
func Decide(c *Cut, k int, p float64, novel bool) string {
	switch {
	case novel:
		return Novel
	case c == nil:
		return ""
	}
	return c.Status(k, p)
}

// Cut decides which predictions are settled: those whose confidence (the
// maximum probability) is at least the cut of their predicted class.
type Cut struct {
	threshold float64   // +Inf settles nothing
	class     []float64 // by class index; NaN: the overall threshold applies
	// Describe says where the cut came from, for the summary line.
	Describe string
}

// Fixed is the same cut t for every class (classify --threshold).
func Fixed(t float64, k int) *Cut {
	c := &Cut{threshold: t, class: make([]float64, k), Describe: "confidence >= " + fmtProb(t)}
	for i := range c.class {
		c.class[i] = math.NaN()
	}
	return c
}

func (c *Cut) cut(k int) float64 {
	if k < len(c.class) && !math.IsNaN(c.class[k]) {
		return c.class[k]
	}
	return c.threshold
}

// Settled reports whether a prediction of class k with confidence p is settled.
func (c *Cut) Settled(k int, p float64) bool { return p >= c.cut(k) }

// Status is Settled as the CSV writes it.
func (c *Cut) Status(k int, p float64) string {
	if c.Settled(k, p) {
		return Settled
	}
	return Uncertain
}

// FromCalibration turns a model's stored calibration into a cut.
func FromCalibration(cal *classifier.Calibration, classes []string) *Cut {
	t := math.Inf(1)
	if cal.Threshold != nil {
		t = *cal.Threshold
	}
	c := Fixed(t, len(classes))
	for k, name := range classes {
		if v, ok := cal.ClassThresholds[name]; ok {
			c.class[k] = math.Inf(1)
			if v != nil {
				c.class[k] = *v
			}
		}
	}
	c.Describe = describe(cal)
	return c
}

func describe(cal *classifier.Calibration) string {
	var b strings.Builder
	if cal.Threshold != nil {
		fmt.Fprintf(&b, "confidence >= %s (target accuracy %g)", fmtProb(*cal.Threshold), cal.TargetAccuracy)
	} else {
		fmt.Fprintf(&b, "no confidence reaches accuracy %g: nothing settled", cal.TargetAccuracy)
	}
	names := make([]string, 0, len(cal.ClassTargets))
	for n := range cal.ClassTargets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := "never"
		if v := cal.ClassThresholds[n]; v != nil {
			t = ">= " + fmtProb(*v)
		}
		fmt.Fprintf(&b, "; %s %s (precision target %g)", n, t, cal.ClassTargets[n])
	}
	return b.String()
}

func fmtProb(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// ParseClassTargets reads --class-target values such as sound=0.99.
func ParseClassTargets(specs []string, classes []string) (map[string]float64, error) {
	known := map[string]bool{}
	for _, c := range classes {
		known[c] = true
	}
	out := map[string]float64{}
	for _, s := range specs {
		name, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("--class-target %q: want CLASS=ACCURACY, e.g. sound=0.99", s)
		}
		if !known[name] {
			return nil, fmt.Errorf("--class-target %q: %q is not a class of the model (%s)", s, name, strings.Join(classes, ", "))
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0 && f <= 1) {
			return nil, fmt.Errorf("--class-target %q: the accuracy must be a number in (0, 1]", s)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("--class-target: %q given twice", name)
		}
		out[name] = f
	}
	return out, nil
}

// Measure finds the cut that reaches target on labelled rows (y, probs):
// the lowest confidence whose most confident rows are right at least target
// of the time (metrics.ThresholdFor on metrics.Coverage), and for each class
// in classTargets the lowest confidence at which its predictions are right
// that often (metrics.ClassThresholds). The returned point is the overall
// cut's place on the curve (ok false when no cut reaches target).
func Measure(classes []string, y []int, probs [][]float64, target float64, classTargets map[string]float64) (cal *classifier.Calibration, at metrics.CoveragePoint, ok bool) {
	curve := metrics.Coverage(y, probs)
	cal = &classifier.Calibration{TargetAccuracy: target, Rows: len(y)}
	if at, ok = metrics.ThresholdFor(curve, target); ok {
		t := at.Threshold
		cal.Threshold = &t
	}
	if len(classTargets) > 0 {
		targets := make([]float64, len(classes))
		for k, name := range classes {
			targets[k] = 2 // unreachable: classes without a target keep the overall cut
			if v, ok := classTargets[name]; ok {
				targets[k] = v
			}
		}
		cuts := metrics.ClassThresholds(y, probs, targets)
		cal.ClassTargets = map[string]float64{}
		cal.ClassThresholds = map[string]*float64{}
		for k, name := range classes {
			v, ok := classTargets[name]
			if !ok {
				continue
			}
			cal.ClassTargets[name] = v
			cal.ClassThresholds[name] = nil
			if !math.IsInf(cuts[k], 1) {
				c := cuts[k]
				cal.ClassThresholds[name] = &c
			}
		}
	}
	return cal, at, ok
}
