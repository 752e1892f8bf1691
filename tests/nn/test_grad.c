/* Gradient checks for every nn layer against central finite differences.
 *
 * For a layer y = f(tensors), the scalar L = sum(r * y) with fixed random r has
 * dL/dtensor = backward(dy = r). Each case compares the analytic gradient of every
 * tensor (the input and each parameter) with (L(v + eps) - L(v - eps)) / (2 eps), with
 * L summed in double and 2 eps taken as the difference of the two float values actually
 * stored. The forward runs in float, so:
 * - layers linear in each tensor (dense, conv, upsample, max-pool away from ties,
 *   ReLU away from 0, dropout with a fixed mask) have no truncation error, only float
 *   rounding of y (~1e-7 relative) divided by 2 eps: a large eps (0.25) makes that
 *   ~1e-6 and the tolerance is 1e-3 relative;
 * - smooth nonlinear layers (batch norm, tanh, minibatch discrimination) have truncation
 *   error ~eps^2/6 |f'''| and rounding ~1e-7 |L| / eps; eps = 1e-2 balances the two near
 *   1e-4 and the tolerance is 1e-2 relative.
 * An error counts against |numeric| * rtol + rtol * rms(analytic over the tensor), so a
 * tiny gradient is judged on the tensor's scale.
 *
 * Kinks: ReLU and leaky ReLU at 0, max-pool ties and |.| in minibatch discrimination
 * make finite differences meaningless where a perturbation crosses them. A case may
 * provide a "kink signature" (the sign pattern of what its branches depend on); an
 * element whose +eps or -eps evaluation changes the signature is skipped and counted,
 * and a test fails if more than a quarter of a tensor's elements were skipped.
 *
 * The harness also checks the backward contract of nn.h: calling backward twice doubles
 * the parameter gradients (they accumulate) but leaves dx as it was (it is written), and
 * a NULL dx is accepted and leaves the parameter gradients unchanged. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "illgan/nn.h"

#define GC_MAX_TENSORS 4
#define GC_MAX_CHECKED 400 /* elements checked per tensor (strided sample beyond) */

typedef struct {
    const char *name;
    float *v;          /* values */
    float *g;          /* gradient written/added by backward */
    size_t size;
    int accumulates;   /* 1: a parameter gradient (added); 0: dx (written) */
} gc_tensor;

typedef struct gc_case gc_case;
struct gc_case {
    const char *name;
    gc_tensor t[GC_MAX_TENSORS];   /* t[0] is the input whose gradient is dx */
    int nt;
    float *y;
    size_t ny;
    void (*forward)(gc_case *c);
    /* null_dx: pass NULL for dx (t[0].g) */
    void (*backward)(gc_case *c, const float *dy, int null_dx);
    /* optional: a hash of the branch pattern at the current values */
    uint64_t (*signature)(gc_case *c);
    double eps, rtol;
    void *ctx;
};

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    assert_non_null(p);
    return p;
}

static void fill_normal(float *v, size_t n, float scale, nn_rng *r)
{
    for (size_t i = 0; i < n; i++)
        v[i] = scale * nn_rng_normal(r);
}

static double dot_r(const float *r, const float *y, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)r[i] * y[i];
    return s;
}

static uint64_t fnv_add(uint64_t h, unsigned v)
{
    h ^= v;
    return h * 1099511628211ull;
}

static void run_gradcheck(gc_case *c, uint64_t seed)
{
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    float *r = xcalloc(c->ny, sizeof *r);
    fill_normal(r, c->ny, 1.0f, &rng);

    float *analytic[GC_MAX_TENSORS];
    c->forward(c);
    for (int k = 0; k < c->nt; k++)
        memset(c->t[k].g, 0, c->t[k].size * sizeof(float));
    c->backward(c, r, 0);
    for (int k = 0; k < c->nt; k++) {
        analytic[k] = xcalloc(c->t[k].size, sizeof(float));
        memcpy(analytic[k], c->t[k].g, c->t[k].size * sizeof(float));
    }

    /* Contract: parameters accumulate, dx is overwritten. */
    c->backward(c, r, 0);
    for (int k = 0; k < c->nt; k++) {
        double worst = 0.0;
        for (size_t i = 0; i < c->t[k].size; i++) {
            double want = c->t[k].accumulates ? 2.0 * analytic[k][i] : analytic[k][i];
            double e = fabs(c->t[k].g[i] - want) / (1e-6 + fabs(want));
            if (e > worst)
                worst = e;
        }
        printf("  %s: second backward, %s %s: max rel deviation %.2g\n", c->name,
               c->t[k].name, c->t[k].accumulates ? "doubled" : "unchanged", worst);
        assert_true(worst < 1e-5);
    }

    /* Contract: NULL dx accepted; parameter gradients unaffected by it. */
    for (int k = 0; k < c->nt; k++)
        for (size_t i = 0; i < c->t[k].size; i++)
            c->t[k].g[i] = c->t[k].accumulates ? 0.0f : 12345.0f;
    c->backward(c, r, 1);
    for (int k = 0; k < c->nt; k++)
        for (size_t i = 0; i < c->t[k].size; i++) {
            float want = c->t[k].accumulates ? analytic[k][i] : 12345.0f;
            assert_true(fabsf(c->t[k].g[i] - want) <= 1e-5f * (1.0f + fabsf(want)));
        }

    /* Finite differences. */
    uint64_t base_sig = c->signature ? c->signature(c) : 0;
    for (int k = 0; k < c->nt; k++) {
        gc_tensor *t = &c->t[k];
        double ss = 0.0;
        for (size_t i = 0; i < t->size; i++)
            ss += (double)analytic[k][i] * analytic[k][i];
        double rms = sqrt(ss / (double)t->size);
        size_t step = t->size > GC_MAX_CHECKED ? t->size / GC_MAX_CHECKED + 1 : 1;
        size_t checked = 0, skipped = 0;
        double worst = 0.0, worst_a = 0.0, worst_n = 0.0;
        for (size_t i = 0; i < t->size; i += step) {
            float orig = t->v[i];
            float plus = orig + (float)c->eps, minus = orig - (float)c->eps;
            t->v[i] = plus;
            c->forward(c);
            double lp = dot_r(r, c->y, c->ny);
            int kink = c->signature && c->signature(c) != base_sig;
            t->v[i] = minus;
            c->forward(c);
            double lm = dot_r(r, c->y, c->ny);
            kink = kink || (c->signature && c->signature(c) != base_sig);
            t->v[i] = orig;
            if (kink) {
                skipped++;
                continue;
            }
            double num = (lp - lm) / ((double)plus - (double)minus);
            double a = analytic[k][i];
            double ratio = fabs(num - a) / (c->rtol * (fabs(num) + rms) + 1e-30);
            if (ratio > worst) {
                worst = ratio;
                worst_a = a;
                worst_n = num;
            }
            checked++;
        }
        printf("  %s: d%s: %zu elements checked, %zu skipped at kinks, rms %.3g, worst "
               "analytic %.6g vs numeric %.6g (%.2f of tolerance)\n",
               c->name, t->name, checked, skipped, rms, worst_a, worst_n, worst);
        assert_true(rms > 0.0);
        assert_true(checked > 0);
        assert_true(skipped * 4 <= checked + skipped);
        assert_true(worst <= 1.0);
    }
    c->forward(c);
    for (int k = 0; k < c->nt; k++)
        free(analytic[k]);
    free(r);
}

/* ---- dense ----------------------------------------------------------------------------- */

typedef struct {
    int n, in, out;
} dense_ctx;

static void dense_fwd(gc_case *c)
{
    dense_ctx *d = c->ctx;
    nn_dense_forward(c->y, c->t[0].v, c->t[1].v, c->t[2].v, d->n, d->in, d->out);
}

static void dense_bwd(gc_case *c, const float *dy, int null_dx)
{
    dense_ctx *d = c->ctx;
    nn_dense_backward(null_dx ? NULL : c->t[0].g, c->t[1].g, c->t[2].g, dy, c->t[0].v,
                      c->t[1].v, d->n, d->in, d->out);
}

/* Allocates t[k] with `size` values drawn N(0, scale^2). */
static void add_tensor(gc_case *c, const char *name, size_t size, int accumulates,
                       float scale, nn_rng *rng)
{
    gc_tensor *t = &c->t[c->nt++];
    t->name = name;
    t->size = size;
    t->accumulates = accumulates;
    t->v = xcalloc(size, sizeof(float));
    t->g = xcalloc(size, sizeof(float));
    fill_normal(t->v, size, scale, rng);
}

static void free_case(gc_case *c)
{
    for (int k = 0; k < c->nt; k++) {
        free(c->t[k].v);
        free(c->t[k].g);
    }
    free(c->y);
}

static void test_grad_dense(void **state)
{
    (void)state;
    nn_rng rng;
    nn_rng_seed(&rng, 11);
    dense_ctx d = {3, 7, 5};
    gc_case c = {.name = "dense 3x7->5", .forward = dense_fwd, .backward = dense_bwd,
                 .eps = 0.25, .rtol = 1e-3, .ctx = &d};
    add_tensor(&c, "x", (size_t)d.n * d.in, 0, 1.0f, &rng);
    add_tensor(&c, "w", (size_t)d.in * d.out, 1, 0.5f, &rng);
    add_tensor(&c, "b", (size_t)d.out, 1, 0.5f, &rng);
    c.ny = (size_t)d.n * d.out;
    c.y = xcalloc(c.ny, sizeof(float));
    run_gradcheck(&c, 101);
    free_case(&c);
}

/* ---- conv2d ---------------------------------------------------------------------------- */

typedef struct {
    nn_conv_shape s;
    float *work;
} conv_ctx;

static void conv_fwd(gc_case *c)
{
    conv_ctx *d = c->ctx;
    nn_conv2d_forward(c->y, c->t[0].v, c->t[1].v, c->t[2].v, &d->s, d->work);
}

static void conv_bwd(gc_case *c, const float *dy, int null_dx)
{
    conv_ctx *d = c->ctx;
    nn_conv2d_backward(null_dx ? NULL : c->t[0].g, c->t[1].g, c->t[2].g, dy, c->t[0].v,
                       c->t[1].v, &d->s, d->work);
}

static void check_conv(nn_conv_shape s, uint64_t seed)
{
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    char name[96];
    snprintf(name, sizeof name, "conv k%d %dx%dx%dx%d->%d", s.k, s.n, s.h, s.w, s.cin, s.cout);
    conv_ctx d = {s, xcalloc(nn_conv2d_workspace_floats(&s), sizeof(float))};
    gc_case c = {.name = name, .forward = conv_fwd, .backward = conv_bwd, .eps = 0.25,
                 .rtol = 1e-3, .ctx = &d};
    size_t pos = (size_t)s.n * s.h * s.w;
    add_tensor(&c, "x", pos * s.cin, 0, 1.0f, &rng);
    add_tensor(&c, "w", (size_t)s.k * s.k * s.cin * s.cout, 1, 0.3f, &rng);
    add_tensor(&c, "b", (size_t)s.cout, 1, 0.3f, &rng);
    c.ny = pos * s.cout;
    c.y = xcalloc(c.ny, sizeof(float));
    run_gradcheck(&c, seed + 1);
    free_case(&c);
    free(d.work);
}

static void test_grad_conv2d(void **state)
{
    (void)state;
    check_conv((nn_conv_shape){2, 5, 4, 3, 6, 3}, 21);   /* direct mapping (cout > cin) */
    check_conv((nn_conv_shape){2, 3, 5, 4, 7, 5}, 22);   /* 5x5 wider than the map */
    check_conv((nn_conv_shape){3, 3, 3, 5, 6, 1}, 23);   /* 1x1 */
    check_conv((nn_conv_shape){2, 4, 5, 7, 6, 3}, 26);   /* transposed mapping (cout <= cin) */
    check_conv((nn_conv_shape){2, 5, 7, 4, 3, 5}, 24);   /* transposed, 3 output channels */
    check_conv((nn_conv_shape){2, 4, 3, 3, 1, 3}, 25);   /* transposed, one output channel */
}

/* ---- upsample ------------------------------------------------------------------------- */

typedef struct {
    int n, h, w, c;
} map_ctx;

static void up_fwd(gc_case *c)
{
    map_ctx *d = c->ctx;
    nn_upsample2x_forward(c->y, c->t[0].v, d->n, d->h, d->w, d->c);
}

static void up_bwd(gc_case *c, const float *dy, int null_dx)
{
    map_ctx *d = c->ctx;
    if (!null_dx)
        nn_upsample2x_backward(c->t[0].g, dy, d->n, d->h, d->w, d->c);
}

static void test_grad_upsample(void **state)
{
    (void)state;
    nn_rng rng;
    nn_rng_seed(&rng, 31);
    map_ctx d = {2, 3, 5, 3};
    gc_case c = {.name = "upsample 2x3x5x3", .forward = up_fwd, .backward = up_bwd,
                 .eps = 0.25, .rtol = 1e-3, .ctx = &d};
    add_tensor(&c, "x", (size_t)d.n * d.h * d.w * d.c, 0, 1.0f, &rng);
    c.ny = (size_t)d.n * 4 * d.h * d.w * d.c;
    c.y = xcalloc(c.ny, sizeof(float));
    run_gradcheck(&c, 32);
    free_case(&c);
}

/* ---- max-pool ---------------------------------------------------------------------------
 * The signature is the argmax pattern: a perturbation that changes a window's winner
 * crosses a tie. */

typedef struct {
    map_ctx m;
    uint8_t *arg;
} pool_ctx;

static void pool_fwd(gc_case *c)
{
    pool_ctx *d = c->ctx;
    nn_maxpool2x2_forward(c->y, d->arg, c->t[0].v, d->m.n, d->m.h, d->m.w, d->m.c);
}

static void pool_bwd(gc_case *c, const float *dy, int null_dx)
{
    pool_ctx *d = c->ctx;
    if (!null_dx)
        nn_maxpool2x2_backward(c->t[0].g, dy, d->arg, d->m.n, d->m.h, d->m.w, d->m.c);
}

static uint64_t pool_sig(gc_case *c)
{
    pool_ctx *d = c->ctx;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < c->ny; i++)
        h = fnv_add(h, d->arg[i]);
    return h;
}

static void test_grad_maxpool(void **state)
{
    (void)state;
    nn_rng rng;
    nn_rng_seed(&rng, 41);
    pool_ctx d = {{2, 4, 6, 3}, NULL};
    gc_case c = {.name = "maxpool 2x4x6x3", .forward = pool_fwd, .backward = pool_bwd,
                 .signature = pool_sig, .eps = 0.01, .rtol = 1e-3, .ctx = &d};
    add_tensor(&c, "x", (size_t)d.m.n * d.m.h * d.m.w * d.m.c, 0, 1.0f, &rng);
    c.ny = c.t[0].size / 4;
    c.y = xcalloc(c.ny, sizeof(float));
    d.arg = xcalloc(c.ny, 1);
    run_gradcheck(&c, 42);
    free_case(&c);
    free(d.arg);
}

/* ---- batch norm ------------------------------------------------------------------------- */

typedef struct {
    size_t rows;
    int c;
    float *mean, *rstd;
} bn_ctx;

static void bn_fwd(gc_case *c)
{
    bn_ctx *d = c->ctx;
    nn_batchnorm_forward(c->y, d->mean, d->rstd, c->t[0].v, c->t[1].v, d->rows, d->c);
}

static void bn_bwd(gc_case *c, const float *dy, int null_dx)
{
    bn_ctx *d = c->ctx;
    nn_batchnorm_backward(null_dx ? NULL : c->t[0].g, c->t[1].g, dy, c->y, c->t[1].v, d->rstd,
                          d->rows, d->c);
}

static void check_bn(size_t rows, int ch, float spread, double eps, uint64_t seed)
{
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    char name[64];
    snprintf(name, sizeof name, "batchnorm %zux%d", rows, ch);
    bn_ctx d = {rows, ch, xcalloc((size_t)ch, sizeof(float)), xcalloc((size_t)ch, sizeof(float))};
    gc_case c = {.name = name, .forward = bn_fwd, .backward = bn_bwd, .eps = eps, .rtol = 1e-2,
                 .ctx = &d};
    add_tensor(&c, "x", rows * ch, 0, spread, &rng);
    /* an offset per channel, so the mean is not near zero */
    for (size_t i = 0; i < c.t[0].size; i++)
        c.t[0].v[i] += (float)(i % (size_t)ch) * 0.5f - 1.0f;
    add_tensor(&c, "beta", (size_t)ch, 1, 0.5f, &rng);
    c.ny = rows * ch;
    c.y = xcalloc(c.ny, sizeof(float));
    run_gradcheck(&c, seed + 1);
    free_case(&c);
    free(d.mean);
    free(d.rstd);
}

static void test_grad_batchnorm(void **state)
{
    (void)state;
    check_bn(2 * 3 * 5, 4, 1.0f, 1e-2, 51);   /* n=2, 3x5 map, 4 channels */
    check_bn(7, 19, 2.0f, 1e-2, 52);          /* a channel tail beyond the vector block */
    /* variance comparable to NN_BN_EPS: the step shrinks with the spread, since the
     * curvature grows as 1/spread^2 */
    check_bn(3, 2, 0.05f, 1e-3, 53);
}

/* ---- activations ---------------------------------------------------------------------- */

typedef struct {
    int kind; /* 0 relu, 1 leaky, 2 tanh */
} act_ctx;

static void act_fwd(gc_case *c)
{
    act_ctx *d = c->ctx;
    if (d->kind == 0)
        nn_relu_forward(c->y, c->t[0].v, c->ny);
    else if (d->kind == 1)
        nn_leaky_relu_forward(c->y, c->t[0].v, NN_LEAKY_SLOPE, c->ny);
    else
        nn_tanh_forward(c->y, c->t[0].v, c->ny);
}

static void act_bwd(gc_case *c, const float *dy, int null_dx)
{
    act_ctx *d = c->ctx;
    if (null_dx)
        return;
    if (d->kind == 0)
        nn_relu_backward(c->t[0].g, dy, c->y, c->ny);
    else if (d->kind == 1)
        nn_leaky_relu_backward(c->t[0].g, dy, c->y, NN_LEAKY_SLOPE, c->ny);
    else
        nn_tanh_backward(c->t[0].g, dy, c->y, c->ny);
}

static uint64_t act_sig(gc_case *c)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < c->t[0].size; i++)
        h = fnv_add(h, c->t[0].v[i] > 0.0f);
    return h;
}

static void check_act(int kind, const char *name, uint64_t seed)
{
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    act_ctx d = {kind};
    gc_case c = {.name = name, .forward = act_fwd, .backward = act_bwd,
                 .signature = kind < 2 ? act_sig : NULL, .eps = kind < 2 ? 0.01 : 1e-2,
                 .rtol = kind < 2 ? 1e-3 : 1e-2, .ctx = &d};
    add_tensor(&c, "x", 37, 0, 1.5f, &rng); /* 37: two vector blocks and a tail */
    c.ny = 37;
    c.y = xcalloc(c.ny, sizeof(float));
    run_gradcheck(&c, seed + 1);
    free_case(&c);
}

static void test_grad_activations(void **state)
{
    (void)state;
    check_act(0, "relu", 61);
    check_act(1, "leaky relu", 62);
    check_act(2, "tanh", 63);
}

/* ---- dropout: the mask is fixed by restarting the same generator state ------------- */

typedef struct {
    nn_rng start;
    uint8_t *mask;
    float keep;
} drop_ctx;

static void drop_fwd(gc_case *c)
{
    drop_ctx *d = c->ctx;
    nn_rng r = d->start;
    nn_dropout_forward(c->y, d->mask, c->t[0].v, d->keep, c->ny, &r);
}

static void drop_bwd(gc_case *c, const float *dy, int null_dx)
{
    drop_ctx *d = c->ctx;
    if (!null_dx)
        nn_dropout_backward(c->t[0].g, dy, d->mask, d->keep, c->ny);
}

static void test_grad_dropout(void **state)
{
    (void)state;
    nn_rng rng;
    nn_rng_seed(&rng, 71);
    drop_ctx d;
    nn_rng_seed(&d.start, 72);
    d.keep = 0.5f;
    gc_case c = {.name = "dropout keep 0.5", .forward = drop_fwd, .backward = drop_bwd,
                 .eps = 0.25, .rtol = 1e-3, .ctx = &d};
    add_tensor(&c, "x", 45, 0, 1.0f, &rng);
    c.ny = 45;
    c.y = xcalloc(c.ny, sizeof(float));
    d.mask = xcalloc(c.ny, 1);
    run_gradcheck(&c, 73);
    free_case(&c);
    free(d.mask);
}

/* ---- minibatch discrimination ------------------------------------------------------------
 * Signature: the signs of all pairwise differences M[i,k,u] - M[j,k,u], the branches of
 * |.|. The self pair contributes a constant 1 and no gradient. */

typedef struct {
    int n, f, b, c;
    float *mcache, *work;
} mb_ctx;

static void mb_fwd(gc_case *c)
{
    mb_ctx *d = c->ctx;
    nn_minibatch_forward(c->y, d->mcache, c->t[0].v, c->t[1].v, c->t[2].v, d->n, d->f, d->b,
                         d->c);
}

static void mb_bwd(gc_case *c, const float *dy, int null_dx)
{
    mb_ctx *d = c->ctx;
    nn_minibatch_backward(null_dx ? NULL : c->t[0].g, c->t[1].g, c->t[2].g, dy, c->t[0].v,
                          c->t[1].v, d->mcache, d->n, d->f, d->b, d->c, d->work);
}

static uint64_t mb_sig(gc_case *c)
{
    mb_ctx *d = c->ctx;
    int bc = d->b * d->c;
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < d->n; i++)
        for (int j = i + 1; j < d->n; j++)
            for (int q = 0; q < bc; q++)
                h = fnv_add(h, d->mcache[i * bc + q] > d->mcache[j * bc + q]);
    return h;
}

static void test_grad_minibatch(void **state)
{
    (void)state;
    nn_rng rng;
    nn_rng_seed(&rng, 81);
    mb_ctx d = {5, 6, 3, 4, NULL, NULL};
    d.mcache = xcalloc((size_t)d.n * d.b * d.c, sizeof(float));
    d.work = xcalloc(nn_minibatch_workspace_floats(d.n, d.b, d.c), sizeof(float));
    gc_case c = {.name = "minibatch n5 f6 b3 c4", .forward = mb_fwd, .backward = mb_bwd,
                 .signature = mb_sig, .eps = 1e-2, .rtol = 1e-2, .ctx = &d};
    /* t small enough that distances are O(1) and exp(-D) is not vanishingly small */
    add_tensor(&c, "x", (size_t)d.n * d.f, 0, 1.0f, &rng);
    add_tensor(&c, "t", (size_t)d.f * d.b * d.c, 1, 0.25f, &rng);
    add_tensor(&c, "bias", (size_t)d.b, 1, 0.5f, &rng);
    c.ny = (size_t)d.n * d.b;
    c.y = xcalloc(c.ny, sizeof(float));
    run_gradcheck(&c, 82);
    free_case(&c);
    free(d.mcache);
    free(d.work);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_dense),     cmocka_unit_test(test_grad_conv2d),
        cmocka_unit_test(test_grad_upsample),  cmocka_unit_test(test_grad_maxpool),
        cmocka_unit_test(test_grad_batchnorm), cmocka_unit_test(test_grad_activations),
        cmocka_unit_test(test_grad_dropout),   cmocka_unit_test(test_grad_minibatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
