/* data_prepare on a tree of fixtures this test writes itself (libpng, libjpeg).
 *
 * The tree holds: PNGs of several colour types and depths, one interlaced and 16-bit; a
 * JPEG; a transparent picture with known colours, whose composited output is checked
 * pixel by pixel against the browser formula; pictures to shrink, to enlarge, to pad; a
 * truncated PNG and JPEG, a zero-byte file, a header claiming huge dimensions, text, a
 * GIF; exact duplicates (a byte copy, and the same pixels in another encoding); the same
 * file name in two folders; hidden files; and dst inside src. The report and the
 * callbacks must count and name all of it; two runs must give byte-identical folders;
 * a rerun must remove what is no longer made; a folder of someone else's files must be
 * refused and left alone. */
#include <dirent.h>
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

static char tmp[64];

static void pathf(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void pathf(char *out, size_t len, const char *fmt, ...)
{
    char rel[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(out, len, "%s/%s", tmp, rel);
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        fail_msg("command failed: %s", cmd);
}

/* Writes a PNG with the classic API: any colour type, depth, interlacing; samples are
 * given 16-bit-wide and packed here. */
static void write_png(const char *path, int w, int h, int color, int depth, int interlace,
                      const uint16_t *samples)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_non_null(info);
    if (setjmp(png_jmpbuf(png)))
        fail_msg("libpng failed writing %s", path);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_color pal[16];
    if (color == PNG_COLOR_TYPE_PALETTE) {
        for (int i = 0; i < 16; i++)
            pal[i] = (png_color){(png_byte)(i * 16), (png_byte)(255 - i * 16), 128};
        png_set_PLTE(png, info, pal, 1 << depth);
    }
    png_write_info(png, info);
    int ch = color == PNG_COLOR_TYPE_RGB ? 3 : color == PNG_COLOR_TYPE_RGB_ALPHA ? 4
             : color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    size_t rowbytes = ((size_t)w * ch * depth + 7) / 8;
    uint8_t *rows = calloc((size_t)h, rowbytes);
    png_bytep *rp = malloc((size_t)h * sizeof *rp);
    assert_non_null(rows);
    assert_non_null(rp);
    for (int y = 0; y < h; y++) {
        rp[y] = rows + (size_t)y * rowbytes;
        for (int i = 0; i < w * ch; i++) {
            unsigned v = samples[(size_t)y * w * ch + i];
            size_t bit = (size_t)i * depth;
            if (depth == 16) {
                rp[y][bit / 8] = (uint8_t)(v >> 8);
                rp[y][bit / 8 + 1] = (uint8_t)v;
            } else if (depth == 8) {
                rp[y][bit / 8] = (uint8_t)v;
            } else {
                rp[y][bit / 8] |= (uint8_t)(v << (8 - depth - bit % 8));
            }
        }
    }
    png_write_image(png, rp);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(rows);
    free(rp);
    fclose(f);
}

static void write_rgb_png(const char *path, int w, int h, const uint8_t *rgb, int as_rgba)
{
    int ch = as_rgba ? 4 : 3;
    uint16_t *s = malloc(sizeof *s * (size_t)w * h * ch);
    assert_non_null(s);
    for (int i = 0; i < w * h; i++) {
        for (int c = 0; c < 3; c++)
            s[i * ch + c] = rgb[i * 3 + c];
        if (as_rgba)
            s[i * ch + 3] = 255;
    }
    write_png(path, w, h, as_rgba ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB, 8, 0, s);
    free(s);
}

static void write_jpeg(const char *path, int w, int h)
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
    jpeg_set_quality(&ci, 90, TRUE);
    jpeg_start_compress(&ci, TRUE);
    uint8_t *row = malloc((size_t)w * 3);
    assert_non_null(row);
    while (ci.next_scanline < ci.image_height) {
        for (int x = 0; x < w; x++) {
            row[x * 3] = (uint8_t)(x * 255 / w);
            row[x * 3 + 1] = (uint8_t)(ci.next_scanline * 255 / (unsigned)h);
            row[x * 3 + 2] = 90;
        }
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    free(row);
    fclose(f);
}

static void write_bytes(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, n, f), n);
    fclose(f);
}

static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* The transparent fixture: 8 x 8, colours and alphas that cover the range. */
static void transparent_rgba(uint16_t *s)
{
    for (int i = 0; i < 64; i++) {
        s[i * 4 + 0] = (uint16_t)(i * 4);
        s[i * 4 + 1] = (uint16_t)(255 - i * 3);
        s[i * 4 + 2] = (uint16_t)(i * 37 % 256);
        s[i * 4 + 3] = (uint16_t)(i == 0 ? 0 : i == 63 ? 255 : i * 4);
    }
}

static const uint8_t BG[3] = {10, 20, 30};
#define SIZE 8

/* Builds tmp/src; returns how many files the walk must find (hidden ones excluded). */
static int build_tree(void)
{
    char p[512];
    sh("rm -rf '%s/src' && mkdir -p '%s/src/a' '%s/src/b' '%s/src/types' '%s/src/bad' "
       "'%s/src/dup' '%s/src/.hidden' '%s/src/out'",
       tmp, tmp, tmp, tmp, tmp, tmp, tmp, tmp);
    uint16_t s[64 * 64 * 4];
    int files = 0;

    transparent_rgba(s);
    pathf(p, sizeof p, "src/a/face.png");
    write_png(p, 8, 8, PNG_COLOR_TYPE_RGB_ALPHA, 8, 0, s), files++;

    uint8_t rgb[40 * 20 * 3];
    for (int i = 0; i < 8 * 8 * 3; i++)
        rgb[i] = (uint8_t)(i * 5);
    pathf(p, sizeof p, "src/b/face.png");
    write_rgb_png(p, 8, 8, rgb, 0), files++;
    pathf(p, sizeof p, "src/dup/same-pixels-as-b.png");
    write_rgb_png(p, 8, 8, rgb, 1), files++;
    sh("cp '%s/src/b/face.png' '%s/src/dup/copy-of-b.png'", tmp, tmp), files++;

    /* colour types and depths; sizes chosen to exercise crop, pad and both resizes */
    for (int i = 0; i < 64 * 64 * 4; i++)
        s[i] = (uint16_t)(i * 2654435761u >> 13);
    static const struct {
        const char *name;
        int w, h, color, depth, interlace;
    } kinds[] = {
        {"grey1.png", 16, 16, PNG_COLOR_TYPE_GRAY, 1, 0},
        {"grey4.png", 9, 12, PNG_COLOR_TYPE_GRAY, 4, 1},
        {"grey16.png", 8, 8, PNG_COLOR_TYPE_GRAY, 16, 0},
        {"greyalpha.png", 20, 10, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0},
        {"palette2.png", 5, 5, PNG_COLOR_TYPE_PALETTE, 2, 0},
        {"rgb16-interlaced.png", 33, 17, PNG_COLOR_TYPE_RGB, 16, 1},
        {"rgba16.png", 64, 64, PNG_COLOR_TYPE_RGB_ALPHA, 16, 1},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        uint16_t mask = (uint16_t)((1u << kinds[k].depth) - 1);
        uint16_t *v = malloc(sizeof *v * 64 * 64 * 4);
        assert_non_null(v);
        for (int i = 0; i < 64 * 64 * 4; i++)
            v[i] = s[i] & mask;
        pathf(p, sizeof p, "src/types/%s", kinds[k].name);
        write_png(p, kinds[k].w, kinds[k].h, kinds[k].color, kinds[k].depth, kinds[k].interlace,
                  v), files++;
        free(v);
    }
    pathf(p, sizeof p, "src/types/photo.JPG");
    write_jpeg(p, 48, 32), files++;

    /* damaged and foreign files */
    size_t n;
    pathf(p, sizeof p, "src/b/face.png");
    uint8_t *png = read_all(p, &n);
    assert_non_null(png);
    pathf(p, sizeof p, "src/bad/truncated.png");
    write_bytes(p, png, n / 2), files++;
    /* header claims 100000 x 100000: patch IHDR's size, recompute its CRC */
    uint8_t *huge = malloc(n);
    assert_non_null(huge);
    memcpy(huge, png, n);
    const uint8_t dims[8] = {0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0};
    memcpy(huge + 16, dims, 8);
    uint32_t c = 0xffffffffu;
    for (int i = 12; i < 29; i++) {
        c ^= huge[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    c ^= 0xffffffffu;
    huge[29] = (uint8_t)(c >> 24), huge[30] = (uint8_t)(c >> 16);
    huge[31] = (uint8_t)(c >> 8), huge[32] = (uint8_t)c;
    pathf(p, sizeof p, "src/bad/huge.png");
    write_bytes(p, huge, n), files++;
    free(huge);
    free(png);
    pathf(p, sizeof p, "src/types/photo.JPG");
    uint8_t *jpg = read_all(p, &n);
    assert_non_null(jpg);
    pathf(p, sizeof p, "src/bad/truncated.jpg");
    write_bytes(p, jpg, n * 2 / 3), files++;
    free(jpg);
    pathf(p, sizeof p, "src/bad/empty.png");
    write_bytes(p, "", 0), files++;
    pathf(p, sizeof p, "src/bad/notes.txt");
    write_bytes(p, "not a picture\n", 14), files++;
    pathf(p, sizeof p, "src/bad/anim.gif");
    write_bytes(p, "GIF89a\x01\0\x01\0\0\0\0;", 14), files++;

    /* left out: hidden files and folders */
    pathf(p, sizeof p, "src/.DS_Store");
    write_bytes(p, "junk", 4);
    pathf(p, sizeof p, "src/.hidden/secret.png");
    write_rgb_png(p, 8, 8, rgb, 0);
    return files;
}

typedef struct {
    char log[8192];
    size_t at;
    int starts, progress_calls, last_done;
} events;

static void ev_start(void *ctx, int total)
{
    events *e = ctx;
    e->starts++;
    e->at += (size_t)snprintf(e->log + e->at, sizeof e->log - e->at, "start %d\n", total);
}

static void ev_skip(void *ctx, const char *rel, image_status why, const char *detail)
{
    events *e = ctx;
    (void)detail;
    e->at += (size_t)snprintf(e->log + e->at, sizeof e->log - e->at, "skip %s: %s\n", rel,
                              image_status_name(why));
}

static void ev_dup(void *ctx, const char *rel, const char *same)
{
    events *e = ctx;
    e->at += (size_t)snprintf(e->log + e->at, sizeof e->log - e->at, "duplicate %s = %s\n",
                              rel, same);
}

static void ev_progress(void *ctx, int done, int total)
{
    events *e = ctx;
    (void)total;
    assert_int_equal(done, e->last_done + 1);
    e->last_done = done;
    e->progress_calls++;
}

static int run(const char *src, const char *dst, data_prepare_report *rep, events *ev,
               image_fit fit, char *err, size_t errlen)
{
    data_prepare_options o = {.size = SIZE, .fit = fit, .on_start = ev_start,
                              .on_skip = ev_skip, .on_duplicate = ev_dup,
                              .on_progress = ev_progress, .ctx = ev};
    memcpy(o.background, BG, 3);
    memset(ev, 0, sizeof *ev);
    return data_prepare(src, dst, &o, rep, err, errlen);
}

static int count_pngs(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.' && strstr(e->d_name, ".png") != NULL;
    closedir(d);
    return n;
}

static void test_report_and_outputs(void **state)
{
    (void)state;
    int files = build_tree();
    char src[256], dst[256], err[512];
    pathf(src, sizeof src, "src");
    pathf(dst, sizeof dst, "src/out"); /* inside src: must not be read as input */
    data_prepare_report rep;
    events ev;
    if (run(src, dst, &rep, &ev, IMAGE_FIT_CROP, err, sizeof err) != 0)
        fail_msg("%s", err);
    printf("%s", ev.log);
    printf("found %d, written %d, skipped %d, duplicates %d, removed %d\n", rep.found,
           rep.written, rep.skipped, rep.duplicates, rep.removed);
    assert_int_equal(rep.found, files);
    assert_int_equal(rep.skipped, 6);
    assert_int_equal(rep.skipped_by[IMAGE_ERR_TRUNCATED], 2);
    assert_int_equal(rep.skipped_by[IMAGE_ERR_TOO_LARGE], 1);
    assert_int_equal(rep.skipped_by[IMAGE_ERR_EMPTY], 1);
    assert_int_equal(rep.skipped_by[IMAGE_ERR_NOT_IMAGE], 1);
    assert_int_equal(rep.skipped_by[IMAGE_ERR_UNSUPPORTED], 1);
    assert_int_equal(rep.duplicates, 2);
    assert_int_equal(rep.written, files - 6 - 2);
    assert_int_equal(count_pngs(dst), rep.written);
    assert_int_equal(ev.starts, 1);
    assert_int_equal(ev.progress_calls, files);
    /* events come in path order; duplicates name the first of their kind */
    const char *want =
        "start 18\n"
        "skip bad/anim.gif: unsupported format\n"
        "skip bad/empty.png: zero bytes\n"
        "skip bad/huge.png: too large\n"
        "skip bad/notes.txt: not an image\n"
        "skip bad/truncated.jpg: truncated\n"
        "skip bad/truncated.png: truncated\n"
        "duplicate dup/copy-of-b.png = b/face.png\n"
        "duplicate dup/same-pixels-as-b.png = b/face.png\n";
    assert_string_equal(ev.log, want);

    /* same file name in two folders: two outputs, named after their paths */
    char man[300];
    pathf(man, sizeof man, "src/out/%s", DATA_PREPARE_MANIFEST);
    size_t n;
    char *m = (char *)read_all(man, &n);
    assert_non_null(m);
    m[n] = '\0';
    printf("manifest:\n%s", m);
    assert_non_null(strstr(m, "state complete\n"));
    assert_non_null(strstr(m, "written 10\n"));
    assert_non_null(strstr(m, "size 8\nbackground 0a141e\ncrop center\n"));
    char *a = strstr(m, "\na_face-"), *b = strstr(m, "\nb_face-");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(strstr(m, ".png\ta/face.png\n"));
    assert_non_null(strstr(m, ".png\tb/face.png\n"));
    assert_non_null(strstr(m, "types_photo-"));
    assert_null(strstr(m, "secret"));

    /* the transparent picture, composited onto BG exactly as a browser does */
    char name[64];
    assert_int_equal(sscanf(a + 1, "%63[^\t]", name), 1);
    char out[300];
    pathf(out, sizeof out, "src/out/%s", name);
    image_rgba im;
    assert_int_equal(image_decode_file(&im, out, err, sizeof err), 0);
    assert_int_equal(im.width, SIZE);
    uint16_t s[64 * 4];
    transparent_rgba(s);
    int bad = 0;
    for (int i = 0; i < 64; i++)
        for (int c = 0; c < 3; c++) {
            unsigned al = s[i * 4 + 3];
            unsigned want_v = (s[i * 4 + c] * al + BG[c] * (255u - al) + 127) / 255;
            bad += im.rgba[i * 4 + c] != want_v;
        }
    printf("%s: %d of 192 composited values differ from the formula\n", name, bad);
    assert_int_equal(bad, 0);
    assert_int_equal(im.rgba[0], BG[0]); /* alpha 0: the background itself */
    assert_int_equal(im.rgba[1], BG[1]);
    assert_int_equal(im.rgba[2], BG[2]);
    image_rgba_free(&im);
    free(m);

    /* the output folder loads as a dataset of its size */
    dataset ds;
    if (dataset_load(&ds, dst, SIZE, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(ds.count, rep.written);
    dataset_free(&ds);
}

static void test_deterministic_and_rerun(void **state)
{
    (void)state;
    build_tree();
    char src[256], d1[256], d2[256], err[512];
    pathf(src, sizeof src, "src");
    pathf(d1, sizeof d1, "run1");
    pathf(d2, sizeof d2, "deeper/run2");
    sh("rm -rf '%s/run1' '%s/deeper'", tmp, tmp);
    data_prepare_report r1, r2;
    events ev;
    assert_int_equal(run(src, d1, &r1, &ev, IMAGE_FIT_PAD, err, sizeof err), 0);
    assert_int_equal(run(src, d2, &r2, &ev, IMAGE_FIT_PAD, err, sizeof err), 0);
    assert_int_equal(r1.written, r2.written);
    /* identical listings and bytes, manifest included */
    sh("diff -r '%s' '%s'", d1, d2);
    printf("two runs: %d files each, identical\n", r1.written);

    /* a rerun in place changes nothing */
    assert_int_equal(run(src, d1, &r2, &ev, IMAGE_FIT_PAD, err, sizeof err), 0);
    assert_int_equal(r2.removed, 0);
    sh("diff -r '%s' '%s'", d1, d2);

    /* a source gone: its output goes too */
    sh("rm '%s/src/types/grey1.png'", tmp);
    assert_int_equal(run(src, d1, &r2, &ev, IMAGE_FIT_PAD, err, sizeof err), 0);
    printf("after removing one source: written %d, removed %d\n", r2.written, r2.removed);
    assert_int_equal(r2.removed, 1);
    assert_int_equal(r2.written, r1.written - 1);
    assert_int_equal(count_pngs(d1), r2.written);
}

static void test_refusals(void **state)
{
    (void)state;
    char src[256], dst[256], keep[300], err[512];
    data_prepare_report rep;
    events ev;
    sh("rm -rf '%s/mine' '%s/one' && mkdir -p '%s/mine' '%s/one'", tmp, tmp, tmp, tmp);
    pathf(keep, sizeof keep, "mine/holiday.png");
    uint8_t rgb[12] = {0};
    write_rgb_png(keep, 2, 2, rgb, 0);
    pathf(src, sizeof src, "one");
    sh("cp '%s' '%s/one/x.png'", keep, tmp);
    pathf(dst, sizeof dst, "mine");
    assert_int_equal(run(src, dst, &rep, &ev, IMAGE_FIT_CROP, err, sizeof err), -1);
    printf("foreign dst: %s\n", err);
    assert_non_null(strstr(err, "holiday.png"));
    assert_int_equal(access(keep, F_OK), 0);

    assert_int_equal(run(src, src, &rep, &ev, IMAGE_FIT_CROP, err, sizeof err), -1);
    printf("same folder: %s\n", err);
    pathf(dst, sizeof dst, "nowhere-out");
    pathf(src, sizeof src, "no-such-src");
    assert_int_equal(run(src, dst, &rep, &ev, IMAGE_FIT_CROP, err, sizeof err), -1);
    printf("missing src: %s\n", err);
    assert_non_null(strstr(err, "no-such-src"));
    pathf(src, sizeof src, "mine/holiday.png");
    assert_int_equal(run(src, dst, &rep, &ev, IMAGE_FIT_CROP, err, sizeof err), -1);
    printf("file as src: %s\n", err);
    assert_non_null(strstr(err, "not a folder"));
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/illgan-test-prepare-XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return test_remove_tree(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_and_outputs),
        cmocka_unit_test(test_deterministic_and_rerun),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
