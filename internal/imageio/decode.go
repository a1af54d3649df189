package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"io"
	"runtime"
	"strings"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// Info describes the image as a viewer would show it: the size is after
// EXIF orientation, and is the size stored in the file, before any DCT
// scaling or resizing.
type Info struct {
	Format        string // "jpeg", "png", "gif", "bmp", "tiff" or "webp"
	Width, Height int
}

// RGB is a packed 8-bit RGB image: 3 bytes per pixel, row-major, no
// padding, so pixel (x, y) starts at Pix[3*(y*W+x)].
type RGB struct {
	W, H int
	Pix  []uint8
}

// NewRGB allocates a w x h image.
func NewRGB(w, h int) *RGB {
	return &RGB{W: w, H: h, Pix: make([]uint8, 3*w*h)}
}

// setSize makes m w x h, reusing Pix when it is big enough. The contents
// are unspecified afterwards.
func (m *RGB) setSize(w, h int) {
	n := 3 * w * h
	if cap(m.Pix) < n {
		m.Pix = make([]uint8, n)
	}
	m.Pix = m.Pix[:n]
	m.W, m.H = w, h
}

// At returns the colour of pixel (x, y).
func (m *RGB) At(x, y int) [3]uint8 {
	i := 3 * (y*m.W + x)
	return [3]uint8{m.Pix[i], m.Pix[i+1], m.Pix[i+2]}
}

// NRGBA converts m to a standard library image, e.g. for png.Encode.
func (m *RGB) NRGBA() *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, m.W, m.H))
	for i, j := 0, 0; i+2 < len(m.Pix); i, j = i+3, j+4 {
		out.Pix[j], out.Pix[j+1], out.Pix[j+2], out.Pix[j+3] = m.Pix[i], m.Pix[i+1], m.Pix[i+2], 0xff
	}
	return out
}

// DecodeOptions bounds and shapes decoding.
type DecodeOptions struct {
	// MaxPixels rejects images whose header claims more than this many
	// pixels (width*height), before any pixel data is decoded or any
	// buffer allocated. 0 means no limit other than HardMaxPixels.
	MaxPixels int64
	// MinW, MinH are the size the caller will Fit the image to, with
	// Resize. When both are > 0 a JPEG may be decoded at 1/2, 1/4 or 1/8
	// scale in the DCT domain, provided the result still covers the
	// picture Fit makes of it: MinW x MinH for Stretch, the scaled image
	// before its centre is cut for Crop, the picture inside the bars for
	// Pad (the zero value, which allows the most reduction). 0 means
	// decode at full size.
	MinW, MinH int
	Resize     ResizeMode
	// Reserve, when set, is called once the header has been read and
	// before any pixel buffer is allocated, with the bytes the decode will
	// hold at its peak: at least width x height x 4 for the size it decodes
	// at (a JPEG's reduced DCT scale counts as that smaller size), more for
	// 16-bit images, rotation and progressive JPEGs. An error from it ends
	// the decode and is returned as is. See Budget.
	Reserve func(bytes int64) error
}

func (o *DecodeOptions) reserve(n int64) error {
	if o.Reserve == nil {
		return nil
	}
	return o.Reserve(n)
}

// HardMaxPixels is the ceiling applied even when MaxPixels is 0: it keeps
// buffer sizes far from integer overflow and a hostile header from asking
// for tens of gigabytes.
const HardMaxPixels = 1 << 30

// Decoder decodes images while reusing its pixel buffers from one call to
// the next. It is not safe for concurrent use: give each decoding
// goroutine its own.
type Decoder struct {
	img RGB // returned to the caller
	tmp RGB // pre-orientation pixels, when the image needs rotating
	pin runtime.Pinner
}

// Decode decodes one image file. See Decoder.Decode.
func Decode(data []byte, opt DecodeOptions) (*RGB, Info, error) {
	var d Decoder
	img, info, err := d.Decode(data, opt)
	d.tmp = RGB{}
	return img, info, err
}

// Decode turns the bytes of one image file into packed RGB, oriented for
// display. The returned image belongs to d and is overwritten by the next
// call; on error it is nil. Errors wrap one of the package's sentinels.
func (d *Decoder) Decode(data []byte, opt DecodeOptions) (img *RGB, info Info, err error) {
	format, err := sniff(data)
	if err != nil {
		return nil, Info{}, err
	}
	info.Format = format
	// The Go decoders (x/image in particular) have a history of panicking
	// on crafted input; one bad file must not take down a batch.
	defer func() {
		if r := recover(); r != nil {
			img = nil
			err = newErr(ErrCorrupt, format, "decoder panic: %v", r)
		}
	}()
	if format == FormatJPEG {
		return d.decodeJPEG(data, opt)
	}
	return d.decodeGo(format, data, opt)
}

func checkSize(format string, w, h int, max int64) error {
	if w <= 0 || h <= 0 {
		return newErr(ErrCorrupt, format, "invalid dimensions %dx%d", w, h)
	}
	px := int64(w) * int64(h)
	if max <= 0 || max > HardMaxPixels {
		max = HardMaxPixels
	}
	if px > max {
		return newErr(ErrTooLarge, format, "%dx%d is %.1f megapixels, limit is %.1f",
			w, h, float64(px)/1e6, float64(max)/1e6)
	}
	return nil
}

// target returns the buffer to decode into: the output itself, or the
// scratch buffer when orientation will be applied afterwards.
func (d *Decoder) target(o int) *RGB {
	if o == 1 {
		return &d.img
	}
	return &d.tmp
}

// finish applies orientation o to a decode made into d.target(o).
func (d *Decoder) finish(o int) *RGB {
	if o != 1 {
		w, h := orientedSize(d.tmp.W, d.tmp.H, o)
		d.img.setSize(w, h)
		orient(&d.img, &d.tmp, o)
	}
	return &d.img
}

func (d *Decoder) decodeJPEG(data []byte, opt DecodeOptions) (*RGB, Info, error) {
	info := Info{Format: FormatJPEG}
	jd, err := newJPEGDecoder(&d.pin)
	if err != nil {
		return nil, info, err
	}
	defer jd.close()
	hdr, err := jd.header(data)
	if err != nil {
		return nil, info, err
	}
	o := jpegOrientation(data)
	info.Width, info.Height = orientedSize(hdr.w, hdr.h, o)
	if err := checkSize(FormatJPEG, hdr.w, hdr.h, opt.MaxPixels); err != nil {
		return nil, info, err
	}
	denom := jpegDenom(hdr.w, hdr.h, o, opt.MinW, opt.MinH, opt.Resize)
	sw, sh := jpegScaled(hdr.w, denom), jpegScaled(hdr.h, denom)
	need := minBytesPerPixel * int64(sw) * int64(sh)
	if o != 1 {
		need += 3 * int64(sw) * int64(sh) // the rotated copy
	}
	if hdr.progressive {
		// libjpeg keeps every DCT coefficient of a progressive file (2
		// bytes each, per component, at full size) whatever the scale.
		need += 2 * int64(hdr.components) * int64(hdr.w) * int64(hdr.h)
	}
	if err := opt.reserve(need); err != nil {
		return nil, info, err
	}
	t := d.target(o)
	t.setSize(sw, sh)
	if err := jd.decode(t, denom); err != nil {
		return nil, info, err
	}
	return d.finish(o), info, nil
}

func decodeConfig(format string, r io.Reader) (image.Config, error) {
	switch format {
	case FormatPNG:
		return png.DecodeConfig(r)
	case FormatGIF:
		return gif.DecodeConfig(r)
	case FormatBMP:
		return bmp.DecodeConfig(r)
	case FormatTIFF:
		return tiff.DecodeConfig(r)
	case FormatWebP:
		return webp.DecodeConfig(r)
	}
	return image.Config{}, image.ErrFormat
}

func decodeImage(format string, r io.Reader) (image.Image, error) {
	switch format {
	case FormatPNG:
		return png.Decode(r)
	case FormatGIF:
		return gif.Decode(r) // first frame only; later frames are not decoded
	case FormatBMP:
		return bmp.Decode(r)
	case FormatTIFF:
		return tiff.Decode(r)
	case FormatWebP:
		return webp.Decode(r)
	}
	return nil, image.ErrFormat
}

// goError classifies an error from a standard or x/image decoder. Not all
// of them wrap io.ErrUnexpectedEOF (gif formats it with %v), hence the
// fallback on the message. An early end while still in the header
// (inHeader) counts as corrupt, not truncated; see ErrCorrupt.
func goError(format string, err error, inHeader bool) error {
	var pngUnsup png.UnsupportedError
	var tiffUnsup tiff.UnsupportedError
	kind := ErrCorrupt
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		strings.Contains(err.Error(), io.ErrUnexpectedEOF.Error()):
		if !inHeader {
			kind = ErrTruncated
		}
	case errors.As(err, &pngUnsup), errors.As(err, &tiffUnsup), errors.Is(err, bmp.ErrUnsupported):
		kind = ErrUnsupported
	}
	detail := strings.TrimPrefix(err.Error(), format+": ") // Go's errors repeat the format
	if inHeader {
		detail = "bad header: " + detail
	}
	return &decodeError{kind: kind, format: format, detail: detail, cause: err}
}

func (d *Decoder) decodeGo(format string, data []byte, opt DecodeOptions) (*RGB, Info, error) {
	info := Info{Format: format}
	if format == FormatWebP && webpAnimated(data) {
		// x/image/webp has no animation support; say so instead of
		// reporting the file as corrupt.
		return nil, info, newErr(ErrUnsupported, format, "animated WebP")
	}
	cfg, err := decodeConfig(format, bytes.NewReader(data))
	if err != nil {
		return nil, info, goError(format, err, true)
	}
	o := orientationOf(format, data)
	info.Width, info.Height = orientedSize(cfg.Width, cfg.Height, o)
	if err := checkSize(format, cfg.Width, cfg.Height, opt.MaxPixels); err != nil {
		return nil, info, err
	}
	px := int64(cfg.Width) * int64(cfg.Height)
	bpp := bytesPerPixel(cfg.ColorModel)
	if format == FormatPNG && len(data) > 28 && data[28] == 1 {
		bpp *= 2 // Adam7: each pass is decoded into its own image, then copied
	}
	need := bpp * px
	if !convertsInPlace(cfg.ColorModel) {
		need += 3 * px
	}
	if o != 1 {
		need += 3 * px
	}
	if need < minBytesPerPixel*px {
		need = minBytesPerPixel * px
	}
	if err := opt.reserve(need); err != nil {
		return nil, info, err
	}
	m, err := decodeImage(format, bytes.NewReader(data))
	if err != nil {
		err = goError(format, err, false)
		if format == FormatPNG && pngTruncated(data) {
			// image/png reports a short IDAT stream as "not enough pixel
			// data", without the EOF; the chunk structure tells the truth.
			err.(*decodeError).kind = ErrTruncated
		}
		return nil, info, err
	}
	t := d.target(o)
	if !inPlaceRGB(t, m, cfg.Width, cfg.Height) {
		t.setSize(cfg.Width, cfg.Height)
		toRGB(t, m)
	}
	return d.finish(o), info, nil
}

// toRGB converts m into dst (already sized to the canvas). Pixels outside
// m's bounds (a GIF frame smaller than its canvas) are white, and alpha is
// composited on white, which is how a browser on a white page shows them.
func toRGB(dst *RGB, m image.Image) {
	canvas := image.Rect(0, 0, dst.W, dst.H)
	r := m.Bounds().Intersect(canvas)
	if r != canvas {
		for i := range dst.Pix {
			dst.Pix[i] = 0xff
		}
	}
	if r.Empty() {
		return
	}
	switch m := m.(type) {
	case *image.YCbCr:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			out := dst.Pix[3*(y*dst.W+r.Min.X) : 3*(y*dst.W+r.Max.X)]
			for x, i := r.Min.X, 0; x < r.Max.X; x, i = x+1, i+3 {
				yi, ci := m.YOffset(x, y), m.COffset(x, y)
				out[i], out[i+1], out[i+2] = color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			}
		}
	case *image.NYCbCrA:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			out := dst.Pix[3*(y*dst.W+r.Min.X) : 3*(y*dst.W+r.Max.X)]
			for x, i := r.Min.X, 0; x < r.Max.X; x, i = x+1, i+3 {
				yi, ci := m.YOffset(x, y), m.COffset(x, y)
				cr, cg, cb := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				a := uint32(m.A[m.AOffset(x, y)])
				out[i], out[i+1], out[i+2] = overWhite(cr, a), overWhite(cg, a), overWhite(cb, a)
			}
		}
	case *image.RGBA: // premultiplied: c + (1-a)*white
		for y := r.Min.Y; y < r.Max.Y; y++ {
			in := m.Pix[m.PixOffset(r.Min.X, y):m.PixOffset(r.Max.X, y)]
			out := dst.Pix[3*(y*dst.W+r.Min.X) : 3*(y*dst.W+r.Max.X)]
			for i, j := 0, 0; j+3 < len(in) && i+2 < len(out); i, j = i+3, j+4 {
				p := in[j : j+4 : j+4]
				w := 255 - p[3]
				out[i], out[i+1], out[i+2] = sat(p[0], w), sat(p[1], w), sat(p[2], w)
			}
		}
	case *image.NRGBA:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			in := m.Pix[m.PixOffset(r.Min.X, y):m.PixOffset(r.Max.X, y)]
			out := dst.Pix[3*(y*dst.W+r.Min.X) : 3*(y*dst.W+r.Max.X)]
			for i, j := 0, 0; j+3 < len(in) && i+2 < len(out); i, j = i+3, j+4 {
				p := in[j : j+4 : j+4]
				a := uint32(p[3])
				out[i], out[i+1], out[i+2] = overWhite(p[0], a), overWhite(p[1], a), overWhite(p[2], a)
			}
		}
	case *image.Gray:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			in := m.Pix[m.PixOffset(r.Min.X, y):m.PixOffset(r.Max.X, y)]
			out := dst.Pix[3*(y*dst.W+r.Min.X) : 3*(y*dst.W+r.Max.X)]
			for i, v := range in {
				q := out[3*i : 3*i+3 : 3*i+3]
				q[0], q[1], q[2] = v, v, v
			}
		}
	case *image.Paletted:
		var lut [256][3]uint8 // indices past the palette map to black
		for i, c := range m.Palette {
			if i < len(lut) {
				lut[i] = rgba64OverWhite(c.RGBA())
			}
		}
		for y := r.Min.Y; y < r.Max.Y; y++ {
			in := m.Pix[m.PixOffset(r.Min.X, y):m.PixOffset(r.Max.X, y)]
			out := dst.Pix[3*(y*dst.W+r.Min.X) : 3*(y*dst.W+r.Max.X)]
			for i, v := range in {
				c := &lut[v]
				q := out[3*i : 3*i+3 : 3*i+3]
				q[0], q[1], q[2] = c[0], c[1], c[2]
			}
		}
	case *image.CMYK:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			in := m.Pix[m.PixOffset(r.Min.X, y):m.PixOffset(r.Max.X, y)]
			out := dst.Pix[3*(y*dst.W+r.Min.X) : 3*(y*dst.W+r.Max.X)]
			for i, j := 0, 0; j+3 < len(in) && i+2 < len(out); i, j = i+3, j+4 {
				out[i], out[i+1], out[i+2] = color.CMYKToRGB(in[j], in[j+1], in[j+2], in[j+3])
			}
		}
	case image.RGBA64Image:
		// 16-bit PNG and TIFF (RGBA64, NRGBA64, Gray16, ...): RGBA64At
		// avoids the per-pixel interface allocation of At.
		for y := r.Min.Y; y < r.Max.Y; y++ {
			out := dst.Pix[3*(y*dst.W+r.Min.X) : 3*(y*dst.W+r.Max.X)]
			for x, i := r.Min.X, 0; x < r.Max.X; x, i = x+1, i+3 {
				c := m.RGBA64At(x, y)
				v := rgba64OverWhite(uint32(c.R), uint32(c.G), uint32(c.B), uint32(c.A))
				out[i], out[i+1], out[i+2] = v[0], v[1], v[2]
			}
		}
	default:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			out := dst.Pix[3*(y*dst.W+r.Min.X) : 3*(y*dst.W+r.Max.X)]
			for x, i := r.Min.X, 0; x < r.Max.X; x, i = x+1, i+3 {
				c := rgba64OverWhite(m.At(x, y).RGBA())
				out[i], out[i+1], out[i+2] = c[0], c[1], c[2]
			}
		}
	}
}

// overWhite composites a straight-alpha 8-bit channel on white.
func overWhite(c uint8, a uint32) uint8 {
	return uint8((uint32(c)*a + 255*(255-a) + 127) / 255)
}

// sat adds the white contribution w = 255-a to a premultiplied channel;
// clamping guards against invalid premultiplied data (c > a).
func sat(c, w uint8) uint8 {
	s := uint16(c) + uint16(w)
	if s > 255 {
		return 255
	}
	return uint8(s)
}

// rgba64OverWhite composites a premultiplied 16-bit colour (as returned by
// color.Color.RGBA) on white and rounds to 8 bits (v/257, as ImageMagick's
// ScaleQuantumToChar does).
func rgba64OverWhite(r, g, b, a uint32) [3]uint8 {
	w := 0xffff - a
	to8 := func(v uint32) uint8 {
		v += w
		if v > 0xffff {
			v = 0xffff
		}
		return uint8((v + 128) / 257)
	}
	return [3]uint8{to8(r), to8(g), to8(b)}
}

// pngTruncated reports whether the PNG chunk sequence runs past the end of
// data or stops before IEND.
func pngTruncated(b []byte) bool {
	p := uint64(8)
	for p+8 <= uint64(len(b)) {
		n := uint64(binary.BigEndian.Uint32(b[p:]))
		end := p + 12 + n // length, type, data, CRC
		if end > uint64(len(b)) {
			return true
		}
		if string(b[p+4:p+8]) == "IEND" {
			return false
		}
		p = end
	}
	return true
}

// webpAnimated reports whether an extended WebP has its animation flag set.
func webpAnimated(b []byte) bool {
	return len(b) >= 21 && string(b[12:16]) == "VP8X" && b[20]&0x02 != 0
}

// convertsInPlace reports whether inPlaceRGB handles images of model m
// (when they cover the whole canvas), so no separate RGB buffer is needed.
func convertsInPlace(m color.Model) bool {
	return m == color.RGBAModel || m == color.NRGBAModel
}

// inPlaceRGB turns an 8-bit RGBA or NRGBA image that exactly covers the
// w x h canvas into packed RGB inside its own pixel buffer, and makes dst
// that image: a 100-megapixel PNG then needs 400 MB, not 700. Pixel k is
// read (bytes 4k..4k+3) before it is written (3k..3k+2), and no later
// pixel's bytes are written before they are read, so one forward pass is
// safe.
func inPlaceRGB(dst *RGB, m image.Image, w, h int) bool {
	var pix []uint8
	premultiplied := false
	switch m := m.(type) {
	case *image.RGBA:
		if m.Rect != image.Rect(0, 0, w, h) || m.Stride != 4*w {
			return false
		}
		pix, premultiplied = m.Pix, true
	case *image.NRGBA:
		if m.Rect != image.Rect(0, 0, w, h) || m.Stride != 4*w {
			return false
		}
		pix = m.Pix
	default:
		return false
	}
	n := w * h
	if len(pix) < 4*n {
		return false
	}
	for k := 0; k < n; k++ {
		r, g, b, a := pix[4*k], pix[4*k+1], pix[4*k+2], pix[4*k+3]
		if premultiplied {
			wh := 255 - a
			r, g, b = sat(r, wh), sat(g, wh), sat(b, wh)
		} else {
			r, g, b = overWhite(r, uint32(a)), overWhite(g, uint32(a)), overWhite(b, uint32(a))
		}
		pix[3*k], pix[3*k+1], pix[3*k+2] = r, g, b
	}
	*dst = RGB{W: w, H: h, Pix: pix[:3*n]}
	return true
}

// Trim drops pixel buffers larger than keep bytes. A worker that has just
// decoded a 100-megapixel image would otherwise hold its 300 MB until the
// next image, outside any budget.
func (d *Decoder) Trim(keep int) {
	if cap(d.img.Pix) > keep {
		d.img = RGB{}
	}
	if cap(d.tmp.Pix) > keep {
		d.tmp = RGB{}
	}
}
