package imageio

import (
	"runtime"
	"sync"
	"testing"
)

func TestJPEGDenom(t *testing.T) {
	tests := []struct {
		w, h, o, minW, minH int
		mode                ResizeMode
		want                int
	}{
		{640, 427, 1, 0, 0, Stretch, 1},
		{640, 427, 1, 224, 0, Stretch, 1},   // both needed
		{640, 427, 1, 224, 224, Stretch, 1}, // 320x214 at 1/2 is short of 224
		{640, 427, 1, 56, 56, Stretch, 4},   // 80x54 < 56; 160x107 covers
		{640, 427, 1, 30, 30, Stretch, 8},   // 80x54 covers
		{640, 427, 1, 400, 400, Stretch, 1},
		{500, 375, 1, 224, 224, Stretch, 1},   // as PIL's draft: 250x188 does not cover
		{4000, 3000, 1, 224, 224, Stretch, 8}, // 500x375: a 12 MP photo at 1/8
		{4000, 3000, 1, 100, 100, Stretch, 8},
		// Orientation swaps the axes the minimum applies to.
		{4000, 3000, 6, 224, 500, Stretch, 8}, // displayed 375x500 at 1/8
		{4000, 3000, 1, 224, 500, Stretch, 4}, // displayed 500x375 at 1/8 fails the 500 height
		{17, 9, 1, 3, 2, Stretch, 8},          // ceil: 3x2 (not 2x1) at 1/8
		{17, 9, 1, 4, 2, Stretch, 4},          // 3x2 fails, 5x3 covers
		{17, 9, 1, 10, 2, Stretch, 1},         // 9x5 at 1/2 fails
		// Pad draws 224x168 of a 4:3 picture: 250x188 at 1/2 covers it.
		{500, 375, 1, 224, 224, Pad, 2},
		{640, 427, 1, 224, 224, Pad, 2}, // 224x149: 320x214 covers, 160x107 not
		{4000, 3000, 1, 224, 224, Pad, 8},
		{3000, 4000, 1, 224, 224, Pad, 8},
		{4000, 3000, 6, 224, 224, Pad, 8},
		// Crop scales the shorter side to 224 first: 299x224 of 500x375.
		{500, 375, 1, 224, 224, Crop, 1},
		{1000, 750, 1, 224, 224, Crop, 2},
		{1000, 750, 6, 224, 224, Crop, 2},
	}
	for _, tt := range tests {
		if got := jpegDenom(tt.w, tt.h, tt.o, tt.minW, tt.minH, tt.mode); got != tt.want {
			t.Errorf("jpegDenom(%d,%d,o=%d,min %dx%d, %v) = %d, want %d", tt.w, tt.h, tt.o, tt.minW, tt.minH, tt.mode, got, tt.want)
		}
	}
}

// A DCT-scaled decode must cover the target (the strongest scale that
// does, as PIL's draft()), report the original size, and after the final
// resize look like the full decode: within 2 grey levels on average when
// the decode is still twice the target, 8 (3% of the range) when it is
// barely larger and Fit's own filter has little left to smooth.
func TestDCTScaledDecode(t *testing.T) {
	data := testdata(t, "photos/china.jpg")
	full, finfo := mustDecode(t, data, DecodeOptions{})
	for _, mode := range []ResizeMode{Pad, Crop, Stretch} {
		for _, min := range []int{56, 30} {
			img, info := mustDecode(t, data, DecodeOptions{MinW: min, MinH: min, Resize: mode})
			if info != finfo {
				t.Errorf("min %d: info %+v, want the full-size %+v", min, info, finfo)
			}
			g := fitGeometry(full.W, full.H, min, min, mode)
			if img.W < g.rw || img.H < g.rh {
				t.Errorf("%v min %d: decoded %dx%d, smaller than the %dx%d picture Fit draws", mode, min, img.W, img.H, g.rw, g.rh)
			}
			if img.W >= 2*g.rw && img.H >= 2*g.rh && img.W > full.W/8+1 {
				t.Errorf("%v min %d: decoded %dx%d, twice the picture: a stronger scale would do", mode, min, img.W, img.H)
			}
			if img.W > (full.W+1)/2 || img.H > (full.H+1)/2 {
				t.Errorf("min %d: decoded %dx%d, not reduced from %dx%d", min, img.W, img.H, full.W, full.H)
			}
			a := Fit(nil, img, min, min, mode, grey)
			b := Fit(nil, full, min, min, mode, grey)
			mean, maxd := diff(t, a, b)
			t.Logf("%v min %d: decoded %dx%d, after Fit mean %.2f max %d", mode, min, img.W, img.H, mean, maxd)
			if limit := map[bool]float64{true: 2, false: 8}[img.W >= 2*g.rw && img.H >= 2*g.rh]; mean > limit {
				t.Errorf("%v min %d: scaled decode + Fit differs from full decode + Fit by %.2f", mode, min, mean)
			}
		}
	}
}

// Orientation is applied after DCT scaling; sizes must still come out as
// displayed.
func TestDCTScaledOrientation(t *testing.T) {
	want, _ := mustDecode(t, testdata(t, "orient/expected.png"), DecodeOptions{})
	wantSmall := Fit(nil, want, 30, 40, Stretch, grey)
	for n := 1; n <= 8; n++ {
		data := testdata(t, "orient/orient-"+string(rune('0'+n))+".jpg")
		img, info := mustDecode(t, data, DecodeOptions{MinW: 30, MinH: 40, Resize: Stretch}) // 120x160 -> 1/4 = 30x40
		if info.Width != 120 || info.Height != 160 || img.W != 30 || img.H != 40 {
			t.Errorf("orient-%d: info %+v, decoded %dx%d, want 120x160 and 30x40", n, info, img.W, img.H)
			continue
		}
		// At exactly the target size the decode is the 4x4 block averages,
		// so it differs from the filtered full decode as in
		// TestDCTScaledDecode; a wrong orientation differs far more.
		if mean, _ := diff(t, Fit(nil, img, 30, 40, Stretch, grey), wantSmall); mean > 8 {
			t.Errorf("orient-%d: mean diff %.2f", n, mean)
		}
	}
}

// A Decoder reuses its buffers: decoding the same photo again allocates
// nothing proportional to the image.
func TestDecoderReuse(t *testing.T) {
	for _, f := range []string{"photos/china.jpg", "orient/orient-6.jpg"} {
		data := testdata(t, f)
		var d Decoder
		first, _, err := d.Decode(data, DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := &RGB{W: first.W, H: first.H, Pix: append([]uint8(nil), first.Pix...)}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		const runs = 10
		for range runs {
			img, _, err := d.Decode(data, DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, maxd := diff(t, img, want); maxd != 0 {
				t.Fatalf("%s: repeated decode differs", f)
			}
		}
		runtime.ReadMemStats(&after)
		perRun := (after.TotalAlloc - before.TotalAlloc) / runs
		t.Logf("%s: %d bytes allocated per decode (image is %d bytes)", f, perRun, len(want.Pix))
		if perRun > uint64(len(want.Pix))/10 {
			t.Errorf("%s: %d bytes allocated per decode; buffers not reused", f, perRun)
		}
	}
}

// Decoders on several goroutines (as featurize runs them) give the same
// results as one after the other; run with -race to check the cgo side
// shares no state.
func TestParallelDecode(t *testing.T) {
	files := []string{"photos/china.jpg", "photos/flower.jpg", "photos/grace_hopper.jpg",
		"formats/cmyk.jpg", "formats/progressive.jpg", "orient/orient-7.jpg", "formats/image.webp", "formats/palette.png"}
	want := make([]*RGB, len(files))
	for i, f := range files {
		want[i], _ = mustDecode(t, testdata(t, f), DecodeOptions{MinW: 40, MinH: 40})
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var d Decoder
			for k := range 3 * len(files) {
				i := (k + g) % len(files)
				img, _, err := d.Decode(testdata(t, files[i]), DecodeOptions{MinW: 40, MinH: 40})
				if err != nil {
					t.Error(err)
					return
				}
				if img.W != want[i].W || img.H != want[i].H || string(img.Pix) != string(want[i].Pix) {
					t.Errorf("%s: parallel decode differs", files[i])
					return
				}
			}
		}()
	}
	wg.Wait()
}
