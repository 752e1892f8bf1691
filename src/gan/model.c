/* gan/model.c: the IllustrationGAN networks (docs/MODEL.md) as forward/backward passes
 * over one arena of activation buffers, and one training iteration: D step(s), Z step,
 * G step(s), each on freshly drawn z, with three Adam optimizers.
 *
 * Guarantees: no allocation inside gan_train_iteration; the same seed, data and
 * hyperparameters give bit-identical weights at a fixed BLAS thread count; everything
 * that influences the next iteration lives in the struct (and so in checkpoints). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gan/internal.h"

/* ---- activation arena ------------------------------------------------------------------ */

typedef struct {
    char *base;   /* NULL while measuring */
    size_t used;
} arena;

static void *carve(arena *a, size_t bytes)
{
    size_t at = (a->used + 63) & ~(size_t)63;
    a->used = at + bytes;
    return a->base ? a->base + at : NULL;
}

static float *carve_f(arena *a, size_t count)
{
    return carve(a, count * sizeof(float));
}

static size_t max_sz(size_t a, size_t b)
{
    return a > b ? a : b;
}

static nn_conv_shape conv_shape(const gan_conv *c, int n)
{
    nn_conv_shape s = {.n = n, .h = c->side, .w = c->side, .cin = c->cin, .cout = c->cout,
                       .k = 5};
    return s;
}

/* Lays every buffer of batch n out in the arena; with a->base NULL it only measures. */
static void plan_buffers(gan *g, arena *a, int n)
{
    const gan_g_layout *gl = &g->gl;
    const gan_d_layout *dl = &g->dl;
    const gan_z_layout *zl = &g->zl;
    const size_t img = (size_t)n * gl->side * gl->side * 3;
    size_t largest = img, work = 0;

    gan_g_acts *ga = &g->ga;
    ga->z = carve_f(a, (size_t)n * GAN_Z_DIM);
    for (int i = 0; i < 4; i++) {
        ga->fc[i] = carve_f(a, (size_t)n * gl->fc[i].out);
        largest = max_sz(largest, (size_t)n * gl->fc[i].out);
    }
    for (int i = 0; i < gl->levels; i++) {
        const gan_conv *c = &gl->up[i];
        size_t px = (size_t)n * c->side * c->side;
        ga->u[i] = carve_f(a, px * c->cin);
        ga->y[i] = carve_f(a, px * c->cout);
        ga->a[i] = carve_f(a, px * c->cout);
        ga->mean[i] = carve_f(a, c->cout);
        ga->rstd[i] = carve_f(a, c->cout);
        largest = max_sz(largest, px * max_sz(c->cin, c->cout));
        nn_conv_shape s = conv_shape(c, n);
        work = max_sz(work, nn_conv2d_workspace_floats(&s));
    }
    ga->img = carve_f(a, img);
    {
        nn_conv_shape s = conv_shape(&gl->out, n);
        work = max_sz(work, nn_conv2d_workspace_floats(&s));
        largest = max_sz(largest, (size_t)n * gl->side * gl->side * gl->out.cin);
    }

    gan_d_acts *da = &g->da;
    for (int i = 0; i < dl->levels; i++) {
        const gan_conv *c = &dl->conv[i];
        size_t px = (size_t)n * c->side * c->side;
        if (i > 0) {
            da->drop[i] = carve_f(a, px * c->cin);
            da->mask[i] = carve(a, px * c->cin);
        }
        da->y[i] = carve_f(a, px * c->cout);
        da->a[i] = carve_f(a, px * c->cout);
        da->p[i] = carve_f(a, px / 4 * c->cout);
        da->arg[i] = carve(a, px / 4 * c->cout);
        da->mean[i] = carve_f(a, c->cout);
        da->rstd[i] = carve_f(a, c->cout);
        largest = max_sz(largest, px * max_sz(c->cin, c->cout));
        nn_conv_shape s = conv_shape(c, n);
        work = max_sz(work, nn_conv2d_workspace_floats(&s));
    }
    const int width = dl->head[0].out, kernels = dl->mb_kernels;
    da->h[0] = carve_f(a, (size_t)n * width);
    da->h[1] = carve_f(a, (size_t)n * width);
    da->mcache = carve_f(a, (size_t)n * kernels * dl->mb_dims);
    da->mbo = carve_f(a, (size_t)n * kernels);
    da->cat = carve_f(a, (size_t)n * (width + kernels));
    da->logit = carve_f(a, (size_t)n);
    largest = max_sz(largest, (size_t)n * max_sz(width, dl->features));
    work = max_sz(work, nn_minibatch_workspace_floats(n, kernels, dl->mb_dims));

    gan_z_acts *za = &g->za;
    for (int i = 0; i < 3; i++)
        za->h[i] = carve_f(a, (size_t)n * zl->fc[i].out);
    za->zhat = carve_f(a, (size_t)n * GAN_Z_DIM);
    largest = max_sz(largest, (size_t)n * zl->fc[0].out);

    g->real = carve_f(a, img);
    g->gbuf[0] = carve_f(a, largest);
    g->gbuf[1] = carve_f(a, largest);
    g->dcat = carve_f(a, (size_t)n * (width + kernels));
    g->dmb = carve_f(a, (size_t)n * kernels);
    g->dfeat = carve_f(a, (size_t)n * dl->features);
    g->dlogit = carve_f(a, (size_t)n);
    g->work = carve_f(a, work);
}

int gan_buffers_resize(gan *g, int n, char *err, size_t errlen)
{
    if (g->arena && g->n == n)
        return 0;
    arena measure = {0};
    plan_buffers(g, &measure, n);
    void *mem = NULL;
    if (posix_memalign(&mem, 64, measure.used) != 0) {
        snprintf(err, errlen, "out of memory: %zu MiB of activations for batch %d",
                 measure.used >> 20, n);
        return -1;
    }
    free(g->arena);
    g->arena = mem;
    g->n = n;
    arena real = {.base = mem};
    plan_buffers(g, &real, n);
    return 0;
}

/* ---- generator ------------------------------------------------------------------------- */

static void dense_fwd(float *y, const float *x, const float *w, const gan_dense *d, int n)
{
    nn_dense_forward(y, x, w + d->w, d->b == GAN_NO_BIAS ? NULL : w + d->b, n, d->in, d->out);
}

/* dw NULL: no parameter gradients. */
static void dense_bwd(float *dx, float *dw, const float *dy, const float *x, const float *w,
                      const gan_dense *d, int n)
{
    nn_dense_backward(dx, dw ? dw + d->w : NULL,
                      dw && d->b != GAN_NO_BIAS ? dw + d->b : NULL, dy, x, w + d->w, n, d->in,
                      d->out);
}

static void g_fc_forward(gan *g, const float *z)
{
    const float *w = g->gp.w;
    const float *x = z;
    for (int i = 0; i < 4; i++) {
        dense_fwd(g->ga.fc[i], x, w, &g->gl.fc[i], g->n);
        nn_relu_forward(g->ga.fc[i], g->ga.fc[i], (size_t)g->n * g->gl.fc[i].out);
        x = g->ga.fc[i];
    }
}

void gan_g_forward(gan *g, const float *z)
{
    const gan_g_layout *l = &g->gl;
    gan_g_acts *A = &g->ga;
    const float *w = g->gp.w;
    const int n = g->n;
    if (z != A->z)
        memcpy(A->z, z, sizeof(float) * n * GAN_Z_DIM);
    g_fc_forward(g, A->z);
    const float *x = A->fc[3]; /* (n, 4, 4, c0) */
    for (int i = 0; i < l->levels; i++) {
        const gan_conv *c = &l->up[i];
        const int half = c->side / 2;
        const size_t rows = (size_t)n * c->side * c->side;
        nn_upsample2x_forward(A->u[i], x, n, half, half, c->cin);
        nn_conv_shape s = conv_shape(c, n);
        nn_conv2d_forward(A->y[i], A->u[i], w + c->w, NULL, &s, g->work);
        nn_batchnorm_forward(A->y[i], A->mean[i], A->rstd[i], A->y[i], w + c->b, rows, c->cout);
        nn_relu_forward(A->a[i], A->y[i], rows * c->cout);
        x = A->a[i];
    }
    nn_conv_shape s = conv_shape(&l->out, n);
    nn_conv2d_forward(A->img, x, w + l->out.w, w + l->out.b, &s, g->work);
    nn_tanh_forward(A->img, A->img, (size_t)n * l->side * l->side * 3);
}

/* d features in d; `other` is the second scratch buffer. Fills G's FC gradients. */
static void g_fc_backward(gan *g, float *d, float *other)
{
    const float *w = g->gp.w;
    float *dw = g->gp.dw;
    for (int i = 3; i >= 0; i--) {
        const gan_dense *fc = &g->gl.fc[i];
        nn_relu_backward(d, d, g->ga.fc[i], (size_t)g->n * fc->out);
        const float *x = i ? g->ga.fc[i - 1] : g->ga.z;
        dense_bwd(i ? other : NULL, dw, d, x, w, fc, g->n);
        float *t = d;
        d = other;
        other = t;
    }
}

void gan_g_fc_backward(gan *g, float *dfeatures)
{
    g_fc_backward(g, dfeatures, dfeatures == g->gbuf[0] ? g->gbuf[1] : g->gbuf[0]);
}

void gan_g_backward(gan *g)
{
    const gan_g_layout *l = &g->gl;
    gan_g_acts *A = &g->ga;
    const float *w = g->gp.w;
    float *dw = g->gp.dw;
    const int n = g->n;
    float *d = g->gbuf[0], *other = g->gbuf[1];

    nn_tanh_backward(d, d, A->img, (size_t)n * l->side * l->side * 3);
    nn_conv_shape s = conv_shape(&l->out, n);
    const float *x = l->levels ? A->a[l->levels - 1] : A->fc[3];
    nn_conv2d_backward(other, dw + l->out.w, dw + l->out.b, d, x, w + l->out.w, &s, g->work);
    /* d(a of the last block) is now in `other` */
    for (int i = l->levels - 1; i >= 0; i--) {
        const gan_conv *c = &l->up[i];
        const size_t rows = (size_t)n * c->side * c->side;
        nn_relu_backward(other, other, A->a[i], rows * c->cout);
        nn_batchnorm_backward(other, dw + c->b, other, A->y[i], w + c->b, A->rstd[i], rows,
                              c->cout);
        s = conv_shape(c, n);
        nn_conv2d_backward(d, dw + c->w, NULL, other, A->u[i], w + c->w, &s, g->work);
        nn_upsample2x_backward(other, d, n, c->side / 2, c->side / 2, c->cin);
    }
    g_fc_backward(g, other, d);
}

/* ---- z-predictor ----------------------------------------------------------------------- */

void gan_z_forward(gan *g)
{
    const float *w = g->zp.w;
    const float *x = g->ga.fc[3];
    for (int i = 0; i < 3; i++) {
        dense_fwd(g->za.h[i], x, w, &g->zl.fc[i], g->n);
        nn_relu_forward(g->za.h[i], g->za.h[i], (size_t)g->n * g->zl.fc[i].out);
        x = g->za.h[i];
    }
    dense_fwd(g->za.zhat, x, w, &g->zl.fc[3], g->n);
}

/* d zhat in gbuf[0]; leaves d features in gbuf[0]. */
static void z_backward(gan *g)
{
    const float *w = g->zp.w;
    float *dw = g->zp.dw;
    float *d = g->gbuf[0], *other = g->gbuf[1];
    for (int i = 3; i >= 0; i--) {
        const gan_dense *fc = &g->zl.fc[i];
        if (i < 3)
            nn_relu_backward(d, d, g->za.h[i], (size_t)g->n * fc->out);
        const float *x = i ? g->za.h[i - 1] : g->ga.fc[3];
        dense_bwd(other, dw, d, x, w, fc, g->n);
        float *t = d;
        d = other;
        other = t;
    }
}

/* ---- discriminator --------------------------------------------------------------------- */

void gan_d_forward(gan *g, const float *x, float keep, nn_rng *dropout)
{
    const gan_d_layout *l = &g->dl;
    gan_d_acts *A = &g->da;
    const float *w = g->dp.w;
    const int n = g->n;
    A->x = x;
    const float *in = x;
    for (int i = 0; i < l->levels; i++) {
        const gan_conv *c = &l->conv[i];
        const size_t rows = (size_t)n * c->side * c->side;
        if (i > 0) {
            nn_dropout_forward(A->drop[i], A->mask[i], in, keep, rows * c->cin, dropout);
            in = A->drop[i];
        }
        nn_conv_shape s = conv_shape(c, n);
        nn_conv2d_forward(A->y[i], in, w + c->w, i == 0 ? w + c->b : NULL, &s, g->work);
        if (i > 0)
            nn_batchnorm_forward(A->y[i], A->mean[i], A->rstd[i], A->y[i], w + c->b, rows,
                                 c->cout);
        nn_leaky_relu_forward(A->a[i], A->y[i], NN_LEAKY_SLOPE, rows * c->cout);
        nn_maxpool2x2_forward(A->p[i], A->arg[i], A->a[i], n, c->side, c->side, c->cout);
        in = A->p[i];
    }
    const float *features = in; /* (n, features) */
    const int width = l->head[0].out, kernels = l->mb_kernels;
    dense_fwd(A->h[0], features, w, &l->head[0], n);
    nn_leaky_relu_forward(A->h[0], A->h[0], NN_LEAKY_SLOPE, (size_t)n * width);
    dense_fwd(A->h[1], A->h[0], w, &l->head[1], n);
    nn_leaky_relu_forward(A->h[1], A->h[1], NN_LEAKY_SLOPE, (size_t)n * width);
    nn_minibatch_forward(A->mbo, A->mcache, features, w + l->mb_t, w + l->mb_bias, n,
                         l->features, kernels, l->mb_dims);
    for (int i = 0; i < n; i++) {
        memcpy(A->cat + (size_t)i * (width + kernels), A->h[1] + (size_t)i * width,
               sizeof(float) * width);
        memcpy(A->cat + (size_t)i * (width + kernels) + width, A->mbo + (size_t)i * kernels,
               sizeof(float) * kernels);
    }
    dense_fwd(A->logit, A->cat, w, &l->logit, n);
}

void gan_d_backward(gan *g, const float *dlogit, int want_dx, int want_dw)
{
    const gan_d_layout *l = &g->dl;
    gan_d_acts *A = &g->da;
    const float *w = g->dp.w;
    float *dw = want_dw ? g->dp.dw : NULL;
    const int n = g->n;
    const int width = l->head[0].out, kernels = l->mb_kernels;
    float *d = g->gbuf[0], *other = g->gbuf[1];

    dense_bwd(g->dcat, dw, dlogit, A->cat, w, &l->logit, n);
    for (int i = 0; i < n; i++) {
        memcpy(d + (size_t)i * width, g->dcat + (size_t)i * (width + kernels),
               sizeof(float) * width);
        memcpy(g->dmb + (size_t)i * kernels, g->dcat + (size_t)i * (width + kernels) + width,
               sizeof(float) * kernels);
    }
    const float *features = A->p[l->levels - 1];
    nn_minibatch_backward(g->dfeat, dw ? dw + l->mb_t : NULL, dw ? dw + l->mb_bias : NULL,
                          g->dmb, features, w + l->mb_t, A->mcache, n, l->features, kernels,
                          l->mb_dims, g->work);
    nn_leaky_relu_backward(d, d, A->h[1], NN_LEAKY_SLOPE, (size_t)n * width);
    dense_bwd(other, dw, d, A->h[0], w, &l->head[1], n);
    nn_leaky_relu_backward(other, other, A->h[0], NN_LEAKY_SLOPE, (size_t)n * width);
    dense_bwd(d, dw, other, features, w, &l->head[0], n);
    const size_t nf = (size_t)n * l->features;
    for (size_t k = 0; k < nf; k++)
        d[k] += g->dfeat[k];
    /* d holds d(pooled output) of the last block; walk the blocks back. */
    for (int i = l->levels - 1; i >= 0; i--) {
        const gan_conv *c = &l->conv[i];
        const size_t rows = (size_t)n * c->side * c->side;
        nn_maxpool2x2_backward(other, d, A->arg[i], n, c->side, c->side, c->cout);
        nn_leaky_relu_backward(other, other, A->a[i], NN_LEAKY_SLOPE, rows * c->cout);
        if (i > 0)
            nn_batchnorm_backward(other, dw ? dw + c->b : NULL, other, A->y[i], w + c->b,
                                  A->rstd[i], rows, c->cout);
        nn_conv_shape s = conv_shape(c, n);
        const float *in = i > 0 ? A->drop[i] : A->x;
        float *dx = (i > 0 || want_dx) ? d : NULL;
        nn_conv2d_backward(dx, dw ? dw + c->w : NULL, dw && i == 0 ? dw + c->b : NULL, other,
                           in, w + c->w, &s, g->work);
        if (i > 0)
            nn_dropout_backward(d, d, A->mask[i], g->hp.dropout_keep, rows * c->cin);
    }
}

/* ---- losses ------------------------------------------------------------------------------ */

float gan_g_loss_grad(gan *g, const float *z, nn_rng *dropout)
{
    gan_g_forward(g, z);
    gan_d_forward(g, g->ga.img, g->hp.dropout_keep, dropout);
    float loss = nn_bce_logits_forward(g->da.logit, 1.0f, g->n);
    nn_bce_logits_backward(g->dlogit, g->da.logit, 1.0f, g->n, 1.0f);
    nn_block_zero_grad(&g->gp);
    gan_d_backward(g, g->dlogit, 1, 0); /* D frozen: d image only, into gbuf[0] */
    gan_g_backward(g);
    return loss;
}

float gan_z_loss_grad(gan *g, const float *z)
{
    const int n = g->n;
    if (z != g->ga.z)
        memcpy(g->ga.z, z, sizeof(float) * n * GAN_Z_DIM);
    g_fc_forward(g, g->ga.z);
    gan_z_forward(g);
    const size_t count = (size_t)n * GAN_Z_DIM;
    float loss = nn_mse_forward(g->za.zhat, g->ga.z, count);
    nn_mse_backward(g->gbuf[0], g->za.zhat, g->ga.z, count);
    memset(g->gp.dw, 0, sizeof(float) * g->gl.fc_count);
    nn_block_zero_grad(&g->zp);
    z_backward(g);
    gan_g_fc_backward(g, g->gbuf[0]);
    return loss;
}

/* ---- one iteration ------------------------------------------------------------------------ */

static float mean_sigmoid(const float *logit, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += 1.0 / (1.0 + exp(-(double)logit[i]));
    return (float)(s / n);
}

static void draw_z(gan *g)
{
    const size_t count = (size_t)g->n * GAN_Z_DIM;
    for (size_t i = 0; i < count; i++)
        g->ga.z[i] = nn_rng_truncated_normal(&g->rng);
}

static void adam_step(nn_adam *opt, float *w, const float *dw, size_t count, size_t moment_at,
                      float lr, const gan_hparams *hp)
{
    nn_adam_config c = {.lr = lr, .beta1 = hp->beta1, .beta2 = hp->beta2, .eps = GAN_ADAM_EPS};
    nn_adam_update(w, dw, opt->m + moment_at, opt->v + moment_at, count, &c, opt->t);
}

static float d_step(gan *g, const dataset *ds, gan_stats *st)
{
    const int n = g->n;
    const gan_hparams *hp = &g->hp;
    draw_z(g);
    gan_g_forward(g, g->ga.z);
    data_sampler_next(&g->sampler, ds, g->real, NULL, n, hp->flip_prob);
    nn_block_zero_grad(&g->dp);

    gan_d_forward(g, g->real, hp->dropout_keep, &g->rng);
    float loss_real = nn_bce_logits_forward(g->da.logit, 1.0f, n);
    st->d_real = mean_sigmoid(g->da.logit, n);
    nn_bce_logits_backward(g->dlogit, g->da.logit, 1.0f, n, 1.0f);
    gan_d_backward(g, g->dlogit, 0, 1);

    gan_d_forward(g, g->ga.img, hp->dropout_keep, &g->rng);
    float loss_fake = nn_bce_logits_forward(g->da.logit, 0.0f, n);
    st->d_fake = mean_sigmoid(g->da.logit, n);
    nn_bce_logits_backward(g->dlogit, g->da.logit, 0.0f, n, 1.0f);
    gan_d_backward(g, g->dlogit, 0, 1);

    g->opt_d.t++;
    adam_step(&g->opt_d, g->dp.w, g->dp.dw, g->dp.count, 0, hp->lr_d, hp);
    return loss_real + loss_fake;
}

static float z_step(gan *g)
{
    const gan_hparams *hp = &g->hp;
    draw_z(g);
    float loss = gan_z_loss_grad(g, g->ga.z);
    g->opt_z.t++;
    adam_step(&g->opt_z, g->gp.w, g->gp.dw, g->gl.fc_count, 0, hp->lr_z, hp);
    adam_step(&g->opt_z, g->zp.w, g->zp.dw, g->zp.count, g->gl.fc_count, hp->lr_z, hp);
    return loss;
}

static float g_step(gan *g)
{
    draw_z(g);
    float loss = gan_g_loss_grad(g, g->ga.z, &g->rng);
    g->opt_g.t++;
    adam_step(&g->opt_g, g->gp.w, g->gp.dw, g->gp.count, 0, g->hp.lr_g, &g->hp);
    return loss;
}

static int sampler_ready(gan *g, const dataset *ds, char *err, size_t errlen)
{
    if (g->sampler_ready && g->sampler.count == ds->count)
        return 0;
    data_sampler saved = g->sampler;
    if (data_sampler_init(&g->sampler, ds->count, saved.seed, err, errlen))
        return -1;
    /* Keep a restored position (the checkpoint's) when it still lies in the set. A
     * position equal to the count is the end of an epoch: data_sampler_next moves on to
     * the next epoch from there, as the uninterrupted run would. */
    data_sampler_restore(&g->sampler, saved.seed, saved.epoch,
                         saved.pos <= (uint64_t)ds->count ? saved.pos : 0);
    if (g->sampler_ready)
        data_sampler_free(&saved);
    g->sampler_ready = 1;
    return 0;
}

int gan_train_iteration(gan *g, const dataset *ds, gan_stats *st, char *err, size_t errlen)
{
    if (!ds || ds->count < 1 || ds->side != g->gl.side) {
        snprintf(err, errlen, "training set must hold images of %dx%d pixels", g->gl.side,
                 g->gl.side);
        return -1;
    }
    if (gan_buffers_resize(g, g->hp.batch_size, err, errlen) ||
        sampler_ready(g, ds, err, errlen))
        return -1;
    gan_stats s = {0};
    for (int i = 0; i < g->hp.d_steps; i++)
        s.loss_d = d_step(g, ds, &s);
    if (g->hp.zpred)
        s.loss_z = z_step(g);
    for (int i = 0; i < g->hp.g_steps; i++)
        s.loss_g = g_step(g);
    g->step++;
    if (st)
        *st = s;
    if (!isfinite(s.loss_d) || !isfinite(s.loss_g) || !isfinite(s.loss_z)) {
        snprintf(err, errlen, "training diverged at step %ld: loss_d %g, loss_g %g, loss_z %g",
                 g->step, (double)s.loss_d, (double)s.loss_g, (double)s.loss_z);
        return -1;
    }
    return 0;
}

/* ---- life cycle ---------------------------------------------------------------------------- */

static void init_dense(float *w, const gan_dense *d, nn_rng *r)
{
    nn_xavier_uniform(w + d->w, (size_t)d->in * d->out, d->in, d->out, r);
}

static void init_conv(float *w, const gan_conv *c, nn_rng *r)
{
    nn_xavier_uniform(w + c->w, (size_t)25 * c->cin * c->cout, 25 * c->cin, 25 * c->cout, r);
}

static void init_weights(gan *g)
{
    for (int i = 0; i < 4; i++)
        init_dense(g->gp.w, &g->gl.fc[i], &g->rng);
    for (int i = 0; i < g->gl.levels; i++)
        init_conv(g->gp.w, &g->gl.up[i], &g->rng);
    init_conv(g->gp.w, &g->gl.out, &g->rng);
    for (int i = 0; i < 4; i++)
        init_dense(g->zp.w, &g->zl.fc[i], &g->rng);
    for (int i = 0; i < g->dl.levels; i++)
        init_conv(g->dp.w, &g->dl.conv[i], &g->rng);
    init_dense(g->dp.w, &g->dl.head[0], &g->rng);
    init_dense(g->dp.w, &g->dl.head[1], &g->rng);
    const size_t bc = (size_t)g->dl.mb_kernels * g->dl.mb_dims;
    nn_xavier_uniform(g->dp.w + g->dl.mb_t, (size_t)g->dl.features * bc, g->dl.features,
                      (int)bc, &g->rng);
    init_dense(g->dp.w, &g->dl.logit, &g->rng);
}

/* Allocates the blocks and optimizers for cfg, without initialising the weights. */
int gan_alloc(gan **out, const gan_config *cfg, const gan_hparams *hp, char *err,
              size_t errlen)
{
    *out = NULL;
    if (gan_config_validate(cfg, err, errlen) || gan_hparams_validate(hp, NULL, err, errlen))
        return -1;
    gan *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    g->cfg = *cfg;
    g->hp = *hp;
    g->ref_seed = GAN_REF_SEED;
    gan_layout_g(&g->gl, cfg);
    gan_layout_z(&g->zl, cfg);
    gan_layout_d(&g->dl, cfg);
    if (nn_block_init(&g->gp, g->gl.count, err, errlen) ||
        nn_block_init(&g->zp, g->zl.count, err, errlen) ||
        nn_block_init(&g->dp, g->dl.count, err, errlen) ||
        nn_adam_init(&g->opt_g, g->gl.count, err, errlen) ||
        nn_adam_init(&g->opt_d, g->dl.count, err, errlen) ||
        nn_adam_init(&g->opt_z, g->gl.fc_count + g->zl.count, err, errlen) ||
        gan_buffers_resize(g, hp->batch_size, err, errlen)) {
        gan_free(g);
        return -1;
    }
    *out = g;
    return 0;
}

int gan_init(gan **out, const gan_config *cfg, const gan_hparams *hp, uint64_t seed,
             char *err, size_t errlen)
{
    if (gan_alloc(out, cfg, hp, err, errlen))
        return -1;
    gan *g = *out;
    nn_rng_seed(&g->rng, seed);
    init_weights(g);
    g->sampler.seed = seed ^ 0xDA7A5EEDull;
    return 0;
}

void gan_free(gan *g)
{
    if (!g)
        return;
    nn_block_free(&g->gp);
    nn_block_free(&g->zp);
    nn_block_free(&g->dp);
    nn_adam_free(&g->opt_g);
    nn_adam_free(&g->opt_d);
    nn_adam_free(&g->opt_z);
    if (g->sampler_ready)
        data_sampler_free(&g->sampler);
    free(g->arena);
    free(g);
}

const gan_config *gan_get_config(const gan *g)
{
    return &g->cfg;
}

const gan_hparams *gan_get_hparams(const gan *g)
{
    return &g->hp;
}

int gan_set_hparams(gan *g, const gan_hparams *hp, char *err, size_t errlen)
{
    if (gan_hparams_validate(hp, NULL, err, errlen) ||
        gan_buffers_resize(g, hp->batch_size, err, errlen))
        return -1;
    g->hp = *hp;
    return 0;
}

long gan_step(const gan *g)
{
    return g->step;
}

data_sampler *gan_sampler(gan *g)
{
    return &g->sampler;
}

void gan_param_counts(const gan *g, size_t *g_count, size_t *z_count, size_t *d_count)
{
    if (g_count)
        *g_count = g->gl.count;
    if (z_count)
        *z_count = g->zl.count;
    if (d_count)
        *d_count = g->dl.count;
}

/* ---- arithmetic count ------------------------------------------------------------------- */

static double dense_macs(const gan_dense *d)
{
    return (double)d->in * d->out;
}

static double conv_macs(const gan_conv *c)
{
    return (double)c->side * c->side * 25 * c->cin * c->cout;
}

double gan_iteration_macs(const gan *g)
{
    /* Per image: forward F; backward computes dW (F) and dX (F) except where the code skips
     * dX (G's first FC layer; D's first conv in the D step) or dW (D in the G step). */
    double g_fc = 0, g_conv = 0, z = 0, d = 0;
    for (int i = 0; i < 4; i++) {
        g_fc += dense_macs(&g->gl.fc[i]);
        z += dense_macs(&g->zl.fc[i]);
    }
    for (int i = 0; i < g->gl.levels; i++)
        g_conv += conv_macs(&g->gl.up[i]);
    g_conv += conv_macs(&g->gl.out);
    for (int i = 0; i < g->dl.levels; i++)
        d += conv_macs(&g->dl.conv[i]);
    const double bc = (double)g->dl.mb_kernels * g->dl.mb_dims;
    d += dense_macs(&g->dl.head[0]) + dense_macs(&g->dl.head[1]) + dense_macs(&g->dl.logit) +
         g->dl.features * bc;
    const double g_f = g_fc + g_conv, fc0 = dense_macs(&g->gl.fc[0]);
    const double d0 = conv_macs(&g->dl.conv[0]);
    const gan_hparams *hp = &g->hp;
    double per_image = hp->d_steps * (g_f + 2 * d + 2 * (2 * d - d0)) +
                       (hp->zpred ? g_fc + z + 2 * z + 2 * g_fc - fc0 : 0) +
                       hp->g_steps * (g_f + d + d + 2 * g_f - fc0);
    return per_image * hp->batch_size;
}
