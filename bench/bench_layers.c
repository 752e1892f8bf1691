/* bench_layers: speed of nn's convolutions on the model's layer shapes (docs/MODEL.md,
 * batch 32), against a plain cblas_sgemm of the same M = n*h*w, N = cout,
 * K = k*k*cin, and of the element-wise layers against memory bandwidth.
 *
 * usage: bench_layers [illustrationgan|small|all] [repeats]
 * Each figure is the median of `repeats` timed runs (default 3) after one warm-up run.
 * The SGEMM baseline runs on at most 8192 rows of A (so the matrix fits in memory); its
 * rate does not depend on M beyond that. Backward counts dx and dw: twice the forward's
 * multiply-adds. Prints GFLOP/s (2 FLOP per multiply-add) and the ratio to SGEMM. */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "illgan/nn.h"
#include "illgan/util.h"

#define MAX_REPEATS 15


static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static float *alloc_random(size_t n, nn_rng *r)
{
    float *p = malloc(n * sizeof *p);
    if (!p) {
        fprintf(stderr, "bench_layers: out of memory (%zu floats)\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = nn_rng_uniform(r) - 0.5f;
    return p;
}

typedef struct {
    const char *net;
    nn_conv_shape s;
} layer;

static const layer layers[] = {
    {"illustrationgan G", {32, 8, 8, 512, 512, 5}},
    {"illustrationgan G", {32, 16, 16, 512, 256, 5}},
    {"illustrationgan G", {32, 32, 32, 256, 128, 5}},
    {"illustrationgan G", {32, 64, 64, 128, 64, 5}},
    {"illustrationgan G", {32, 64, 64, 64, 3, 5}},
    {"illustrationgan D", {32, 64, 64, 3, 64, 5}},
    {"illustrationgan D", {32, 32, 32, 64, 128, 5}},
    {"illustrationgan D", {32, 16, 16, 128, 256, 5}},
    {"illustrationgan D", {32, 8, 8, 256, 512, 5}},
    {"small G", {32, 8, 8, 128, 128, 5}},
    {"small G", {32, 16, 16, 128, 64, 5}},
    {"small G", {32, 32, 32, 64, 32, 5}},
    {"small G", {32, 64, 64, 32, 16, 5}},
    {"small G", {32, 64, 64, 16, 3, 5}},
    {"small D", {32, 64, 64, 3, 16, 5}},
    {"small D", {32, 32, 32, 16, 32, 5}},
    {"small D", {32, 16, 16, 32, 64, 5}},
    {"small D", {32, 8, 8, 64, 128, 5}},
};

static void bench_conv(const layer *l, int repeats, double *tot_conv, double *tot_gemm)
{
    const nn_conv_shape *s = &l->s;
    nn_rng r;
    nn_rng_seed(&r, 1);
    size_t pos = (size_t)s->n * s->h * s->w;
    size_t kk = (size_t)s->k * s->k * s->cin;
    size_t nw = kk * s->cout;
    float *x = alloc_random(pos * s->cin, &r), *w = alloc_random(nw, &r);
    float *b = alloc_random((size_t)s->cout, &r), *dy = alloc_random(pos * s->cout, &r);
    float *y = alloc_random(pos * s->cout, &r), *dx = alloc_random(pos * s->cin, &r);
    float *dw = alloc_random(nw, &r);
    float *work = alloc_random(nn_conv2d_workspace_floats(s), &r);
    size_t gm = pos < 8192 ? pos : 8192;
    float *ga = alloc_random(gm * kk, &r), *gc = alloc_random(gm * s->cout, &r);

    double tf[MAX_REPEATS], tb[MAX_REPEATS], tg[MAX_REPEATS];
    for (int i = -1; i < repeats; i++) {
        double t0 = util_mono_seconds();
        nn_conv2d_forward(y, x, w, NULL, s, work);
        double t1 = util_mono_seconds();
        nn_conv2d_backward(dx, dw, NULL, dy, x, w, s, work);
        double t2 = util_mono_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)gm, s->cout, (int)kk, 1.0f,
                    ga, (int)kk, w, s->cout, 0.0f, gc, s->cout);
        double t3 = util_mono_seconds();
        if (i >= 0) {
            tf[i] = t1 - t0;
            tb[i] = t2 - t1;
            tg[i] = (t3 - t2) * (double)pos / (double)gm;
        }
    }
    double f = median(tf, repeats), bw = median(tb, repeats), g = median(tg, repeats);
    double flop = 2.0 * (double)pos * (double)kk * s->cout;
    printf("%-18s %2dx%-2d %3d->%-3d  fwd %7.2f ms %6.1f GF/s  bwd %7.2f ms %6.1f GF/s  "
           "sgemm %6.1f GF/s  fwd %3.0f%% bwd %3.0f%%\n",
           l->net, s->h, s->w, s->cin, s->cout, 1e3 * f, flop / f * 1e-9, 1e3 * bw,
           2 * flop / bw * 1e-9, flop / g * 1e-9, 100.0 * g / f, 200.0 * g / bw);
    fflush(stdout);
    *tot_conv += f + bw;
    *tot_gemm += 3.0 * g;
    free(x); free(w); free(b); free(dy); free(y); free(dx); free(dw); free(work);
    free(ga); free(gc);
}

/* Element-wise layers on a 32x32x32x128 tensor (16 MiB). */
static void bench_elementwise(int repeats)
{
    int n = 32, h = 32, w = 32, c = 128;
    size_t count = (size_t)n * h * w * c;
    nn_rng r;
    nn_rng_seed(&r, 2);
    float *x = alloc_random(4 * count, &r), *y = alloc_random(4 * count, &r);
    float *mean = alloc_random((size_t)c, &r), *rstd = alloc_random((size_t)c, &r);
    float *beta = alloc_random((size_t)c, &r), *dbeta = alloc_random((size_t)c, &r);
    uint8_t *mask = malloc(count);
    if (!mask)
        exit(1);
    const char *names[] = {"upsample fwd (out 4x)", "upsample bwd", "batchnorm fwd",
                           "batchnorm bwd", "relu fwd", "leaky relu bwd", "dropout fwd",
                           "maxpool fwd"};
    /* bytes moved, for a bandwidth figure */
    double bytes[] = {20, 20, 12, 12, 8, 12, 9, 5.5};
    for (int op = 0; op < 8; op++) {
        double t[MAX_REPEATS];
        for (int i = -1; i < repeats; i++) {
            double t0 = util_mono_seconds();
            switch (op) {
            case 0: nn_upsample2x_forward(y, x, n, h, w, c); break;
            case 1: nn_upsample2x_backward(x, y, n, h, w, c); break;
            case 2: nn_batchnorm_forward(y, mean, rstd, x, beta, (size_t)n * h * w, c); break;
            case 3: nn_batchnorm_backward(x, dbeta, x, y, beta, rstd, (size_t)n * h * w, c); break;
            case 4: nn_relu_forward(y, x, count); break;
            case 5: nn_leaky_relu_backward(x, x, y, NN_LEAKY_SLOPE, count); break;
            case 6: nn_dropout_forward(y, mask, x, 0.5f, count, &r); break;
            default: nn_maxpool2x2_forward(y, mask, x, n, h, w, c); break;
            }
            if (i >= 0)
                t[i] = util_mono_seconds() - t0;
        }
        double m = median(t, repeats);
        printf("%-22s %6.2f ms  %5.1f GB/s\n", names[op], 1e3 * m,
               bytes[op] * (double)count / m * 1e-9);
    }
    free(x); free(y); free(mean); free(rstd); free(beta); free(dbeta); free(mask);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    int repeats = argc > 2 ? atoi(argv[2]) : 3;
    if (repeats < 1 || repeats > MAX_REPEATS) {
        fprintf(stderr, "usage: bench_layers [illustrationgan|small|all] [repeats 1..%d]\n",
                MAX_REPEATS);
        return 2;
    }
    double tot_conv = 0.0, tot_gemm = 0.0;
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
        if (!strcmp(which, "all") || !strncmp(layers[i].net, which, strlen(which)))
            bench_conv(&layers[i], repeats, &tot_conv, &tot_gemm);
    if (tot_conv > 0.0)
        printf("all convolutions above, forward + backward: %.1f ms, SGEMM-equivalent %.1f ms "
               "(%.0f%% of SGEMM throughput)\n",
               1e3 * tot_conv, 1e3 * tot_gemm, 100.0 * tot_gemm / tot_conv);
    bench_elementwise(repeats);
    return 0;
}
