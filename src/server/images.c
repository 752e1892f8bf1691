/* server/images: /sample (GET and POST), /api/neighbors and /neighbors.png.
 *
 * Images come from the trainer's newest snapshot, never the live model; the snapshot is
 * held (reference-counted) for the whole request. At most max_generate requests generate
 * at once; more are refused with 429 at once rather than queued, so a burst of sampling
 * can neither pile up threads nor take the cores from training. Image i of a seeded
 * request always uses z row i of gan_sample_z(seed, n), so the same seed, n and weights give
 * the same bytes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "illgan/image.h"
#include "server/internal.h"

#define MAX_SAFE_INT 9007199254740991LL

typedef struct {
    trainer_snapshot *snap;
    int slot;
} gen_ctx;

static int gen_begin(server *s, gen_ctx *g, http_reply *r)
{
    g->snap = NULL;
    g->slot = 0;
    if (atomic_fetch_add(&s->generating, 1) >= s->o.max_generate) {
        atomic_fetch_sub(&s->generating, 1);
        atomic_fetch_add(&s->generate_rejected, 1);
        reply_header(r, "Retry-After", "1");
        return reply_error(r, 429, "busy", NULL,
                           "%d image generations are already running; retry shortly",
                           s->o.max_generate);
    }
    g->slot = 1;
    g->snap = trainer_snapshot_acquire(s->o.tr);
    if (!g->snap) {
        atomic_fetch_sub(&s->generating, 1);
        g->slot = 0;
        return reply_error(r, 503, "unavailable", NULL, "no generator snapshot yet");
    }
    return 0;
}

static void gen_end(server *s, gen_ctx *g)
{
    trainer_snapshot_release(g->snap);
    if (g->slot)
        atomic_fetch_sub(&s->generating, 1);
    g->snap = NULL;
    g->slot = 0;
}

static uint64_t random_seed(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
        /* No entropy source: still a valid, reported seed. */
        v = (uint64_t)(server_wall_now() * 1e6);
    }
    return v & (uint64_t)MAX_SAFE_INT;
}

static void image_headers(http_reply *r, long step, int side, const uint64_t *seed)
{
    char v[32];
    snprintf(v, sizeof v, "%ld", step);
    reply_header(r, "X-Illgan-Step", v);
    snprintf(v, sizeof v, "%d", side);
    reply_header(r, "X-Illgan-Side", v);
    if (seed) {
        snprintf(v, sizeof v, "%llu", (unsigned long long)*seed);
        reply_header(r, "X-Illgan-Seed", v);
    }
}

/* Renders z (n rows) into a PNG grid reply. */
static int render_grid(server *s, const float *z, int n, int cols, int pad,
                       const uint64_t *seed, http_reply *r)
{
    gen_ctx g;
    if (gen_begin(s, &g, r))
        return -1;
    const gan_snapshot *snap = trainer_snapshot_get(g.snap);
    int side = gan_snapshot_side(snap);
    long step = gan_snapshot_step(snap);
    uint8_t *png = NULL;
    size_t len = 0;
    char err[256];
    int rc = gan_snapshot_grid_png(snap, z, n, cols, pad, &png, &len, err, sizeof err);
    gen_end(s, &g);
    if (rc)
        return reply_error(r, 500, "internal", NULL, "rendering failed: %s", err);
    image_headers(r, step, side, seed);
    reply_bytes(r, 200, "image/png", png, len);
    return 0;
}

static const char *const sample_params[] = {"n", "seed", "cols", "pad", NULL};

int img_sample_get(server *s, const http_request *q, http_reply *r)
{
    int64_t n, seed, cols, pad;
    if (param_check(q, sample_params, r) || param_int(q, "n", 1, 256, 16, &n, r) ||
        param_int(q, "seed", 0, MAX_SAFE_INT, -1, &seed, r) ||
        param_int(q, "cols", 0, 256, 0, &cols, r) || param_int(q, "pad", 0, 16, 2, &pad, r))
        return -1;
    uint64_t sd = seed < 0 ? random_seed() : (uint64_t)seed;
    float *z = malloc((size_t)n * GAN_Z_DIM * sizeof *z);
    if (!z)
        return reply_error(r, 500, "internal", NULL, "out of memory");
    gan_sample_z(z, (int)n, sd);
    int rc = render_grid(s, z, (int)n, (int)cols, (int)pad, &sd, r);
    free(z);
    return rc;
}

/* An optional integer body key in [lo, hi]. */
static int body_int(cJSON *b, const char *name, int lo, int hi, int def, int *out,
                    http_reply *r)
{
    cJSON *e = cJSON_GetObjectItemCaseSensitive(b, name);
    *out = def;
    if (!e)
        return 0;
    if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble))
        return reply_error(r, 400, "wrong_type", name, "%s must be an integer in %d..%d", name,
                           lo, hi);
    if (e->valuedouble < lo || e->valuedouble > hi)
        return reply_error(r, 400, "out_of_range", name, "%s must be an integer in %d..%d", name,
                           lo, hi);
    *out = (int)e->valuedouble;
    return 0;
}

int img_sample_post(server *s, const http_request *q, http_reply *r)
{
    static const char *const none[] = {NULL};
    cJSON *b;
    if (param_check(q, none, r) || body_object(q, &b, r))
        return -1;
    float *z = NULL;
    int cols, pad, rc = -1;
    for (cJSON *e = b->child; e; e = e->next)
        if (strcmp(e->string, "z") && strcmp(e->string, "cols") && strcmp(e->string, "pad")) {
            reply_error(r, 400, "unknown_key", e->string,
                        "unknown key '%s' (expected z, cols, pad)", e->string);
            goto done;
        }
    if (body_int(b, "cols", 0, 256, 0, &cols, r) || body_int(b, "pad", 0, 16, 2, &pad, r))
        goto done;
    cJSON *zs = cJSON_GetObjectItemCaseSensitive(b, "z");
    if (!zs) {
        reply_error(r, 400, "missing", "z",
                    "z is required: an array of 1..256 arrays of %d numbers", GAN_Z_DIM);
        goto done;
    }
    if (!cJSON_IsArray(zs)) {
        reply_error(r, 400, "wrong_type", "z", "z must be an array of arrays of %d numbers",
                    GAN_Z_DIM);
        goto done;
    }
    int n = cJSON_GetArraySize(zs);
    if (n < 1 || n > 256) {
        reply_error(r, 400, "out_of_range", "z", "z must hold 1..256 vectors, not %d", n);
        goto done;
    }
    z = malloc((size_t)n * GAN_Z_DIM * sizeof *z);
    if (!z) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        goto done;
    }
    int i = 0;
    for (cJSON *v = zs->child; v; v = v->next, i++) {
        if (!cJSON_IsArray(v)) {
            reply_error(r, 400, "wrong_type", "z", "z[%d] must be an array of %d numbers", i,
                        GAN_Z_DIM);
            goto done;
        }
        if (cJSON_GetArraySize(v) != GAN_Z_DIM) {
            reply_error(r, 400, "out_of_range", "z", "z[%d] has %d numbers, not %d", i,
                        cJSON_GetArraySize(v), GAN_Z_DIM);
            goto done;
        }
        int j = 0;
        for (cJSON *x = v->child; x; x = x->next, j++) {
            if (!cJSON_IsNumber(x)) {
                reply_error(r, 400, "wrong_type", "z", "z[%d][%d] must be a number", i, j);
                goto done;
            }
            double d = x->valuedouble;
            if (!isfinite(d) || d < -100 || d > 100) {
                reply_error(r, 400, "out_of_range", "z", "z[%d][%d] must be in -100..100", i, j);
                goto done;
            }
            z[(size_t)i * GAN_Z_DIM + (size_t)j] = (float)d;
        }
    }
    rc = render_grid(s, z, n, cols, pad, NULL, r);
done:
    free(z);
    cJSON_Delete(b);
    return rc;
}

/* ---- neighbours ---------------------------------------------------------------------- */

typedef struct {
    int n, k, pad;
    uint64_t seed;
    long step;
    int side;
    float *img;          /* (n, side, side, 3) generated */
    neighbor *nb;        /* (n, k) */
} nb_result;

static const char *const nb_params[] = {"n", "k", "seed", NULL};
static const char *const nb_png_params[] = {"n", "k", "seed", "pad", NULL};

static int neighbors_run(server *s, const http_request *q, int with_pad, nb_result *res,
                         http_reply *r)
{
    memset(res, 0, sizeof *res);
    int64_t n, k, seed, pad = 2;
    int64_t kmax = s->o.ds->count < 32 ? s->o.ds->count : 32;
    if (param_check(q, with_pad ? nb_png_params : nb_params, r) ||
        param_int(q, "n", 1, 64, 10, &n, r) ||
        param_int(q, "k", 1, kmax, 5 < kmax ? 5 : kmax, &k, r) ||
        param_int(q, "seed", 0, MAX_SAFE_INT, -1, &seed, r) ||
        (with_pad && param_int(q, "pad", 0, 16, 2, &pad, r)))
        return -1;
    res->n = (int)n;
    res->k = (int)k;
    res->pad = (int)pad;
    res->seed = seed < 0 ? random_seed() : (uint64_t)seed;
    gen_ctx g;
    if (gen_begin(s, &g, r))
        return -1;
    const gan_snapshot *snap = trainer_snapshot_get(g.snap);
    res->side = gan_snapshot_side(snap);
    res->step = gan_snapshot_step(snap);
    size_t dim = (size_t)res->side * res->side * 3;
    float *z = malloc((size_t)n * GAN_Z_DIM * sizeof *z);
    uint8_t *bytes = malloc((size_t)n * dim);
    res->img = malloc((size_t)n * dim * sizeof *res->img);
    res->nb = malloc((size_t)n * (size_t)k * sizeof *res->nb);
    char err[256];
    int rc = -1;
    if (!z || !bytes || !res->img || !res->nb) {
        snprintf(err, sizeof err, "out of memory");
    } else {
        gan_sample_z(z, (int)n, res->seed);
        if (!gan_snapshot_generate(snap, z, (int)n, res->img, err, sizeof err)) {
            /* The pixels as the PNG shows them: round((x + 1) * 127.5), clamped. */
            for (size_t i = 0; i < (size_t)n * dim; i++) {
                double v = floor(((double)res->img[i] + 1.0) * 127.5 + 0.5);
                bytes[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
            rc = neighbors_search(s->o.nn, bytes, (int)n, (int)k, res->nb, err, sizeof err);
        }
    }
    gen_end(s, &g);
    free(z);
    free(bytes);
    if (rc) {
        free(res->img);
        free(res->nb);
        res->img = NULL;
        res->nb = NULL;
        return reply_error(r, 500, "internal", NULL, "neighbour search failed: %s", err);
    }
    return 0;
}

int img_neighbors_json(server *s, const http_request *q, http_reply *r)
{
    nb_result res;
    if (neighbors_run(s, q, 0, &res, r))
        return -1;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "step", (double)res.step);
    cJSON_AddNumberToObject(o, "seed", (double)res.seed);
    cJSON_AddNumberToObject(o, "n", res.n);
    cJSON_AddNumberToObject(o, "k", res.k);
    cJSON_AddNumberToObject(o, "dataset_count", s->o.ds->count);
    cJSON *arr = cJSON_AddArrayToObject(o, "results");
    for (int i = 0; i < res.n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "sample", i);
        cJSON *nbs = cJSON_AddArrayToObject(e, "neighbors");
        for (int j = 0; j < res.k; j++) {
            const neighbor *nb = &res.nb[(size_t)i * res.k + j];
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "index", nb->index);
            const char *name = s->o.ds->names ? s->o.ds->names[nb->index] : NULL;
            if (name)
                cJSON_AddStringToObject(x, "name", name);
            else
                cJSON_AddNullToObject(x, "name");
            cJSON_AddNumberToObject(x, "mse", nb->mse);
            cJSON_AddItemToArray(nbs, x);
        }
        cJSON_AddItemToArray(arr, e);
    }
    free(res.img);
    free(res.nb);
    char h[32];
    snprintf(h, sizeof h, "%ld", res.step);
    reply_header(r, "X-Illgan-Step", h);
    return reply_json(r, o);
}

int img_neighbors_png(server *s, const http_request *q, http_reply *r)
{
    nb_result res;
    if (neighbors_run(s, q, 1, &res, r))
        return -1;
    size_t dim = (size_t)res.side * res.side * 3;
    int rows = res.k + 1;
    float *cells = malloc((size_t)rows * res.n * dim * sizeof *cells);
    if (!cells) {
        free(res.img);
        free(res.nb);
        return reply_error(r, 500, "internal", NULL, "out of memory");
    }
    /* Row 0: the generated images; row j: each one's j-th nearest training image. */
    memcpy(cells, res.img, (size_t)res.n * dim * sizeof *cells);
    for (int j = 0; j < res.k; j++)
        for (int i = 0; i < res.n; i++)
            dataset_image_float(s->o.ds, res.nb[(size_t)i * res.k + j].index, 0,
                                cells + ((size_t)(j + 1) * res.n + i) * dim);
    uint8_t *png = NULL;
    size_t len = 0;
    char err[256];
    int rc = image_grid_png(&png, &len, cells, rows * res.n, res.side, res.n, res.pad, err,
                            sizeof err);
    free(cells);
    free(res.img);
    free(res.nb);
    if (rc)
        return reply_error(r, 500, "internal", NULL, "rendering failed: %s", err);
    image_headers(r, res.step, res.side, &res.seed);
    reply_bytes(r, 200, "image/png", png, len);
    return 0;
}
