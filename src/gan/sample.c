/* gan/sample.c: generator snapshots and sampling.
 *
 * A snapshot copies G's weights and fixes batch-norm statistics from a reference batch of
 * 64 latent vectors drawn from the model's reference seed (docs/MODEL.md, "Sampling"; a
 * constant for new models, kept in checkpoints), so an image
 * depends only on its z and the weights, never on the rest of the request. The reference
 * pass uses the same batch-norm code as training, over the whole reference batch; requests
 * are then generated in chunks of a few images to bound memory. Snapshots are immutable after
 * gan_snapshot_take, and generation allocates its own scratch, so any number of threads may
 * generate from one snapshot at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gan/internal.h"
#include "illgan/image.h"

#define CHUNK_IMAGES 16   /* images per generation chunk */
#define CONV_IMAGES 8     /* images per upsample+conv slice */

struct gan_snapshot {
    gan_g_layout gl;
    long step;
    float *w;                       /* (gl.count) G's weights */
    float *stats;                   /* mean then rstd of every block, packed */
    float *mean[GAN_MAX_LEVELS], *rstd[GAN_MAX_LEVELS];
};

/* Scratch for generating n images at once. */
typedef struct {
    float *fc[2];       /* (n, widest FC) */
    float *act[2];      /* (n, largest block tensor) */
    float *up;          /* (CONV_IMAGES, largest upsampled tensor) */
    float *work;        /* convolution workspace */
    void *mem;
} scratch;

static nn_conv_shape shape_of(const gan_conv *c, int n)
{
    nn_conv_shape s = {.n = n, .h = c->side, .w = c->side, .cin = c->cin, .cout = c->cout,
                       .k = 5};
    return s;
}

static int scratch_init(scratch *s, const gan_g_layout *l, int n, char *err, size_t errlen)
{
    /* act holds one block's output (the next block reads it at half resolution, before
     * upsampling); up holds a slice of upsampled input; the RGB output is the caller's. */
    size_t fc = 0, act = 0, up = 0, work = 0;
    for (int i = 0; i < 4; i++)
        fc = fc > (size_t)l->fc[i].out ? fc : (size_t)l->fc[i].out;
    for (int i = 0; i <= l->levels; i++) {
        const gan_conv *c = i < l->levels ? &l->up[i] : &l->out;
        size_t px = (size_t)c->side * c->side;
        if (i < l->levels) {
            act = act > px * c->cout ? act : px * c->cout;
            up = up > px * c->cin ? up : px * c->cin;
        }
        nn_conv_shape sh = shape_of(c, CONV_IMAGES < n ? CONV_IMAGES : n);
        size_t wk = nn_conv2d_workspace_floats(&sh);
        work = work > wk ? work : wk;
    }
    size_t m = (size_t)(CONV_IMAGES < n ? CONV_IMAGES : n);
    size_t total = 2 * fc * n + 2 * act * n + up * m + work + 64;
    float *mem = malloc(total * sizeof(float));
    if (!mem) {
        snprintf(err, errlen, "out of memory: %zu MiB to generate %d images",
                 total * sizeof(float) >> 20, n);
        return -1;
    }
    s->mem = mem;
    s->fc[0] = mem;
    s->fc[1] = s->fc[0] + fc * n;
    s->act[0] = s->fc[1] + fc * n;
    s->act[1] = s->act[0] + act * n;
    s->up = s->act[1] + act * n;
    s->work = s->up + up * m;
    return 0;
}

/* Upsample + conv of block c over n images, CONV_IMAGES at a time: x (n, s/2, s/2, cin) ->
 * y (n, s, s, cout). */
static void upconv(float *y, const float *x, const gan_conv *c, const float *w, int n,
                   scratch *s)
{
    const int half = c->side / 2;
    const size_t in_img = (size_t)half * half * c->cin;
    const size_t out_img = (size_t)c->side * c->side * c->cout;
    for (int i = 0; i < n; i += CONV_IMAGES) {
        int m = n - i < CONV_IMAGES ? n - i : CONV_IMAGES;
        nn_upsample2x_forward(s->up, x + i * in_img, m, half, half, c->cin);
        nn_conv_shape sh = shape_of(c, m);
        nn_conv2d_forward(y + i * out_img, s->up, w + c->w, NULL, &sh, s->work);
    }
}

/* G's forward pass in inference form. With compute_stats, batch-norm statistics of these n
 * images are computed and stored in mean/rstd (the reference pass); otherwise the given
 * ones are applied. */
static void g_eval(const gan_g_layout *l, const float *w, const float *z, int n, float *images,
                   float *const *mean, float *const *rstd, int compute_stats, scratch *s)
{
    const float *x = z;
    for (int i = 0; i < 4; i++) {
        const gan_dense *d = &l->fc[i];
        nn_dense_forward(s->fc[i & 1], x, w + d->w, w + d->b, n, d->in, d->out);
        nn_relu_forward(s->fc[i & 1], s->fc[i & 1], (size_t)n * d->out);
        x = s->fc[i & 1];
    }
    int cur = 0;
    for (int i = 0; i < l->levels; i++) {
        const gan_conv *c = &l->up[i];
        float *y = s->act[cur];
        const size_t rows = (size_t)n * c->side * c->side;
        upconv(y, x, c, w, n, s);
        if (compute_stats)
            nn_batchnorm_forward(y, mean[i], rstd[i], y, w + c->b, rows, c->cout);
        else
            nn_batchnorm_apply(y, y, w + c->b, mean[i], rstd[i], rows, c->cout);
        nn_relu_forward(y, y, rows * c->cout);
        x = y;
        cur ^= 1;
    }
    for (int i = 0; i < n; i += CONV_IMAGES) {
        int m = n - i < CONV_IMAGES ? n - i : CONV_IMAGES;
        const size_t in_img = (size_t)l->side * l->side * l->out.cin;
        const size_t out_img = (size_t)l->side * l->side * 3;
        nn_conv_shape sh = shape_of(&l->out, m);
        nn_conv2d_forward(images + i * out_img, x + i * in_img, w + l->out.w, w + l->out.b,
                          &sh, s->work);
    }
    nn_tanh_forward(images, images, (size_t)n * l->side * l->side * 3);
}

void gan_sample_z(float *z, int n, uint64_t seed)
{
    nn_rng r;
    nn_rng_seed(&r, seed);
    for (size_t i = 0; i < (size_t)n * GAN_Z_DIM; i++)
        z[i] = nn_rng_normal(&r);
}

void gan_snapshot_free(gan_snapshot *s)
{
    if (!s)
        return;
    free(s->w);
    free(s->stats);
    free(s);
}

int gan_snapshot_take(gan_snapshot **out, gan *g, char *err, size_t errlen)
{
    *out = NULL;
    gan_snapshot *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->gl = g->gl;
    s->step = g->step;
    size_t stats = 0;
    for (int i = 0; i < s->gl.levels; i++)
        stats += 2 * (size_t)s->gl.up[i].cout;
    s->w = malloc(sizeof(float) * s->gl.count);
    s->stats = malloc(sizeof(float) * (stats ? stats : 1));
    float *ref_z = malloc(sizeof(float) * GAN_REF_BATCH * GAN_Z_DIM);
    float *ref_img = malloc(sizeof(float) * GAN_REF_BATCH * s->gl.side * s->gl.side * 3);
    scratch sc = {0};
    if (!s->w || !s->stats || !ref_z || !ref_img ||
        scratch_init(&sc, &s->gl, GAN_REF_BATCH, err, errlen)) {
        if (!sc.mem)
            snprintf(err, errlen, "out of memory taking a generator snapshot");
        free(ref_z);
        free(ref_img);
        gan_snapshot_free(s);
        return -1;
    }
    memcpy(s->w, g->gp.w, sizeof(float) * s->gl.count);
    float *p = s->stats;
    for (int i = 0; i < s->gl.levels; i++) {
        s->mean[i] = p;
        s->rstd[i] = p + s->gl.up[i].cout;
        p += 2 * (size_t)s->gl.up[i].cout;
    }
    gan_sample_z(ref_z, GAN_REF_BATCH, g->ref_seed);
    g_eval(&s->gl, s->w, ref_z, GAN_REF_BATCH, ref_img, s->mean, s->rstd, 1, &sc);
    free(sc.mem);
    free(ref_z);
    free(ref_img);
    *out = s;
    return 0;
}

long gan_snapshot_step(const gan_snapshot *s)
{
    return s->step;
}

int gan_snapshot_side(const gan_snapshot *s)
{
    return s->gl.side;
}

int gan_snapshot_generate(const gan_snapshot *s, const float *z, int n, float *images,
                          char *err, size_t errlen)
{
    if (n < 1) {
        snprintf(err, errlen, "n must be at least 1");
        return -1;
    }
    int chunk = n < CHUNK_IMAGES ? n : CHUNK_IMAGES;
    scratch sc;
    if (scratch_init(&sc, &s->gl, chunk, err, errlen))
        return -1;
    const size_t img = (size_t)s->gl.side * s->gl.side * 3;
    for (int i = 0; i < n; i += chunk) {
        int m = n - i < chunk ? n - i : chunk;
        g_eval(&s->gl, s->w, z + (size_t)i * GAN_Z_DIM, m, images + i * img, s->mean, s->rstd,
               0, &sc);
    }
    free(sc.mem);
    return 0;
}

int gan_snapshot_grid_png(const gan_snapshot *s, const float *z, int n, int cols, int pad,
                          uint8_t **png, size_t *len, char *err, size_t errlen)
{
    const int side = s->gl.side;
    float *img = malloc(sizeof(float) * n * side * side * 3);
    if (!img) {
        snprintf(err, errlen, "out of memory for %d images", n);
        return -1;
    }
    int rc = gan_snapshot_generate(s, z, n, img, err, errlen) ||
             image_grid_png(png, len, img, n, side, cols, pad, err, errlen) ? -1 : 0;
    free(img);
    return rc;
}
