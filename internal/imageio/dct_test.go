package imageio

import (
	"runtime"
	"sync"
	"testing"
)

func TestJPEGDenom(t *testing.T) {
	tests := []struct {
		w, h, o, minW, minH int
		want                int
	}{
		{640, 427, 1, 0, 0, 1},
		{640, 427, 1, 224, 0, 1}, // both needed
		{640, 427, 1, 56, 56, 2}, // 320x214 ok, 160x107 < 112
		{640, 427, 1, 30, 30, 4}, // 160x107 >= 60; 80x54 < 60
		{640, 427, 1, 20, 20, 8}, // 80x54 >= 40
		{640, 427, 1, 400, 400, 1},
		{4000, 3000, 1, 224, 224, 4}, // 1000x750; 500x375 < 448
		{4000, 3000, 1, 100, 100, 8}, // 500x375 >= 200
		// Orientation swaps the axes the minimum applies to.
		{4000, 3000, 6, 224, 500, 4}, // displayed 750x1000 at 1/4
		{4000, 3000, 1, 224, 500, 2}, // displayed 1000x750 at 1/4 fails the 1000 height
		{17, 9, 1, 2, 2, 2},          // ceil: 3x2 and 5x3 fail 4x4, 9x5 passes
		{17, 9, 1, 1, 1, 8},          // 3x2 (not 2x1) passes 2x2
	}
	for _, tt := range tests {
		if got := jpegDenom(tt.w, tt.h, tt.o, tt.minW, tt.minH); got != tt.want {
			t.Errorf("jpegDenom(%d,%d,o=%d,min %dx%d) = %d, want %d", tt.w, tt.h, tt.o, tt.minW, tt.minH, got, tt.want)
		}
	}
}

// A DCT-scaled decode must be at least twice the target, report the
// original size, and after the final resize look like the full decode.
func TestDCTScaledDecode(t *testing.T) {
	data := testdata(t, "photos/china.jpg")
	full, finfo := mustDecode(t, data, DecodeOptions{})
	for _, mode := range []ResizeMode{Pad, Crop, Stretch} {
		for _, min := range []int{56, 30} {
			img, info := mustDecode(t, data, DecodeOptions{MinW: min, MinH: min})
			if info != finfo {
				t.Errorf("min %d: info %+v, want the full-size %+v", min, info, finfo)
			}
			if img.W < 2*min || img.H < 2*min {
				t.Errorf("min %d: decoded %dx%d, smaller than 2x the target", min, img.W, img.H)
			}
			if img.W > (full.W+1)/2 || img.H > (full.H+1)/2 {
				t.Errorf("min %d: decoded %dx%d, not reduced from %dx%d", min, img.W, img.H, full.W, full.H)
			}
			a := Fit(nil, img, min, min, mode, grey)
			b := Fit(nil, full, min, min, mode, grey)
			mean, maxd := diff(t, a, b)
			t.Logf("%v min %d: decoded %dx%d, after Fit mean %.2f max %d", mode, min, img.W, img.H, mean, maxd)
			if mean > 2.0 {
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
		img, info := mustDecode(t, data, DecodeOptions{MinW: 30, MinH: 40}) // 120x160 -> 1/2 = 60x80
		if info.Width != 120 || info.Height != 160 || img.W != 60 || img.H != 80 {
			t.Errorf("orient-%d: info %+v, decoded %dx%d, want 120x160 and 60x80", n, info, img.W, img.H)
			continue
		}
		if mean, _ := diff(t, Fit(nil, img, 30, 40, Stretch, grey), wantSmall); mean > 2 {
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
