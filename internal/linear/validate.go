package linear

import (
	"fmt"
	"math"
)

// MaxMagnitude bounds every weight, intercept, offset and scale of a model
// that Validate accepts. No fit comes near it; below it, a finite float32
// feature vector of any length a backbone has (up to 1e8 columns) gives
// finite logits, so a hand-edited weight of 1e308 cannot turn probabilities
// into NaN.
const MaxMagnitude = 1e60

// Validate checks a model read from a file before it is used: a known
// normalisation kind, finite and bounded numbers, scales that the kind can
// produce, and shapes that agree (K classes of D weights, K intercepts, D
// offsets and scales). The error names the first problem found.
func (m *Model) Validate() error {
	k, d := len(m.B), len(m.Norm.Scale)
	if k < 2 {
		return fmt.Errorf("%d intercepts: a model has at least 2 classes", k)
	}
	if len(m.W) != k {
		return fmt.Errorf("%d weight rows for %d intercepts", len(m.W), k)
	}
	if len(m.Classes) > 0 && len(m.Classes) != k {
		return fmt.Errorf("%d class names for %d intercepts", len(m.Classes), k)
	}
	if d == 0 {
		return fmt.Errorf("the normalisation has no scales")
	}
	if len(m.Norm.Offset) != d {
		return fmt.Errorf("the normalisation has %d offsets and %d scales", len(m.Norm.Offset), d)
	}
	for c, row := range m.W {
		if len(row) != d {
			return fmt.Errorf("weight row %d has %d values, the normalisation %d", c, len(row), d)
		}
		for j, v := range row {
			if !bounded(v) {
				return fmt.Errorf("weight [%d][%d] is %g: %s", c, j, v, boundMsg)
			}
		}
	}
	for c, v := range m.B {
		if !bounded(v) {
			return fmt.Errorf("intercept %d is %g: %s", c, v, boundMsg)
		}
	}
	for j, v := range m.Norm.Offset {
		if !bounded(v) {
			return fmt.Errorf("normalisation offset %d is %g: %s", j, v, boundMsg)
		}
	}
	// What each kind produces (see FitNormalization): auto divides by the
	// column's largest magnitude (an all-zero column gets 1), so its scales
	// are positive; standard gives 1/sd, or 0 for a constant column; none
	// is the identity.
	for j, v := range m.Norm.Scale {
		if !bounded(v) {
			return fmt.Errorf("normalisation scale %d is %g: %s", j, v, boundMsg)
		}
		switch m.Norm.Kind {
		case NormAuto:
			if v <= 0 {
				return fmt.Errorf("normalisation scale %d is %g: an %q normalisation has positive scales", j, v, m.Norm.Kind)
			}
		case NormStandard:
			if v < 0 {
				return fmt.Errorf("normalisation scale %d is %g: a %q normalisation has scales of 0 (constant column) or more", j, v, m.Norm.Kind)
			}
		case NormNone:
			if v != 1 || m.Norm.Offset[j] != 0 {
				return fmt.Errorf("normalisation column %d has offset %g and scale %g: %q is offset 0, scale 1", j, m.Norm.Offset[j], v, m.Norm.Kind)
			}
		default:
			return fmt.Errorf("normalisation kind %q: want %q, %q or %q", m.Norm.Kind, NormAuto, NormStandard, NormNone)
		}
	}
	return nil
}

const boundMsg = "every number of a model must be finite and at most 1e60 in magnitude"

func bounded(v float64) bool { return !math.IsNaN(v) && math.Abs(v) <= MaxMagnitude }
