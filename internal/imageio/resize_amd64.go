package imageio

// #include "resize_sse41.h"
import "C"

import "unsafe"

// simd: the resampling passes run in C with SSE4.1 (resize_sse41.c), about
// three times faster than the Go loops and bit for bit the same; tests turn
// it off to compare the two.
var simd = C.wn_have_sse41() != 0

func horizontalSIMD(out []uint8, outStride int, in []uint8, inStride, rows int, k *kernel, base int) {
	iw := len(k.start)
	if rows == 0 || iw == 0 {
		return
	}
	C.wn_horizontal((*C.uint8_t)(unsafe.Pointer(&out[0])), C.ptrdiff_t(outStride),
		(*C.uint8_t)(unsafe.Pointer(&in[0])), C.ptrdiff_t(inStride), C.size_t(len(in)), C.int(rows),
		(*C.int32_t)(unsafe.Pointer(&k.start[0])), (*C.int32_t)(unsafe.Pointer(&k.size[0])),
		(*C.int32_t)(unsafe.Pointer(&k.w[0])), C.int(k.n), C.int(iw), C.int(base))
}

func verticalSIMD(out []uint8, outStride int, in []uint8, inStride, width int, k *kernel, base int) {
	ih := len(k.start)
	if ih == 0 || width == 0 {
		return
	}
	C.wn_vertical((*C.uint8_t)(unsafe.Pointer(&out[0])), C.ptrdiff_t(outStride),
		(*C.uint8_t)(unsafe.Pointer(&in[0])), C.ptrdiff_t(inStride), C.int(width),
		(*C.int32_t)(unsafe.Pointer(&k.start[0])), (*C.int32_t)(unsafe.Pointer(&k.size[0])),
		(*C.int32_t)(unsafe.Pointer(&k.w[0])), C.int(k.n), C.int(ih), C.int(base))
}
