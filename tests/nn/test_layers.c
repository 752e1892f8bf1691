/* Forward behaviour of the non-convolution layers, against values worked by hand or
 * recomputed directly in double: the tent upsample and its adjoint, max-pool ties and
 * routing, batch-norm statistics (across the channel-block boundary), in-place calls,
 * dropout's mask, minibatch discrimination's sums, dense against a direct product. */
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

/* ---- upsample ---------------------------------------------------------------------------
 * x = [[1, 2], [3, 4]] (channel 0), 10x that (channel 1), second image -x.
 * Along W (out[2m+1] = in[m], out[2m] = (in[m] + in[m-1]) / 2, in[-1] = 0):
 *   row [1, 2] -> [0.5, 1, 1.5, 2];  row [3, 4] -> [1.5, 3, 3.5, 4].
 * Along H the same rule over those rows:
 *   out row 0 = 0.5 * r0        = [0.25, 0.5, 0.75, 1]
 *   out row 1 = r0              = [0.5, 1, 1.5, 2]
 *   out row 2 = 0.5 * (r1 + r0) = [1, 2, 2.5, 3]
 *   out row 3 = r1              = [1.5, 3, 3.5, 4] */
static void test_upsample_by_hand(void **state)
{
    (void)state;
    const float want[16] = {0.25f, 0.5f, 0.75f, 1.0f, 0.5f, 1.0f, 1.5f, 2.0f,
                            1.0f,  2.0f, 2.5f,  3.0f, 1.5f, 3.0f, 3.5f, 4.0f};
    float x[2 * 2 * 2 * 2], y[2 * 4 * 4 * 2];
    const float base[4] = {1, 2, 3, 4};
    for (int img = 0; img < 2; img++)
        for (int p = 0; p < 4; p++)
            for (int ch = 0; ch < 2; ch++)
                x[(img * 4 + p) * 2 + ch] = base[p] * (ch ? 10.0f : 1.0f) * (img ? -1.0f : 1.0f);
    nn_upsample2x_forward(y, x, 2, 2, 2, 2);
    for (int img = 0; img < 2; img++)
        for (int p = 0; p < 16; p++)
            for (int ch = 0; ch < 2; ch++) {
                float w = want[p] * (ch ? 10.0f : 1.0f) * (img ? -1.0f : 1.0f);
                assert_true(y[(img * 16 + p) * 2 + ch] == w);
            }
    printf("  2x2 -> 4x4 matches the hand-worked rule in 2 images x 2 channels\n");
}

/* <up(x), g> = <x, up^T(g)> for random x, g: the backward is the exact adjoint. */
static void test_upsample_adjoint(void **state)
{
    (void)state;
    nn_rng r;
    nn_rng_seed(&r, 3);
    int n = 2, h = 3, w = 5, c = 20; /* c = 20: a vector block and a tail */
    size_t nx = (size_t)n * h * w * c, ny = 4 * nx;
    float *x = alloc_random(nx, 1.0f, &r), *g = alloc_random(ny, 1.0f, &r);
    float *y = alloc_random(ny, 1.0f, &r), *dx = alloc_random(nx, 1.0f, &r);
    nn_upsample2x_forward(y, x, n, h, w, c);
    nn_upsample2x_backward(dx, g, n, h, w, c);
    double lhs = 0.0, rhs = 0.0;
    for (size_t i = 0; i < ny; i++)
        lhs += (double)y[i] * g[i];
    for (size_t i = 0; i < nx; i++)
        rhs += (double)x[i] * dx[i];
    printf("  <up(x), g> = %.9g, <x, up^T(g)> = %.9g\n", lhs, rhs);
    assert_true(fabs(lhs - rhs) < 1e-5 * (fabs(lhs) + 1.0));
    /* The 1-D adjoint by hand, d_in[m] = 0.5 d[2m] + d[2m+1] + 0.5 d[2m+2] with
     * d[2W] = 0, along W: a 1x4 input has a 2x8 output; output row 1 is weighted 1 and
     * row 0 (zero here) 0.5. */
    float g2[16] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, d2[4];
    nn_upsample2x_backward(d2, g2, 1, 1, 4, 1);
    const float want[4] = {0.5f * 1 + 2 + 0.5f * 3, 0.5f * 3 + 4 + 0.5f * 5,
                           0.5f * 5 + 6 + 0.5f * 7, 0.5f * 7 + 8};
    for (int i = 0; i < 4; i++)
        assert_true(d2[i] == want[i]);
    free(x); free(g); free(y); free(dx);
}

/* ---- max-pool --------------------------------------------------------------------------- */

static void test_maxpool_ties_and_routing(void **state)
{
    (void)state;
    /* one 4x4 single-channel image, four windows (row-major inside each):
     *   [5 5; 5 5] -> 5 at 0 (ties: first)   [1 3; 3 2] -> 3 at 1
     *   [0 0; 7 7] -> 7 at 2                  [-1 -2; -3 -0.5] -> -0.5 at 3 */
    const float x[16] = {5, 5, 1, 3, 5, 5, 3, 2, 0, 0, -1, -2, 7, 7, -3, -0.5f};
    float y[4];
    uint8_t arg[4];
    nn_maxpool2x2_forward(y, arg, x, 1, 4, 4, 1);
    const float wy[4] = {5, 3, 7, -0.5f};
    const uint8_t warg[4] = {0, 1, 2, 3};
    for (int i = 0; i < 4; i++) {
        assert_true(y[i] == wy[i]);
        assert_int_equal(arg[i], warg[i]);
    }
    float dy[4] = {10, 20, 30, 40}, dx[16];
    for (int i = 0; i < 16; i++)
        dx[i] = 99.0f; /* backward writes every element */
    nn_maxpool2x2_backward(dx, dy, arg, 1, 4, 4, 1);
    const float wdx[16] = {10, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 30, 0, 0, 40};
    for (int i = 0; i < 16; i++)
        assert_true(dx[i] == wdx[i]);
    printf("  ties pick the first input; dy lands on the winners, zero elsewhere\n");
}

/* Many channels (vector blocks and a tail) against a direct scan. */
static void test_maxpool_many_channels(void **state)
{
    (void)state;
    nn_rng r;
    nn_rng_seed(&r, 4);
    int n = 2, h = 6, w = 4, c = 37;
    size_t nx = (size_t)n * h * w * c, ny = nx / 4;
    float *x = alloc_random(nx, 1.0f, &r), *y = alloc_random(ny, 1.0f, &r);
    uint8_t *arg = malloc(ny);
    assert_non_null(arg);
    nn_maxpool2x2_forward(y, arg, x, n, h, w, c);
    for (int img = 0; img < n; img++)
        for (int i = 0; i < h / 2; i++)
            for (int j = 0; j < w / 2; j++)
                for (int ch = 0; ch < c; ch++) {
                    float best = -INFINITY;
                    int k = -1;
                    for (int q = 0; q < 4; q++) {
                        size_t row = (size_t)img * h + 2 * i + q / 2;
                        float v = x[(row * w + 2 * j + q % 2) * c + ch];
                        if (v > best) {
                            best = v;
                            k = q;
                        }
                    }
                    size_t o = (((size_t)img * (h / 2) + i) * (w / 2) + j) * c + ch;
                    assert_true(y[o] == best);
                    assert_int_equal(arg[o], k);
                }
    printf("  %zu outputs over 37 channels match a direct scan\n", ny);
    free(x); free(y); free(arg);
}

/* ---- batch norm ------------------------------------------------------------------------- */

static void test_batchnorm_statistics(void **state)
{
    (void)state;
    nn_rng r;
    nn_rng_seed(&r, 5);
    size_t rows = 1000;
    int c = 300; /* beyond one 256-channel block */
    size_t count = rows * c;
    float *x = alloc_random(count, 2.0f, &r), *beta = alloc_random((size_t)c, 1.0f, &r);
    for (size_t i = 0; i < count; i++)
        x[i] += 100.0f + (float)(i % (size_t)c); /* large means: variance by two passes */
    float *y = malloc(count * sizeof *y), *mean = malloc((size_t)c * sizeof *mean);
    float *rstd = malloc((size_t)c * sizeof *rstd), *y2 = malloc(count * sizeof *y2);
    assert_true(y && mean && rstd && y2);
    nn_batchnorm_forward(y, mean, rstd, x, beta, rows, c);
    double worst_m = 0.0, worst_r = 0.0, worst_y = 0.0;
    for (int ch = 0; ch < c; ch++) {
        double s = 0.0, ss = 0.0;
        for (size_t i = 0; i < rows; i++)
            s += x[i * c + ch];
        double m = s / rows;
        for (size_t i = 0; i < rows; i++)
            ss += (x[i * c + ch] - m) * (x[i * c + ch] - m);
        double rs = 1.0 / sqrt(ss / rows + 1e-3); /* biased variance, eps 1e-3 */
        worst_m = fmax(worst_m, fabs(mean[ch] - m) / fabs(m));
        worst_r = fmax(worst_r, fabs(rstd[ch] - rs) / rs);
        for (size_t i = 0; i < rows; i++) {
            double want = (x[i * c + ch] - m) * rs + beta[ch];
            worst_y = fmax(worst_y, fabs(y[i * c + ch] - want));
        }
    }
    printf("  1000 rows x 300 channels: mean rel error %.2g, rstd rel error %.2g, y abs "
           "error %.2g\n", worst_m, worst_r, worst_y);
    assert_true(worst_m < 1e-6);
    assert_true(worst_r < 1e-5);
    assert_true(worst_y < 1e-4);
    /* sampling mode: the same statistics applied give the same output */
    nn_batchnorm_apply(y2, x, beta, mean, rstd, rows, c);
    for (size_t i = 0; i < count; i++)
        assert_true(fabsf(y2[i] - y[i]) <= 1e-6f * (1.0f + fabsf(y[i])));
    free(x); free(beta); free(y); free(mean); free(rstd); free(y2);
}

static void test_batchnorm_in_place(void **state)
{
    (void)state;
    nn_rng r;
    nn_rng_seed(&r, 6);
    size_t rows = 45;
    int c = 35, cnt = (int)rows * c;
    float *x = alloc_random((size_t)cnt, 1.5f, &r), *beta = alloc_random((size_t)c, 1.0f, &r);
    float *dy = alloc_random((size_t)cnt, 1.0f, &r);
    float *y = malloc((size_t)cnt * sizeof *y), *dx = malloc((size_t)cnt * sizeof *dx);
    float *buf = malloc((size_t)cnt * sizeof *buf), *gbuf = malloc((size_t)cnt * sizeof *gbuf);
    float m1[35], r1[35], m2[35], r2[35], db1[35] = {0}, db2[35] = {0};
    assert_true(y && dx && buf && gbuf);
    nn_batchnorm_forward(y, m1, r1, x, beta, rows, c);
    nn_batchnorm_backward(dx, db1, dy, y, beta, r1, rows, c);
    memcpy(buf, x, (size_t)cnt * sizeof *buf);
    nn_batchnorm_forward(buf, m2, r2, buf, beta, rows, c);
    memcpy(gbuf, dy, (size_t)cnt * sizeof *gbuf);
    nn_batchnorm_backward(gbuf, db2, gbuf, buf, beta, r2, rows, c);
    assert_memory_equal(y, buf, (size_t)cnt * sizeof *y);
    assert_memory_equal(dx, gbuf, (size_t)cnt * sizeof *dx);
    assert_memory_equal(db1, db2, sizeof db1);
    /* sampling mode in place */
    memcpy(buf, x, (size_t)cnt * sizeof *buf);
    nn_batchnorm_apply(buf, buf, beta, m1, r1, rows, c);
    assert_memory_equal(y, buf, (size_t)cnt * sizeof *y);
    /* the normalised output has zero mean and (nearly) unit variance per channel, and
     * the input gradient sums to zero per channel (the mean is subtracted) */
    for (int ch = 0; ch < c; ch++) {
        double s = 0.0, ss = 0.0, gs = 0.0;
        for (size_t i = 0; i < rows; i++) {
            double v = y[i * c + ch] - beta[ch];
            s += v;
            ss += v * v;
            gs += dx[i * c + ch];
        }
        assert_true(fabs(s / rows) < 1e-5);
        assert_true(fabs(ss / rows - 1.0) < 2e-3); /* var / (var + eps), var ~ 2.25 */
        assert_true(fabs(gs) < 1e-4);
    }
    printf("  in place == out of place (forward, backward, apply); per-channel checks hold\n");
    free(x); free(beta); free(dy); free(y); free(dx); free(buf); free(gbuf);
}

/* ---- activations ------------------------------------------------------------------------ */

static void test_activations_values_in_place(void **state)
{
    (void)state;
    const float x[5] = {-2.0f, -0.0f, 0.0f, 0.5f, 3.0f};
    float y[5];
    nn_relu_forward(y, x, 5);
    const float relu_want[5] = {0, 0, 0, 0.5f, 3};
    nn_leaky_relu_forward(y, x, NN_LEAKY_SLOPE, 5);
    const float leaky_want[5] = {-0.2f, 0, 0, 0.5f, 3};
    for (int i = 0; i < 5; i++)
        assert_true(fabsf(y[i] - leaky_want[i]) < 1e-7f);
    nn_relu_forward(y, x, 5);
    for (int i = 0; i < 5; i++)
        assert_true(y[i] == relu_want[i]);
    nn_tanh_forward(y, x, 5);
    for (int i = 0; i < 5; i++)
        assert_true(fabsf(y[i] - tanhf(x[i])) < 1e-7f);

    /* in place == out of place, over vector blocks and a tail */
    nn_rng r;
    nn_rng_seed(&r, 7);
    size_t n = 53;
    float *a = alloc_random(n, 1.0f, &r), *g = alloc_random(n, 1.0f, &r);
    float *out = malloc(n * sizeof *out), *d = malloc(n * sizeof *d);
    float *buf = malloc(n * sizeof *buf), *gb = malloc(n * sizeof *gb);
    assert_true(out && d && buf && gb);
    for (int kind = 0; kind < 3; kind++) {
        memcpy(buf, a, n * sizeof *buf);
        memcpy(gb, g, n * sizeof *gb);
        if (kind == 0) {
            nn_relu_forward(out, a, n);
            nn_relu_backward(d, g, out, n);
            nn_relu_forward(buf, buf, n);
            nn_relu_backward(gb, gb, buf, n);
        } else if (kind == 1) {
            nn_leaky_relu_forward(out, a, NN_LEAKY_SLOPE, n);
            nn_leaky_relu_backward(d, g, out, NN_LEAKY_SLOPE, n);
            nn_leaky_relu_forward(buf, buf, NN_LEAKY_SLOPE, n);
            nn_leaky_relu_backward(gb, gb, buf, NN_LEAKY_SLOPE, n);
        } else {
            nn_tanh_forward(out, a, n);
            nn_tanh_backward(d, g, out, n);
            nn_tanh_forward(buf, buf, n);
            nn_tanh_backward(gb, gb, buf, n);
        }
        assert_memory_equal(out, buf, n * sizeof *out);
        assert_memory_equal(d, gb, n * sizeof *d);
        /* and the gradients against their formulas */
        for (size_t i = 0; i < n; i++) {
            float want = kind == 0   ? (a[i] > 0 ? g[i] : 0.0f)
                         : kind == 1 ? (a[i] > 0 ? g[i] : NN_LEAKY_SLOPE * g[i])
                                     : g[i] * (1.0f - out[i] * out[i]);
            assert_true(fabsf(d[i] - want) <= 1e-7f * (1.0f + fabsf(want)));
        }
    }
    printf("  relu, leaky relu, tanh: values, gradients, in place == out of place\n");
    free(a); free(g); free(out); free(d); free(buf); free(gb);
}

/* ---- dropout ---------------------------------------------------------------------------- */

static void test_dropout(void **state)
{
    (void)state;
    nn_rng r, start;
    nn_rng_seed(&r, 8);
    size_t n = 20000;
    float *x = alloc_random(n, 1.0f, &r), *g = alloc_random(n, 1.0f, &r);
    for (size_t i = 0; i < n; i++)
        x[i] += x[i] >= 0 ? 0.1f : -0.1f; /* no zeros, so a kept value is never 0 */
    float *y = malloc(n * sizeof *y), *dx = malloc(n * sizeof *dx), *buf = malloc(n * sizeof *buf);
    uint8_t *mask = malloc(n), *mask2 = malloc(n);
    assert_true(y && dx && buf && mask && mask2);
    const float keep = 0.3f;
    nn_rng_seed(&start, 9);
    r = start;
    nn_dropout_forward(y, mask, x, keep, n, &r);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(mask[i] == 0 || mask[i] == 1);
        kept += mask[i];
        if (mask[i])
            assert_true(fabsf(y[i] - x[i] / keep) <= 1e-6f * fabsf(y[i]));
        else
            assert_true(y[i] == 0.0f);
    }
    double frac = (double)kept / (double)n;
    printf("  keep 0.3: kept fraction %.4f (standard error 0.0032)\n", frac);
    assert_true(fabs(frac - keep) < 0.02);
    /* backward agrees with the mask */
    nn_dropout_backward(dx, g, mask, keep, n);
    for (size_t i = 0; i < n; i++)
        assert_true(dx[i] == (mask[i] ? g[i] * (1.0f / keep) : 0.0f));
    /* same state, same mask, also in place */
    nn_rng r2 = start;
    memcpy(buf, x, n * sizeof *buf);
    nn_dropout_forward(buf, mask2, buf, keep, n, &r2);
    assert_memory_equal(mask, mask2, n);
    assert_memory_equal(y, buf, n * sizeof *y);
    assert_memory_equal(&r, &r2, sizeof r);
    /* keep = 1 is the identity: values copied, mask all ones, no draws */
    nn_rng r3 = start;
    nn_dropout_forward(y, mask, x, 1.0f, n, &r3);
    assert_memory_equal(y, x, n * sizeof *y);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(mask[i], 1);
    assert_memory_equal(&r3, &start, sizeof r3);
    nn_dropout_backward(dx, g, mask, 1.0f, n);
    assert_memory_equal(dx, g, n * sizeof *dx);
    free(x); free(g); free(y); free(dx); free(buf); free(mask); free(mask2);
}

/* ---- minibatch discrimination ----------------------------------------------------------- */

static void test_minibatch_forward(void **state)
{
    (void)state;
    nn_rng r;
    nn_rng_seed(&r, 10);
    int n = 6, f = 7, b = 4, c = 3, bc = b * c;
    float *x = alloc_random((size_t)n * f, 1.0f, &r), *t = alloc_random((size_t)f * bc, 0.3f, &r);
    float *bias = alloc_random((size_t)b, 1.0f, &r);
    float o[6 * 4], m[6 * 12];
    nn_minibatch_forward(o, m, x, t, bias, n, f, b, c);
    double worst = 0.0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < b; k++) {
            double s = bias[k];
            for (int j = 0; j < n; j++) { /* including j = i */
                double d = 0.0;
                for (int u = 0; u < c; u++) {
                    double mi = 0.0, mj = 0.0;
                    for (int q = 0; q < f; q++) {
                        mi += (double)x[i * f + q] * t[q * bc + k * c + u];
                        mj += (double)x[j * f + q] * t[q * bc + k * c + u];
                    }
                    d += fabs(mi - mj);
                }
                s += exp(-d);
            }
            worst = fmax(worst, fabs(o[i * b + k] - s));
        }
    printf("  o against the direct double formula: max abs error %.2g\n", worst);
    assert_true(worst < 1e-5);
    /* identical samples: every pair has distance 0, so o = n + bias; one sample alone: 1 */
    for (int i = 1; i < n; i++)
        memcpy(x + i * f, x, (size_t)f * sizeof *x);
    nn_minibatch_forward(o, m, x, t, bias, n, f, b, c);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < b; k++)
            assert_true(fabsf(o[i * b + k] - ((float)n + bias[k])) < 1e-5f);
    nn_minibatch_forward(o, m, x, t, NULL, 1, f, b, c);
    for (int k = 0; k < b; k++)
        assert_true(o[k] == 1.0f);
    free(x); free(t); free(bias);
}

/* ---- dense ------------------------------------------------------------------------------ */

static void test_dense_forward(void **state)
{
    (void)state;
    /* x = [[1, 2]], w = [[1, 0, -1], [2, 1, 0]], b = [0.5, 0, -0.5] -> [5.5, 2, -1.5] */
    const float x[2] = {1, 2}, w[6] = {1, 0, -1, 2, 1, 0}, b[3] = {0.5f, 0, -0.5f};
    float y[3] = {9, 9, 9};
    nn_dense_forward(y, x, w, b, 1, 2, 3);
    assert_true(y[0] == 5.5f && y[1] == 2.0f && y[2] == -1.5f);
    nn_dense_forward(y, x, w, NULL, 1, 2, 3);
    assert_true(y[0] == 5.0f && y[1] == 2.0f && y[2] == -1.0f);
    printf("  1x2 . 2x3 + b by hand: [5.5, 2, -1.5]; without bias [5, 2, -1]\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upsample_by_hand),
        cmocka_unit_test(test_upsample_adjoint),
        cmocka_unit_test(test_maxpool_ties_and_routing),
        cmocka_unit_test(test_maxpool_many_channels),
        cmocka_unit_test(test_batchnorm_statistics),
        cmocka_unit_test(test_batchnorm_in_place),
        cmocka_unit_test(test_activations_values_in_place),
        cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_minibatch_forward),
        cmocka_unit_test(test_dense_forward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
