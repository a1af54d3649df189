// Resampling passes of resize.go in SSE4.1, bit for bit the same results:
// int32 fixed-point weights with PRECISION fractional bits, the same
// rounding (HALF added first) and the same clamping to 0..255.
#ifndef WINNOW_RESIZE_SSE41_H
#define WINNOW_RESIZE_SSE41_H

#include <stddef.h>
#include <stdint.h>

// wn_have_sse41 reports whether this CPU runs the functions below.
int wn_have_sse41(void);

// wn_horizontal: for each of rows rows of in (stride in_stride, in_len
// bytes in all, RGB), output pixel x is the sum over j < size[x] of
// w[x*n+j] times source pixel start[x]-base+j.
void wn_horizontal(uint8_t *out, ptrdiff_t out_stride, const uint8_t *in, ptrdiff_t in_stride, size_t in_len,
                   int rows, const int32_t *start, const int32_t *size, const int32_t *w, int n, int iw, int base);

// wn_vertical: output row y (width bytes) is the sum over j < size[y] of
// w[y*n+j] times input row start[y]-base+j.
void wn_vertical(uint8_t *out, ptrdiff_t out_stride, const uint8_t *in, ptrdiff_t in_stride, int width,
                 const int32_t *start, const int32_t *size, const int32_t *w, int n, int ih, int base);

#endif
