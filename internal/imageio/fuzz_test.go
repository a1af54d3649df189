package imageio

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode checks that no input makes Decode panic, hang or return
// something inconsistent: either an error wrapping a sentinel, or an image
// whose buffer matches its size and whose size agrees with Info.
func FuzzDecode(f *testing.F) {
	for _, dir := range []string{"formats", "hostile", "orient"} {
		files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "images", dir, "*"))
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil && len(b) < 64<<10 && filepath.Ext(file) != ".md" {
				f.Add(b, uint8(0), uint8(0))
				f.Add(b, uint8(20), uint8(10))
			}
		}
	}
	f.Add(encodePNG(f, synthetic(9, 7).NRGBA()), uint8(1), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, minW, minH uint8) {
		opt := DecodeOptions{MaxPixels: 1 << 22, MinW: int(minW), MinH: int(minH)}
		img, info, err := Decode(data, opt)
		if err != nil {
			if img != nil {
				t.Fatalf("image returned with error %v", err)
			}
			for _, s := range []error{ErrEmpty, ErrTruncated, ErrNotImage, ErrUnsupported, ErrTooLarge} {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("error %q wraps no sentinel", err)
		}
		if img.W <= 0 || img.H <= 0 || len(img.Pix) != 3*img.W*img.H {
			t.Fatalf("image %dx%d with %d bytes", img.W, img.H, len(img.Pix))
		}
		if int64(info.Width)*int64(info.Height) > opt.MaxPixels {
			t.Fatalf("%dx%d exceeds MaxPixels", info.Width, info.Height)
		}
		if img.W > info.Width || img.H > info.Height {
			t.Fatalf("decoded %dx%d larger than the displayed %dx%d", img.W, img.H, info.Width, info.Height)
		}
		if (opt.MinW == 0 || opt.MinH == 0 || info.Format != FormatJPEG) && (img.W != info.Width || img.H != info.Height) {
			t.Fatalf("decoded %dx%d, info says %dx%d", img.W, img.H, info.Width, info.Height)
		}
	})
}

// FuzzFitSIMD: for any source and target size and mode, the SIMD passes
// give the Go loops' bytes and read nothing past the source, which ends at
// an unreadable page.
func FuzzFitSIMD(f *testing.F) {
	if !simd {
		f.Skip("no SIMD resampling on this CPU")
	}
	f.Add(uint16(500), uint16(375), uint8(224), uint8(224), uint8(0), uint64(1))
	f.Add(uint16(1), uint16(1), uint8(3), uint8(200), uint8(1), uint64(2))
	f.Add(uint16(900), uint16(17), uint8(1), uint8(1), uint8(2), uint64(3))
	f.Fuzz(func(t *testing.T, W, H uint16, w, h, mode uint8, seed uint64) {
		W, H = 1+W%1200, 1+H%1200
		src := &RGB{W: int(W), H: int(H), Pix: guardedBytes(t, 3*int(W)*int(H))}
		rng := rand.New(rand.NewPCG(seed, seed>>1))
		for i := range src.Pix {
			src.Pix[i] = uint8(rng.IntN(256))
		}
		m := []ResizeMode{Pad, Crop, Stretch}[mode%3]
		tw, th := 1+int(w), 1+int(h)
		defer func(v bool) { simd = v }(simd)
		simd = false
		want := Fit(nil, src, tw, th, m, grey)
		simd = true
		got := Fit(nil, src, tw, th, m, grey)
		if !bytes.Equal(got.Pix, want.Pix) {
			t.Fatalf("%dx%d -> %dx%d %v: SIMD differs from Go", W, H, tw, th, m)
		}
	})
}
