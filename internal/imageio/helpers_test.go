package imageio

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// testdata returns the bytes of a shared test image (testdata/images/...).
func testdata(tb testing.TB, rel string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "images", filepath.FromSlash(rel)))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustDecode(tb testing.TB, data []byte, opt DecodeOptions) (*RGB, Info) {
	tb.Helper()
	img, info, err := Decode(data, opt)
	if err != nil {
		tb.Fatal(err)
	}
	return img, info
}

// diff returns the mean and max absolute difference over all samples.
func diff(tb testing.TB, a, b *RGB) (mean float64, maxd int) {
	tb.Helper()
	if a.W != b.W || a.H != b.H {
		tb.Fatalf("size %dx%d vs %dx%d", a.W, a.H, b.W, b.H)
	}
	sum := 0
	for i := range a.Pix {
		d := int(a.Pix[i]) - int(b.Pix[i])
		if d < 0 {
			d = -d
		}
		sum += d
		maxd = max(maxd, d)
	}
	return float64(sum) / float64(len(a.Pix)), maxd
}

// fromImage converts via the standard library's colour models, as an
// independent reference for toRGB (opaque images only).
func fromImage(m image.Image) *RGB {
	b := m.Bounds()
	out := NewRGB(b.Dx(), b.Dy())
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			r, g, bb, _ := m.At(b.Min.X+x, b.Min.Y+y).RGBA()
			i := 3 * (y*out.W + x)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2] = uint8(r>>8), uint8(g>>8), uint8(bb>>8)
		}
	}
	return out
}

// synthetic returns a w x h image whose pixels all differ from their
// neighbours, so any geometric mistake shows.
func synthetic(w, h int) *RGB {
	m := NewRGB(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := 3 * (y*w + x)
			m.Pix[i] = uint8(x * 255 / max(w-1, 1))
			m.Pix[i+1] = uint8(y * 255 / max(h-1, 1))
			m.Pix[i+2] = uint8((x*7 + y*13) % 256)
		}
	}
	return m
}

func encodePNG(tb testing.TB, m image.Image) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// luma is BT.601 luma rounded to 8 bits.
func luma(c [3]uint8) uint8 {
	return uint8(math.Round(0.299*float64(c[0]) + 0.587*float64(c[1]) + 0.114*float64(c[2])))
}
