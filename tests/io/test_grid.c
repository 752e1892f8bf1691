/* Sample grids (image_grid_rgb, image_grid_png): layout, the float-to-byte rule, padding,
 * and byte-for-byte determinism of the PNG, which /sample relies on. */
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

static void test_layout(void **state)
{
    (void)state;
    static const struct {
        int n, cols, want_cols, want_rows;
    } cases[] = {{1, 0, 1, 1}, {4, 0, 2, 2}, {5, 0, 3, 2}, {16, 0, 4, 4}, {17, 0, 5, 4},
                 {6, 2, 2, 3}, {3, 8, 3, 1}};
    const int side = 4, pad = 2;
    const uint8_t pad_rgb[3] = {9, 8, 7};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int n = cases[k].n;
        float *imgs = malloc((size_t)n * side * side * 3 * sizeof *imgs);
        assert_non_null(imgs);
        for (int i = 0; i < n * side * side * 3; i++)
            imgs[i] = 1.0f; /* every cell white, so cells and padding are told apart */
        uint8_t *rgb;
        int w, h;
        char err[128];
        assert_int_equal(image_grid_rgb(&rgb, &w, &h, imgs, n, side, cases[k].cols, pad,
                                        pad_rgb, err, sizeof err), 0);
        int ww = cases[k].want_cols * side + (cases[k].want_cols + 1) * pad;
        int wh = cases[k].want_rows * side + (cases[k].want_rows + 1) * pad;
        printf("n %2d cols %d -> %d x %d pixels (want %d x %d)\n", n, cases[k].cols, w, h, ww,
               wh);
        assert_int_equal(w, ww);
        assert_int_equal(h, wh);
        /* count white pixels: exactly n cells */
        int white = 0, padded = 0;
        for (int i = 0; i < w * h; i++) {
            white += rgb[i * 3] == 255 && rgb[i * 3 + 1] == 255 && rgb[i * 3 + 2] == 255;
            padded += rgb[i * 3] == 9 && rgb[i * 3 + 1] == 8 && rgb[i * 3 + 2] == 7;
        }
        assert_int_equal(white, n * side * side);
        assert_int_equal(padded, w * h - n * side * side);
        free(rgb);
        free(imgs);
    }
}

static void test_values_and_position(void **state)
{
    (void)state;
    /* two 2x2 images; the second's pixels carry the tested values */
    float imgs[2 * 2 * 2 * 3] = {0};
    const float in[4] = {-1.0f, 1.0f, 0.0f, 2.5f};
    const uint8_t want[4] = {0, 255, 128, 255};
    for (int p = 0; p < 4; p++)
        for (int c = 0; c < 3; c++)
            imgs[12 + p * 3 + c] = in[p];
    imgs[12 + 2] = NAN;          /* first pixel, blue */
    imgs[12 + 3 * 3 + 1] = -3.0f; /* last pixel, green */
    imgs[12 + 3 * 3 + 2] = 0.2f;  /* 1.2 * 127.5 = 153 */
    uint8_t *rgb;
    int w, h;
    char err[128];
    const uint8_t pad_rgb[3] = {0, 0, 0};
    assert_int_equal(image_grid_rgb(&rgb, &w, &h, imgs, 2, 2, 2, 1, pad_rgb, err, sizeof err), 0);
    assert_int_equal(w, 7);
    assert_int_equal(h, 4);
    /* second cell starts at x = 1 + 2 + 1 = 4, y = 1 */
    for (int p = 0; p < 4; p++) {
        const uint8_t *px = rgb + ((size_t)(1 + p / 2) * w + 4 + p % 2) * 3;
        printf("pixel %d: %d %d %d\n", p, px[0], px[1], px[2]);
        assert_int_equal(px[0], want[p]);
    }
    assert_int_equal(rgb[((size_t)1 * w + 4) * 3 + 2], 0);   /* NaN */
    assert_int_equal(rgb[((size_t)2 * w + 5) * 3 + 1], 0);   /* -3 clamped */
    assert_int_equal(rgb[((size_t)2 * w + 5) * 3 + 2], 153); /* 0.2 */
    free(rgb);
    assert_int_equal(image_grid_rgb(&rgb, &w, &h, imgs, 0, 2, 2, 1, pad_rgb, err, sizeof err), -1);
    printf("n = 0: %s\n", err);
}

static void test_png_deterministic(void **state)
{
    (void)state;
    const int n = 9, side = 8;
    float *imgs = malloc((size_t)n * side * side * 3 * sizeof *imgs);
    assert_non_null(imgs);
    for (int i = 0; i < n * side * side * 3; i++)
        imgs[i] = sinf((float)i * 0.37f);
    uint8_t *a, *b;
    size_t la, lb;
    char err[128];
    assert_int_equal(image_grid_png(&a, &la, imgs, n, side, 0, 2, err, sizeof err), 0);
    assert_int_equal(image_grid_png(&b, &lb, imgs, n, side, 0, 2, err, sizeof err), 0);
    printf("two grids: %zu and %zu bytes\n", la, lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);

    /* the PNG holds the same pixels as the RGB grid, padded with IMAGE_GRID_PAD_RGB */
    const uint8_t pad_rgb[3] = IMAGE_GRID_PAD_RGB;
    uint8_t *rgb;
    int w, h;
    assert_int_equal(
        image_grid_rgb(&rgb, &w, &h, imgs, n, side, 0, 2, pad_rgb, err, sizeof err), 0);
    image_rgba im;
    assert_int_equal(image_decode_memory(&im, a, la, err, sizeof err), 0);
    assert_int_equal(im.width, w);
    assert_int_equal(im.height, h);
    int diff = 0;
    for (int i = 0; i < w * h; i++)
        for (int c = 0; c < 3; c++)
            diff += im.rgba[i * 4 + c] != rgb[i * 3 + c];
    printf("decoded PNG vs RGB grid: %d values differ\n", diff);
    assert_int_equal(diff, 0);
    assert_int_equal(rgb[0], pad_rgb[0]);
    image_rgba_free(&im);
    free(rgb);
    free(a);
    free(b);
    free(imgs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_values_and_position),
        cmocka_unit_test(test_png_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
