package imageio

// #cgo LDFLAGS: -ljpeg
// #include <stdlib.h>
// #include "jpeg_turbo.h"
import "C"

import (
	"runtime"
	"unsafe"
)

// jpegHeader is what the JPEG decoder learned before any pixel work.
type jpegHeader struct {
	w, h        int
	components  int
	progressive bool
}

// jpegDecoder owns one libjpeg decompressor for the duration of one file.
// The pinner belongs to the long-lived Decoder so that its bookkeeping is
// allocated once.
type jpegDecoder struct {
	h   *C.wn_jpeg
	pin *runtime.Pinner
}

func newJPEGDecoder(pin *runtime.Pinner) (jpegDecoder, error) {
	h := C.wn_jpeg_new()
	if h == nil {
		return jpegDecoder{}, newErr(ErrCorrupt, FormatJPEG, "libjpeg: cannot allocate decoder")
	}
	return jpegDecoder{h: h, pin: pin}, nil
}

func (d jpegDecoder) close() {
	C.wn_jpeg_free(d.h)
	d.pin.Unpin()
}

func (d jpegDecoder) err(rc C.int) error {
	msg := C.GoString(C.wn_jpeg_message(d.h))
	switch rc {
	case C.WN_ERR_TRUNCATED:
		return newErr(ErrTruncated, FormatJPEG, "%s", msg)
	case C.WN_ERR_UNSUPPORTED:
		return newErr(ErrUnsupported, FormatJPEG, "%s", msg)
	case C.WN_ERR_SCANS:
		return newErr(ErrCorrupt, FormatJPEG, "%s", msg)
	default:
		return newErr(ErrCorrupt, FormatJPEG, "%s", msg)
	}
}

// header parses markers up to the first scan. libjpeg keeps a pointer to
// data in C memory until close, so the backing array is pinned.
func (d jpegDecoder) header(data []byte) (jpegHeader, error) {
	p := &data[0]
	d.pin.Pin(p)
	if rc := C.wn_jpeg_header(d.h, (*C.uchar)(unsafe.Pointer(p)), C.size_t(len(data))); rc != C.WN_OK {
		if rc == C.WN_ERR_TRUNCATED { // see ErrCorrupt: only a complete header makes a truncated image
			return jpegHeader{}, newErr(ErrCorrupt, FormatJPEG, "bad header: %s", C.GoString(C.wn_jpeg_message(d.h)))
		}
		return jpegHeader{}, d.err(rc)
	}
	info := C.wn_jpeg_get_info(d.h)
	return jpegHeader{
		w:           int(info.width),
		h:           int(info.height),
		components:  int(info.components),
		progressive: info.progressive != 0,
	}, nil
}

// decode decompresses at 1/denom into dst, which must already be sized
// jpegScaled(w, denom) x jpegScaled(h, denom).
func (d jpegDecoder) decode(dst *RGB, denom int) error {
	rc := C.wn_jpeg_decode(d.h, C.int(denom), (*C.uchar)(unsafe.Pointer(&dst.Pix[0])), C.int(dst.W), C.int(dst.H))
	if rc != C.WN_OK {
		return d.err(rc)
	}
	return nil
}

// jpegScaled is libjpeg's output size for scale 1/denom (jdiv_round_up).
func jpegScaled(n, denom int) int { return (n + denom - 1) / denom }

// jpegDenom picks the strongest DCT-domain reduction (1/8, 1/4, 1/2) whose
// displayed image still covers the picture Fit will make of it (minW x
// minH in mode: for Pad the part inside the bars), the rule of PIL's
// Image.draft() applied to the size actually drawn. Scaling happens inside
// the IDCT, so a 12 MP photo headed for 224x224 is decoded straight to
// 500x375, 1/64 of the pixels, and a 500x375 one padded to 224x168 at 1/2.
// Each output pixel is then its block's average and Fit's filter does the
// rest (a mean difference of a few grey levels from a full decode, see
// TestDCTScaledDecode).
func jpegDenom(w, h, o, minW, minH int, mode ResizeMode) int {
	if minW <= 0 || minH <= 0 {
		return 1
	}
	dw, dh := orientedSize(w, h, o)
	g := fitGeometry(dw, dh, minW, minH, mode)
	for _, denom := range []int{8, 4, 2} {
		sw, sh := orientedSize(jpegScaled(w, denom), jpegScaled(h, denom), o)
		if sw >= g.rw && sh >= g.rh {
			return denom
		}
	}
	return 1
}
