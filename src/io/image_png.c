/* image_png: PNG decoding and encoding with libpng.
 *
 * Decoding turns every PNG (palette, grey, grey+alpha, RGB, RGBA, 1 to 16 bits, tRNS
 * transparency, Adam7 interlacing) into 8-bit straight-alpha RGBA, values as stored: no
 * gamma correction, no compositing (image_composite_rgb does that, as a browser would).
 * The header's size is checked against IMAGE_MAX_PIXELS before any pixel memory exists.
 * libpng reports errors by longjmp; the setjmp lives in a function that changes none of
 * its own locals afterwards, so everything it owns sits in a context struct of the caller.
 *
 * Encoding writes 8-bit RGB with fixed settings and no time or text chunks, so the same
 * pixels always give the same bytes (with the same zlib). */
#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/image_internal.h"

/* ---- decoding ----------------------------------------------------------------------- */

typedef struct {
    const uint8_t *data;
    size_t len, at;
    image_status status; /* set before png_error when the cause is known */
    char msg[200];
    uint8_t *rgba;
    png_bytep *rows;
    png_uint_32 width, height;
} png_read_ctx;

static void png_read_error(png_structp png, png_const_charp msg)
{
    png_read_ctx *c = png_get_error_ptr(png);
    if (c->status == IMAGE_OK)
        c->status = IMAGE_ERR_CORRUPT;
    if (!c->msg[0])
        snprintf(c->msg, sizeof c->msg, "PNG: %s", msg);
    png_longjmp(png, 1);
}

static void png_quiet_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void png_read_mem(png_structp png, png_bytep out, size_t n)
{
    png_read_ctx *c = png_get_io_ptr(png);
    if (n > c->len - c->at) {
        c->status = IMAGE_ERR_TRUNCATED;
        snprintf(c->msg, sizeof c->msg, "PNG: file ends early (%zu bytes)", c->len);
        png_error(png, "truncated");
    }
    memcpy(out, c->data + c->at, n);
    c->at += n;
}

/* Runs under setjmp; returns 0 or -1 with c->status and c->msg set. */
static int png_read_all(png_structp png, png_infop info, png_read_ctx *c)
{
    if (setjmp(png_jmpbuf(png)))
        return -1;
    png_set_read_fn(png, c, png_read_mem);
    /* Our own pixel limit decides, so that a huge header reads as "too large". */
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_set_option(png, PNG_SKIP_sRGB_CHECK_PROFILE, PNG_OPTION_ON);
    png_read_info(png, info);

    int depth, color, interlace;
    png_get_IHDR(png, info, &c->width, &c->height, &depth, &color, &interlace, NULL, NULL);
    if ((uint64_t)c->width * c->height > IMAGE_MAX_PIXELS || c->width > IMAGE_MAX_SIDE ||
        c->height > IMAGE_MAX_SIDE) {
        c->status = IMAGE_ERR_TOO_LARGE;
        snprintf(c->msg, sizeof c->msg, "PNG: %lu x %lu pixels, over the limit of %u (%u a side)",
                 (unsigned long)c->width, (unsigned long)c->height, IMAGE_MAX_PIXELS,
                 IMAGE_MAX_SIDE);
        return -1;
    }
    png_set_expand(png);   /* palette -> RGB, grey < 8 bits -> 8, tRNS -> alpha */
    png_set_scale_16(png); /* 16 -> 8 bits, rounded (not truncated) */
    png_set_gray_to_rgb(png);
    png_set_add_alpha(png, 0xff, PNG_FILLER_AFTER); /* only where there is no alpha */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)c->width * 4) {
        c->status = IMAGE_ERR_CORRUPT;
        snprintf(c->msg, sizeof c->msg, "PNG: unexpected row layout after conversion");
        return -1;
    }
    c->rgba = malloc((size_t)c->width * c->height * 4);
    c->rows = malloc((size_t)c->height * sizeof *c->rows);
    if (!c->rgba || !c->rows) {
        c->status = IMAGE_ERR_NOMEM;
        snprintf(c->msg, sizeof c->msg, "PNG: out of memory for %lu x %lu pixels",
                 (unsigned long)c->width, (unsigned long)c->height);
        return -1;
    }
    for (png_uint_32 y = 0; y < c->height; y++)
        c->rows[y] = c->rgba + (size_t)y * c->width * 4;
    png_read_image(png, c->rows);
    /* Reading to IEND is what tells a complete file from one cut after its pixels. */
    png_read_end(png, NULL);
    return 0;
}

int image_png_decode(image_rgba *out, const uint8_t *data, size_t len, image_status *why,
                     char *err, size_t errlen)
{
    png_read_ctx c = {.data = data, .len = len, .status = IMAGE_OK};
    png_structp png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, png_read_error, png_quiet_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return image_fail(why, IMAGE_ERR_NOMEM, err, errlen, "PNG: out of memory");
    }
    int rc = png_read_all(png, info, &c);
    png_destroy_read_struct(&png, &info, NULL);
    free(c.rows);
    if (rc != 0) {
        free(c.rgba);
        return image_fail(why, c.status, err, errlen, "%s", c.msg);
    }
    out->rgba = c.rgba;
    out->width = (int)c.width;
    out->height = (int)c.height;
    if (why)
        *why = IMAGE_OK;
    return 0;
}

/* ---- encoding ----------------------------------------------------------------------- */

typedef struct {
    uint8_t *buf;
    size_t len, cap;
    int nomem;
    char msg[200];
} png_write_ctx;

static void png_write_error(png_structp png, png_const_charp msg)
{
    png_write_ctx *c = png_get_error_ptr(png);
    if (!c->msg[0])
        snprintf(c->msg, sizeof c->msg, "PNG encode: %s", msg);
    png_longjmp(png, 1);
}

static void png_write_mem(png_structp png, png_bytep data, size_t n)
{
    png_write_ctx *c = png_get_io_ptr(png);
    if (n > c->cap - c->len) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap - c->len < n)
            cap *= 2;
        uint8_t *b = realloc(c->buf, cap);
        if (!b) {
            c->nomem = 1;
            png_error(png, "out of memory");
        }
        c->buf = b;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, data, n);
    c->len += n;
}

static void png_flush_nothing(png_structp png)
{
    (void)png;
}

static int png_write_all(png_structp png, png_infop info, png_write_ctx *c,
                         const uint8_t *rgb, int width, int height)
{
    if (setjmp(png_jmpbuf(png)))
        return -1;
    png_set_write_fn(png, c, png_write_mem, png_flush_nothing);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    png_write_info(png, info);
    for (int y = 0; y < height; y++)
        png_write_row(png, rgb + (size_t)y * width * 3);
    png_write_end(png, NULL);
    return 0;
}

int image_png_encode_rgb(uint8_t **png_out, size_t *len, const uint8_t *rgb, int width,
                         int height, char *err, size_t errlen)
{
    *png_out = NULL;
    *len = 0;
    if (width <= 0 || height <= 0 || (uint64_t)width * (uint64_t)height > IMAGE_MAX_PIXELS)
        return image_fail(NULL, IMAGE_ERR_TOO_LARGE, err, errlen,
                          "PNG encode: bad size %d x %d", width, height);
    png_write_ctx c = {0};
    png_structp png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, &c, png_write_error, png_quiet_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return image_fail(NULL, IMAGE_ERR_NOMEM, err, errlen, "PNG encode: out of memory");
    }
    int rc = png_write_all(png, info, &c, rgb, width, height);
    png_destroy_write_struct(&png, &info);
    if (rc != 0) {
        free(c.buf);
        return image_fail(NULL, IMAGE_ERR_NOMEM, err, errlen, "%s", c.msg);
    }
    *png_out = c.buf;
    *len = c.len;
    return 0;
}

/* Writes all of buf to a fresh hidden file beside path and renames it over path. */
static int write_file_atomic(const char *path, const uint8_t *buf, size_t len, char *err,
                             size_t errlen)
{
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    size_t tmplen = strlen(path) + 48;
    char *tmp = malloc(tmplen);
    if (!tmp)
        return image_fail(NULL, IMAGE_ERR_NOMEM, err, errlen, "out of memory");
    int fd = -1;
    /* O_EXCL makes each attempt's name ours alone, even with threads writing the same path. */
    for (unsigned n = 0; n < 1000 && fd < 0; n++) {
        snprintf(tmp, tmplen, "%.*s.%s.tmp%ld.%u", (int)dirlen, path, path + dirlen,
                 (long)getpid(), n);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return image_fail(NULL, IMAGE_ERR_READ, err, errlen, "cannot create a file beside %s: %s",
                          path, strerror(e));
    }
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, buf + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            free(tmp);
            return image_fail(NULL, IMAGE_ERR_READ, err, errlen, "cannot write %s: %s", path,
                              strerror(e));
        }
        done += (size_t)w;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return image_fail(NULL, IMAGE_ERR_READ, err, errlen, "cannot write %s: %s", path,
                          strerror(e));
    }
    free(tmp);
    return 0;
}

int image_png_write_rgb(const char *path, const uint8_t *rgb, int width, int height,
                        char *err, size_t errlen)
{
    uint8_t *png;
    size_t len;
    if (image_png_encode_rgb(&png, &len, rgb, width, height, err, errlen) != 0)
        return -1;
    int rc = write_file_atomic(path, png, len, err, errlen);
    free(png);
    return rc;
}
