#include "jpeg_turbo.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

// A hostile progressive JPEG can carry thousands of tiny scans, each of
// which costs a pass over the coefficient buffer. Real encoders emit about
// ten; libjpeg-turbo's own tools cap at 500.
#define WN_MAX_SCANS 500

struct wn_err {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	int status;      // WN_* code chosen when longjmp'ing
	int truncated;   // saw JWRN_JPEG_EOF
	int warnings;    // other data warnings
	int have_msg;
	char msg[JMSG_LENGTH_MAX];
};

struct wn_jpeg {
	struct jpeg_decompress_struct cinfo;
	struct wn_err err;
	struct jpeg_progress_mgr progress;
	int have_header;
};

static void wn_error_exit(j_common_ptr cinfo) {
	struct wn_err *e = (struct wn_err *)cinfo->err;
	(*cinfo->err->format_message)(cinfo, e->msg);
	e->have_msg = 1;
	switch (cinfo->err->msg_code) {
	case JERR_SOF_UNSUPPORTED:
	case JERR_BAD_PRECISION:
	case JERR_NOT_COMPILED:
	case JERR_ARITH_NOTIMPL:
	case JERR_CCIR601_NOTIMPL:
	case JERR_NO_ARITH_TABLE:
		e->status = WN_ERR_UNSUPPORTED;
		break;
	case JERR_OUT_OF_MEMORY:
		e->status = WN_ERR_NOMEM;
		break;
	default:
		e->status = WN_ERR_CORRUPT;
	}
	longjmp(e->jb, 1);
}

static void wn_emit_message(j_common_ptr cinfo, int level) {
	struct wn_err *e = (struct wn_err *)cinfo->err;
	if (level >= 0) {
		return; // trace messages
	}
	if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
		e->truncated = 1;
	} else {
		e->warnings++;
	}
	if (!e->have_msg) {
		(*cinfo->err->format_message)(cinfo, e->msg);
		e->have_msg = 1;
	}
}

static void wn_output_message(j_common_ptr cinfo) {
	(void)cinfo; // never print to stderr
}

static void wn_progress(j_common_ptr cinfo) {
	j_decompress_ptr d = (j_decompress_ptr)cinfo;
	struct wn_err *e = (struct wn_err *)cinfo->err;
	if (d->input_scan_number > WN_MAX_SCANS) {
		snprintf(e->msg, sizeof e->msg, "more than %d progressive scans", WN_MAX_SCANS);
		e->have_msg = 1;
		e->status = WN_ERR_SCANS;
		longjmp(e->jb, 1);
	}
}

wn_jpeg *wn_jpeg_new(void) {
	wn_jpeg *h = calloc(1, sizeof *h);
	if (!h) {
		return NULL;
	}
	h->cinfo.err = jpeg_std_error(&h->err.pub);
	h->err.pub.error_exit = wn_error_exit;
	h->err.pub.emit_message = wn_emit_message;
	h->err.pub.output_message = wn_output_message;
	if (setjmp(h->err.jb)) {
		jpeg_destroy_decompress(&h->cinfo);
		free(h);
		return NULL;
	}
	jpeg_create_decompress(&h->cinfo);
	h->progress.progress_monitor = wn_progress;
	h->cinfo.progress = &h->progress;
	return h;
}

void wn_jpeg_free(wn_jpeg *h) {
	if (!h) {
		return;
	}
	jpeg_destroy_decompress(&h->cinfo);
	free(h);
}

int wn_jpeg_header(wn_jpeg *h, const unsigned char *data, size_t len) {
	j_decompress_ptr c = &h->cinfo;
	if (setjmp(h->err.jb)) {
		return h->err.truncated ? WN_ERR_TRUNCATED : h->err.status;
	}
	jpeg_mem_src(c, data, (unsigned long)len);
	// Keep APP14 (Adobe) handling, which libjpeg does itself; other
	// markers are skipped: Go parses EXIF from the raw bytes.
	jpeg_read_header(c, TRUE);
	h->have_header = 1;
	if (h->err.truncated) {
		return WN_ERR_TRUNCATED;
	}
	return WN_OK;
}

wn_jpeg_info wn_jpeg_get_info(wn_jpeg *h) {
	wn_jpeg_info info = {0};
	if (h->have_header) {
		j_decompress_ptr c = &h->cinfo;
		info.width = (int)c->image_width;
		info.height = (int)c->image_height;
		info.components = c->num_components;
		info.color_space = (int)c->jpeg_color_space;
		info.progressive = c->progressive_mode;
	}
	return info;
}

// CMYK JPEGs are in practice written by Adobe software, which stores the
// channels inverted (0 = full ink). ImageMagick, Chrome and Go's image/jpeg
// all read them that way, so R = C*K/255 on the stored values.
static void cmyk_to_rgb(const JSAMPLE *in, unsigned char *out, int w) {
	for (int x = 0; x < w; x++, in += 4, out += 3) {
		unsigned k = in[3];
		out[0] = (unsigned char)((in[0] * k + 127) / 255);
		out[1] = (unsigned char)((in[1] * k + 127) / 255);
		out[2] = (unsigned char)((in[2] * k + 127) / 255);
	}
}

int wn_jpeg_decode(wn_jpeg *h, int denom, unsigned char *out, int out_w, int out_h) {
	j_decompress_ptr c = &h->cinfo;
	if (!h->have_header) {
		return WN_ERR_CORRUPT;
	}
	if (setjmp(h->err.jb)) {
		return h->err.truncated ? WN_ERR_TRUNCATED : h->err.status;
	}
	int cmyk = c->jpeg_color_space == JCS_CMYK || c->jpeg_color_space == JCS_YCCK;
	c->out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
	c->scale_num = 1;
	c->scale_denom = (unsigned)denom;
	jpeg_calc_output_dimensions(c);
	if ((int)c->output_width != out_w || (int)c->output_height != out_h ||
	    c->output_components != (cmyk ? 4 : 3)) {
		jpeg_abort_decompress(c);
		snprintf(h->err.msg, sizeof h->err.msg, "unexpected output size %ux%u",
		         c->output_width, c->output_height);
		h->err.have_msg = 1;
		return WN_ERR_DIMS;
	}
	jpeg_start_decompress(c);
	size_t stride = (size_t)out_w * 3;
	if (cmyk) {
		JSAMPARRAY row = (*c->mem->alloc_sarray)((j_common_ptr)c, JPOOL_IMAGE,
		                                         (JDIMENSION)out_w * 4, 1);
		while (c->output_scanline < c->output_height) {
			unsigned char *dst = out + (size_t)c->output_scanline * stride;
			if (jpeg_read_scanlines(c, row, 1) != 1) {
				break;
			}
			cmyk_to_rgb(row[0], dst, out_w);
		}
	} else {
		JSAMPROW rows[16];
		while (c->output_scanline < c->output_height) {
			unsigned first = c->output_scanline;
			unsigned n = c->output_height - first;
			if (n > 16) {
				n = 16;
			}
			for (unsigned i = 0; i < n; i++) {
				rows[i] = out + (size_t)(first + i) * stride;
			}
			if (jpeg_read_scanlines(c, rows, n) == 0) {
				break; // cannot happen with a memory source; never spin
			}
		}
	}
	if (c->output_scanline < c->output_height) {
		jpeg_abort_decompress(c);
		return h->err.truncated ? WN_ERR_TRUNCATED : WN_ERR_CORRUPT;
	}
	// Reading to EOI is what detects a file cut off after the last MCU
	// row; it costs nothing for complete files.
	jpeg_finish_decompress(c);
	return h->err.truncated ? WN_ERR_TRUNCATED : WN_OK;
}

const char *wn_jpeg_message(wn_jpeg *h) {
	return h->err.have_msg ? h->err.msg : "";
}

int wn_jpeg_warnings(wn_jpeg *h) {
	return h->err.warnings;
}
