/* image_jpeg: JPEG decoding with libjpeg(-turbo).
 *
 * Baseline and progressive, greyscale, YCbCr/RGB, CMYK and YCCK (Adobe's inverted CMYK
 * included), to 8-bit RGBA with alpha 255. libjpeg's default error manager exits the
 * process; here errors longjmp back to the decoder, which frees everything and reports
 * them, and nothing is printed. libjpeg treats damaged data as a warning and carries on
 * with grey blocks, which would put broken pictures in a training set, so any warning
 * about the data rejects the file: a premature end as "truncated", the rest as
 * "corrupt". Harmless warnings (unknown JFIF revision, stray bytes between markers, an
 * unknown Adobe transform code, a bad ICC marker) are let through.
 *
 * The header's size is checked against IMAGE_MAX_PIXELS before decoding starts. The EXIF
 * orientation (APP1) is applied at the end, so a camera's portrait photo stands upright. */
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jpeglib.h needs stddef.h and stdio.h before it. */
#include <jerror.h>
#include <jpeglib.h>

#include "io/image_internal.h"

typedef struct {
    struct jpeg_error_mgr pub; /* first, so that cinfo->err casts back to this */
    jmp_buf jump;
    image_status status;
    char msg[JMSG_LENGTH_MAX + 16];
} jpeg_err_mgr;

typedef struct {
    struct jpeg_decompress_struct cinfo;
    jpeg_err_mgr jerr;
    uint8_t *pix;   /* decoded (out_h, out_w, 3 or 4) */
    int out_w, out_h, channels;
    int cmyk, inverted, orientation;
} jpeg_ctx;

static void jpeg_record(j_common_ptr cinfo, image_status status)
{
    jpeg_err_mgr *e = (jpeg_err_mgr *)cinfo->err;
    if (e->status != IMAGE_OK)
        return;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    e->status = status;
    snprintf(e->msg, sizeof e->msg, "JPEG: %s", text);
}

static void jpeg_error_exit(j_common_ptr cinfo)
{
    jpeg_err_mgr *e = (jpeg_err_mgr *)cinfo->err;
    int code = cinfo->err->msg_code;
    image_status s = IMAGE_ERR_CORRUPT;
    if (code == JERR_IMAGE_TOO_BIG || code == JERR_WIDTH_OVERFLOW)
        s = IMAGE_ERR_TOO_LARGE;
    else if (code == JERR_OUT_OF_MEMORY)
        s = IMAGE_ERR_NOMEM;
    else if (code == JERR_INPUT_EOF)
        s = IMAGE_ERR_TRUNCATED;
    jpeg_record(cinfo, s);
    longjmp(e->jump, 1);
}

static void jpeg_emit_message(j_common_ptr cinfo, int level)
{
    if (level >= 0)
        return; /* trace messages */
    int code = cinfo->err->msg_code;
    cinfo->err->num_warnings++;
    if (code == JWRN_EXTRANEOUS_DATA || code == JWRN_JFIF_MAJOR || code == JWRN_ADOBE_XFORM ||
        code == JWRN_BOGUS_ICC)
        return;
    jpeg_record(cinfo, code == JWRN_JPEG_EOF ? IMAGE_ERR_TRUNCATED : IMAGE_ERR_CORRUPT);
    longjmp(((jpeg_err_mgr *)cinfo->err)->jump, 1);
}

static void jpeg_output_nothing(j_common_ptr cinfo)
{
    (void)cinfo;
}

static unsigned exif_u16(const uint8_t *p, int big)
{
    return big ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static uint32_t exif_u32(const uint8_t *p, int big)
{
    return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* The Orientation tag (0x0112) of IFD0 in an APP1 "Exif" marker, 1 when absent or odd. */
static int exif_orientation(const uint8_t *d, size_t len)
{
    if (len < 14 || memcmp(d, "Exif\0\0", 6) != 0)
        return 1;
    const uint8_t *t = d + 6; /* TIFF header; offsets count from here */
    size_t n = len - 6;
    int big;
    if (t[0] == 'M' && t[1] == 'M')
        big = 1;
    else if (t[0] == 'I' && t[1] == 'I')
        big = 0;
    else
        return 1;
    if (exif_u16(t + 2, big) != 42)
        return 1;
    uint32_t ifd = exif_u32(t + 4, big);
    if (ifd > n || n - ifd < 2)
        return 1;
    unsigned count = exif_u16(t + ifd, big);
    for (unsigned i = 0; i < count; i++) {
        size_t at = (size_t)ifd + 2 + (size_t)i * 12;
        if (at + 12 > n)
            return 1;
        if (exif_u16(t + at, big) == 0x0112) {
            unsigned type = exif_u16(t + at + 2, big);
            unsigned v = type == 3 ? exif_u16(t + at + 8, big) : 1; /* SHORT */
            return v >= 1 && v <= 8 ? (int)v : 1;
        }
    }
    return 1;
}

/* Picks the smallest DCT scale 1/8..1/1 that keeps both sides >= min_side. */
static void jpeg_choose_scale(struct jpeg_decompress_struct *ci, int min_side)
{
    ci->scale_num = 1;
    ci->scale_denom = 1;
    if (min_side <= 0)
        return;
    for (unsigned d = 8; d > 1; d /= 2) {
        unsigned long w = (ci->image_width + d - 1) / d, h = (ci->image_height + d - 1) / d;
        if (w >= (unsigned long)min_side && h >= (unsigned long)min_side) {
            ci->scale_denom = d;
            return;
        }
    }
}

/* Runs under setjmp; returns 0 or -1 with c->jerr.status and msg set. */
static int jpeg_read_all(jpeg_ctx *c, const uint8_t *data, size_t len, int min_side)
{
    struct jpeg_decompress_struct *ci = &c->cinfo;
    if (setjmp(c->jerr.jump))
        return -1;
    jpeg_create_decompress(ci);
    jpeg_mem_src(ci, data, (unsigned long)len);
    jpeg_save_markers(ci, JPEG_APP0 + 1, 0xffff);
    jpeg_read_header(ci, TRUE);
    if ((uint64_t)ci->image_width * ci->image_height > IMAGE_MAX_PIXELS) {
        c->jerr.status = IMAGE_ERR_TOO_LARGE;
        snprintf(c->jerr.msg, sizeof c->jerr.msg, "JPEG: %u x %u pixels, over the limit of %u",
                 ci->image_width, ci->image_height, IMAGE_MAX_PIXELS);
        return -1;
    }
    for (jpeg_saved_marker_ptr m = ci->marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1) {
            c->orientation = exif_orientation(m->data, m->data_length);
            if (c->orientation != 1)
                break;
        }
    c->cmyk = ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK;
    c->inverted = c->cmyk && ci->saw_Adobe_marker;
    ci->out_color_space = c->cmyk ? JCS_CMYK : JCS_EXT_RGBA;
    jpeg_choose_scale(ci, min_side);
    jpeg_start_decompress(ci);
    c->out_w = (int)ci->output_width;
    c->out_h = (int)ci->output_height;
    c->channels = ci->output_components;
    if (c->channels != 4) {
        c->jerr.status = IMAGE_ERR_CORRUPT;
        snprintf(c->jerr.msg, sizeof c->jerr.msg, "JPEG: unexpected %d output components",
                 c->channels);
        return -1;
    }
    c->pix = malloc((size_t)c->out_w * c->out_h * 4);
    if (!c->pix) {
        c->jerr.status = IMAGE_ERR_NOMEM;
        snprintf(c->jerr.msg, sizeof c->jerr.msg, "JPEG: out of memory for %d x %d pixels",
                 c->out_w, c->out_h);
        return -1;
    }
    while (ci->output_scanline < ci->output_height) {
        JSAMPROW row = c->pix + (size_t)ci->output_scanline * c->out_w * 4;
        jpeg_read_scanlines(ci, &row, 1);
    }
    jpeg_finish_decompress(ci);
    return 0;
}

/* CMYK (4 bytes a pixel) to RGBA in place: r = (255 - c)(255 - k) / 255, with Adobe's
 * inverted storage already holding 255 - c and 255 - k. */
static void cmyk_to_rgba(uint8_t *p, size_t npix, int inverted)
{
    for (size_t i = 0; i < npix; i++, p += 4) {
        unsigned k = inverted ? p[3] : 255u - p[3];
        for (int ch = 0; ch < 3; ch++) {
            unsigned v = inverted ? p[ch] : 255u - p[ch];
            p[ch] = (uint8_t)((v * k + 127) / 255);
        }
        p[3] = 255;
    }
}

/* Applies EXIF orientation o (2..8) to src (w, h) RGBA; returns the new buffer. */
static uint8_t *orient(const uint8_t *src, int w, int h, int o, int *ow, int *oh)
{
    int swap = o >= 5;
    *ow = swap ? h : w;
    *oh = swap ? w : h;
    uint8_t *dst = malloc((size_t)w * h * 4);
    if (!dst)
        return NULL;
    for (int y = 0; y < *oh; y++)
        for (int x = 0; x < *ow; x++) {
            int sx, sy;
            switch (o) {
            case 2: sx = w - 1 - x; sy = y; break;
            case 3: sx = w - 1 - x; sy = h - 1 - y; break;
            case 4: sx = x; sy = h - 1 - y; break;
            case 5: sx = y; sy = x; break;
            case 6: sx = y; sy = h - 1 - x; break;
            case 7: sx = w - 1 - y; sy = h - 1 - x; break;
            case 8: sx = w - 1 - y; sy = x; break;
            default: sx = x; sy = y; break;
            }
            memcpy(dst + ((size_t)y * *ow + x) * 4, src + ((size_t)sy * w + sx) * 4, 4);
        }
    return dst;
}

int image_jpeg_decode(image_rgba *out, const uint8_t *data, size_t len, int min_side,
                      image_status *why, char *err, size_t errlen)
{
    jpeg_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return image_fail(why, IMAGE_ERR_NOMEM, err, errlen, "JPEG: out of memory");
    c->cinfo.err = jpeg_std_error(&c->jerr.pub);
    c->jerr.pub.error_exit = jpeg_error_exit;
    c->jerr.pub.emit_message = jpeg_emit_message;
    c->jerr.pub.output_message = jpeg_output_nothing;
    c->jerr.status = IMAGE_OK;
    c->orientation = 1;
    int rc = jpeg_read_all(c, data, len, min_side);
    jpeg_destroy_decompress(&c->cinfo);
    if (rc != 0) {
        free(c->pix);
        rc = image_fail(why, c->jerr.status == IMAGE_OK ? IMAGE_ERR_CORRUPT : c->jerr.status,
                        err, errlen, "%s", c->jerr.msg[0] ? c->jerr.msg : "JPEG: bad data");
        free(c);
        return rc;
    }
    if (c->cmyk)
        cmyk_to_rgba(c->pix, (size_t)c->out_w * c->out_h, c->inverted);
    if (c->orientation != 1) {
        int w, h;
        uint8_t *o = orient(c->pix, c->out_w, c->out_h, c->orientation, &w, &h);
        free(c->pix);
        if (!o) {
            free(c);
            return image_fail(why, IMAGE_ERR_NOMEM, err, errlen, "JPEG: out of memory");
        }
        c->pix = o;
        c->out_w = w;
        c->out_h = h;
    }
    out->rgba = c->pix;
    out->width = c->out_w;
    out->height = c->out_h;
    free(c);
    if (why)
        *why = IMAGE_OK;
    return 0;
}
