/* image_grid: lays generated images (floats in [-1, 1]) out as one picture, for `illgan
 * sample`, the daemon's /sample and the sample history. The conversion is a fixed
 * integer rounding and the PNG encoder is deterministic, so the same floats always give
 * the same bytes. */
#include <stdlib.h>

#include "io/image_internal.h"

/* round((x + 1) * 127.5) clamped to [0, 255]; NaN reads as 0. */
static uint8_t to_byte(float x)
{
    float v = (x + 1.0f) * 127.5f;
    if (!(v > 0.0f))
        return 0;
    if (v >= 255.0f)
        return 255;
    return (uint8_t)(v + 0.5f);
}

int image_grid_rgb(uint8_t **rgb, int *width, int *height, const float *imgs, int n,
                   int side, int cols, int pad, const uint8_t pad_rgb[3], char *err,
                   size_t errlen)
{
    *rgb = NULL;
    *width = *height = 0;
    if (n <= 0 || side <= 0 || pad < 0)
        return image_fail(NULL, IMAGE_ERR_CORRUPT, err, errlen,
                          "grid: bad arguments (n %d, side %d, pad %d)", n, side, pad);
    if (cols <= 0) {
        cols = 1;
        while (cols * cols < n)
            cols++;
    }
    if (cols > n)
        cols = n;
    int rows = (n + cols - 1) / cols;
    int64_t w = (int64_t)cols * side + (int64_t)(cols + 1) * pad;
    int64_t h = (int64_t)rows * side + (int64_t)(rows + 1) * pad;
    if (w > IMAGE_MAX_SIDE || h > IMAGE_MAX_SIDE || w * h > IMAGE_MAX_PIXELS)
        return image_fail(NULL, IMAGE_ERR_TOO_LARGE, err, errlen,
                          "grid: %lld x %lld pixels is too large", (long long)w,
                          (long long)h);
    uint8_t *out = malloc((size_t)w * (size_t)h * 3);
    if (!out)
        return image_fail(NULL, IMAGE_ERR_NOMEM, err, errlen, "grid: out of memory");
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
        out[i * 3 + 0] = pad_rgb[0];
        out[i * 3 + 1] = pad_rgb[1];
        out[i * 3 + 2] = pad_rgb[2];
    }
    for (int k = 0; k < n; k++) {
        int gx = pad + (k % cols) * (side + pad), gy = pad + (k / cols) * (side + pad);
        const float *src = imgs + (size_t)k * side * side * 3;
        for (int y = 0; y < side; y++) {
            uint8_t *dst = out + (((size_t)(gy + y) * (size_t)w) + (size_t)gx) * 3;
            for (int x = 0; x < side * 3; x++)
                dst[x] = to_byte(src[(size_t)y * side * 3 + x]);
        }
    }
    *rgb = out;
    *width = (int)w;
    *height = (int)h;
    return 0;
}

int image_grid_png(uint8_t **png, size_t *len, const float *imgs, int n, int side, int cols,
                   int pad, char *err, size_t errlen)
{
    static const uint8_t pad_rgb[3] = IMAGE_GRID_PAD_RGB;
    uint8_t *rgb;
    int w, h;
    *png = NULL;
    *len = 0;
    if (image_grid_rgb(&rgb, &w, &h, imgs, n, side, cols, pad, pad_rgb, err, errlen) != 0)
        return -1;
    int rc = image_png_encode_rgb(png, len, rgb, w, h, err, errlen);
    free(rgb);
    return rc;
}
