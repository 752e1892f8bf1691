/* conv2d: the fast SGEMM convolution against a slow, obvious direct one.
 *
 * The reference below is the 7-loop definition in double precision. Shapes cover k = 1,
 * 3 and 5, maps narrower than the kernel, both SGEMM mappings (direct when cout > cin;
 * transposed when cout <= cin, with its register gather for cout <= 4 and its
 * vector gather above), several chunks with a remainder (positions not a multiple of
 * the chunk), the minimum-rows chunk for very wide rows (a 21x21 kernel, so the
 * reference stays cheap), and the transposed forward's banded sweep whose ring of rows
 * wraps around several times. Float results are compared with a tolerance of 2e-5 of
 * the largest reference magnitude: float accumulation over K terms typically errs by
 * ~sqrt(K) 6e-8 of the term scale, far below that, while an indexing error is of the
 * order of the values themselves. Backward adds into dw and db, so both start from the
 * same non-zero values on both sides. */
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

static float *alloc_random(size_t n, float scale, nn_rng *r)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = scale * nn_rng_normal(r);
    return p;
}

static double *alloc_zero_d(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof *p);
    assert_non_null(p);
    return p;
}

/* y[n,i,j,co] = b[co] + sum_{kh,kw,ci} x[n, i+kh-p, j+kw-p, ci] w[kh,kw,ci,co] */
static void ref_forward(double *y, const float *x, const float *w, const float *b,
                        const nn_conv_shape *s)
{
    int p = s->k / 2;
    for (int n = 0; n < s->n; n++)
        for (int i = 0; i < s->h; i++)
            for (int j = 0; j < s->w; j++)
                for (int co = 0; co < s->cout; co++) {
                    double acc = b ? b[co] : 0.0;
                    for (int kh = 0; kh < s->k; kh++)
                        for (int kw = 0; kw < s->k; kw++) {
                            int ii = i + kh - p, jj = j + kw - p;
                            if (ii < 0 || ii >= s->h || jj < 0 || jj >= s->w)
                                continue;
                            const float *xp = x + (((size_t)n * s->h + ii) * s->w + jj) * s->cin;
                            const float *wp = w + ((size_t)kh * s->k + kw) * s->cin * s->cout;
                            for (int ci = 0; ci < s->cin; ci++)
                                acc += (double)xp[ci] * wp[(size_t)ci * s->cout + co];
                        }
                    y[(((size_t)n * s->h + i) * s->w + j) * s->cout + co] = acc;
                }
}

/* The same loops, differentiated: dx written, dw and db added. */
static void ref_backward(double *dx, double *dw, double *db, const float *dy, const float *x,
                         const float *w, const nn_conv_shape *s)
{
    int p = s->k / 2;
    memset(dx, 0, (size_t)s->n * s->h * s->w * s->cin * sizeof *dx);
    for (int n = 0; n < s->n; n++)
        for (int i = 0; i < s->h; i++)
            for (int j = 0; j < s->w; j++) {
                const float *g = dy + (((size_t)n * s->h + i) * s->w + j) * s->cout;
                for (int co = 0; co < s->cout; co++)
                    db[co] += g[co];
                for (int kh = 0; kh < s->k; kh++)
                    for (int kw = 0; kw < s->k; kw++) {
                        int ii = i + kh - p, jj = j + kw - p;
                        if (ii < 0 || ii >= s->h || jj < 0 || jj >= s->w)
                            continue;
                        size_t xo = (((size_t)n * s->h + ii) * s->w + jj) * s->cin;
                        size_t wo = ((size_t)kh * s->k + kw) * s->cin * s->cout;
                        for (int ci = 0; ci < s->cin; ci++)
                            for (int co = 0; co < s->cout; co++) {
                                dx[xo + ci] += (double)g[co] * w[wo + (size_t)ci * s->cout + co];
                                dw[wo + (size_t)ci * s->cout + co] += (double)x[xo + ci] * g[co];
                            }
                    }
            }
}

/* Largest |fast - ref| over the largest |ref|. */
static double rel_error(const float *fast, const double *ref, size_t n)
{
    double worst = 0.0, scale = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(fast[i] - ref[i]);
        if (d > worst)
            worst = d;
        if (fabs(ref[i]) > scale)
            scale = fabs(ref[i]);
    }
    return worst / scale;
}

static void compare_shape(nn_conv_shape s, int with_bias, uint64_t seed)
{
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    size_t pos = (size_t)s.n * s.h * s.w;
    size_t nx = pos * s.cin, ny = pos * s.cout, nw = (size_t)s.k * s.k * s.cin * s.cout;
    float *x = alloc_random(nx, 1.0f, &rng);
    float *w = alloc_random(nw, 0.3f, &rng);
    float *b = with_bias ? alloc_random((size_t)s.cout, 0.5f, &rng) : NULL;
    float *dy = alloc_random(ny, 1.0f, &rng);
    float *dw0 = alloc_random(nw, 1.0f, &rng);      /* what dw held before backward */
    float *db0 = alloc_random((size_t)s.cout, 1.0f, &rng);
    float *y = alloc_random(ny, 1.0f, &rng);        /* garbage: forward must overwrite */
    float *dx = alloc_random(nx, 1.0f, &rng);       /* garbage: backward must overwrite */
    float *dw = malloc(nw * sizeof *dw), *db = malloc((size_t)s.cout * sizeof *db);
    size_t wsf = nn_conv2d_workspace_floats(&s);
    float *work = malloc(wsf * sizeof *work);
    assert_true(dw && db && work);
    memcpy(dw, dw0, nw * sizeof *dw);
    memcpy(db, db0, (size_t)s.cout * sizeof *db);

    double *ry = alloc_zero_d(ny), *rdx = alloc_zero_d(nx), *rdw = alloc_zero_d(nw);
    double *rdb = alloc_zero_d((size_t)s.cout);
    for (size_t i = 0; i < nw; i++)
        rdw[i] = dw0[i];
    for (int i = 0; i < s.cout; i++)
        rdb[i] = db0[i];

    nn_conv2d_forward(y, x, w, b, &s, work);
    nn_conv2d_backward(dx, dw, db, dy, x, w, &s, work);
    ref_forward(ry, x, w, b, &s);
    ref_backward(rdx, rdw, rdb, dy, x, w, &s);

    double ey = rel_error(y, ry, ny), edx = rel_error(dx, rdx, nx);
    double edw = rel_error(dw, rdw, nw), edb = rel_error(db, rdb, (size_t)s.cout);
    printf("  k%d n%d %dx%d %d->%d%s (workspace %zu floats): rel error y %.2g dx %.2g "
           "dw %.2g db %.2g\n", s.k, s.n, s.h, s.w, s.cin, s.cout, with_bias ? "" : " no bias",
           wsf, ey, edx, edw, edb);
    assert_true(ey < 2e-5);
    assert_true(edx < 2e-5);
    assert_true(edw < 2e-5);
    assert_true(edb < 2e-5);

    /* Optional outputs: with dx NULL and db NULL the weight gradient is the same. */
    memcpy(dw, dw0, nw * sizeof *dw);
    nn_conv2d_backward(NULL, dw, NULL, dy, x, w, &s, work);
    assert_true(rel_error(dw, rdw, nw) < 2e-5);
    /* and with dw NULL, dx is the same */
    nn_conv2d_backward(dx, NULL, NULL, dy, x, w, &s, work);
    assert_true(rel_error(dx, rdx, nx) < 2e-5);

    free(x); free(w); free(b); free(dy); free(dw0); free(db0); free(y); free(dx);
    free(dw); free(db); free(work);
    free(ry); free(rdx); free(rdw); free(rdb);
}

static void test_conv_small_kernels(void **state)
{
    (void)state;
    compare_shape((nn_conv_shape){2, 3, 5, 4, 6, 1}, 1, 1);   /* 1x1, direct */
    compare_shape((nn_conv_shape){2, 3, 5, 6, 4, 1}, 1, 6);   /* 1x1, transposed */
    compare_shape((nn_conv_shape){3, 7, 6, 5, 9, 3}, 1, 2);   /* 3x3, direct */
    compare_shape((nn_conv_shape){2, 6, 5, 7, 5, 5}, 0, 3);   /* 5x5, transposed, no bias */
    compare_shape((nn_conv_shape){2, 3, 2, 4, 6, 5}, 1, 4);   /* map smaller than the kernel */
    compare_shape((nn_conv_shape){2, 3, 2, 6, 6, 5}, 1, 7);   /* the same, transposed */
    compare_shape((nn_conv_shape){1, 1, 1, 3, 5, 5}, 1, 5);   /* a single pixel */
}

static void test_conv_chunks(void **state)
{
    (void)state;
    /* direct, K = 75 (the discriminator's first conv): chunks of 27962 rows,
     * 28800 positions = one full chunk and 838 more */
    compare_shape((nn_conv_shape){2, 120, 120, 3, 16, 5}, 1, 11);
    /* direct, K = 21*21*19 = 8379: the minimum of 256 rows; 300 = 256 + 44 */
    compare_shape((nn_conv_shape){1, 15, 20, 19, 20, 21}, 1, 12);
    /* transposed, k*k*cout = 8379 taps: minimum-rows chunks backward, and a forward
     * band of one output row over a ring of 21 rows */
    compare_shape((nn_conv_shape){1, 15, 20, 20, 19, 21}, 1, 13);
}

static void test_conv_transposed_bands(void **state)
{
    (void)state;
    compare_shape((nn_conv_shape){3, 9, 11, 16, 3, 5}, 1, 21);   /* the generator's last conv */
    compare_shape((nn_conv_shape){2, 6, 5, 7, 4, 3}, 0, 22);
    compare_shape((nn_conv_shape){2, 5, 4, 2, 1, 1}, 1, 23);
    /* 170x170 x 75 taps exceeds one chunk: two bands forward (the ring wraps once),
     * two chunks backward */
    compare_shape((nn_conv_shape){1, 170, 170, 4, 3, 5}, 1, 24);
    /* very wide rows: bands of 4 output rows over a ring of 8, wrapping 4 times;
     * register gather (cout 4) and vector gather (cout 8) */
    compare_shape((nn_conv_shape){1, 20, 2621, 4, 4, 5}, 1, 25);
    compare_shape((nn_conv_shape){1, 20, 1311, 8, 8, 5}, 0, 26);
    /* rows so wide that even 5 of them exceed the budget twice: the direct mapping takes
     * over, and the workspace stays one chunk */
    nn_conv_shape wide = {1, 6, 12000, 4, 3, 5};
    assert_true(nn_conv2d_workspace_floats(&wide) <= (size_t)256 * 25 * 4 + (1u << 21));
    compare_shape(wide, 1, 27);
}

/* The workspace does not grow with the batch once a chunk is full, and stays within a
 * few MiB for every convolution of the original model (docs/MODEL.md). */
static void test_conv_workspace_bounded(void **state)
{
    (void)state;
    const nn_conv_shape shapes[] = {
        {32, 8, 8, 512, 512, 5},  {32, 16, 16, 512, 256, 5}, {32, 32, 32, 256, 128, 5},
        {32, 64, 64, 128, 64, 5}, {32, 64, 64, 64, 3, 5},    {32, 64, 64, 3, 64, 5},
        {32, 32, 32, 64, 128, 5}, {32, 16, 16, 128, 256, 5}, {32, 8, 8, 256, 512, 5},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        nn_conv_shape s = shapes[i], big = s;
        big.n = 8 * s.n;
        size_t ws = nn_conv2d_workspace_floats(&s), wb = nn_conv2d_workspace_floats(&big);
        printf("  %dx%d %d->%d: %.1f MiB at n=%d, %.1f MiB at n=%d\n", s.h, s.w, s.cin, s.cout,
               ws * 4.0 / 1048576.0, s.n, wb * 4.0 / 1048576.0, big.n);
        assert_true(wb * sizeof(float) <= 16u << 20);
        if (ws * sizeof(float) >= 8u << 20)
            assert_true(wb == ws);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_small_kernels),
        cmocka_unit_test(test_conv_chunks),
        cmocka_unit_test(test_conv_transposed_bands),
        cmocka_unit_test(test_conv_workspace_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
