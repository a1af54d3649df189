package imageio

import (
	"fmt"
	"math"
	"strings"
	"sync"
)

// ResizeMode says how Fit reconciles the image's aspect ratio with the
// model's input size.
type ResizeMode int

const (
	// Pad keeps the aspect ratio, fits the longer side and centres the
	// image on a canvas of the fill colour (MicrosoftML's IsoPad). Nothing
	// is lost, at the cost of some input pixels spent on bars.
	Pad ResizeMode = iota
	// Crop keeps the aspect ratio, fits the shorter side and cuts the
	// centre out, as torchvision's Resize + CenterCrop does for ImageNet
	// models. Nothing is distorted, but the edges are lost.
	Crop
	// Stretch scales each axis independently, distorting the shapes.
	Stretch
)

var modeNames = [...]string{Pad: "pad", Crop: "crop", Stretch: "stretch"}

func (m ResizeMode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("ResizeMode(%d)", int(m))
}

// ParseResizeMode parses "pad", "crop" or "stretch" (any case).
func ParseResizeMode(s string) (ResizeMode, error) {
	for m, name := range modeNames {
		if strings.EqualFold(strings.TrimSpace(s), name) {
			return ResizeMode(m), nil
		}
	}
	return 0, fmt.Errorf("unknown resize mode %q (want pad, crop or stretch)", s)
}

// geometry says where the resized picture goes: src is scaled to rw x rh,
// of which the iw x ih window at (cx, cy) is written to the output at
// (ox, oy). Pad has a window smaller than the output (the rest is bars),
// Crop a scaled image larger than the window.
type geometry struct {
	rw, rh int
	cx, cy int
	iw, ih int
	ox, oy int
}

func fitGeometry(W, H, w, h int, mode ResizeMode) geometry {
	g := geometry{rw: w, rh: h, iw: w, ih: h}
	switch mode {
	case Pad:
		// Compare w/W with h/H without division.
		if int64(w)*int64(H) <= int64(h)*int64(W) { // width is the limit
			g.rh = clamp(int(math.Round(float64(H)*float64(w)/float64(W))), 1, h)
		} else {
			g.rw = clamp(int(math.Round(float64(W)*float64(h)/float64(H))), 1, w)
		}
		g.iw, g.ih = g.rw, g.rh
		g.ox, g.oy = (w-g.rw)/2, (h-g.rh)/2
	case Crop:
		if int64(w)*int64(H) >= int64(h)*int64(W) { // width decides, crop height
			g.rh = max(int(math.Round(float64(H)*float64(w)/float64(W))), h)
		} else {
			g.rw = max(int(math.Round(float64(W)*float64(h)/float64(H))), w)
		}
		g.cx, g.cy = (g.rw-w)/2, (g.rh-h)/2
	}
	return g
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

// Fit resizes src to exactly w x h according to mode, filling any Pad bars
// with fill. The result is written to dst, reusing its buffer; dst may be
// nil (or src, in which case a new image is allocated). Fit panics if w
// or h is not positive.
//
// The filter is a triangle (bilinear) whose support widens with the
// reduction factor, like Pillow's BILINEAR: every source pixel contributes
// when shrinking, so a 4000-pixel-wide photo does not alias when brought
// down to 224. It runs as two separable passes on packed bytes with
// fixed-point weights computed once per call, and when cropping only the
// kept window is ever computed.
func Fit(dst, src *RGB, w, h int, mode ResizeMode, fill [3]uint8) *RGB {
	if w <= 0 || h <= 0 {
		panic(fmt.Sprintf("imageio.Fit: invalid size %dx%d", w, h))
	}
	if dst == nil || dst == src {
		dst = new(RGB)
	}
	dst.setSize(w, h)
	if src.W <= 0 || src.H <= 0 {
		fillRect(dst, 0, 0, w, h, fill)
		return dst
	}
	g := fitGeometry(src.W, src.H, w, h, mode)
	// Bars first: top, bottom, then left and right of the picture rows.
	fillRect(dst, 0, 0, w, g.oy, fill)
	fillRect(dst, 0, g.oy+g.ih, w, h, fill)
	fillRect(dst, 0, g.oy, g.ox, g.oy+g.ih, fill)
	fillRect(dst, g.ox+g.iw, g.oy, w, g.oy+g.ih, fill)

	rs := resizers.Get().(*resizer)
	rs.resample(dst, src, g)
	resizers.Put(rs)
	return dst
}

// fillRect paints [x0,x1) x [y0,y1) with c.
func fillRect(m *RGB, x0, y0, x1, y1 int, c [3]uint8) {
	if x0 >= x1 || y0 >= y1 {
		return
	}
	for y := y0; y < y1; y++ {
		row := m.Pix[3*(y*m.W+x0) : 3*(y*m.W+x1)]
		for i := 0; i+2 < len(row); i += 3 {
			row[i], row[i+1], row[i+2] = c[0], c[1], c[2]
		}
	}
}

// precision is the number of fractional bits of the fixed-point weights,
// as in Pillow: 255 * 2^22 plus rounding still fits in an int32.
const precision = 22

// kernel holds, for each output position along one axis, the first source
// index, the tap count, and the weights (stride n, zero padded).
type kernel struct {
	start, size []int32
	w           []int32
	n           int
	copy        bool // every output is exactly one source sample, in order
}

// span is the range of source samples the kernel reads.
func (k *kernel) span() (lo, hi int) {
	lo, hi = int(k.start[0]), 0
	for i := range k.start {
		lo = min(lo, int(k.start[i]))
		hi = max(hi, int(k.start[i]+k.size[i]))
	}
	return lo, hi
}

// compute fills k for scaling in samples to a virtual length out, keeping
// outputs [first, first+count). It follows Pillow's precompute_coeffs for
// the bilinear filter (support 1).
func (k *kernel) compute(in, out, first, count int) {
	scale := float64(in) / float64(out)
	fscale := max(scale, 1)
	support := fscale // triangle support 1, widened when shrinking
	k.n = int(math.Ceil(support))*2 + 1
	k.start = grow(k.start, count)
	k.size = grow(k.size, count)
	k.w = grow(k.w, count*k.n)
	k.copy = true
	var tmp [64]float64
	fw := tmp[:0]
	if k.n > len(tmp) {
		fw = make([]float64, 0, k.n)
	}
	for i := 0; i < count; i++ {
		center := (float64(first+i) + 0.5) * scale
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), in)
		if hi-lo > k.n { // float slop; never more taps than allocated
			hi = lo + k.n
		}
		if hi <= lo { // degenerate rounding at the edge: nearest sample
			lo = clamp(int(center), 0, in-1)
			hi = lo + 1
		}
		fw = fw[:0]
		sum := 0.0
		for x := lo; x < hi; x++ {
			t := math.Abs((float64(x) - center + 0.5) / fscale)
			v := 0.0
			if t < 1 {
				v = 1 - t
			}
			fw = append(fw, v)
			sum += v
		}
		ws := k.w[i*k.n : (i+1)*k.n]
		clear(ws)
		for j, v := range fw {
			if sum > 0 {
				v /= sum
			} else {
				v = 1 / float64(len(fw))
			}
			ws[j] = int32(math.Round(v * (1 << precision)))
		}
		// Trim zero-weight taps at either end (the triangle's edges).
		for hi-lo > 1 && ws[hi-lo-1] == 0 {
			hi--
		}
		for hi-lo > 1 && ws[0] == 0 {
			copy(ws, ws[1:hi-lo])
			ws[hi-lo-1] = 0
			lo++
		}
		k.start[i] = int32(lo)
		k.size[i] = int32(hi - lo)
		if hi-lo != 1 || ws[0] != 1<<precision || (i > 0 && k.start[i] != k.start[i-1]+1) {
			k.copy = false
		}
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// resizer carries the scratch state of one Fit call; pooled so that
// steady-state featurizing allocates nothing.
type resizer struct {
	kx, ky kernel
	tmp    []uint8
	acc    []int32
}

var resizers = sync.Pool{New: func() any { return new(resizer) }}

func clip8(v int32) uint8 {
	v >>= precision
	if v > 255 {
		return 255
	}
	if v < 0 {
		return 0
	}
	return uint8(v)
}

// resample writes the g.iw x g.ih window of src scaled to g.rw x g.rh into
// dst at (g.ox, g.oy), in two separable passes. The horizontal pass is the
// costlier per tap (three interleaved channels, a gather per output), so
// when shrinking vertically the vertical pass goes first and the
// horizontal one runs on fewer rows. Each pass reads only the source rows
// and columns the window needs.
func (rs *resizer) resample(dst, src *RGB, g geometry) {
	kx, ky := &rs.kx, &rs.ky
	kx.compute(src.W, g.rw, g.cx, g.iw)
	ky.compute(src.H, g.rh, g.cy, g.ih)
	x0, x1 := kx.span()
	y0, y1 := ky.span()
	dstStride := 3 * dst.W
	out := dst.Pix[g.oy*dstStride+3*g.ox:]
	srcStride := 3 * src.W
	if g.ih <= y1-y0 {
		// Vertical first: ih rows of the needed columns, then horizontal.
		midStride := 3 * (x1 - x0)
		mid := src.Pix[3*x0:]
		if !ky.copy {
			rs.tmp = grow(rs.tmp, g.ih*midStride)
			rs.acc = grow(rs.acc, midStride)
			vertical(rs.tmp, midStride, src.Pix[3*x0:], srcStride, midStride, ky, 0, rs.acc)
			mid = rs.tmp
		} else {
			midStride = srcStride
			mid = src.Pix[y0*srcStride+3*x0:]
		}
		horizontal(out, dstStride, mid, midStride, g.ih, kx, x0)
		return
	}
	// Horizontal first over rows y0..y1, then vertical.
	midStride := 3 * g.iw
	rs.tmp = grow(rs.tmp, (y1-y0)*midStride)
	horizontal(rs.tmp, midStride, src.Pix[y0*srcStride:], srcStride, y1-y0, kx, 0)
	rs.acc = grow(rs.acc, midStride)
	vertical(out, dstStride, rs.tmp, midStride, midStride, ky, y0, rs.acc)
}

// horizontal resamples rows rows of in (stride inStride, sample 0 at
// source x = base) into out (stride outStride).
func horizontal(out []uint8, outStride int, in []uint8, inStride, rows int, k *kernel, base int) {
	if simd && !k.copy {
		horizontalSIMD(out, outStride, in, inStride, rows, k, base)
		return
	}
	const half = 1 << (precision - 1)
	iw := len(k.start)
	for y := 0; y < rows; y++ {
		row := in[y*inStride:]
		o := out[y*outStride : y*outStride+3*iw]
		if k.copy {
			s := 3 * (int(k.start[0]) - base)
			copy(o, row[s:s+3*iw])
			continue
		}
		for x := 0; x < iw; x++ {
			s, n := 3*(int(k.start[x])-base), int(k.size[x])
			ws := k.w[x*k.n : x*k.n+k.n]
			var r, g, b int32
			// Unrolled for the tap counts of reductions up to ~2.5x;
			// the loop handles the rest.
			switch n {
			case 3:
				p := row[s : s+9 : s+9]
				w0, w1, w2 := ws[0], ws[1], ws[2]
				r = half + w0*int32(p[0]) + w1*int32(p[3]) + w2*int32(p[6])
				g = half + w0*int32(p[1]) + w1*int32(p[4]) + w2*int32(p[7])
				b = half + w0*int32(p[2]) + w1*int32(p[5]) + w2*int32(p[8])
			case 4:
				p := row[s : s+12 : s+12]
				w0, w1, w2, w3 := ws[0], ws[1], ws[2], ws[3]
				r = half + w0*int32(p[0]) + w1*int32(p[3]) + w2*int32(p[6]) + w3*int32(p[9])
				g = half + w0*int32(p[1]) + w1*int32(p[4]) + w2*int32(p[7]) + w3*int32(p[10])
				b = half + w0*int32(p[2]) + w1*int32(p[5]) + w2*int32(p[8]) + w3*int32(p[11])
			case 5:
				p := row[s : s+15 : s+15]
				w0, w1, w2, w3, w4 := ws[0], ws[1], ws[2], ws[3], ws[4]
				r = half + w0*int32(p[0]) + w1*int32(p[3]) + w2*int32(p[6]) + w3*int32(p[9]) + w4*int32(p[12])
				g = half + w0*int32(p[1]) + w1*int32(p[4]) + w2*int32(p[7]) + w3*int32(p[10]) + w4*int32(p[13])
				b = half + w0*int32(p[2]) + w1*int32(p[5]) + w2*int32(p[8]) + w3*int32(p[11]) + w4*int32(p[14])
			default:
				p := row[s : s+3*n]
				r, g, b = half, half, half
				for j, w := range ws[:n] {
					q := p[3*j : 3*j+3 : 3*j+3]
					r += w * int32(q[0])
					g += w * int32(q[1])
					b += w * int32(q[2])
				}
			}
			q := o[3*x : 3*x+3 : 3*x+3]
			q[0], q[1], q[2] = clip8(r), clip8(g), clip8(b)
		}
	}
}

// vertical computes len(k.start) output rows of width bytes, each a
// weighted sum of input rows (stride inStride, row 0 at source y = base).
// Every loop walks rows sequentially; up to four taps are fused into one
// pass (the common case for reductions up to about 2.5x), and longer
// kernels accumulate four taps at a time in acc.
func vertical(out []uint8, outStride int, in []uint8, inStride, width int, k *kernel, base int, acc []int32) {
	if simd {
		verticalSIMD(out, outStride, in, inStride, width, k, base)
		return
	}
	const half = 1 << (precision - 1)
	acc = acc[:width]
	row := func(r int) []uint8 { return in[r*inStride : r*inStride+width] }
	for y := range k.start {
		s, n := int(k.start[y])-base, int(k.size[y])
		ws := k.w[y*k.n : y*k.n+n]
		o := out[y*outStride : y*outStride+width]
		switch n {
		case 1:
			if ws[0] == 1<<precision {
				copy(o, row(s))
				continue
			}
			r0, w0 := row(s)[:len(o)], ws[0]
			for i := range o {
				o[i] = clip8(half + w0*int32(r0[i]))
			}
		case 2:
			r0, r1 := row(s)[:len(o)], row(s + 1)[:len(o)]
			w0, w1 := ws[0], ws[1]
			for i := range o {
				o[i] = clip8(half + w0*int32(r0[i]) + w1*int32(r1[i]))
			}
		case 3:
			r0, r1, r2 := row(s)[:len(o)], row(s + 1)[:len(o)], row(s + 2)[:len(o)]
			w0, w1, w2 := ws[0], ws[1], ws[2]
			for i := range o {
				o[i] = clip8(half + w0*int32(r0[i]) + w1*int32(r1[i]) + w2*int32(r2[i]))
			}
		case 4:
			r0, r1, r2, r3 := row(s)[:len(o)], row(s + 1)[:len(o)], row(s + 2)[:len(o)], row(s + 3)[:len(o)]
			w0, w1, w2, w3 := ws[0], ws[1], ws[2], ws[3]
			for i := range o {
				o[i] = clip8(half + w0*int32(r0[i]) + w1*int32(r1[i]) + w2*int32(r2[i]) + w3*int32(r3[i]))
			}
		default:
			a := acc[:len(o)]
			for i := range a {
				a[i] = half
			}
			j := 0
			for ; j+4 <= n; j += 4 {
				r0, r1, r2, r3 := row(s + j)[:len(a)], row(s + j + 1)[:len(a)], row(s + j + 2)[:len(a)], row(s + j + 3)[:len(a)]
				w0, w1, w2, w3 := ws[j], ws[j+1], ws[j+2], ws[j+3]
				for i := range a {
					a[i] += w0*int32(r0[i]) + w1*int32(r1[i]) + w2*int32(r2[i]) + w3*int32(r3[i])
				}
			}
			for ; j < n; j++ {
				r0, w0 := row(s + j)[:len(a)], ws[j]
				for i := range a {
					a[i] += w0 * int32(r0[i])
				}
			}
			for i := range o {
				o[i] = clip8(a[i])
			}
		}
	}
}
