package imageio

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"runtime"
	"strings"
	"testing"
)

var sentinels = []error{ErrEmpty, ErrTruncated, ErrNotImage, ErrUnsupported, ErrTooLarge, ErrCorrupt}

// checkErr asserts err wraps want, no other top-level sentinel, and shows
// the sentinel's text first.
func checkErr(t *testing.T, name string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", name, err, want)
		return
	}
	for _, s := range sentinels {
		if s == want || (want == ErrCorrupt && s == ErrNotImage) {
			continue
		}
		if errors.Is(err, s) {
			t.Errorf("%s: err %q also matches %q", name, err, s)
		}
	}
	if !strings.HasPrefix(err.Error(), want.Error()) {
		t.Errorf("%s: message %q does not start with %q", name, err, want)
	}
}

func TestHostileFiles(t *testing.T) {
	tests := []struct {
		file string
		want error
	}{
		{"hostile/empty.jpg", ErrEmpty},
		{"hostile/truncated.jpg", ErrTruncated},
		{"hostile/truncated.png", ErrTruncated},
		{"hostile/notimage.jpg", ErrNotImage},
		{"hostile/random.png", ErrNotImage},
		{"hostile/bomb.png", ErrTooLarge},
		{"hostile/unsupported.jpg", ErrUnsupported},
		// The header's colour table runs past the end of the file: the
		// header itself is broken, which is ErrCorrupt (and ErrNotImage).
		{"hostile/bad-header.gif", ErrCorrupt},
	}
	for _, tt := range tests {
		img, _, err := Decode(testdata(t, tt.file), DecodeOptions{MaxPixels: 50_000_000})
		if img != nil {
			t.Errorf("%s: got an image with error %v", tt.file, err)
		}
		checkErr(t, tt.file, err, tt.want)
	}
	_, _, err := Decode(testdata(t, "hostile/bad-header.gif"), DecodeOptions{})
	if !errors.Is(err, ErrNotImage) {
		t.Errorf("ErrCorrupt should also be ErrNotImage: %v", err)
	}
}

// The bomb's header claims 200000x200000 (120 GB of RGB): it must be
// refused from the header, with no allocation proportional to the claim,
// whether the caller set a limit or relies on HardMaxPixels.
func TestBombRejectedWithoutAllocating(t *testing.T) {
	data := testdata(t, "hostile/bomb.png")
	for _, max := range []int64{0, 1 << 20} {
		opt := DecodeOptions{MaxPixels: max}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		const runs = 20
		for range runs {
			if _, _, err := Decode(data, opt); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("MaxPixels=%d: err = %v", max, err)
			}
		}
		runtime.ReadMemStats(&after)
		perRun := (after.TotalAlloc - before.TotalAlloc) / runs
		t.Logf("MaxPixels=%d: %d bytes allocated per call", max, perRun)
		if perRun > 64<<10 {
			t.Errorf("MaxPixels=%d: %d bytes allocated per call, want < 64 KiB", max, perRun)
		}
		allocs := testing.AllocsPerRun(runs, func() { Decode(data, opt) })
		if allocs > 50 {
			t.Errorf("MaxPixels=%d: %.0f allocations per call", max, allocs)
		}
	}
}

func TestMaxPixels(t *testing.T) {
	data := testdata(t, "photos/china.jpg") // 640x427 = 273280 px
	for _, tt := range []struct {
		max  int64
		want error
	}{{0, nil}, {273280, nil}, {273279, ErrTooLarge}} {
		img, info, err := Decode(data, DecodeOptions{MaxPixels: tt.max})
		if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
			t.Errorf("MaxPixels=%d: err = %v, want %v", tt.max, err, tt.want)
		}
		if info.Width != 640 || info.Height != 427 {
			t.Errorf("MaxPixels=%d: info %+v (the header size should be reported even when refusing)", tt.max, info)
		}
		if (img != nil) != (tt.want == nil) {
			t.Errorf("MaxPixels=%d: img %v", tt.max, img != nil)
		}
	}
	// Same for a Go-decoded format.
	png := testdata(t, "formats/gray.png") // 160x107
	if _, _, err := Decode(png, DecodeOptions{MaxPixels: 160*107 - 1}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("png: err = %v, want ErrTooLarge", err)
	}
}

// jpegWith returns a small Go-encoded JPEG for mutation.
func jpegWith(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, synthetic(w, h).NRGBA(), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// markerPos finds the first occurrence of marker 0xFF m.
func markerPos(t *testing.T, b []byte, m byte) int {
	t.Helper()
	i := bytes.Index(b, []byte{0xff, m})
	if i < 0 {
		t.Fatalf("marker %02x not found", m)
	}
	return i
}

func TestHostileSynthetic(t *testing.T) {
	good := jpegWith(t, 64, 48)
	sos := markerPos(t, good, 0xda)

	lossless := bytes.Clone(good) // SOF0 -> SOF3: lossless JPEG, which libjpeg-turbo 2.1 cannot decode
	lossless[markerPos(t, lossless, 0xc0)+1] = 0xc3

	zeroWidth := bytes.Clone(good) // SOF0 width field = 0
	sof := markerPos(t, zeroWidth, 0xc0)
	zeroWidth[sof+7], zeroWidth[sof+8] = 0, 0

	pngData := encodePNG(t, synthetic(40, 30).NRGBA())
	badCRC := bytes.Clone(pngData)
	badCRC[len(badCRC)-20] ^= 0xff // inside IDAT, before IEND

	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"jpeg cut in header", good[:sos-10], ErrCorrupt},
		{"jpeg cut in scan", good[:sos+(len(good)-sos)/2], ErrTruncated},
		{"jpeg signature only", good[:2], ErrCorrupt},
		{"jpeg lossless SOF3", lossless, ErrUnsupported},
		{"jpeg zero width", zeroWidth, ErrCorrupt},
		{"png cut in IHDR", pngData[:20], ErrCorrupt},
		{"png cut in IDAT", pngData[:len(pngData)-30], ErrTruncated},
		{"png bad IDAT", badCRC, ErrCorrupt},
		{"gif cut", []byte("GIF8"), ErrCorrupt},
		{"svg", []byte("<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>"), ErrUnsupported},
		{"pdf", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), ErrUnsupported},
		{"heic", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), ErrUnsupported},
		{"avif", []byte("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf"), ErrUnsupported},
		{"mp4", []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"), ErrNotImage},
		{"html", []byte("<!DOCTYPE html><html><body>hi</body></html>"), ErrNotImage},
		{"riff wav", []byte("RIFF\x24\x00\x00\x00WAVEfmt "), ErrNotImage},
		{"bmp cut in header", append([]byte("BM"), make([]byte, 8)...), ErrCorrupt},
		{"bmp unknown variant", append([]byte("BM"), make([]byte, 60)...), ErrUnsupported},
		{"webp garbage", []byte("RIFF\x10\x00\x00\x00WEBPVP8 \x04\x00\x00\x00\x00\x00\x00\x00"), ErrCorrupt},
		{"animated webp", []byte("RIFF\x1a\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x02\x00\x00\x00\x09\x00\x00\x09\x00\x00"), ErrUnsupported},
		{"tiff no IFD", []byte("II*\x00\xff\xff\xff\x00"), ErrCorrupt},
	}
	for _, tt := range tests {
		img, _, err := Decode(tt.data, DecodeOptions{MaxPixels: 1 << 24})
		if img != nil {
			t.Errorf("%s: image returned with err %v", tt.name, err)
		}
		checkErr(t, tt.name, err, tt.want)
	}
}

// A progressive JPEG may legally contain many scans; a hostile one repeats
// scans thousands of times to burn CPU. libjpeg only warns about the bogus
// progression, so the decoder must count scans itself.
func TestTooManyScans(t *testing.T) {
	var buf bytes.Buffer
	// Progressive encodings are not available from image/jpeg; use the
	// test file and repeat its first scan (header + entropy data).
	data := testdata(t, "formats/progressive.jpg")
	first := markerPos(t, data, 0xda)
	next := first + 2
	for { // the next marker that is not a stuffed 0xFF00 or RSTn
		i := bytes.IndexByte(data[next:], 0xff)
		if i < 0 {
			t.Fatal("no marker after first scan")
		}
		next += i
		if m := data[next+1]; m != 0 && (m < 0xd0 || m > 0xd7) {
			break
		}
		next += 2
	}
	buf.Write(data[:next])
	for range 600 {
		buf.Write(data[first:next])
	}
	buf.Write(data[next:])
	_, _, err := Decode(buf.Bytes(), DecodeOptions{})
	checkErr(t, "600 scans", err, ErrCorrupt)
	if err != nil && !strings.Contains(err.Error(), "scans") {
		t.Errorf("message %q should mention scans", err)
	}
	// The unmodified file has a normal number of scans.
	if _, _, err := Decode(data, DecodeOptions{}); err != nil {
		t.Error(err)
	}
}

func TestGIFFrameSmallerThanCanvas(t *testing.T) {
	// A GIF whose first frame covers only part of the logical screen: the
	// rest is transparent, hence white.
	frame := image.NewPaletted(image.Rect(2, 1, 4, 3), []color.Color{color.RGBA{255, 0, 0, 255}})
	var buf bytes.Buffer
	err := gif.EncodeAll(&buf, &gif.GIF{
		Image:  []*image.Paletted{frame},
		Delay:  []int{0},
		Config: image.Config{ColorModel: frame.Palette, Width: 5, Height: 4},
	})
	if err != nil {
		t.Fatal(err)
	}
	img, info := mustDecode(t, buf.Bytes(), DecodeOptions{})
	if info.Width != 5 || info.Height != 4 {
		t.Fatalf("info %+v", info)
	}
	for y := range 4 {
		for x := range 5 {
			want := [3]uint8{255, 255, 255}
			if x >= 2 && x < 4 && y >= 1 && y < 3 {
				want = [3]uint8{255, 0, 0}
			}
			if got := img.At(x, y); got != want {
				t.Errorf("(%d,%d) = %v, want %v", x, y, got, want)
			}
		}
	}
}
