/* The training set in memory: dataset_load on folders this test fills itself, its
 * errors, dataset_image_float, and the built-in synthetic set.
 *
 * Fixtures are written with libpng's simplified API (RGB and RGBA) and libjpeg. Loading
 * must give the images in byte order of name, ignore hidden and non-image files, put
 * every pixel where its name says (checked over 300 files, so that the decoding threads
 * each take many), composite transparency onto white exactly, and fail with a message
 * that names the folder or the offending file: missing folder, no images, wrong size,
 * damaged file (the first bad file by name, whatever the thread timing). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/fs.h"
#include <jpeglib.h>
#include <png.h>

#include "illgan/data.h"
#include "illgan/image.h"

static char tmpdir[64];

static void path_in(char *out, size_t len, const char *dir, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

static void write_png(const char *path, const uint8_t *px, int w, int h, int rgba)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = rgba ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&img, path, 0, px, 0, NULL))
        fail_msg("cannot write %s: %s", path, img.message);
}

static void write_jpeg(const char *path, const uint8_t *rgb, int w, int h)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = 3;
    ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 95, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW r = (JSAMPROW)(rgb + (size_t)ci.next_scanline * w * 3);
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    fclose(f);
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* A fresh empty folder under the test's temporary folder. */
static void fresh_dir(char *out, size_t len, const char *name)
{
    path_in(out, len, tmpdir, name);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", out, out);
    assert_int_equal(system(cmd), 0);
}

/* The 8x8 RGB picture number k: every byte a function of (k, position). */
static void picture(uint8_t *rgb, int side, int k)
{
    for (int i = 0; i < side * side * 3; i++)
        rgb[i] = (uint8_t)(k * 31 + i * 7);
}

static void test_load_folder(void **state)
{
    (void)state;
    char dir[128], p[256];
    fresh_dir(dir, sizeof dir, "basic");
    uint8_t px[5][8 * 8 * 3];
    const char *names[] = {"c.png", "a.png", "b.PNG"};
    for (int k = 0; k < 3; k++) {
        picture(px[k], 8, k);
        path_in(p, sizeof p, dir, names[k]);
        write_png(p, px[k], 8, 8, 0);
    }
    /* a JPEG (flat colour: survives compression within a level or two) */
    for (int i = 0; i < 64; i++)
        px[3][i * 3] = 200, px[3][i * 3 + 1] = 100, px[3][i * 3 + 2] = 50;
    path_in(p, sizeof p, dir, "d.jpeg");
    write_jpeg(p, px[3], 8, 8);
    /* RGBA: composited onto white, exactly */
    uint8_t rgba[8 * 8 * 4];
    for (int i = 0; i < 64; i++) {
        rgba[i * 4] = (uint8_t)(i * 4);
        rgba[i * 4 + 1] = 0;
        rgba[i * 4 + 2] = 255;
        rgba[i * 4 + 3] = (uint8_t)(i * 4 + 3);
        for (int c = 0; c < 3; c++)
            px[4][i * 3 + c] = (uint8_t)((rgba[i * 4 + c] * rgba[i * 4 + 3] +
                                          255 * (255 - rgba[i * 4 + 3]) + 127) / 255);
    }
    path_in(p, sizeof p, dir, "e.png");
    write_png(p, rgba, 8, 8, 1);
    /* ignored: hidden, not an image by name, a folder named like an image */
    path_in(p, sizeof p, dir, ".hidden.png");
    write_png(p, px[0], 16, 16, 0);
    path_in(p, sizeof p, dir, "notes.txt");
    write_bytes(p, "hello", 5);
    path_in(p, sizeof p, dir, "folder.png");
    assert_int_equal(mkdir(p, 0777), 0);

    dataset ds;
    char err[512];
    if (dataset_load(&ds, dir, 8, err, sizeof err) != 0)
        fail_msg("%s", err);
    printf("loaded %d images of %d x %d from %s:", ds.count, ds.side, ds.side, ds.dir);
    for (int i = 0; i < ds.count; i++)
        printf(" %s", ds.names[i]);
    printf("\n");
    assert_int_equal(ds.count, 5);
    const char *order[] = {"a.png", "b.PNG", "c.png", "d.jpeg", "e.png"};
    const int which[] = {1, 2, 0, 3, 4};
    for (int i = 0; i < 5; i++) {
        assert_string_equal(ds.names[i], order[i]);
        const uint8_t *got = ds.pixels + (size_t)i * 8 * 8 * 3;
        int worst = 0;
        for (int k = 0; k < 8 * 8 * 3; k++)
            if (abs(got[k] - px[which[i]][k]) > worst)
                worst = abs(got[k] - px[which[i]][k]);
        printf("  %-7s largest difference %d\n", ds.names[i], worst);
        assert_true(i == 3 ? worst <= 3 : worst == 0);
    }
    dataset_free(&ds);

    /* side 0: the first image's */
    assert_int_equal(dataset_load(&ds, dir, 0, err, sizeof err), 0);
    assert_int_equal(ds.side, 8);
    dataset_free(&ds);
}

static void test_many_files_in_order(void **state)
{
    (void)state;
    char dir[128], p[256];
    fresh_dir(dir, sizeof dir, "many");
    const int n = 300, side = 4;
    uint8_t px[4 * 4 * 3];
    for (int k = 0; k < n; k++) {
        picture(px, side, k);
        char name[32];
        snprintf(name, sizeof name, "img-%04d.png", (k * 7919) % n); /* written out of order */
        path_in(p, sizeof p, dir, name);
        picture(px, side, (k * 7919) % n);
        write_png(p, px, side, side, 0);
    }
    dataset ds;
    char err[512];
    if (dataset_load(&ds, dir, side, err, sizeof err) != 0)
        fail_msg("%s", err);
    int wrong = 0;
    for (int i = 0; i < n; i++) {
        char want[32];
        snprintf(want, sizeof want, "img-%04d.png", i);
        picture(px, side, i);
        wrong += strcmp(ds.names[i], want) != 0 ||
                 memcmp(ds.pixels + (size_t)i * side * side * 3, px, sizeof px) != 0;
    }
    printf("%d images, %d out of place\n", ds.count, wrong);
    assert_int_equal(ds.count, n);
    assert_int_equal(wrong, 0);
    dataset_free(&ds);

    /* two damaged files: the error names the first by name, every time */
    path_in(p, sizeof p, dir, "img-0250.png");
    write_bytes(p, "garbage!", 8);
    path_in(p, sizeof p, dir, "img-0150.png");
    write_bytes(p, "", 0);
    for (int rep = 0; rep < 3; rep++) {
        assert_int_equal(dataset_load(&ds, dir, side, err, sizeof err), -1);
        printf("with two damaged files: %s\n", err);
        assert_non_null(strstr(err, "img-0150.png"));
        assert_non_null(strstr(err, "zero bytes"));
        assert_null(ds.pixels);
        assert_int_equal(ds.count, 0);
    }
}

static void test_errors(void **state)
{
    (void)state;
    char dir[128], p[256], err[512];
    dataset ds;

    path_in(dir, sizeof dir, tmpdir, "does-not-exist");
    assert_int_equal(dataset_load(&ds, dir, 8, err, sizeof err), -1);
    printf("missing: %s\n", err);
    assert_non_null(strstr(err, "does-not-exist"));
    assert_non_null(strstr(err, "No such file"));

    fresh_dir(dir, sizeof dir, "empty");
    path_in(p, sizeof p, dir, "readme.txt");
    write_bytes(p, "x", 1);
    assert_int_equal(dataset_load(&ds, dir, 8, err, sizeof err), -1);
    printf("no images: %s\n", err);
    assert_non_null(strstr(err, "holds no images"));

    fresh_dir(dir, sizeof dir, "sizes");
    uint8_t px[16 * 16 * 3];
    picture(px, 16, 1);
    path_in(p, sizeof p, dir, "a.png");
    write_png(p, px, 8, 8, 0);
    path_in(p, sizeof p, dir, "b.png");
    write_png(p, px, 16, 16, 0);
    assert_int_equal(dataset_load(&ds, dir, 8, err, sizeof err), -1);
    printf("wrong size: %s\n", err);
    assert_non_null(strstr(err, "b.png is 16 x 16 pixels, not 8 x 8"));
    assert_non_null(strstr(err, "illgan prepare --size 8"));

    path_in(p, sizeof p, dir, "b.png");
    write_png(p, px, 16, 8, 0);
    path_in(p, sizeof p, dir, "a.png");
    unlink(p);
    assert_int_equal(dataset_load(&ds, dir, 0, err, sizeof err), -1);
    printf("not square: %s\n", err);
    assert_non_null(strstr(err, "must be square"));
}

static void test_image_float(void **state)
{
    (void)state;
    dataset ds;
    char err[128];
    assert_int_equal(dataset_synthetic(&ds, 3, 8, 5, err, sizeof err), 0);
    /* known pixels in image 1 */
    uint8_t *img = ds.pixels + 8 * 8 * 3;
    for (int k = 0; k < 8 * 8 * 3; k++)
        img[k] = (uint8_t)(k % 256);
    img[0] = 0, img[1] = 255, img[2] = 128;
    float out[8 * 8 * 3], flip[8 * 8 * 3];
    dataset_image_float(&ds, 1, 0, out);
    dataset_image_float(&ds, 1, 1, flip);
    printf("pixel (0,0): %g %g %g\n", out[0], out[1], out[2]);
    assert_true(out[0] == -1.0f);
    assert_true(out[1] == 1.0f);
    assert_true(fabsf(out[2] - (128 * 2.0f / 255.0f - 1.0f)) < 1e-7f);
    int bad = 0;
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++)
            for (int c = 0; c < 3; c++) {
                float want = img[(y * 8 + x) * 3 + c] * (2.0f / 255.0f) - 1.0f;
                bad += out[(y * 8 + x) * 3 + c] != want;
                bad += flip[(y * 8 + (7 - x)) * 3 + c] != want;
            }
    printf("plain and mirrored: %d values wrong\n", bad);
    assert_int_equal(bad, 0);
    dataset_free(&ds);
}

static void test_synthetic(void **state)
{
    (void)state;
    dataset a, b, c, d;
    char err[128];
    assert_int_equal(dataset_synthetic(&a, 20, 32, 7, err, sizeof err), 0);
    assert_int_equal(dataset_synthetic(&b, 20, 32, 7, err, sizeof err), 0);
    assert_int_equal(dataset_synthetic(&c, 20, 32, 8, err, sizeof err), 0);
    assert_int_equal(dataset_synthetic(&d, 50, 32, 7, err, sizeof err), 0);
    size_t bytes = (size_t)20 * 32 * 32 * 3;
    assert_memory_equal(a.pixels, b.pixels, bytes);
    assert_memory_equal(a.pixels, d.pixels, bytes); /* a longer set extends a shorter one */
    assert_true(memcmp(a.pixels, c.pixels, bytes) != 0);
    assert_string_equal(a.names[3], "synthetic-00003");
    assert_string_equal(a.dir, "(synthetic)");
    /* each picture: mostly one background, a solid shape, soft edges */
    int distinct_images = 0;
    for (int i = 0; i < 20; i++) {
        const uint8_t *img = a.pixels + (size_t)i * 32 * 32 * 3;
        const uint8_t *corner = img;
        int bg = 0, other = 0;
        for (int k = 0; k < 32 * 32; k++) {
            int same = !memcmp(img + k * 3, corner, 3);
            bg += same;
            other += !same;
        }
        assert_true(bg > 32 * 32 / 3);
        assert_true(other > 32 * 32 / 20);
        distinct_images += i == 0 || memcmp(img, img - 32 * 32 * 3, 32 * 32 * 3) != 0;
    }
    printf("20 synthetic images, %d differ from their predecessor\n", distinct_images);
    assert_int_equal(distinct_images, 20);
    dataset_free(&a);
    dataset_free(&b);
    assert_int_equal(dataset_synthetic(&b, 0, 32, 7, err, sizeof err), -1);
    printf("count 0: %s\n", err);
    dataset_free(&c);
    dataset_free(&d);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/illgan-test-dataset-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return test_remove_tree(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_folder),
        cmocka_unit_test(test_many_files_in_order),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_image_float),
        cmocka_unit_test(test_synthetic),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
