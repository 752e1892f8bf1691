/* PNG decoding and encoding, against fixtures this test writes itself with libpng.
 *
 * Every colour type at every bit depth it allows (grey 1/2/4/8/16, grey+alpha 8/16,
 * RGB 8/16, RGBA 8/16, palette 1/2/4/8), each plain and Adam7-interlaced, with and without
 * tRNS transparency where PNG allows it, is written from known sample values at an odd
 * size (13 x 11, so that interlace passes and packed bytes end part-way) and decoded. The
 * expected RGBA is computed here from the sample values by PNG's own rules (bit
 * replication for low depths, correctly rounded 16 -> 8), independently of libpng's
 * transformations, and compared exactly. Damaged files must fail with the right reason:
 * truncated at several places, a bad CRC, a header claiming huge dimensions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <png.h>

#include "illgan/image.h"

#define W 13
#define H 11

typedef struct {
    uint8_t *buf;
    size_t len, cap;
} membuf;

static void mem_write(png_structp png, png_bytep data, size_t n)
{
    membuf *m = png_get_io_ptr(png);
    if (m->len + n > m->cap) {
        m->cap = (m->len + n) * 2;
        m->buf = realloc(m->buf, m->cap);
        assert_non_null(m->buf);
    }
    memcpy(m->buf + m->len, data, n);
    m->len += n;
}

static void mem_flush(png_structp png)
{
    (void)png;
}

static int channels_of(int color)
{
    switch (color) {
    case PNG_COLOR_TYPE_GRAY: return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    default: return 1; /* palette index */
    }
}

/* Sample value of channel c at (x, y) for a given depth: varied, and covering the range. */
static unsigned sample(int x, int y, int c, int depth)
{
    unsigned max = (1u << depth) - 1;
    unsigned v = (unsigned)(x * 37 + y * 101 + c * 59) * 2654435761u;
    return (v >> 7) % (max + 1);
}

typedef struct {
    int color, depth, interlace;
    int trns;          /* write a tRNS chunk */
    png_color palette[256];
    png_byte trans_alpha[256];
    int npalette, ntrans;
    png_color_16 trans_color;
} fixture;

/* Writes the fixture's W x H picture as PNG into m. */
static void write_fixture(const fixture *f, membuf *m)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_non_null(info);
    if (setjmp(png_jmpbuf(png)))
        fail_msg("libpng failed writing a fixture");
    png_set_write_fn(png, m, mem_write, mem_flush);
    png_set_IHDR(png, info, W, H, f->depth, f->color, f->interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (f->color == PNG_COLOR_TYPE_PALETTE)
        png_set_PLTE(png, info, f->palette, f->npalette);
    if (f->trns)
        png_set_tRNS(png, info, f->trans_alpha, f->ntrans, &f->trans_color);
    png_write_info(png, info);
    int ch = channels_of(f->color);
    size_t rowbytes = ((size_t)W * ch * f->depth + 7) / 8;
    uint8_t *rows = calloc(H, rowbytes);
    png_bytep rp[H];
    assert_non_null(rows);
    for (int y = 0; y < H; y++) {
        uint8_t *row = rows + y * rowbytes;
        rp[y] = row;
        for (int x = 0; x < W; x++)
            for (int c = 0; c < ch; c++) {
                unsigned v = sample(x, y, c, f->depth);
                size_t bit = ((size_t)x * ch + c) * f->depth;
                if (f->depth == 16) {
                    row[bit / 8] = (uint8_t)(v >> 8);
                    row[bit / 8 + 1] = (uint8_t)v;
                } else if (f->depth == 8) {
                    row[bit / 8] = (uint8_t)v;
                } else {
                    row[bit / 8] |= (uint8_t)(v << (8 - f->depth - bit % 8));
                }
            }
    }
    png_write_image(png, rp);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(rows);
}

/* PNG's own rules, by hand: depth d < 8 scales by bit replication (= v * 255 / max),
 * 16 bits to 8 rounds v * 255 / 65535. */
static unsigned to8(unsigned v, int depth)
{
    if (depth == 16)
        return (v * 255u + 32767u) / 65535u;
    return v * 255u / ((1u << depth) - 1);
}

static void expected_rgba(const fixture *f, uint8_t *out)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = out + ((size_t)y * W + x) * 4;
            unsigned s[4];
            for (int c = 0; c < 4; c++)
                s[c] = sample(x, y, c, f->depth);
            switch (f->color) {
            case PNG_COLOR_TYPE_GRAY:
                p[0] = p[1] = p[2] = (uint8_t)to8(s[0], f->depth);
                p[3] = f->trns && s[0] == f->trans_color.gray ? 0 : 255;
                break;
            case PNG_COLOR_TYPE_GRAY_ALPHA:
                p[0] = p[1] = p[2] = (uint8_t)to8(s[0], f->depth);
                p[3] = (uint8_t)to8(s[1], f->depth);
                break;
            case PNG_COLOR_TYPE_RGB:
                for (int c = 0; c < 3; c++)
                    p[c] = (uint8_t)to8(s[c], f->depth);
                p[3] = f->trns && s[0] == f->trans_color.red && s[1] == f->trans_color.green &&
                               s[2] == f->trans_color.blue
                           ? 0
                           : 255;
                break;
            case PNG_COLOR_TYPE_RGB_ALPHA:
                for (int c = 0; c < 4; c++)
                    p[c] = (uint8_t)to8(s[c], f->depth);
                break;
            default: { /* palette */
                const png_color *e = &f->palette[s[0]];
                p[0] = e->red;
                p[1] = e->green;
                p[2] = e->blue;
                p[3] = f->trns && (int)s[0] < f->ntrans ? f->trans_alpha[s[0]] : 255;
            }
            }
        }
}

static const char *color_name(int color)
{
    switch (color) {
    case PNG_COLOR_TYPE_GRAY: return "grey";
    case PNG_COLOR_TYPE_GRAY_ALPHA: return "grey+alpha";
    case PNG_COLOR_TYPE_RGB: return "RGB";
    case PNG_COLOR_TYPE_RGB_ALPHA: return "RGBA";
    default: return "palette";
    }
}

/* Encodes, decodes and compares one fixture; returns the number of differing bytes. */
static int check_fixture(const fixture *f)
{
    membuf m = {0};
    write_fixture(f, &m);
    image_rgba im;
    image_status why;
    char err[256];
    int rc = image_decode_memory_ex(&im, m.buf, m.len, 0, &why, err, sizeof err);
    if (rc != 0)
        fail_msg("%s %d-bit%s: %s", color_name(f->color), f->depth,
                 f->interlace ? " interlaced" : "", err);
    assert_int_equal(why, IMAGE_OK);
    assert_int_equal(im.width, W);
    assert_int_equal(im.height, H);
    uint8_t want[W * H * 4];
    expected_rgba(f, want);
    int diff = 0;
    for (int i = 0; i < W * H * 4; i++)
        diff += im.rgba[i] != want[i];
    printf("  %-10s %2d-bit %-10s %-4s %zu bytes: %d of %d values differ\n",
           color_name(f->color), f->depth, f->interlace ? "interlaced" : "plain",
           f->trns ? "tRNS" : "", m.len, diff, W * H * 4);
    image_rgba_free(&im);
    free(m.buf);
    return diff;
}

static void fill_palette(fixture *f)
{
    f->npalette = 1 << f->depth;
    for (int i = 0; i < f->npalette; i++) {
        f->palette[i].red = (png_byte)(i * 53 + 7);
        f->palette[i].green = (png_byte)(255 - i * 31);
        f->palette[i].blue = (png_byte)(i * 97 + 100);
        f->trans_alpha[i] = (png_byte)(i * 71);
    }
}

static void test_every_type_and_depth(void **state)
{
    (void)state;
    static const struct {
        int color, depth;
    } kinds[] = {
        {PNG_COLOR_TYPE_GRAY, 1}, {PNG_COLOR_TYPE_GRAY, 2}, {PNG_COLOR_TYPE_GRAY, 4},
        {PNG_COLOR_TYPE_GRAY, 8}, {PNG_COLOR_TYPE_GRAY, 16},
        {PNG_COLOR_TYPE_GRAY_ALPHA, 8}, {PNG_COLOR_TYPE_GRAY_ALPHA, 16},
        {PNG_COLOR_TYPE_RGB, 8}, {PNG_COLOR_TYPE_RGB, 16},
        {PNG_COLOR_TYPE_RGB_ALPHA, 8}, {PNG_COLOR_TYPE_RGB_ALPHA, 16},
        {PNG_COLOR_TYPE_PALETTE, 1}, {PNG_COLOR_TYPE_PALETTE, 2},
        {PNG_COLOR_TYPE_PALETTE, 4}, {PNG_COLOR_TYPE_PALETTE, 8},
    };
    int total = 0, cases = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (int interlace = 0; interlace <= 1; interlace++) {
            fixture f = {.color = kinds[k].color, .depth = kinds[k].depth,
                         .interlace = interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE};
            if (f.color == PNG_COLOR_TYPE_PALETTE)
                fill_palette(&f);
            total += check_fixture(&f);
            cases++;
        }
    printf("%d fixtures, %d differing values in all\n", cases, total);
    assert_int_equal(total, 0);
}

static void test_trns_transparency(void **state)
{
    (void)state;
    int total = 0;
    for (int interlace = 0; interlace <= 1; interlace++) {
        int il = interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE;
        /* palette with per-entry alpha, shorter than the palette */
        fixture f = {.color = PNG_COLOR_TYPE_PALETTE, .depth = 4, .interlace = il, .trns = 1};
        fill_palette(&f);
        f.ntrans = 9;
        total += check_fixture(&f);
        fixture p8 = {.color = PNG_COLOR_TYPE_PALETTE, .depth = 8, .interlace = il, .trns = 1};
        fill_palette(&p8);
        p8.ntrans = 256;
        total += check_fixture(&p8);
        /* grey and RGB with one transparent colour, one that occurs in the picture */
        fixture g2 = {.color = PNG_COLOR_TYPE_GRAY, .depth = 2, .interlace = il, .trns = 1};
        g2.trans_color.gray = (png_uint_16)sample(0, 0, 0, 2);
        total += check_fixture(&g2);
        fixture g8 = {.color = PNG_COLOR_TYPE_GRAY, .depth = 8, .interlace = il, .trns = 1};
        g8.trans_color.gray = (png_uint_16)sample(3, 4, 0, 8);
        total += check_fixture(&g8);
        fixture g16 = {.color = PNG_COLOR_TYPE_GRAY, .depth = 16, .interlace = il, .trns = 1};
        g16.trans_color.gray = (png_uint_16)sample(5, 2, 0, 16);
        total += check_fixture(&g16);
        fixture rgb = {.color = PNG_COLOR_TYPE_RGB, .depth = 8, .interlace = il, .trns = 1};
        rgb.trans_color.red = (png_uint_16)sample(6, 6, 0, 8);
        rgb.trans_color.green = (png_uint_16)sample(6, 6, 1, 8);
        rgb.trans_color.blue = (png_uint_16)sample(6, 6, 2, 8);
        total += check_fixture(&rgb);
    }
    assert_int_equal(total, 0);
}

/* A small valid RGB PNG from our own encoder. */
static void sample_png(uint8_t **png, size_t *len)
{
    uint8_t rgb[W * H * 3];
    for (int i = 0; i < W * H * 3; i++)
        rgb[i] = (uint8_t)sample(i, i / 7, 0, 8);
    char err[256];
    assert_int_equal(image_png_encode_rgb(png, len, rgb, W, H, err, sizeof err), 0);
}

static void expect_failure(const uint8_t *data, size_t len, image_status want, const char *what)
{
    image_rgba im = {(uint8_t *)1, 5, 5};
    image_status why = IMAGE_OK;
    char err[256] = "";
    int rc = image_decode_memory_ex(&im, data, len, 0, &why, err, sizeof err);
    printf("  %-34s -> %s: %s\n", what, image_status_name(why), err);
    assert_int_equal(rc, -1);
    assert_int_equal(why, want);
    assert_null(im.rgba);
    assert_true(err[0] != '\0');
}

static void test_truncated(void **state)
{
    (void)state;
    uint8_t *png;
    size_t len;
    sample_png(&png, &len);
    size_t cuts[] = {3, 8, 20, 33, 40, len / 2, len - 12, len - 1};
    char what[64];
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        snprintf(what, sizeof what, "cut at %zu of %zu bytes", cuts[k], len);
        expect_failure(png, cuts[k], IMAGE_ERR_TRUNCATED, what);
    }
    free(png);
}

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return c ^ 0xffffffffu;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void test_corrupt_and_huge(void **state)
{
    (void)state;
    uint8_t *png;
    size_t len;
    sample_png(&png, &len);
    uint8_t *bad = malloc(len);
    assert_non_null(bad);

    /* IHDR is at offset 8: length(4) "IHDR" width(4) height(4) ... crc at 29 */
    memcpy(bad, png, len);
    bad[30] ^= 0x55; /* inside the CRC of IHDR */
    expect_failure(bad, len, IMAGE_ERR_CORRUPT, "bad IHDR CRC");

    memcpy(bad, png, len);
    bad[45] ^= 0xff; /* inside IDAT's data: its CRC no longer matches */
    expect_failure(bad, len, IMAGE_ERR_CORRUPT, "damaged IDAT");

    static const uint32_t dims[][2] = {
        {100000, 100000}, {0x7fffffffu, 0x7fffffffu}, {8193, 8193}, {70000, 1}, {1, 70000}};
    for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++) {
        memcpy(bad, png, len);
        put32(bad + 16, dims[k][0]);
        put32(bad + 20, dims[k][1]);
        put32(bad + 29, crc32_of(bad + 12, 17));
        char what[64];
        snprintf(what, sizeof what, "header claims %u x %u", dims[k][0], dims[k][1]);
        expect_failure(bad, len, IMAGE_ERR_TOO_LARGE, what);
    }
    free(bad);
    free(png);
}

static void test_not_images(void **state)
{
    (void)state;
    expect_failure((const uint8_t *)"", 0, IMAGE_ERR_EMPTY, "zero bytes");
    const char *text = "just some text, not a picture\n";
    expect_failure((const uint8_t *)text, strlen(text), IMAGE_ERR_NOT_IMAGE, "text");
    expect_failure((const uint8_t *)"GIF89a\x01\0\x01\0\0\0\0;", 14, IMAGE_ERR_UNSUPPORTED,
                   "GIF");
    const char *svg = "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>";
    expect_failure((const uint8_t *)svg, strlen(svg), IMAGE_ERR_UNSUPPORTED, "SVG");
    expect_failure((const uint8_t *)"RIFF\0\0\0\0WEBPVP8 ", 16, IMAGE_ERR_UNSUPPORTED, "WebP");
}

static void test_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/illgan-test-png-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], empty[256], missing[256];
    snprintf(path, sizeof path, "%s/out.png", dir);
    snprintf(empty, sizeof empty, "%s/empty.png", dir);
    snprintf(missing, sizeof missing, "%s/missing.png", dir);
    uint8_t rgb[W * H * 3];
    for (int i = 0; i < W * H * 3; i++)
        rgb[i] = (uint8_t)(i * 7);
    char err[256];
    assert_int_equal(image_png_write_rgb(path, rgb, W, H, err, sizeof err), 0);
    image_rgba im;
    image_status why;
    assert_int_equal(image_decode_file_ex(&im, path, 0, &why, err, sizeof err), 0);
    int diff = 0;
    for (int i = 0; i < W * H; i++)
        for (int c = 0; c < 4; c++)
            diff += im.rgba[i * 4 + c] != (c < 3 ? rgb[i * 3 + c] : 255);
    printf("file round trip: %d values differ\n", diff);
    assert_int_equal(diff, 0);
    image_rgba_free(&im);

    FILE *f = fopen(empty, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(image_decode_file_ex(&im, empty, 0, &why, err, sizeof err), -1);
    assert_int_equal(why, IMAGE_ERR_EMPTY);
    assert_int_equal(image_decode_file_ex(&im, missing, 0, &why, err, sizeof err), -1);
    assert_int_equal(why, IMAGE_ERR_READ);
    printf("missing file: %s\n", err);
    assert_int_equal(image_decode_file_ex(&im, dir, 0, &why, err, sizeof err), -1);
    assert_int_equal(why, IMAGE_ERR_READ);

    /* The atomic write leaves nothing else behind. */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 2", dir);
    assert_int_equal(system(cmd), 0);
    unlink(path);
    unlink(empty);
    rmdir(dir);
}

static void test_encode_deterministic(void **state)
{
    (void)state;
    uint8_t *a, *b;
    size_t la, lb;
    sample_png(&a, &la);
    sample_png(&b, &lb);
    printf("two encodes: %zu and %zu bytes\n", la, lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(a);
    free(b);
    char err[256];
    assert_int_equal(image_png_encode_rgb(&a, &la, (const uint8_t *)"", 0, 5, err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type_and_depth),
        cmocka_unit_test(test_trns_transparency),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupt_and_huge),
        cmocka_unit_test(test_not_images),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_encode_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
