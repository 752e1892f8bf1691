/* data/dataset: the training set in memory.
 *
 * dataset_load reads every .png/.jpg/.jpeg file directly inside one folder, in byte order
 * of file name (so an index names the same image on every load), into one (count, side,
 * side, 3) uint8 array, compositing any transparency onto white. Decoding is split over a
 * few threads of its own (one per core, at most 8), each taking every T-th file; when
 * several files are bad, the error reported is the first by name, whatever the timing.
 * No cache is kept: decoding 20,000 64x64 PNGs takes about a second, and a raw cache of
 * them would be 245 MB beside 60 MB of pictures.
 *
 * dataset_synthetic draws anti-aliased discs and squares of a few colours on plain
 * backgrounds: simple enough that a tiny GAN visibly learns them in minutes. Image i is a
 * function of (seed, i) alone. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "illgan/data.h"
#include "illgan/image.h"
#include "illgan/nn.h"
#include "illgan/util.h"

static const uint8_t white[3] = {255, 255, 255};

void dataset_free(dataset *ds)
{
    if (!ds)
        return;
    if (ds->names)
        for (int i = 0; i < ds->count; i++)
            free(ds->names[i]);
    free(ds->names);
    free(ds->pixels);
    free(ds->dir);
    memset(ds, 0, sizeof *ds);
}

static int is_image_name(const char *name)
{
    if (name[0] == '.')
        return 0;
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") ||
                   !strcasecmp(dot, ".jpeg"));
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names of the image files in dir (regular files, links followed). */
static int list_images(const char *dir, char ***names_out, int *count_out, char *err,
                       size_t errlen)
{
    *names_out = NULL;
    *count_out = 0;
    DIR *d = opendir(dir);
    if (!d)
        return util_fail(err, errlen, "cannot read the folder %s: %s", dir, strerror(errno));
    char **names = NULL;
    int count = 0, cap = 0;
    size_t dirlen = strlen(dir);
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (!is_image_name(e->d_name))
            continue;
        if (e->d_type != DT_REG) {
            /* links and file systems without d_type: ask stat */
            size_t plen = dirlen + strlen(e->d_name) + 2;
            char *p = malloc(plen);
            if (!p)
                goto nomem;
            snprintf(p, plen, "%s/%s", dir, e->d_name);
            struct stat st;
            int regular = stat(p, &st) == 0 && S_ISREG(st.st_mode);
            free(p);
            if (!regular)
                continue;
        }
        if (count == cap) {
            int ncap = cap ? cap * 2 : 256;
            char **n = realloc(names, (size_t)ncap * sizeof *n);
            if (!n)
                goto nomem;
            names = n;
            cap = ncap;
        }
        if (!(names[count] = strdup(e->d_name)))
            goto nomem;
        count++;
        if (count == 0x7fffffff)
            break;
        errno = 0;
    }
    if (errno != 0) {
        int er = errno;
        closedir(d);
        for (int i = 0; i < count; i++)
            free(names[i]);
        free(names);
        return util_fail(err, errlen, "cannot read the folder %s: %s", dir, strerror(er));
    }
    closedir(d);
    if (count > 1)
        qsort(names, (size_t)count, sizeof *names, cmp_names);
    *names_out = names;
    *count_out = count;
    return 0;
nomem:
    closedir(d);
    for (int i = 0; i < count; i++)
        free(names[i]);
    free(names);
    return util_fail(err, errlen, "out of memory listing %s", dir);
}

/* Decodes image i into its slot; returns 0 or -1 with a message naming the file. */
static int load_one(const dataset *ds, int i, char *err, size_t errlen)
{
    size_t plen = strlen(ds->dir) + strlen(ds->names[i]) + 2;
    char *path = malloc(plen);
    if (!path)
        return util_fail(err, errlen, "out of memory");
    snprintf(path, plen, "%s/%s", ds->dir, ds->names[i]);
    image_rgba im;
    char why[256];
    int rc = 0;
    if (image_decode_file(&im, path, why, sizeof why) != 0) {
        rc = util_fail(err, errlen, "%s: %s", path, why);
    } else if (im.width != ds->side || im.height != ds->side) {
        rc = util_fail(err, errlen,
                  "%s is %d x %d pixels, not %d x %d: every image of a training set must "
                  "have the model's size (`illgan prepare --size %d SRC DIR` makes them so)",
                  path, im.width, im.height, ds->side, ds->side, ds->side);
    } else {
        image_composite_rgb(ds->pixels + (size_t)i * ds->side * ds->side * 3, &im, white);
    }
    image_rgba_free(&im);
    free(path);
    return rc;
}

typedef struct {
    const dataset *ds;
    int first, stride;
    int bad;        /* index of this worker's first failure, or -1 */
    char err[512];
} load_worker;

static void *load_run(void *arg)
{
    load_worker *w = arg;
    w->bad = -1;
    for (int i = w->first; i < w->ds->count; i += w->stride)
        if (load_one(w->ds, i, w->err, sizeof w->err) != 0) {
            w->bad = i;
            break;
        }
    return NULL;
}

/* Side of the first image, for side <= 0. */
static int first_side(const dataset *ds, int *side, char *err, size_t errlen)
{
    size_t plen = strlen(ds->dir) + strlen(ds->names[0]) + 2;
    char *path = malloc(plen);
    if (!path)
        return util_fail(err, errlen, "out of memory");
    snprintf(path, plen, "%s/%s", ds->dir, ds->names[0]);
    image_rgba im;
    char why[256];
    int rc = 0;
    if (image_decode_file(&im, path, why, sizeof why) != 0)
        rc = util_fail(err, errlen, "%s: %s", path, why);
    else if (im.width != im.height)
        rc = util_fail(err, errlen, "%s is %d x %d pixels: training images must be square", path,
                  im.width, im.height);
    else
        *side = im.width;
    image_rgba_free(&im);
    free(path);
    return rc;
}

int dataset_load(dataset *ds, const char *dir, int side, char *err, size_t errlen)
{
    memset(ds, 0, sizeof *ds);
    if (side > IMAGE_MAX_SIDE)
        return util_fail(err, errlen, "image side %d is too large", side);
    if (!(ds->dir = strdup(dir)))
        return util_fail(err, errlen, "out of memory");
    if (list_images(dir, &ds->names, &ds->count, err, errlen) != 0) {
        dataset_free(ds);
        return -1;
    }
    if (ds->count == 0) {
        dataset_free(ds);
        return util_fail(err, errlen,
                    "%s holds no images (.png, .jpg or .jpeg files); make a training set "
                    "with `illgan prepare SRC %s`", dir, dir);
    }
    if (side <= 0 && first_side(ds, &side, err, errlen) != 0) {
        dataset_free(ds);
        return -1;
    }
    ds->side = side;
    size_t per = (size_t)side * side * 3;
    if ((size_t)ds->count > SIZE_MAX / per ||
        !(ds->pixels = malloc((size_t)ds->count * per))) {
        int n = ds->count;
        dataset_free(ds);
        return util_fail(err, errlen, "out of memory for %d images of %d x %d", n, side, side);
    }

    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int nthreads = cores < 1 ? 1 : cores > 8 ? 8 : (int)cores;
    if (nthreads > ds->count / 64 + 1)
        nthreads = ds->count / 64 + 1;
    load_worker workers[8];
    pthread_t tids[8];
    int started = 0;
    for (int t = 0; t < nthreads; t++) {
        workers[t] = (load_worker){.ds = ds, .first = t, .stride = nthreads, .bad = -1};
        if (t > 0 && pthread_create(&tids[t], NULL, load_run, &workers[t]) == 0)
            started |= 1 << t;
    }
    load_run(&workers[0]);
    /* A worker that could not start has its share done here. */
    for (int t = 1; t < nthreads; t++)
        if (!(started & 1 << t))
            load_run(&workers[t]);
    for (int t = 1; t < nthreads; t++)
        if (started & 1 << t)
            pthread_join(tids[t], NULL);
    int bad = -1, who = -1;
    for (int t = 0; t < nthreads; t++)
        if (workers[t].bad >= 0 && (bad < 0 || workers[t].bad < bad)) {
            bad = workers[t].bad;
            who = t;
        }
    if (bad >= 0) {
        util_fail(err, errlen, "%s", workers[who].err);
        dataset_free(ds);
        return -1;
    }
    return 0;
}

void dataset_image_float(const dataset *ds, int i, int flip, float *out)
{
    const int side = ds->side;
    const uint8_t *img = ds->pixels + (size_t)i * side * side * 3;
    const float scale = 2.0f / 255.0f;
    for (int y = 0; y < side; y++) {
        const uint8_t *row = img + (size_t)y * side * 3;
        float *o = out + (size_t)y * side * 3;
        for (int x = 0; x < side; x++) {
            const uint8_t *p = row + (size_t)(flip ? side - 1 - x : x) * 3;
            o[x * 3 + 0] = p[0] * scale - 1.0f;
            o[x * 3 + 1] = p[1] * scale - 1.0f;
            o[x * 3 + 2] = p[2] * scale - 1.0f;
        }
    }
}

/* ---- the built-in synthetic set ------------------------------------------------------ */

static const uint8_t synth_backgrounds[][3] = {
    {245, 240, 228}, {40, 44, 52}, {200, 222, 238}, {226, 240, 214}, {110, 96, 128},
};
static const uint8_t synth_inks[][3] = {
    {214, 48, 49}, {36, 120, 210}, {250, 196, 40}, {46, 160, 90}, {250, 250, 250},
    {24, 24, 24},
};

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int luma(const uint8_t c[3])
{
    return (299 * c[0] + 587 * c[1] + 114 * c[2]) / 1000;
}

/* One picture: a disc or a square of one ink on one background, 4x4 supersampled. */
static void synth_draw(uint8_t *img, int side, nn_rng *r)
{
    const int nbg = (int)(sizeof synth_backgrounds / sizeof synth_backgrounds[0]);
    const int nink = (int)(sizeof synth_inks / sizeof synth_inks[0]);
    const uint8_t *bg = synth_backgrounds[nn_rng_below(r, (uint32_t)nbg)];
    const uint8_t *ink;
    do /* keep the shape visible: enough contrast in brightness */
        ink = synth_inks[nn_rng_below(r, (uint32_t)nink)];
    while (abs(luma(ink) - luma(bg)) < 60);
    int square = nn_rng_below(r, 2) == 1;
    float rad = side * (0.16f + 0.16f * nn_rng_uniform(r));
    float cx = rad + 1 + (side - 2 * rad - 2) * nn_rng_uniform(r);
    float cy = rad + 1 + (side - 2 * rad - 2) * nn_rng_uniform(r);
    if (square)
        rad *= 0.886f; /* same area as the disc: sqrt(pi) / 2 */
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            int hits = 0;
            for (int sy = 0; sy < 4; sy++)
                for (int sx = 0; sx < 4; sx++) {
                    float dx = x + (sx + 0.5f) / 4 - cx, dy = y + (sy + 0.5f) / 4 - cy;
                    hits += square ? (dx > -rad && dx < rad && dy > -rad && dy < rad)
                                   : (dx * dx + dy * dy < rad * rad);
                }
            uint8_t *p = img + ((size_t)y * side + x) * 3;
            for (int c = 0; c < 3; c++)
                p[c] = (uint8_t)((bg[c] * (16 - hits) + ink[c] * hits + 8) / 16);
        }
}

int dataset_synthetic(dataset *ds, int count, int side, uint64_t seed, char *err,
                      size_t errlen)
{
    memset(ds, 0, sizeof *ds);
    if (count <= 0 || side < 4 || side > 4096)
        return util_fail(err, errlen, "synthetic set: bad count %d or side %d", count, side);
    size_t per = (size_t)side * side * 3;
    ds->dir = strdup("(synthetic)");
    ds->names = calloc((size_t)count, sizeof *ds->names);
    ds->pixels = (size_t)count <= SIZE_MAX / per ? malloc((size_t)count * per) : NULL;
    if (!ds->dir || !ds->names || !ds->pixels) {
        dataset_free(ds);
        return util_fail(err, errlen, "out of memory for %d synthetic images", count);
    }
    ds->count = count;
    ds->side = side;
    for (int i = 0; i < count; i++) {
        char name[32];
        snprintf(name, sizeof name, "synthetic-%05d", i);
        if (!(ds->names[i] = strdup(name))) {
            dataset_free(ds);
            return util_fail(err, errlen, "out of memory for %d synthetic images", count);
        }
        nn_rng r;
        nn_rng_seed(&r, mix64(seed ^ 0x5ca1ab1e0ddba11ull) ^ mix64((uint64_t)i + 1));
        synth_draw(ds->pixels + (size_t)i * per, side, &r);
    }
    return 0;
}
