/* Compositing, squaring and resizing (image_composite_rgb, image_square_rgb).
 *
 * Compositing is checked pixel by pixel against the browser's formula computed here in
 * double precision (round((c a + bg (255 - a)) / 255); the quotient is never exactly
 * half-way since 255 is odd), over every alpha value. Resizing is checked against an
 * independent double-precision reference: area averaging by integrating over each output
 * pixel's square, bilinear by the textbook formula between pixel centres. The exact
 * integer code and the double reference may only disagree where the true value lies
 * within 1e-9 of a rounding tie, so all outputs must agree within 1 level and nearly all
 * exactly; hand-worked small cases must agree exactly. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "illgan/image.h"

static image_rgba make_image(int w, int h, uint32_t seed)
{
    image_rgba im = {malloc((size_t)w * h * 4), w, h};
    assert_non_null(im.rgba);
    for (int i = 0; i < w * h * 4; i++) {
        seed = seed * 1664525u + 1013904223u;
        im.rgba[i] = (uint8_t)(seed >> 24);
    }
    return im;
}

static double composite_ref(const image_rgba *im, int x, int y, int c, const uint8_t bg[3])
{
    const uint8_t *p = im->rgba + ((size_t)y * im->width + x) * 4;
    return (p[c] * (double)p[3] + bg[c] * (255.0 - p[3])) / 255.0;
}

static void test_composite_every_alpha(void **state)
{
    (void)state;
    const uint8_t bgs[][3] = {{255, 255, 255}, {0, 0, 0}, {12, 200, 77}};
    image_rgba im = {malloc(256 * 4 * 4), 256, 4};
    assert_non_null(im.rgba);
    /* every alpha, with colour values 0, 255, and two in between */
    static const uint8_t colours[4][3] = {{0, 0, 0}, {255, 255, 255}, {200, 10, 99}, {1, 128, 254}};
    for (int y = 0; y < 4; y++)
        for (int a = 0; a < 256; a++) {
            uint8_t *p = im.rgba + ((size_t)y * 256 + a) * 4;
            memcpy(p, colours[y], 3);
            p[3] = (uint8_t)a;
        }
    uint8_t out[256 * 4 * 3];
    for (size_t b = 0; b < sizeof bgs / sizeof bgs[0]; b++) {
        image_composite_rgb(out, &im, bgs[b]);
        int bad = 0;
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 256; x++)
                for (int c = 0; c < 3; c++) {
                    double want = floor(composite_ref(&im, x, y, c, bgs[b]) + 0.5);
                    bad += out[((size_t)y * 256 + x) * 3 + c] != (uint8_t)want;
                }
        printf("background %02x%02x%02x: %d of %d values differ from the formula\n", bgs[b][0],
               bgs[b][1], bgs[b][2], bad, 256 * 4 * 3);
        assert_int_equal(bad, 0);
    }
    /* hand-worked: red at alpha 128 over white is (255, 127, 127) as in a browser, not
     * the linear-light blend's (255, 187, 187) */
    image_rgba half = {(uint8_t[]){255, 0, 0, 128}, 1, 1};
    uint8_t px[3];
    image_composite_rgb(px, &half, bgs[0]);
    printf("50%% red on white: %d %d %d\n", px[0], px[1], px[2]);
    assert_int_equal(px[0], 255);
    assert_int_equal(px[1], 127);
    assert_int_equal(px[2], 127);
    free(im.rgba);
}

/* Canvas pixel (cx, cy) of the squared picture, composited, in double. */
static double canvas_ref(const image_rgba *im, image_fit fit, const uint8_t bg[3], int cx,
                         int cy, int c, int *S)
{
    int w = im->width, h = im->height, ox, oy;
    if (fit == IMAGE_FIT_CROP) {
        *S = w < h ? w : h;
        ox = (w - *S) / 2;
        oy = (h - *S) / 2;
    } else {
        *S = w > h ? w : h;
        ox = -((*S - w) / 2);
        oy = -((*S - h) / 2);
    }
    int x = cx + ox, y = cy + oy;
    if (x < 0 || y < 0 || x >= w || y >= h)
        return bg[c];
    return composite_ref(im, x, y, c, bg);
}

static void reference(uint8_t *out, int n, const image_rgba *im, image_fit fit,
                      const uint8_t bg[3])
{
    int S;
    canvas_ref(im, fit, bg, 0, 0, 0, &S);
    double scale = (double)S / n;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++)
            for (int c = 0; c < 3; c++) {
                double v = 0;
                if (S >= n) { /* integrate over [i s, (i+1) s) x [j s, (j+1) s) */
                    double x0 = i * scale, x1 = (i + 1) * scale;
                    double y0 = j * scale, y1 = (j + 1) * scale;
                    for (int y = (int)floor(y0); y < y1 && y < S; y++)
                        for (int x = (int)floor(x0); x < x1 && x < S; x++) {
                            double wx = fmin(x + 1, x1) - fmax(x, x0);
                            double wy = fmin(y + 1, y1) - fmax(y, y0);
                            if (wx > 0 && wy > 0)
                                v += wx * wy * canvas_ref(im, fit, bg, x, y, c, &S);
                        }
                    v /= scale * scale;
                } else { /* bilinear between centres, clamped */
                    double fx = fmin(fmax((i + 0.5) * scale - 0.5, 0), S - 1);
                    double fy = fmin(fmax((j + 0.5) * scale - 0.5, 0), S - 1);
                    int x0 = (int)floor(fx), y0 = (int)floor(fy);
                    int x1 = x0 + 1 < S ? x0 + 1 : x0, y1 = y0 + 1 < S ? y0 + 1 : y0;
                    double ax = fx - x0, ay = fy - y0;
                    v = (1 - ay) * ((1 - ax) * canvas_ref(im, fit, bg, x0, y0, c, &S) +
                                    ax * canvas_ref(im, fit, bg, x1, y0, c, &S)) +
                        ay * ((1 - ax) * canvas_ref(im, fit, bg, x0, y1, c, &S) +
                              ax * canvas_ref(im, fit, bg, x1, y1, c, &S));
                }
                out[((size_t)j * n + i) * 3 + c] = (uint8_t)floor(v + 0.5);
            }
}

static void test_against_reference(void **state)
{
    (void)state;
    static const struct {
        int w, h, n;
    } cases[] = {
        {37, 23, 16}, {23, 37, 16}, {64, 64, 64}, {100, 60, 64}, {64, 200, 64}, {7, 5, 32},
        {5, 9, 13}, {128, 128, 64}, {129, 127, 64}, {3, 1, 8}, {1, 1, 4}, {65, 64, 64},
    };
    const uint8_t bg[3] = {250, 128, 3};
    int total = 0, exact = 0, worst = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int fit = 0; fit <= 1; fit++) {
            image_rgba im = make_image(cases[k].w, cases[k].h, (uint32_t)k * 7 + (uint32_t)fit);
            int n = cases[k].n;
            uint8_t *got = malloc((size_t)n * n * 3), *want = malloc((size_t)n * n * 3);
            assert_non_null(got);
            assert_non_null(want);
            char err[128];
            assert_int_equal(image_square_rgb(got, n, &im, (image_fit)fit, bg, err, sizeof err), 0);
            reference(want, n, &im, (image_fit)fit, bg);
            int same = 0, w = 0;
            for (int i = 0; i < n * n * 3; i++) {
                int d = abs(got[i] - want[i]);
                same += d == 0;
                if (d > w)
                    w = d;
            }
            printf("%3d x %-3d -> %2d (%s): %d of %d exact, largest difference %d\n",
                   cases[k].w, cases[k].h, n, fit ? "pad " : "crop", same, n * n * 3, w);
            total += n * n * 3;
            exact += same;
            if (w > worst)
                worst = w;
            free(got);
            free(want);
            free(im.rgba);
        }
    printf("all: %d of %d exact, largest difference %d\n", exact, total, worst);
    assert_true(worst <= 1);
    assert_true(exact >= total - total / 1000);
}

static void test_hand_worked(void **state)
{
    (void)state;
    const uint8_t white[3] = {255, 255, 255};
    char err[128];
    /* 4x4 grey -> 2x2: each output is the mean of a 2x2 block */
    uint8_t g[16] = {0, 10, 100, 101, 20, 30, 102, 103, 200, 201, 7, 7, 202, 203, 7, 8};
    image_rgba im = {malloc(16 * 4), 4, 4};
    assert_non_null(im.rgba);
    for (int i = 0; i < 16; i++) {
        im.rgba[i * 4] = im.rgba[i * 4 + 1] = im.rgba[i * 4 + 2] = g[i];
        im.rgba[i * 4 + 3] = 255;
    }
    uint8_t out[64 * 3];
    assert_int_equal(image_square_rgb(out, 2, &im, IMAGE_FIT_CROP, white, err, sizeof err), 0);
    /* means 15, 101.5 -> 102, 201.5 -> 202, 7.25 -> 7 */
    printf("4x4 -> 2x2: %d %d %d %d\n", out[0], out[3], out[6], out[9]);
    assert_int_equal(out[0], 15);
    assert_int_equal(out[3], 102);
    assert_int_equal(out[6], 202);
    assert_int_equal(out[9], 7);

    /* 2x1 (0, 200) padded to 2x2 on white, then enlarged to 4x4 */
    image_rgba two = {(uint8_t[]){0, 0, 0, 255, 200, 200, 200, 255}, 2, 1};
    assert_int_equal(image_square_rgb(out, 2, &two, IMAGE_FIT_PAD, white, err, sizeof err), 0);
    printf("pad 2x1 -> 2x2: rows %d %d / %d %d\n", out[0], out[3], out[6], out[9]);
    /* (2 - 1) / 2 = 0 rows above: picture on row 0, white on row 1 */
    assert_int_equal(out[0], 0);
    assert_int_equal(out[3], 200);
    assert_int_equal(out[6], 255);
    assert_int_equal(out[9], 255);
    /* enlarging 2 -> 4 samples at 0, 0.25, 0.75, 1 (clamped ends) between the centres */
    uint8_t ramp[16] = {0, 0, 0, 255, 200, 200, 200, 255, 0, 0, 0, 255, 200, 200, 200, 255};
    image_rgba row = {ramp, 2, 2};
    assert_int_equal(image_square_rgb(out, 4, &row, IMAGE_FIT_CROP, white, err, sizeof err), 0);
    printf("enlarge 2 -> 4: %d %d %d %d\n", out[0], out[3], out[6], out[9]);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[3], 50);
    assert_int_equal(out[6], 150);
    assert_int_equal(out[9], 200);

    /* centre crop of a 30x10 picture whose column x has value 8x: columns 10..19 */
    image_rgba wide = {malloc(30 * 10 * 4), 30, 10};
    assert_non_null(wide.rgba);
    for (int i = 0; i < 300; i++) {
        int x = i % 30;
        wide.rgba[i * 4] = wide.rgba[i * 4 + 1] = wide.rgba[i * 4 + 2] = (uint8_t)(8 * x);
        wide.rgba[i * 4 + 3] = 255;
    }
    uint8_t sq[10 * 10 * 3];
    assert_int_equal(image_square_rgb(sq, 10, &wide, IMAGE_FIT_CROP, white, err, sizeof err), 0);
    printf("crop 30x10: first column %d, last %d\n", sq[0], sq[9 * 3]);
    assert_int_equal(sq[0], 80);
    assert_int_equal(sq[9 * 3], 152);
    free(wide.rgba);

    /* a fully transparent picture becomes the background */
    memset(im.rgba, 0, 16 * 4);
    const uint8_t bg[3] = {10, 20, 30};
    assert_int_equal(image_square_rgb(out, 3, &im, IMAGE_FIT_PAD, bg, err, sizeof err), 0);
    for (int i = 0; i < 9; i++) {
        assert_int_equal(out[i * 3], 10);
        assert_int_equal(out[i * 3 + 1], 20);
        assert_int_equal(out[i * 3 + 2], 30);
    }
    free(im.rgba);
}

static void test_same_size_is_composite(void **state)
{
    (void)state;
    image_rgba im = make_image(40, 40, 99);
    const uint8_t bg[3] = {1, 2, 250};
    uint8_t a[40 * 40 * 3], b[40 * 40 * 3];
    char err[128];
    image_composite_rgb(a, &im, bg);
    assert_int_equal(image_square_rgb(b, 40, &im, IMAGE_FIT_CROP, bg, err, sizeof err), 0);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(image_square_rgb(b, 40, &im, IMAGE_FIT_PAD, bg, err, sizeof err), 0);
    assert_memory_equal(a, b, sizeof a);
    printf("40x40 at 40: both fits equal the plain composite\n");
    free(im.rgba);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_composite_every_alpha),
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_hand_worked),
        cmocka_unit_test(test_same_size_is_composite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
