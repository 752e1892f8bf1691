/* JPEG decoding, against fixtures this test writes itself with libjpeg.
 *
 * JPEG is lossy, so colours are compared with a tolerance (quality 95, no chroma
 * subsampling, flat colour quadrants whose edges fall on 8 x 8 block edges: a few levels
 * at most; the tolerance is 6) and
 * the structure exactly: sizes, which quadrant holds which colour. Covered: baseline RGB,
 * greyscale, progressive, Adobe CMYK, DCT-scaled decoding for big pictures, all eight
 * EXIF orientations, and failures that must come back as values, never as libjpeg's
 * exit(): truncated (in the header and in the scan), corrupt scan data, a header that
 * claims huge dimensions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jerror.h>
#include <jpeglib.h>

#include "illgan/image.h"

#define TOL 6

/* Quadrant colours: top-left, top-right, bottom-left, bottom-right. */
static const uint8_t quad[4][3] = {{220, 30, 40}, {30, 200, 60}, {40, 60, 210}, {240, 230, 50}};

static int quadrant(int x, int y, int w, int h)
{
    return (y >= h / 2) * 2 + (x >= w / 2);
}

typedef struct {
    int width, height;
    J_COLOR_SPACE space; /* JCS_RGB, JCS_GRAYSCALE or JCS_CMYK */
    int progressive;
    const uint8_t *app1;  /* raw APP1 payload, or NULL */
    size_t app1_len;
} jpeg_fixture;

static void write_jpeg(const jpeg_fixture *f, uint8_t **out, size_t *len)
{
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    unsigned long ulen = 0;
    *out = NULL;
    jpeg_mem_dest(&ci, out, &ulen);
    ci.image_width = (JDIMENSION)f->width;
    ci.image_height = (JDIMENSION)f->height;
    ci.input_components = f->space == JCS_GRAYSCALE ? 1 : f->space == JCS_CMYK ? 4 : 3;
    ci.in_color_space = f->space;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 95, TRUE);
    /* No chroma subsampling: upsampled chroma would bleed across the quadrant edges. */
    for (int c = 0; c < ci.num_components; c++)
        ci.comp_info[c].h_samp_factor = ci.comp_info[c].v_samp_factor = 1;
    if (f->progressive)
        jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    if (f->app1)
        jpeg_write_marker(&ci, JPEG_APP0 + 1, f->app1, (unsigned)f->app1_len);
    int ch = ci.input_components;
    uint8_t *row = malloc((size_t)f->width * ch);
    assert_non_null(row);
    while (ci.next_scanline < ci.image_height) {
        int y = (int)ci.next_scanline;
        for (int x = 0; x < f->width; x++) {
            const uint8_t *q = quad[quadrant(x, y, f->width, f->height)];
            uint8_t *p = row + (size_t)x * ch;
            if (ch == 1) {
                p[0] = q[0];
            } else if (ch == 3) {
                memcpy(p, q, 3);
            } else {
                /* Adobe-style inverted CMYK (what libjpeg's Adobe marker announces): store
                 * 255 - ink, with K = 0 ink, so that r = stored_c * stored_k / 255 = q. */
                p[0] = q[0];
                p[1] = q[1];
                p[2] = q[2];
                p[3] = 255;
            }
        }
        JSAMPROW r = row;
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    free(row);
    *len = ulen;
}

static int max_quadrant_error(const image_rgba *im, int grey)
{
    int worst = 0;
    for (int y = 0; y < im->height; y++)
        for (int x = 0; x < im->width; x++) {
            const uint8_t *p = im->rgba + ((size_t)y * im->width + x) * 4;
            const uint8_t *q = quad[quadrant(x, y, im->width, im->height)];
            for (int c = 0; c < 3; c++) {
                int want = grey ? q[0] : q[c];
                int d = abs(p[c] - want);
                if (d > worst)
                    worst = d;
            }
            if (p[3] != 255)
                return 999;
        }
    return worst;
}

static void decode_ok(const uint8_t *data, size_t len, int min_side, image_rgba *im)
{
    char err[256];
    image_status why;
    if (image_decode_memory_ex(im, data, len, min_side, &why, err, sizeof err) != 0)
        fail_msg("decode failed: %s", err);
    assert_int_equal(why, IMAGE_OK);
}

static void test_colour_spaces(void **state)
{
    (void)state;
    static const struct {
        J_COLOR_SPACE space;
        int progressive;
        const char *name;
    } kinds[] = {
        {JCS_RGB, 0, "RGB baseline"},
        {JCS_RGB, 1, "RGB progressive"},
        {JCS_GRAYSCALE, 0, "grey"},
        {JCS_GRAYSCALE, 1, "grey progressive"},
        {JCS_CMYK, 0, "Adobe CMYK"},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        jpeg_fixture f = {.width = 32, .height = 32, .space = kinds[k].space,
                          .progressive = kinds[k].progressive};
        uint8_t *jpg;
        size_t len;
        write_jpeg(&f, &jpg, &len);
        image_rgba im;
        decode_ok(jpg, len, 0, &im);
        int err = max_quadrant_error(&im, kinds[k].space == JCS_GRAYSCALE);
        printf("%-18s %zu bytes -> %d x %d, largest error %d (tolerance %d)\n", kinds[k].name,
               len, im.width, im.height, err, TOL);
        assert_int_equal(im.width, 32);
        assert_int_equal(im.height, 32);
        assert_true(err <= TOL);
        image_rgba_free(&im);
        free(jpg);
    }
}

static void test_scaled_decode(void **state)
{
    (void)state;
    jpeg_fixture f = {.width = 512, .height = 384, .space = JCS_RGB};
    uint8_t *jpg;
    size_t len;
    write_jpeg(&f, &jpg, &len);
    static const struct {
        int min_side, w, h;
    } cases[] = {{0, 512, 384}, {300, 512, 384}, {192, 256, 192}, {96, 128, 96},
                 {48, 64, 48}, {10, 64, 48}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        image_rgba im;
        decode_ok(jpg, len, cases[k].min_side, &im);
        int err = max_quadrant_error(&im, 0);
        printf("min_side %3d -> %d x %d (want %d x %d), largest error %d\n", cases[k].min_side,
               im.width, im.height, cases[k].w, cases[k].h, err);
        assert_int_equal(im.width, cases[k].w);
        assert_int_equal(im.height, cases[k].h);
        assert_true(err <= TOL);
        image_rgba_free(&im);
    }
    free(jpg);
}

/* APP1 "Exif" payload with one IFD0 entry, Orientation (0x0112, SHORT, count 1) = o, in
 * either byte order: "Exif\0\0", the TIFF header (8 bytes, IFD0 at 8), the entry count,
 * one 12-byte entry whose value field starts at payload offset 24, no next IFD. */
static size_t exif_payload(uint8_t *p, int o, int big)
{
    static const uint8_t le[] = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0,
                                 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t be[] = {'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8,
                                 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(p, big ? be : le, sizeof le);
    p[big ? 25 : 24] = (uint8_t)o;
    return sizeof le;
}

/* Quadrant (0 TL, 1 TR, 2 BL, 3 BR) of the stored picture that lands at displayed
 * quadrant d for EXIF orientation o. */
static int stored_quadrant(int o, int d)
{
    int dx = d & 1, dy = d >> 1, sx, sy;
    switch (o) {
    case 2: sx = 1 - dx; sy = dy; break;
    case 3: sx = 1 - dx; sy = 1 - dy; break;
    case 4: sx = dx; sy = 1 - dy; break;
    case 5: sx = dy; sy = dx; break;
    case 6: sx = dy; sy = 1 - dx; break;
    case 7: sx = 1 - dy; sy = 1 - dx; break;
    case 8: sx = 1 - dy; sy = dx; break;
    default: sx = dx; sy = dy; break;
    }
    return sy * 2 + sx;
}

static void test_exif_orientation(void **state)
{
    (void)state;
    for (int big = 0; big <= 1; big++)
        for (int o = 1; o <= 8; o++) {
            uint8_t app1[64];
            size_t n = exif_payload(app1, o, big);
            jpeg_fixture f = {.width = 64, .height = 32, .space = JCS_RGB, .app1 = app1,
                              .app1_len = n};
            uint8_t *jpg;
            size_t len;
            write_jpeg(&f, &jpg, &len);
            image_rgba im;
            decode_ok(jpg, len, 0, &im);
            int ew = o >= 5 ? 32 : 64, eh = o >= 5 ? 64 : 32;
            assert_int_equal(im.width, ew);
            assert_int_equal(im.height, eh);
            int worst = 0;
            for (int d = 0; d < 4; d++) {
                /* centre of displayed quadrant d */
                int x = (d & 1) * im.width / 2 + im.width / 4;
                int y = (d >> 1) * im.height / 2 + im.height / 4;
                const uint8_t *p = im.rgba + ((size_t)y * im.width + x) * 4;
                const uint8_t *q = quad[stored_quadrant(o, d)];
                for (int c = 0; c < 3; c++)
                    if (abs(p[c] - q[c]) > worst)
                        worst = abs(p[c] - q[c]);
            }
            printf("orientation %d (%s) -> %d x %d, largest quadrant error %d\n", o,
                   big ? "big-endian" : "little-endian", im.width, im.height, worst);
            assert_true(worst <= TOL);
            image_rgba_free(&im);
            free(jpg);
        }
}

static void expect_failure(const uint8_t *data, size_t len, image_status want, const char *what)
{
    image_rgba im;
    image_status why = IMAGE_OK;
    char err[256] = "";
    int rc = image_decode_memory_ex(&im, data, len, 0, &why, err, sizeof err);
    printf("  %-30s -> %s: %s\n", what, image_status_name(why), err);
    assert_int_equal(rc, -1);
    assert_int_equal(why, want);
    assert_null(im.rgba);
}

/* Offset of the first marker FF xx at or after `from`. */
static size_t find_marker(const uint8_t *d, size_t len, uint8_t m, size_t from)
{
    for (size_t i = from; i + 1 < len; i++)
        if (d[i] == 0xff && d[i + 1] == m)
            return i;
    fail_msg("marker %02x not found", m);
    return 0;
}

static void test_damaged(void **state)
{
    (void)state;
    jpeg_fixture f = {.width = 64, .height = 64, .space = JCS_RGB};
    uint8_t *jpg;
    size_t len;
    write_jpeg(&f, &jpg, &len);
    size_t sos = find_marker(jpg, len, 0xda, 2);
    printf("fixture: %zu bytes, scan starts at %zu\n", len, sos);

    expect_failure(jpg, 40, IMAGE_ERR_TRUNCATED, "cut inside the header");
    expect_failure(jpg, sos + 30, IMAGE_ERR_TRUNCATED, "cut early in the scan");
    expect_failure(jpg, (sos + len) / 2, IMAGE_ERR_TRUNCATED, "cut half-way in the scan");
    expect_failure(jpg, len - 2, IMAGE_ERR_TRUNCATED, "EOI missing");

    uint8_t *bad = malloc(len);
    assert_non_null(bad);
    memcpy(bad, jpg, len);
    /* a restart marker where none belongs: libjpeg must resynchronise (a warning) */
    size_t mid = (sos + len) / 2;
    bad[mid] = 0xff;
    bad[mid + 1] = 0xd3;
    expect_failure(bad, len, IMAGE_ERR_CORRUPT, "stray marker in the scan");

    /* SOF0 (baseline) holds height, width at +5, +7 */
    memcpy(bad, jpg, len);
    size_t sof = find_marker(bad, len, 0xc0, 2);
    bad[sof + 5] = 0xea, bad[sof + 6] = 0x60; /* 60000 */
    bad[sof + 7] = 0xea, bad[sof + 8] = 0x60;
    expect_failure(bad, len, IMAGE_ERR_TOO_LARGE, "header claims 60000 x 60000");
    memcpy(bad, jpg, len);
    bad[sof + 5] = 0xff, bad[sof + 6] = 0xff;
    bad[sof + 7] = 0xff, bad[sof + 8] = 0xff;
    expect_failure(bad, len, IMAGE_ERR_TOO_LARGE, "header claims 65535 x 65535");
    free(bad);
    free(jpg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_colour_spaces),
        cmocka_unit_test(test_scaled_decode),
        cmocka_unit_test(test_exif_orientation),
        cmocka_unit_test(test_damaged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
