package imageio

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"testing"
	"time"
)

// A decode reserves before it allocates: width x height x 4 for an 8-bit
// RGBA PNG (converted in place), more for a 16-bit one, and for a JPEG the
// size it decodes at, so a 1/8 DCT scale reserves 1/64 of the full size.
func TestReserveCountsTheDecodedSize(t *testing.T) {
	reserved := func(data []byte, opt DecodeOptions) int64 {
		t.Helper()
		var got int64 = -1
		opt.Reserve = func(n int64) error { got = n; return nil }
		if _, _, err := Decode(data, opt); err != nil {
			t.Fatal(err)
		}
		return got
	}
	const w, h = 640, 480
	rgba := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(i)
	}
	if got := reserved(encodePNG(t, rgba), DecodeOptions{}); got != 4*w*h {
		t.Errorf("8-bit RGBA PNG reserved %d, want %d", got, 4*w*h)
	}
	deep := image.NewNRGBA64(image.Rect(0, 0, w, h))
	if got := reserved(encodePNG(t, deep), DecodeOptions{}); got != (8+3)*w*h {
		t.Errorf("16-bit PNG reserved %d, want %d (decoder's 8 bytes + RGB copy)", got, 11*w*h)
	}
	var buf bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 2048, 1536))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80})
	full := reserved(buf.Bytes(), DecodeOptions{})
	small := reserved(buf.Bytes(), DecodeOptions{MinW: 96, MinH: 96}) // 1/8 scale: 256x192, twice 96 in both
	if full != 4*2048*1536 || small != 4*256*192 {
		t.Errorf("JPEG reserved %d at full size and %d at 1/8, want %d and %d", full, small, 4*2048*1536, 4*256*192)
	}
	// A refusal stops the decode before the pixels.
	stop := errors.New("no memory")
	_, _, err := Decode(encodePNG(t, rgba), DecodeOptions{Reserve: func(int64) error { return stop }})
	if !errors.Is(err, stop) {
		t.Errorf("Decode after a refused reservation: %v", err)
	}
}

// In-place conversion gives the same pixels as the copying one.
func TestInPlaceMatchesCopy(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 37, 23))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 7)
	}
	want := NewRGB(37, 23)
	toRGB(want, m)
	var got RGB
	clone := *m
	clone.Pix = append([]uint8(nil), m.Pix...)
	if !inPlaceRGB(&got, &clone, 37, 23) {
		t.Fatal("inPlaceRGB refused an NRGBA covering the canvas")
	}
	if !bytes.Equal(got.Pix, want.Pix) {
		t.Fatal("in-place conversion differs from toRGB")
	}
	pm := image.NewRGBA(image.Rect(0, 0, 5, 5))
	for i := range pm.Pix {
		pm.Pix[i] = uint8(i * 3) // some invalid premultiplied values too
	}
	want = NewRGB(5, 5)
	toRGB(want, pm)
	if !inPlaceRGB(&got, pm, 5, 5) || !bytes.Equal(got.Pix, want.Pix) {
		t.Fatal("in-place RGBA conversion differs from toRGB")
	}
	if inPlaceRGB(&got, image.NewGray(image.Rect(0, 0, 5, 5)), 5, 5) {
		t.Fatal("inPlaceRGB took a Gray image")
	}
}

// The budget makes a decode wait until others release, refuses at once one
// that could never fit, and stops waiting when the context ends.
func TestBudget(t *testing.T) {
	b := NewBudget(100)
	ctx := context.Background()
	if err := b.Acquire(ctx, 60); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- b.Acquire(ctx, 50) }()
	select {
	case err := <-got:
		t.Fatalf("the second reservation did not wait: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	b.Release(60)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if b.Used() != 50 {
		t.Errorf("used %d, want 50", b.Used())
	}
	if err := b.Acquire(ctx, 101); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a reservation above the budget: %v, want ErrTooLarge", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() { got <- b.Acquire(cctx, 60) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Errorf("waiting after cancel: %v", err)
	}
	if b.Used() != 50 {
		t.Errorf("a cancelled wait left %d used, want 50", b.Used())
	}
}
