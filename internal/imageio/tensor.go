package imageio

import (
	"errors"
	"fmt"
	"math"
)

// TensorSpec describes how a model wants its input: memory layout, channel
// order and normalisation. A value is computed per channel as
//
//	(v/Scale - Mean[c]) / Std[c]
//
// where v is the 8-bit sample and c indexes the tensor's channels in the
// order given by Channels (so for "BGR", Mean[0] is the blue mean, as
// Caffe-era models publish it).
type TensorSpec struct {
	Layout   string    // "NCHW" or "NHWC"
	Channels string    // "RGB", "BGR" or "L" (luma, ITU-R BT.601 weights)
	Scale    float32   // e.g. 255 for models that expect [0,1] inputs, 1 for raw
	Mean     []float32 // one per channel; nil means all 0
	Std      []float32 // one per channel; nil means all 1
}

// NumChannels is 1 for "L" and 3 otherwise.
func (s TensorSpec) NumChannels() int {
	if s.Channels == "L" {
		return 1
	}
	return 3
}

// Validate reports the first problem with s, in terms a user who wrote it
// in a config file can act on.
func (s TensorSpec) Validate() error {
	var errs []error
	if s.Layout != "NCHW" && s.Layout != "NHWC" {
		errs = append(errs, fmt.Errorf("layout %q: want NCHW or NHWC", s.Layout))
	}
	if s.Channels != "RGB" && s.Channels != "BGR" && s.Channels != "L" {
		errs = append(errs, fmt.Errorf("channels %q: want RGB, BGR or L", s.Channels))
	}
	if !(s.Scale > 0) || math.IsInf(float64(s.Scale), 0) {
		errs = append(errs, fmt.Errorf("scale %v: want a positive finite number", s.Scale))
	}
	n := s.NumChannels()
	if s.Mean != nil && len(s.Mean) != n {
		errs = append(errs, fmt.Errorf("mean has %d values, want %d for %s", len(s.Mean), n, s.Channels))
	}
	if s.Std != nil && len(s.Std) != n {
		errs = append(errs, fmt.Errorf("std has %d values, want %d for %s", len(s.Std), n, s.Channels))
	}
	for i, v := range s.Mean {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			errs = append(errs, fmt.Errorf("mean[%d] = %v: want a finite number", i, v))
		}
	}
	for i, v := range s.Std {
		if v == 0 || math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			errs = append(errs, fmt.Errorf("std[%d] = %v: want a finite non-zero number", i, v))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid tensor spec: %w", errors.Join(errs...))
	}
	return nil
}

// Len is the number of float32 values in one w x h input.
func (s TensorSpec) Len(w, h int) int { return w * h * s.NumChannels() }

func (s TensorSpec) mean(c int) float32 {
	if s.Mean == nil {
		return 0
	}
	return s.Mean[c]
}

func (s TensorSpec) std(c int) float32 {
	if s.Std == nil {
		return 1
	}
	return s.Std[c]
}

// luts builds, for each tensor channel, the normalised value of every
// possible byte. Pack then costs one table load per value, which beats
// converting and scaling, and gives exactly the formula's float32 result.
// For "L", the three tables hold the BT.601-weighted contributions of R, G
// and B, with the offset folded into the red one.
func (s TensorSpec) luts() (t [3][256]float32) {
	if s.Channels == "L" {
		a := 1 / (s.Scale * s.std(0))
		b := -s.mean(0) / s.std(0)
		for v := range 256 {
			f := float32(v) * a
			t[0][v] = 0.299*f + b
			t[1][v] = 0.587 * f
			t[2][v] = 0.114 * f
		}
		return t
	}
	for c := range 3 {
		m, sd := s.mean(c), s.std(c)
		for v := range 256 {
			t[c][v] = (float32(v)/s.Scale - m) / sd
		}
	}
	return t
}

// Pack writes img into dst as normalised float32 values in s's layout and
// channel order. dst must have exactly s.Len(img.W, img.H) elements; s
// must be valid.
func (s TensorSpec) Pack(dst []float32, img *RGB) {
	n := img.W * img.H
	if len(dst) != s.Len(img.W, img.H) {
		panic(fmt.Sprintf("imageio.Pack: dst has %d values, want %d", len(dst), s.Len(img.W, img.H)))
	}
	t := s.luts()
	pix := img.Pix[:3*n]
	if s.Channels == "L" {
		r, g, b := &t[0], &t[1], &t[2]
		for i := range n {
			p := pix[3*i : 3*i+3 : 3*i+3]
			dst[i] = r[p[0]] + g[p[1]] + b[p[2]]
		}
		return
	}
	// Tensor channel c reads source byte src[c].
	src := [3]int{0, 1, 2}
	if s.Channels == "BGR" {
		src = [3]int{2, 1, 0}
	}
	t0, t1, t2 := &t[0], &t[1], &t[2]
	s0, s1, s2 := src[0], src[1], src[2]
	if s.Layout == "NHWC" {
		for i := range n {
			p := pix[3*i : 3*i+3 : 3*i+3]
			d := dst[3*i : 3*i+3 : 3*i+3]
			d[0], d[1], d[2] = t0[p[s0]], t1[p[s1]], t2[p[s2]]
		}
		return
	}
	d0, d1, d2 := dst[:n], dst[n:2*n], dst[2*n:3*n]
	for i := range n {
		p := pix[3*i : 3*i+3 : 3*i+3]
		d0[i], d1[i], d2[i] = t0[p[s0]], t1[p[s1]], t2[p[s2]]
	}
}

// MeanColor is the 8-bit RGB colour that packs to (about) zero in every
// channel, i.e. Mean*Scale. Padding with it makes the bars "no signal" to
// a model trained on mean-subtracted inputs.
func MeanColor(s TensorSpec) [3]uint8 {
	to8 := func(c int) uint8 {
		v := float64(s.mean(c)) * float64(s.Scale)
		if math.IsNaN(v) {
			return 0
		}
		return uint8(math.Round(math.Max(0, math.Min(255, v))))
	}
	switch s.Channels {
	case "L":
		g := to8(0)
		return [3]uint8{g, g, g}
	case "BGR":
		return [3]uint8{to8(2), to8(1), to8(0)}
	}
	return [3]uint8{to8(0), to8(1), to8(2)}
}
