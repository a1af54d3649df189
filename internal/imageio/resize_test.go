package imageio

import (
	"math"
	"math/rand/v2"
	"testing"
)

func solid(w, h int, c [3]uint8) *RGB {
	m := NewRGB(w, h)
	fillRect(m, 0, 0, w, h, c)
	return m
}

var (
	red   = [3]uint8{255, 0, 0}
	green = [3]uint8{0, 255, 0}
	blue  = [3]uint8{0, 0, 255}
	grey  = [3]uint8{124, 116, 104}
)

func TestParseResizeMode(t *testing.T) {
	for _, m := range []ResizeMode{Pad, Crop, Stretch} {
		got, err := ParseResizeMode(m.String())
		if err != nil || got != m {
			t.Errorf("round trip of %v: %v, %v", m, got, err)
		}
	}
	if m, err := ParseResizeMode(" Crop "); err != nil || m != Crop {
		t.Errorf("case/space: %v %v", m, err)
	}
	if _, err := ParseResizeMode("squash"); err == nil {
		t.Error("accepted an unknown mode")
	}
	if s := ResizeMode(7).String(); s != "ResizeMode(7)" {
		t.Errorf("String of unknown mode = %q", s)
	}
}

// countColour counts pixels equal to c in a region.
func countColour(m *RGB, x0, y0, x1, y1 int, c [3]uint8) int {
	n := 0
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			if m.At(x, y) == c {
				n++
			}
		}
	}
	return n
}

// Pad puts bars of the fill colour on the short axis, on both sides, and
// the (uniform) picture in the middle.
func TestFitPad(t *testing.T) {
	tests := []struct {
		name           string
		srcW, srcH     int
		w, h           int
		x0, y0, x1, y1 int // expected picture rectangle
	}{
		{"wide into square", 200, 100, 100, 100, 0, 25, 100, 75},
		{"tall into square", 100, 200, 100, 100, 25, 0, 75, 100},
		{"same aspect", 300, 150, 100, 50, 0, 0, 100, 50},
		{"upscale wide", 40, 10, 100, 100, 0, 37, 100, 62}, // 25 rows, centred: (100-25)/2 = 37
		{"odd bars", 100, 51, 100, 100, 0, 24, 100, 75},
	}
	for _, tt := range tests {
		got := Fit(nil, solid(tt.srcW, tt.srcH, red), tt.w, tt.h, Pad, blue)
		if got.W != tt.w || got.H != tt.h || len(got.Pix) != 3*tt.w*tt.h {
			t.Fatalf("%s: size %dx%d", tt.name, got.W, got.H)
		}
		x0, y0, x1, y1 := tt.x0, tt.y0, tt.x1, tt.y1
		area := (x1 - x0) * (y1 - y0)
		if n := countColour(got, x0, y0, x1, y1, red); n != area {
			t.Errorf("%s: %d of %d picture pixels are red", tt.name, n, area)
		}
		if n := countColour(got, 0, 0, tt.w, tt.h, blue); n != tt.w*tt.h-area {
			t.Errorf("%s: %d fill pixels, want %d", tt.name, n, tt.w*tt.h-area)
		}
		// Bars on both sides, and balanced to within a pixel.
		before, after := y0, tt.h-y1
		if x0 > 0 || x1 < tt.w {
			before, after = x0, tt.w-x1
		}
		if d := before - after; d < -1 || d > 1 {
			t.Errorf("%s: bars %d and %d not centred", tt.name, before, after)
		}
	}
}

// Crop keeps the centre: a picture whose outer thirds are red and blue and
// whose middle is green comes out green.
func TestFitCrop(t *testing.T) {
	src := NewRGB(600, 200)
	fillRect(src, 0, 0, 200, 200, red)
	fillRect(src, 200, 0, 400, 200, green)
	fillRect(src, 400, 0, 600, 200, blue)
	got := Fit(nil, src, 100, 100, Crop, grey)
	if got.W != 100 || got.H != 100 {
		t.Fatalf("size %dx%d", got.W, got.H)
	}
	// The 2x reduction's triangle reaches one source pixel past each side
	// of the window, which tints the outermost output column only.
	if n := countColour(got, 1, 0, 99, 100, green); n != 98*100 {
		t.Errorf("%d of %d inner pixels green", n, 98*100)
	}
	for _, x := range []int{0, 99} {
		c := got.At(x, 50)
		if c[1] < 180 {
			t.Errorf("edge column %d = %v, should be mostly green", x, c)
		}
	}
	if n := countColour(got, 0, 0, 100, 100, grey); n != 0 {
		t.Errorf("crop produced %d fill pixels", n)
	}
	// Tall: top and bottom are cut.
	tall := NewRGB(100, 300)
	fillRect(tall, 0, 0, 100, 100, red)
	fillRect(tall, 0, 100, 100, 200, green)
	fillRect(tall, 0, 200, 100, 300, blue)
	got = Fit(got, tall, 50, 50, Crop, grey)
	if n := countColour(got, 0, 1, 50, 49, green); n != 50*48 {
		t.Errorf("tall: %d of %d inner pixels green", n, 50*48)
	}
}

// Stretch maps corners to corners and uses no fill.
func TestFitStretch(t *testing.T) {
	src := NewRGB(300, 100)
	fillRect(src, 0, 0, 150, 100, red)
	fillRect(src, 150, 0, 300, 100, green)
	got := Fit(nil, src, 40, 80, Stretch, blue)
	if got.W != 40 || got.H != 80 {
		t.Fatalf("size %dx%d", got.W, got.H)
	}
	if n := countColour(got, 0, 0, 40, 80, blue); n != 0 {
		t.Errorf("%d fill pixels", n)
	}
	if n := countColour(got, 0, 0, 19, 80, red) + countColour(got, 21, 0, 40, 80, green); n != 38*80 {
		t.Errorf("halves not preserved: %d of %d", n, 38*80)
	}
}

func TestFitIdentity(t *testing.T) {
	src := synthetic(37, 23)
	for _, mode := range []ResizeMode{Pad, Crop, Stretch} {
		got := Fit(nil, src, 37, 23, mode, blue)
		if _, maxd := diff(t, got, src); maxd != 0 {
			t.Errorf("%v: same-size Fit changed pixels (max %d)", mode, maxd)
		}
	}
}

// Shrinking a one-pixel checkerboard 4x must average it to mid-grey;
// point sampling or a fixed-support bilinear filter would alias to black,
// white or stripes.
func TestFitAntialias(t *testing.T) {
	src := NewRGB(256, 256)
	for y := range 256 {
		for x := range 256 {
			if (x+y)%2 == 0 {
				fillRect(src, x, y, x+1, y+1, [3]uint8{255, 255, 255})
			}
		}
	}
	got := Fit(nil, src, 64, 64, Stretch, blue)
	for i, v := range got.Pix {
		if v < 120 || v > 135 {
			t.Fatalf("sample %d = %d, want about 127", i, v)
		}
	}
}

// reference resizes with the same triangle filter as Fit, but directly in
// float64, in two dimensions at once, without fixed point or an 8-bit
// intermediate, and for the full scaled image rather than a window.
func reference(src *RGB, rw, rh int) [][]float64 {
	weights := func(in, out int) [][2][]float64 {
		scale := float64(in) / float64(out)
		fs := math.Max(scale, 1)
		res := make([][2][]float64, out)
		for i := range out {
			c := (float64(i) + 0.5) * scale
			var idx, w []float64
			sum := 0.0
			for x := 0; x < in; x++ {
				d := math.Abs(float64(x)+0.5-c) / fs
				if d < 1 {
					idx = append(idx, float64(x))
					w = append(w, 1-d)
					sum += 1 - d
				}
			}
			for j := range w {
				w[j] /= sum
			}
			res[i] = [2][]float64{idx, w}
		}
		return res
	}
	wx, wy := weights(src.W, rw), weights(src.H, rh)
	out := make([][]float64, rh)
	for y := range rh {
		out[y] = make([]float64, 3*rw)
		for x := range rw {
			for c := range 3 {
				s := 0.0
				for a, yy := range wy[y][0] {
					for b, xx := range wx[x][0] {
						s += wy[y][1][a] * wx[x][1][b] * float64(src.Pix[3*(int(yy)*src.W+int(xx))+c])
					}
				}
				out[y][3*x+c] = s
			}
		}
	}
	return out
}

func TestFitMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	src := NewRGB(97, 61)
	for i := range src.Pix {
		src.Pix[i] = uint8(r.IntN(256))
	}
	for _, tt := range []struct {
		w, h int
		mode ResizeMode
	}{
		{30, 30, Stretch}, {30, 30, Crop}, {30, 30, Pad}, {200, 150, Stretch}, {13, 40, Crop}, {8, 5, Stretch},
	} {
		got := Fit(nil, src, tt.w, tt.h, tt.mode, blue)
		g := fitGeometry(src.W, src.H, tt.w, tt.h, tt.mode)
		ref := reference(src, g.rw, g.rh)
		worst := 0.0
		for y := range g.ih {
			for x := range g.iw {
				for c := range 3 {
					v := float64(got.Pix[3*((g.oy+y)*tt.w+g.ox+x)+c])
					worst = math.Max(worst, math.Abs(v-ref[g.cy+y][3*(g.cx+x)+c]))
				}
			}
		}
		// Two roundings to 8 bits (after each pass) cost at most 1.
		if worst > 1.01 {
			t.Errorf("%dx%d %v: max deviation from float reference %.2f", tt.w, tt.h, tt.mode, worst)
		}
	}
}

func TestFitReusesDst(t *testing.T) {
	src := synthetic(500, 375)
	dst := Fit(nil, src, 224, 224, Crop, grey)
	p := &dst.Pix[0]
	allocs := testing.AllocsPerRun(20, func() {
		dst = Fit(dst, src, 224, 224, Crop, grey)
	})
	if allocs > 0.5 && !raceEnabled {
		t.Errorf("%.1f allocations per Fit into a reused dst", allocs)
	}
	if &dst.Pix[0] != p {
		t.Error("dst buffer was replaced")
	}
	// A smaller target reuses the same buffer too.
	if Fit(dst, src, 100, 100, Pad, grey); &dst.Pix[0] != p || dst.W != 100 {
		t.Error("smaller target did not reuse dst")
	}
}

func TestFitDegenerate(t *testing.T) {
	// 1-pixel-wide sources and extreme aspect ratios must not panic or
	// produce empty pictures.
	for _, s := range [][2]int{{1, 1}, {1, 500}, {500, 1}, {3, 1000}} {
		src := solid(s[0], s[1], red)
		for _, mode := range []ResizeMode{Pad, Crop, Stretch} {
			got := Fit(nil, src, 7, 5, mode, blue)
			if n := countColour(got, 0, 0, 7, 5, red); n == 0 {
				t.Errorf("%v %v: no picture pixels", s, mode)
			}
		}
	}
	got := Fit(nil, &RGB{}, 4, 4, Pad, blue)
	if n := countColour(got, 0, 0, 4, 4, blue); n != 16 {
		t.Errorf("empty source: %d fill pixels", n)
	}
	defer func() {
		if recover() == nil {
			t.Error("Fit to 0x5 did not panic")
		}
	}()
	Fit(nil, src1(), 0, 5, Pad, blue)
}

func src1() *RGB { return solid(1, 1, red) }

// The SIMD passes must give exactly the Go loops' bytes, for shrinking and
// enlarging, every mode, odd sizes, and sources that end where readable
// memory ends (a read past a pixel would crash the test).
func TestFitSIMDMatchesGo(t *testing.T) {
	if !simd {
		t.Skip("no SIMD resampling on this CPU")
	}
	defer func(v bool) { simd = v }(simd)
	rng := rand.New(rand.NewPCG(7, 8))
	sizes := [][2]int{{1, 1}, {2, 3}, {500, 375}, {224, 224}, {4000 / 8, 3000 / 8}, {17, 900}, {900, 17}}
	for range 60 {
		sizes = append(sizes, [2]int{1 + rng.IntN(700), 1 + rng.IntN(700)})
	}
	for i, sz := range sizes {
		W, H := sz[0], sz[1]
		src := &RGB{W: W, H: H, Pix: guardedBytes(t, 3*W*H)}
		for j := range src.Pix {
			src.Pix[j] = uint8(rng.IntN(256))
		}
		w, h := 1+rng.IntN(300), 1+rng.IntN(300)
		if i < 7 {
			w, h = 224, 224
		}
		for _, mode := range []ResizeMode{Pad, Crop, Stretch} {
			simd = false
			want := Fit(nil, src, w, h, mode, grey)
			simd = true
			got := Fit(nil, src, w, h, mode, grey)
			for j := range want.Pix {
				if got.Pix[j] != want.Pix[j] {
					t.Fatalf("%dx%d -> %dx%d %v: byte %d (pixel %d,%d) is %d with SIMD, %d in Go", W, H, w, h, mode,
						j, j/3%w, j/3/w, got.Pix[j], want.Pix[j])
				}
			}
		}
	}
}
