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
/* Longest side that decoding accepts (JPEG's own limit is 65500). */
#define IMAGE_MAX_SIDE 65535

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

/* Why a decode failed, for callers that sort failures (illgan prepare counts them). */
typedef enum {
    IMAGE_OK = 0,
    IMAGE_ERR_READ,        /* the file cannot be opened or read */
    IMAGE_ERR_EMPTY,       /* zero bytes */
    IMAGE_ERR_NOT_IMAGE,   /* content is no picture format known here */
    IMAGE_ERR_UNSUPPORTED, /* a picture format not read here (GIF, WebP, BMP, TIFF, ...) */
    IMAGE_ERR_TRUNCATED,   /* the data ends before the picture does */
    IMAGE_ERR_CORRUPT,     /* damaged or malformed data */
    IMAGE_ERR_TOO_LARGE,   /* over IMAGE_MAX_PIXELS or _SIDE, or a file over _FILE_BYTES */
    IMAGE_ERR_NOMEM,
    IMAGE_STATUS_COUNT
} image_status;
/* Short lower-case name of a status ("truncated", "not an image", ...). */
const char *image_status_name(image_status s);

/* Largest file image_decode_file reads (it reads the whole file first). */
#define IMAGE_MAX_FILE_BYTES (1024u * 1024u * 1024u)

/* As image_decode_file/_memory, also saying why a decode failed (*why, may be NULL).
 * min_side > 0 lets a JPEG be decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling,
 * far faster for big photos) when both sides stay >= min_side; PNG is always full size.
 * JPEG's EXIF orientation is applied, so the picture stands as a viewer shows it. */
int image_decode_file_ex(image_rgba *out, const char *path, int min_side, image_status *why,
                         char *err, size_t errlen);
int image_decode_memory_ex(image_rgba *out, const uint8_t *data, size_t len, int min_side,
                           image_status *why, char *err, size_t errlen);

/* Composites im onto the opaque colour bg as a browser does, in stored (non-linear sRGB)
 * values: out = round((c * a + bg * (255 - a)) / 255), exactly. rgb is (height, width, 3). */
void image_composite_rgb(uint8_t *rgb, const image_rgba *im, const uint8_t bg[3]);

typedef enum {
    IMAGE_FIT_CROP, /* centre square of side min(width, height) */
    IMAGE_FIT_PAD   /* the whole picture centred on a bg square of side max(width, height) */
} image_fit;

/* Composites im onto bg, makes it square by `fit`, and resizes it to side x side RGB:
 * area averaging when shrinking (every source pixel weighs by the area it covers),
 * bilinear interpolation between pixel centres when enlarging, a copy at the same size.
 * rgb is (side, side, 3). Fails only when out of memory or a side exceeds IMAGE_MAX_SIDE. */
int image_square_rgb(uint8_t *rgb, int side, const image_rgba *im, image_fit fit,
                     const uint8_t bg[3], char *err, size_t errlen);

/* Encode 8-bit RGB (height, width, 3) as PNG, into memory (*png, *len owned by the
 * caller) or into a file (written to a temporary name and renamed, so readers never see
 * half a file). Same pixels give the same bytes. */
int image_png_encode_rgb(uint8_t **png, size_t *len, const uint8_t *rgb, int width,
                         int height, char *err, size_t errlen);
int image_png_write_rgb(const char *path, const uint8_t *rgb, int width, int height,
                        char *err, size_t errlen);

/* Float images in [-1, 1], (n, side, side, 3), converted with round((x + 1) * 127.5)
 * clamped to [0, 255], laid out in a grid of `cols` columns (cols <= 0: the smallest
 * square-ish grid; never more than n) with `pad` pixels of `pad_rgb` between and around
 * the cells.
 * Result: 8-bit RGB (*height, *width, 3), owned by the caller. */
int image_grid_rgb(uint8_t **rgb, int *width, int *height, const float *imgs, int n,
                   int side, int cols, int pad, const uint8_t pad_rgb[3], char *err,
                   size_t errlen);
/* The same grid, encoded as PNG in memory, with IMAGE_GRID_PAD_RGB between the cells. */
#define IMAGE_GRID_PAD_RGB {0x20, 0x20, 0x20}
int image_grid_png(uint8_t **png, size_t *len, const float *imgs, int n, int side, int cols,
                   int pad, char *err, size_t errlen);

#endif
