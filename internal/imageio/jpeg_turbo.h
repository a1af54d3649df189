// Thin wrapper around libjpeg(-turbo) decompression. libjpeg reports fatal
// errors by calling error_exit, whose default calls exit(); the wrapper
// installs an error manager that longjmps back into the entry point instead,
// so every call below returns a status code.
#ifndef WINNOW_JPEG_TURBO_H
#define WINNOW_JPEG_TURBO_H

#include <stddef.h>

enum {
	WN_OK = 0,
	WN_ERR_CORRUPT = 1,     // libjpeg error_exit: bad data
	WN_ERR_UNSUPPORTED = 2, // valid JPEG that this libjpeg cannot decode
	WN_ERR_TRUNCATED = 3,   // data ended early ("Premature end of JPEG file")
	WN_ERR_SCANS = 4,       // too many progressive scans (CPU exhaustion)
	WN_ERR_NOMEM = 5,
	WN_ERR_DIMS = 6,        // output size differs from what Go allocated
};

typedef struct wn_jpeg wn_jpeg;

typedef struct {
	int width, height;
	int components;
	int color_space; // J_COLOR_SPACE of the file
	int progressive;
} wn_jpeg_info;

wn_jpeg *wn_jpeg_new(void);
void wn_jpeg_free(wn_jpeg *h);

// wn_jpeg_header reads markers up to the first scan. data must stay valid
// (and unmoved) until wn_jpeg_free.
int wn_jpeg_header(wn_jpeg *h, const unsigned char *data, size_t len);

// wn_jpeg_get_info returns what the header said (after wn_jpeg_header).
wn_jpeg_info wn_jpeg_get_info(wn_jpeg *h);

// wn_jpeg_decode decompresses at scale 1/denom (1, 2, 4 or 8) into out,
// packed RGB of exactly out_w x out_h pixels (the caller computes the size
// as libjpeg does: ceil(dim/denom)).
int wn_jpeg_decode(wn_jpeg *h, int denom, unsigned char *out, int out_w, int out_h);

// wn_jpeg_message returns libjpeg's text for the last error, or for the
// first warning if there was no error.
const char *wn_jpeg_message(wn_jpeg *h);

// wn_jpeg_warnings counts recoverable data warnings (corrupt but decodable).
int wn_jpeg_warnings(wn_jpeg *h);

#endif
