//go:build amd64

#include <smmintrin.h>
#include <string.h>

#include "resize_sse41.h"

#define PRECISION 22
#define HALF (1 << (PRECISION - 1))

int wn_have_sse41(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("sse4.1");
}

// pixel loads one RGB pixel into the low three int32 lanes. A 4-byte load
// is used when the byte after the pixel is still inside the buffer.
__attribute__((target("sse4.1"))) static inline __m128i pixel(const uint8_t *p, int safe) {
	uint32_t v;
	if (safe) {
		memcpy(&v, p, 4);
	} else {
		v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
	}
	return _mm_cvtepu8_epi32(_mm_cvtsi32_si128((int)v));
}

// clip packs four int32 sums into bytes: >> PRECISION, then clamp to
// 0..255 through the saturating packs, as clip8 does.
__attribute__((target("sse4.1"))) static inline __m128i clip(__m128i a, __m128i b, __m128i c, __m128i d) {
	a = _mm_srai_epi32(a, PRECISION);
	b = _mm_srai_epi32(b, PRECISION);
	c = _mm_srai_epi32(c, PRECISION);
	d = _mm_srai_epi32(d, PRECISION);
	return _mm_packus_epi16(_mm_packs_epi32(a, b), _mm_packs_epi32(c, d));
}

__attribute__((target("sse4.1"))) void wn_horizontal(uint8_t *out, ptrdiff_t out_stride, const uint8_t *in,
                                                      ptrdiff_t in_stride, size_t in_len, int rows,
                                                      const int32_t *start, const int32_t *size, const int32_t *w,
                                                      int n, int iw, int base) {
	const __m128i half = _mm_set1_epi32(HALF);
	const __m128i zero = _mm_setzero_si128();
	for (int y = 0; y < rows; y++) {
		const uint8_t *row = in + (ptrdiff_t)y * in_stride;
		uint8_t *o = out + (ptrdiff_t)y * out_stride;
		for (int x = 0; x < iw; x++) {
			const uint8_t *p = row + 3 * (ptrdiff_t)(start[x] - base);
			const int32_t *ws = w + (ptrdiff_t)x * n;
			int taps = size[x];
			// The last tap's fourth byte must lie inside in.
			int safe = (size_t)(p - in) + 3 * (size_t)taps + 1 <= in_len;
			__m128i acc0 = half, acc1 = zero;
			int j = 0;
			for (; j + 2 <= taps; j += 2) {
				acc0 = _mm_add_epi32(acc0, _mm_mullo_epi32(pixel(p + 3 * j, 1), _mm_set1_epi32(ws[j])));
				acc1 = _mm_add_epi32(acc1, _mm_mullo_epi32(pixel(p + 3 * j + 3, safe || j + 2 < taps),
				                                           _mm_set1_epi32(ws[j + 1])));
			}
			if (j < taps) {
				acc0 = _mm_add_epi32(acc0, _mm_mullo_epi32(pixel(p + 3 * j, safe), _mm_set1_epi32(ws[j])));
			}
			uint32_t v = (uint32_t)_mm_cvtsi128_si32(clip(_mm_add_epi32(acc0, acc1), zero, zero, zero));
			if (x + 1 < iw) {
				memcpy(o + 3 * x, &v, 4); // the fourth byte is the next pixel's, written next
			} else {
				o[3 * x] = (uint8_t)v;
				o[3 * x + 1] = (uint8_t)(v >> 8);
				o[3 * x + 2] = (uint8_t)(v >> 16);
			}
		}
	}
}

__attribute__((target("sse4.1"))) void wn_vertical(uint8_t *out, ptrdiff_t out_stride, const uint8_t *in,
                                                    ptrdiff_t in_stride, int width, const int32_t *start,
                                                    const int32_t *size, const int32_t *w, int n, int ih, int base) {
	const __m128i half = _mm_set1_epi32(HALF);
	for (int y = 0; y < ih; y++) {
		const uint8_t *r = in + (ptrdiff_t)(start[y] - base) * in_stride;
		const int32_t *ws = w + (ptrdiff_t)y * n;
		int taps = size[y];
		uint8_t *o = out + (ptrdiff_t)y * out_stride;
		int i = 0;
		for (; i + 16 <= width; i += 16) {
			__m128i a0 = half, a1 = half, a2 = half, a3 = half;
			for (int j = 0; j < taps; j++) {
				__m128i wj = _mm_set1_epi32(ws[j]);
				__m128i px = _mm_loadu_si128((const __m128i *)(r + (ptrdiff_t)j * in_stride + i));
				a0 = _mm_add_epi32(a0, _mm_mullo_epi32(_mm_cvtepu8_epi32(px), wj));
				a1 = _mm_add_epi32(a1, _mm_mullo_epi32(_mm_cvtepu8_epi32(_mm_srli_si128(px, 4)), wj));
				a2 = _mm_add_epi32(a2, _mm_mullo_epi32(_mm_cvtepu8_epi32(_mm_srli_si128(px, 8)), wj));
				a3 = _mm_add_epi32(a3, _mm_mullo_epi32(_mm_cvtepu8_epi32(_mm_srli_si128(px, 12)), wj));
			}
			_mm_storeu_si128((__m128i *)(o + i), clip(a0, a1, a2, a3));
		}
		for (; i < width; i++) {
			int32_t a = HALF;
			for (int j = 0; j < taps; j++) {
				a += ws[j] * (int32_t)r[(ptrdiff_t)j * in_stride + i];
			}
			a >>= PRECISION;
			o[i] = (uint8_t)(a < 0 ? 0 : a > 255 ? 255 : a);
		}
	}
}
