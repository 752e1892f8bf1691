/* image: decoding and encoding pictures (libpng, libjpeg-turbo) and sample grids.
 *
 * Pixels are 8-bit RGB, row-major, 3 bytes a pixel, unless a function says otherwise.
 * Every function returns 0 on success, or -1 with a one-line reason in err (errlen bytes,
 * always NUL-terminated). Whoever receives a buffer from here owns it and frees it with
 * free(). Nothing here prints or exits; all functions are thread-safe. */
#ifndef ILLGAN_IMAGE_H
#define ILLGAN_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* Largest picture (width * height) that decoding accepts; bigger ones are refused before
 * any pixel memory is allocated (a header can claim 2^31 x 2^31). */
#define IMAGE_MAX_PIXELS (64u * 1024u * 1024u)

/* A decoded picture: 8-bit RGBA, straight (not premultiplied) alpha, sRGB values as stored. */
typedef struct {
    uint8_t *rgba; /* (height, width, 4) */
    int width, height;
} image_rgba;

void image_rgba_free(image_rgba *im);

/* Decode PNG (any colour type, bit depth, interlacing; 16-bit reduced to 8) or JPEG
 * (baseline or progressive, grey, RGB or CMYK), recognised by content, not by file name. */
int image_decode_file(image_rgba *out, const char *path, char *err, size_t errlen);
int image_decode_memory(image_rgba *out, const uint8_t *data, size_t len, char *err,
                        size_t errlen);

/* Encode 8-bit RGB (height, width, 3) as PNG, into memory (*png, *len owned by the
 * caller) or into a file (written to a temporary name and renamed, so readers never see
 * half a file). Same pixels give the same bytes. */
int image_png_encode_rgb(uint8_t **png, size_t *len, const uint8_t *rgb, int width,
                         int height, char *err, size_t errlen);
int image_png_write_rgb(const char *path, const uint8_t *rgb, int width, int height,
                        char *err, size_t errlen);

/* Float images in [-1, 1], (n, side, side, 3), converted with round((x + 1) * 127.5)
 * clamped to [0, 255], laid out in a grid of `cols` columns (cols <= 0: the smallest
 * square-ish grid) with `pad` pixels of `pad_rgb` between and around the cells.
 * Result: 8-bit RGB (*height, *width, 3), owned by the caller. */
int image_grid_rgb(uint8_t **rgb, int *width, int *height, const float *imgs, int n,
                   int side, int cols, int pad, const uint8_t pad_rgb[3], char *err,
                   size_t errlen);
/* The same grid, encoded as PNG in memory. */
int image_grid_png(uint8_t **png, size_t *len, const float *imgs, int n, int side, int cols,
                   int pad, char *err, size_t errlen);

#endif
