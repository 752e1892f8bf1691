/* bench_train: training and sampling speed of the presets, as `make bench` prints them.
 *
 * For each preset (default: small and illustrationgan, batch 32), in a child process of
 * its own so that peak memory is the preset's alone: the median seconds per training
 * iteration after a warm-up, images/s, peak resident memory, multiply-adds per iteration
 * counted from the layer shapes, the achieved GFLOP/s, and the GFLOP/s of one plain SGEMM
 * with the shape of the model's largest convolution (as one im2col GEMM), measured in the
 * same process, with the ratio of the two. Then the latency of a generator snapshot and of
 * sampling 16 images from it.
 *
 * usage: bench_train [PRESET[:ITERATIONS] ...] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gan/internal.h"
#include "illgan/util.h"


static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The convolution with the most multiply-adds, as (M, K, N) of its im2col GEMM. */
static void largest_conv(const gan *g, int batch, int *m, int *k, int *n)
{
    double best = 0;
    for (int pass = 0; pass < 2; pass++) {
        const int levels = pass ? g->dl.levels : g->gl.levels + 1;
        for (int i = 0; i < levels; i++) {
            const gan_conv *c = pass ? &g->dl.conv[i] : i < g->gl.levels ? &g->gl.up[i] : &g->gl.out;
            double macs = (double)c->side * c->side * 25 * c->cin * c->cout;
            if (macs > best) {
                best = macs;
                *m = batch * c->side * c->side;
                *k = 25 * c->cin;
                *n = c->cout;
            }
        }
    }
}

static double sgemm_gflops(int m, int k, int n)
{
    float *a = malloc(sizeof(float) * (size_t)m * k);
    float *b = malloc(sizeof(float) * (size_t)k * n);
    float *c = malloc(sizeof(float) * (size_t)m * n);
    if (!a || !b || !c) {
        free(a);
        free(b);
        free(c);
        return 0;
    }
    for (size_t i = 0; i < (size_t)m * k; i++)
        a[i] = (float)((i * 2654435761u) % 1000) * 1e-3f;
    for (size_t i = 0; i < (size_t)k * n; i++)
        b[i] = (float)((i * 40503u) % 1000) * 1e-3f;
    double t[5];
    for (int r = 0; r < 5; r++) {
        double t0 = util_mono_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f,
                    c, n);
        t[r] = util_mono_seconds() - t0;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * m * k * n / median(t, 5) / 1e9;
}

static int run_preset(const char *preset, int iterations)
{
    char err[256];
    gan_config cfg;
    gan_hparams hp;
    if (gan_config_preset(&cfg, preset, err, sizeof err)) {
        fprintf(stderr, "bench: %s\n", err);
        return 1;
    }
    gan_hparams_default(&hp, preset);
    hp.batch_size = 32;
    gan *g;
    dataset ds;
    const int side = gan_config_side(&cfg);
    if (gan_init(&g, &cfg, &hp, 1, err, sizeof err) ||
        dataset_synthetic(&ds, 256, side, 1, err, sizeof err)) {
        fprintf(stderr, "bench: %s\n", err);
        return 1;
    }
    gan_stats st;
    double *t = malloc(sizeof(double) * iterations);
    for (int i = -1; i < iterations; i++) { /* i = -1: warm-up */
        double t0 = util_mono_seconds();
        if (gan_train_iteration(g, &ds, &st, err, sizeof err)) {
            fprintf(stderr, "bench: %s\n", err);
            return 1;
        }
        if (i >= 0)
            t[i] = util_mono_seconds() - t0;
    }
    const double sec = median(t, iterations);
    const double macs = gan_iteration_macs(g);
    const double gflops = 2 * macs / sec / 1e9;

    double snap[3], gen[5];
    float *z = malloc(sizeof(float) * 16 * GAN_Z_DIM);
    float *img = malloc(sizeof(float) * 16 * side * side * 3);
    gan_sample_z(z, 16, 1);
    gan_snapshot *s = NULL;
    for (int r = 0; r < 3; r++) {
        gan_snapshot_free(s);
        double t0 = util_mono_seconds();
        if (gan_snapshot_take(&s, g, err, sizeof err)) {
            fprintf(stderr, "bench: %s\n", err);
            return 1;
        }
        snap[r] = util_mono_seconds() - t0;
    }
    for (int r = 0; r < 5; r++) {
        double t0 = util_mono_seconds();
        gan_snapshot_generate(s, z, 16, img, err, sizeof err);
        gen[r] = util_mono_seconds() - t0;
    }
    /* Peak memory of training and sampling, read before the SGEMM comparison allocates
     * its own matrices. */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    int m = 0, k = 0, n = 0;
    largest_conv(g, 32, &m, &k, &n);
    const double ref = sgemm_gflops(m, k, n);

    printf("%-16s batch 32, %d iterations after a warm-up, %d BLAS threads\n", preset,
           iterations, openblas_get_num_threads());
    printf("  seconds/iteration   %.3f (median)\n", sec);
    printf("  images/s            %.1f\n", 32 / sec);
    printf("  peak memory         %.0f MiB (training and sampling)\n", ru.ru_maxrss / 1024.0);
    printf("  multiply-adds/iter  %.3g (%.3g per image)\n", macs, macs / 32);
    printf("  achieved            %.1f GFLOP/s\n", gflops);
    printf("  plain SGEMM         %.1f GFLOP/s (M %d, K %d, N %d: the largest conv as one GEMM)\n",
           ref, m, k, n);
    printf("  ratio               %.0f%% of SGEMM\n", 100 * gflops / ref);
    printf("  snapshot            %.3f s (reference batch of 64, median of 3)\n", median(snap, 3));
    printf("  sample 16 images    %.3f s (median of 5)\n", median(gen, 5));
    printf("  last losses         D %.3f  G %.3f  Z %.3f\n", st.loss_d, st.loss_g, st.loss_z);
    fflush(stdout);
    gan_snapshot_free(s);
    free(z);
    free(img);
    free(t);
    dataset_free(&ds);
    gan_free(g);
    return 0;
}

int main(int argc, char **argv)
{
    static const char *defaults[] = {"small:10", "illustrationgan:3"};
    const char **list = argc > 1 ? (const char **)argv + 1 : defaults;
    int count = argc > 1 ? argc - 1 : 2;
    int failed = 0;
    for (int i = 0; i < count; i++) {
        char name[64];
        int iterations = 5;
        snprintf(name, sizeof name, "%s", list[i]);
        char *colon = strchr(name, ':');
        if (colon) {
            *colon = 0;
            iterations = atoi(colon + 1) > 0 ? atoi(colon + 1) : 5;
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0)
            _exit(run_preset(name, iterations));
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            failed = 1;
    }
    return failed;
}
