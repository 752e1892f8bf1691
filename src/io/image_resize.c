/* image_resize: compositing onto a background, squaring, and resizing.
 *
 * Everything is done in integers, so results are exact and the same on every machine:
 * - compositing follows a browser, in stored sRGB values (not linear light):
 *   out = round((c * a + bg * (255 - a)) / 255);
 * - shrinking is area averaging: output pixel j covers source interval [j S/n, (j+1) S/n)
 *   (S source pixels, n output pixels), and each source pixel weighs by how much of that
 *   interval it covers. In units of 1/n source pixel these overlaps are whole numbers, so
 *   the sums are kept exactly (uint64) from the unrounded composited values (c a +
 *   bg (255 - a)) to one final rounding;
 * - enlarging is bilinear between pixel centres, clamped at the edges, with weights that
 *   are likewise whole numbers in units of 1/(2n).
 * Squaring never copies the picture: a "canvas" of side S is mapped onto it, and canvas
 * pixels outside it (padding) read as the background. */
#include <stdlib.h>
#include <string.h>

#include "io/image_internal.h"

void image_composite_rgb(uint8_t *rgb, const image_rgba *im, const uint8_t bg[3])
{
    size_t n = (size_t)im->width * im->height;
    const uint8_t *p = im->rgba;
    for (size_t i = 0; i < n; i++, p += 4, rgb += 3) {
        unsigned a = p[3];
        for (int c = 0; c < 3; c++)
            rgb[c] = (uint8_t)((p[c] * a + bg[c] * (255u - a) + 127u) / 255u);
    }
}

typedef struct {
    const image_rgba *im;
    int S;      /* canvas side */
    int ox, oy; /* canvas (cx, cy) is picture (cx + ox, cy + oy) */
    unsigned bg[3], bg255[3];
} canvas;

/* Composited value times 255 of canvas pixel (cx, cy), channel-wise into v. */
static void canvas_px(const canvas *cv, int cx, int cy, uint32_t v[3])
{
    int x = cx + cv->ox, y = cy + cv->oy;
    if (x < 0 || y < 0 || x >= cv->im->width || y >= cv->im->height) {
        v[0] = cv->bg255[0];
        v[1] = cv->bg255[1];
        v[2] = cv->bg255[2];
        return;
    }
    const uint8_t *p = cv->im->rgba + ((size_t)y * cv->im->width + x) * 4;
    unsigned a = p[3];
    for (int c = 0; c < 3; c++)
        v[c] = p[c] * a + cv->bg[c] * (255u - a);
}

static uint8_t round_div(uint64_t num, uint64_t den)
{
    uint64_t q = (num + den / 2) / den;
    return (uint8_t)(q > 255 ? 255 : q);
}

/* Overlap of [a0, a1) and [b0, b1). */
static int64_t overlap(int64_t a0, int64_t a1, int64_t b0, int64_t b1)
{
    int64_t lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    return hi > lo ? hi - lo : 0;
}

static void square_copy(uint8_t *rgb, int n, const canvas *cv)
{
    uint32_t v[3];
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++, rgb += 3) {
            canvas_px(cv, x, y, v);
            for (int c = 0; c < 3; c++)
                rgb[c] = round_div(v[c], 255);
        }
}

/* Area average, S > n. hrow (n * 3) holds one canvas row resampled horizontally, acc
 * (n * n * 3) the weighted sums of output pixels. */
static void square_shrink(uint8_t *rgb, int n, const canvas *cv, uint64_t *hrow, uint64_t *acc)
{
    const int64_t S = cv->S;
    uint32_t v[3];
    memset(acc, 0, (size_t)n * n * 3 * sizeof *acc);
    for (int cy = 0; cy < S; cy++) {
        int y = cy + cv->oy;
        int outside = y < 0 || y >= cv->im->height;
        for (int j = 0; j < n; j++) {
            uint64_t s[3] = {0, 0, 0};
            int64_t lo = (int64_t)j * S, hi = lo + S; /* units of 1/n source pixel */
            if (outside) {
                for (int c = 0; c < 3; c++)
                    s[c] = (uint64_t)cv->bg255[c] * (uint64_t)S;
            } else {
                for (int64_t i = lo / n; i * n < hi; i++) {
                    uint64_t w = (uint64_t)overlap(i * n, (i + 1) * n, lo, hi);
                    canvas_px(cv, (int)i, cy, v);
                    for (int c = 0; c < 3; c++)
                        s[c] += w * v[c];
                }
            }
            for (int c = 0; c < 3; c++)
                hrow[j * 3 + c] = s[c];
        }
        /* canvas row cy spans [cy n, (cy+1) n); it feeds output rows r with r S in there */
        int64_t y0 = (int64_t)cy * n, y1 = y0 + n;
        for (int64_t r = y0 / S; r < n && r * S < y1; r++) {
            uint64_t w = (uint64_t)overlap(y0, y1, r * S, (r + 1) * S);
            uint64_t *a = acc + (size_t)r * n * 3;
            for (int k = 0; k < n * 3; k++)
                a[k] += w * hrow[k];
        }
    }
    uint64_t den = 255u * (uint64_t)S * (uint64_t)S;
    for (size_t k = 0; k < (size_t)n * n * 3; k++)
        rgb[k] = round_div(acc[k], den);
}

/* Sample position of output pixel j's centre on an axis of S source pixels, as
 * index i0 and weight of i0 + 1 in units of 1/(2n). */
static void bilinear_pos(int j, int n, int S, int *i0, int64_t *frac)
{
    int64_t num = (int64_t)(2 * j + 1) * S - n, den = 2 * (int64_t)n;
    if (num <= 0) {
        *i0 = 0;
        *frac = 0;
        return;
    }
    *i0 = (int)(num / den);
    *frac = num % den;
    if (*i0 >= S - 1) {
        *i0 = S - 1;
        *frac = 0;
    }
}

static void square_enlarge(uint8_t *rgb, int n, const canvas *cv)
{
    const int64_t den = 2 * (int64_t)n;
    uint32_t p00[3], p01[3], p10[3], p11[3];
    for (int y = 0; y < n; y++) {
        int y0;
        int64_t fy;
        bilinear_pos(y, n, cv->S, &y0, &fy);
        int y1 = y0 + 1 < cv->S ? y0 + 1 : y0;
        for (int x = 0; x < n; x++, rgb += 3) {
            int x0;
            int64_t fx;
            bilinear_pos(x, n, cv->S, &x0, &fx);
            int x1 = x0 + 1 < cv->S ? x0 + 1 : x0;
            canvas_px(cv, x0, y0, p00);
            canvas_px(cv, x1, y0, p01);
            canvas_px(cv, x0, y1, p10);
            canvas_px(cv, x1, y1, p11);
            for (int c = 0; c < 3; c++) {
                uint64_t top = (uint64_t)(den - fx) * p00[c] + (uint64_t)fx * p01[c];
                uint64_t bot = (uint64_t)(den - fx) * p10[c] + (uint64_t)fx * p11[c];
                uint64_t s = (uint64_t)(den - fy) * top + (uint64_t)fy * bot;
                rgb[c] = round_div(s, 255u * (uint64_t)den * (uint64_t)den);
            }
        }
    }
}

int image_square_rgb(uint8_t *rgb, int side, const image_rgba *im, image_fit fit,
                     const uint8_t bg[3], char *err, size_t errlen)
{
    /* The side limits keep every exact sum below 2^64 (65025 * 65535^2 < 2^48). */
    if (side <= 0 || side > IMAGE_MAX_SIDE || im->width <= 0 || im->height <= 0 ||
        im->width > IMAGE_MAX_SIDE || im->height > IMAGE_MAX_SIDE)
        return image_fail(NULL, IMAGE_ERR_TOO_LARGE, err, errlen,
                          "cannot resize %d x %d to %d x %d", im->width, im->height, side, side);
    canvas cv = {.im = im};
    int w = im->width, h = im->height;
    for (int c = 0; c < 3; c++) {
        cv.bg[c] = bg[c];
        cv.bg255[c] = bg[c] * 255u;
    }
    if (fit == IMAGE_FIT_CROP) {
        cv.S = w < h ? w : h;
        cv.ox = (w - cv.S) / 2;
        cv.oy = (h - cv.S) / 2;
    } else {
        cv.S = w > h ? w : h;
        cv.ox = -((cv.S - w) / 2);
        cv.oy = -((cv.S - h) / 2);
    }
    if (cv.S == side) {
        square_copy(rgb, side, &cv);
    } else if (cv.S < side) {
        square_enlarge(rgb, side, &cv);
    } else {
        uint64_t *hrow = malloc((size_t)side * 3 * sizeof *hrow);
        uint64_t *acc = malloc((size_t)side * side * 3 * sizeof *acc);
        if (!hrow || !acc) {
            free(hrow);
            free(acc);
            return image_fail(NULL, IMAGE_ERR_NOMEM, err, errlen,
                              "out of memory resizing to %d x %d", side, side);
        }
        square_shrink(rgb, side, &cv, hrow, acc);
        free(hrow);
        free(acc);
    }
    return 0;
}
