package imageio

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

// Every encoding of the formats/ picture must decode to (nearly) the
// lossless reference. Tolerances come from testdata/images/formats/README.md,
// which measured them with Pillow/libjpeg-turbo, plus a margin.
func TestFormats(t *testing.T) {
	ref, _ := mustDecode(t, testdata(t, "formats/image.bmp"), DecodeOptions{})
	if ref.W != 160 || ref.H != 107 {
		t.Fatalf("reference is %dx%d, want 160x107", ref.W, ref.H)
	}
	gray := NewRGB(ref.W, ref.H)
	for i := 0; i < ref.W*ref.H; i++ {
		y := luma([3]uint8{ref.Pix[3*i], ref.Pix[3*i+1], ref.Pix[3*i+2]})
		gray.Pix[3*i], gray.Pix[3*i+1], gray.Pix[3*i+2] = y, y, y
	}
	tests := []struct {
		file    string
		format  string
		want    *RGB
		maxMean float64
		maxDiff int // -1: not checked (lossy)
	}{
		{"formats/image.tif", "tiff", ref, 0, 0},
		{"formats/image.webp", "webp", ref, 0, 0},
		{"formats/rgb16.png", "png", ref, 0, 0},
		{"formats/UPPER.JPEG", "jpeg", ref, 3.0, -1},
		{"formats/progressive.jpg", "jpeg", ref, 3.0, -1},
		{"formats/cmyk.jpg", "jpeg", ref, 2.0, -1},
		{"formats/palette.png", "png", ref, 3.0, -1},
		{"formats/palette.gif", "gif", ref, 3.0, -1},
		// gray.png holds the luma of the float resize; ours is of the
		// rounded reference, so allow 1.
		{"formats/gray.png", "png", gray, 0.5, 1},
		{"formats/gray16.png", "png", gray, 0.5, 1},
		{"formats/gray.jpg", "jpeg", gray, 1.5, -1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			img, info := mustDecode(t, testdata(t, tt.file), DecodeOptions{})
			if info != (Info{tt.format, 160, 107}) {
				t.Errorf("info = %+v", info)
			}
			mean, maxd := diff(t, img, tt.want)
			t.Logf("mean abs diff %.3f, max %d", mean, maxd)
			if mean > tt.maxMean || (tt.maxDiff >= 0 && maxd > tt.maxDiff) {
				t.Errorf("mean abs diff %.3f (max %d), want <= %.2f (max %d)", mean, maxd, tt.maxMean, tt.maxDiff)
			}
		})
	}
}

func TestPaletteGIFMatchesPNG(t *testing.T) {
	p, _ := mustDecode(t, testdata(t, "formats/palette.png"), DecodeOptions{})
	g, _ := mustDecode(t, testdata(t, "formats/palette.gif"), DecodeOptions{})
	if mean, maxd := diff(t, p, g); maxd != 0 {
		t.Errorf("palette.gif differs from palette.png: mean %.3f max %d", mean, maxd)
	}
}

// libjpeg-turbo and Go's image/jpeg are independent implementations; they
// differ in rounding and in chroma upsampling (Go replicates 4:2:0 chroma,
// libjpeg interpolates it), which shows at the colour edges of the small
// 4:2:0 files. The interpolation should if anything bring us closer to
// the lossless original.
func TestJPEGMatchesGoDecoder(t *testing.T) {
	ref, _ := mustDecode(t, testdata(t, "formats/image.bmp"), DecodeOptions{})
	for _, tt := range []struct {
		file    string
		maxMean float64
	}{
		{"formats/UPPER.JPEG", 2.5},
		{"formats/progressive.jpg", 2.5},
		{"formats/gray.jpg", 0.1},
		{"photos/china.jpg", 0.5},
	} {
		data := testdata(t, tt.file)
		ours, _ := mustDecode(t, data, DecodeOptions{})
		m, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		theirs := fromImage(m)
		mean, maxd := diff(t, ours, theirs)
		t.Logf("%s: mean %.3f max %d", tt.file, mean, maxd)
		if mean > tt.maxMean {
			t.Errorf("%s: mean abs diff vs image/jpeg %.3f, want <= %.1f", tt.file, mean, tt.maxMean)
		}
		if ours.W == ref.W && ours.H == ref.H && tt.file != "formats/gray.jpg" {
			o, _ := diff(t, ours, ref)
			g, _ := diff(t, theirs, ref)
			t.Logf("%s vs lossless: libjpeg %.3f, image/jpeg %.3f", tt.file, o, g)
			if o > g {
				t.Errorf("%s: libjpeg further from the lossless original (%.3f) than image/jpeg (%.3f)", tt.file, o, g)
			}
		}
	}
}

func TestAlphaOnWhite(t *testing.T) {
	ref, _ := mustDecode(t, testdata(t, "formats/image.bmp"), DecodeOptions{})
	img, _ := mustDecode(t, testdata(t, "formats/alpha.png"), DecodeOptions{})
	for y := 0; y < img.H; y++ {
		for x := 0; x < img.W; x++ {
			got := img.At(x, y)
			want := ref.At(x, y)
			if x < 80 {
				want = [3]uint8{255, 255, 255} // alpha 0
			}
			if got != want {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, got, want)
			}
		}
	}
}

// Partial alpha, for every way a Go decoder can hand over alpha: straight
// (NRGBA), premultiplied (RGBA), 16-bit, and paletted transparency.
func TestAlphaCompositing(t *testing.T) {
	r := image.Rect(0, 0, 2, 1)
	nrgba := image.NewNRGBA(r)
	nrgba.SetNRGBA(0, 0, color.NRGBA{200, 100, 0, 128})
	nrgba.SetNRGBA(1, 0, color.NRGBA{10, 20, 30, 255})
	rgba := image.NewRGBA(r)
	rgba.SetRGBA(0, 0, color.RGBA{100, 50, 0, 128}) // premultiplied form of the same
	rgba.SetRGBA(1, 0, color.RGBA{10, 20, 30, 255})
	n64 := image.NewNRGBA64(r)
	n64.SetNRGBA64(0, 0, color.NRGBA64{200 * 257, 100 * 257, 0, 128 * 257})
	n64.SetNRGBA64(1, 0, color.NRGBA64{10 * 257, 20 * 257, 30 * 257, 0xffff})
	pal := image.NewPaletted(r, color.Palette{color.NRGBA{200, 100, 0, 128}, color.NRGBA{10, 20, 30, 255}})
	pal.SetColorIndex(1, 0, 1)
	// 200*128/255 + 255*127/255 = 227.4; 100 -> 177.2; 0 -> 127.
	want := [2][3]uint8{{227, 177, 127}, {10, 20, 30}}
	for name, m := range map[string]image.Image{"NRGBA": nrgba, "RGBA": rgba, "NRGBA64": n64, "Paletted": pal} {
		img, info := mustDecode(t, encodePNG(t, m), DecodeOptions{})
		if info.Width != 2 || info.Height != 1 {
			t.Fatalf("%s: info %+v", name, info)
		}
		for x := range 2 {
			got := img.At(x, 0)
			for c := range 3 {
				if d := int(got[c]) - int(want[x][c]); d < -1 || d > 1 {
					t.Errorf("%s pixel %d = %v, want %v (±1)", name, x, got, want[x])
					break
				}
			}
		}
	}
}

func TestOrientationFiles(t *testing.T) {
	want, _ := mustDecode(t, testdata(t, "orient/expected.png"), DecodeOptions{})
	if want.W != 120 || want.H != 160 {
		t.Fatalf("expected.png is %dx%d", want.W, want.H)
	}
	for n := 1; n <= 8; n++ {
		f := fmt.Sprintf("orient/orient-%d.jpg", n)
		data := testdata(t, f)
		if o := jpegOrientation(data); o != n {
			t.Errorf("%s: orientation tag read as %d", f, o)
		}
		img, info := mustDecode(t, data, DecodeOptions{})
		if info != (Info{"jpeg", 120, 160}) {
			t.Errorf("%s: info %+v, want jpeg 120x160", f, info)
		}
		mean, maxd := diff(t, img, want)
		if mean > 0.5 {
			t.Errorf("%s: mean abs diff %.3f (max %d) from expected.png", f, mean, maxd)
		}
	}
}

// Each orientation is pinned down by where two adjacent displayed corners
// come from. The table is the EXIF specification's, written as corners of
// the stored image, independently of orient's offset arithmetic.
func TestOrientSynthetic(t *testing.T) {
	const W, H = 5, 3
	src := synthetic(W, H)
	tl, tr, bl, br := src.At(0, 0), src.At(W-1, 0), src.At(0, H-1), src.At(W-1, H-1)
	tests := []struct {
		o                 int
		topLeft, topRight [3]uint8
		wantW, wantH      int
	}{
		{1, tl, tr, W, H},
		{2, tr, tl, W, H},
		{3, br, bl, W, H},
		{4, bl, br, W, H},
		{5, tl, bl, H, W},
		{6, bl, tl, H, W},
		{7, br, tr, H, W},
		{8, tr, br, H, W},
	}
	for _, tt := range tests {
		dst := NewRGB(H*W, 1) // wrong shape on purpose: orient sets W, H
		orient(dst, src, tt.o)
		if dst.W != tt.wantW || dst.H != tt.wantH {
			t.Fatalf("o=%d: size %dx%d, want %dx%d", tt.o, dst.W, dst.H, tt.wantW, tt.wantH)
		}
		if dst.At(0, 0) != tt.topLeft || dst.At(dst.W-1, 0) != tt.topRight {
			t.Errorf("o=%d: corners %v %v, want %v %v", tt.o, dst.At(0, 0), dst.At(dst.W-1, 0), tt.topLeft, tt.topRight)
		}
		// A permutation: the multiset of pixels is unchanged.
		var sumS, sumD int
		for i := range src.Pix {
			sumS += int(src.Pix[i]) * (i%3 + 1)
			sumD += int(dst.Pix[i]) * (i%3 + 1)
		}
		if sumS != sumD {
			t.Errorf("o=%d: pixel sums differ", tt.o)
		}
	}
}
