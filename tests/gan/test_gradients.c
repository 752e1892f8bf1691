/* Whole-network gradient checks: d(L_G)/d(G's parameters) through D, and
 * d(L_Z)/d(G's FC layers and Z), against central finite differences.
 *
 * The network is a small custom configuration that still has every kind of layer: two
 * upsampling blocks in G (batch norm included), two conv blocks in D (dropout and batch
 * norm in the second), the head, minibatch discrimination. D's dropout masks come from a
 * copy of one fixed generator state on every evaluation, so the loss is a deterministic
 * function of the parameters.
 *
 * Tolerances: the model runs in float32. With step h = 1e-2 on parameters of size ~0.3 the
 * central difference has truncation error O(h^2) ~ 1e-4 relative and rounding error about
 * 1e-7 * |L| / h ~ 1e-5 absolute. A check passes when |fd - analytic| <= 2e-2 * max(|fd|,
 * |analytic|) + 2e-4. ReLU, LeakyReLU, max-pool and |.| in minibatch discrimination have
 * kinks; a step that crosses one gives a wrong difference, so up to 3% of the checked
 * parameters may fail, and the median relative error must stay below 1e-2. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gan/internal.h"

#define H 1e-2f

static gan *small_gan(void)
{
    gan_config cfg = {.preset = "custom", .levels = 2, .base = 2, .fc_width = 6,
                      .zpred_width = 5, .mb_kernels = 3, .mb_dims = 2};
    gan_hparams hp;
    gan_hparams_default(&hp, "custom");
    hp.batch_size = 3;
    char err[256];
    gan *g = NULL;
    assert_int_equal(gan_init(&g, &cfg, &hp, 11, err, sizeof err), 0);
    /* Non-zero betas and biases, so their gradients are exercised away from zero. */
    nn_rng r;
    nn_rng_seed(&r, 5);
    for (size_t i = 0; i < g->gp.count; i++)
        if (g->gp.w[i] == 0)
            g->gp.w[i] = 0.2f * (nn_rng_uniform(&r) - 0.5f);
    return g;
}

typedef float (*loss_fn)(gan *g, const float *z, const nn_rng *dropout);

static float loss_g(gan *g, const float *z, const nn_rng *dropout)
{
    nn_rng r = *dropout;
    return gan_g_loss_grad(g, z, &r);
}

static float loss_z(gan *g, const float *z, const nn_rng *dropout)
{
    (void)dropout;
    return gan_z_loss_grad(g, z);
}

static int compare_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Checks `count` parameters of `block` spread over [from, to). */
static void check(gan *g, nn_block *block, size_t from, size_t to, int count, loss_fn f,
                  const char *what)
{
    float z[3 * GAN_Z_DIM];
    nn_rng zr, dropout;
    nn_rng_seed(&zr, 99);
    for (int i = 0; i < 3 * GAN_Z_DIM; i++)
        z[i] = nn_rng_truncated_normal(&zr);
    nn_rng_seed(&dropout, 1234);

    f(g, z, &dropout);
    float *analytic = malloc(sizeof(float) * block->count);
    memcpy(analytic, block->dw, sizeof(float) * block->count);

    float *rel = malloc(sizeof(float) * count);
    int failures = 0;
    float worst = 0;
    nn_rng pick;
    nn_rng_seed(&pick, 4242);
    for (int k = 0; k < count; k++) {
        size_t i = from + (size_t)(k * (double)(to - from) / count) +
                   nn_rng_below(&pick, (uint32_t)((to - from) / count > 1 ? (to - from) / count : 1));
        if (i >= to)
            i = to - 1;
        float saved = block->w[i];
        block->w[i] = saved + H;
        float lp = f(g, z, &dropout);
        block->w[i] = saved - H;
        float lm = f(g, z, &dropout);
        block->w[i] = saved;
        float fd = (lp - lm) / (2 * H);
        float an = analytic[i];
        float scale = fmaxf(fabsf(fd), fabsf(an));
        float diff = fabsf(fd - an);
        rel[k] = scale > 0 ? diff / scale : 0;
        if (diff > 2e-2f * scale + 2e-4f) {
            failures++;
            print_message("  %s[%zu]: finite difference %.6g, analytic %.6g\n", what, i,
                          (double)fd, (double)an);
        }
        if (diff > worst)
            worst = diff;
    }
    qsort(rel, count, sizeof(float), compare_desc);
    float median = rel[count / 2];
    print_message("%s: %d parameters, %d outside tolerance, median relative error %.2e, "
                  "largest absolute error %.2e\n",
                  what, count, failures, (double)median, (double)worst);
    assert_true(failures <= count * 3 / 100);
    assert_true(median < 1e-2f);
    free(rel);
    free(analytic);
}

static void test_generator_loss_through_discriminator(void **state)
{
    (void)state;
    gan *g = small_gan();
    const gan_g_layout *l = &g->gl;
    check(g, &g->gp, 0, l->fc_count, 60, loss_g, "L_G wrt G FC layers");
    check(g, &g->gp, l->up[0].w, l->up[0].b + l->up[0].cout, 40, loss_g, "L_G wrt G block 0");
    check(g, &g->gp, l->up[1].w, l->up[1].b + l->up[1].cout, 40, loss_g, "L_G wrt G block 1");
    check(g, &g->gp, l->out.w, l->count, 40, loss_g, "L_G wrt G output conv");
    gan_free(g);
}

static void test_zpredictor_loss(void **state)
{
    (void)state;
    gan *g = small_gan();
    check(g, &g->gp, 0, g->gl.fc_count, 80, loss_z, "L_Z wrt G FC layers");
    check(g, &g->zp, 0, g->zl.count, 80, loss_z, "L_Z wrt Z");
    /* The Z loss must not touch G's convolutions. */
    loss_z(g, g->ga.z, NULL);
    for (size_t i = g->gl.fc_count; i < g->gp.count; i++)
        assert_true(g->gp.dw[i] == 0.0f);
    gan_free(g);
}

/* D's own gradients: the D step's loss on a fixed input, against finite differences. */
static float loss_d_real(gan *g, const float *x, const nn_rng *dropout)
{
    nn_rng r = *dropout;
    gan_d_forward(g, x, g->hp.dropout_keep, &r);
    float loss = nn_bce_logits_forward(g->da.logit, 1.0f, g->n);
    nn_bce_logits_backward(g->dlogit, g->da.logit, 1.0f, g->n, 1.0f);
    nn_block_zero_grad(&g->dp);
    gan_d_backward(g, g->dlogit, 0, 1);
    return loss;
}

static void test_discriminator_loss(void **state)
{
    (void)state;
    gan *g = small_gan();
    const size_t count = (size_t)g->n * g->dl.side * g->dl.side * 3;
    float *x = malloc(sizeof(float) * count);
    nn_rng r;
    nn_rng_seed(&r, 77);
    for (size_t i = 0; i < count; i++)
        x[i] = 2 * nn_rng_uniform(&r) - 1;
    nn_rng dropout;
    nn_rng_seed(&dropout, 1234);
    loss_d_real(g, x, &dropout);
    float *an = malloc(sizeof(float) * g->dp.count);
    memcpy(an, g->dp.dw, sizeof(float) * g->dp.count);
    int failures = 0, checked = 0;
    for (size_t i = 0; i < g->dp.count; i += 1 + g->dp.count / 150, checked++) {
        float saved = g->dp.w[i];
        g->dp.w[i] = saved + H;
        float lp = loss_d_real(g, x, &dropout);
        g->dp.w[i] = saved - H;
        float lm = loss_d_real(g, x, &dropout);
        g->dp.w[i] = saved;
        float fd = (lp - lm) / (2 * H);
        float scale = fmaxf(fabsf(fd), fabsf(an[i]));
        if (fabsf(fd - an[i]) > 2e-2f * scale + 2e-4f) {
            failures++;
            print_message("  D[%zu]: finite difference %.6g, analytic %.6g\n", i, (double)fd,
                          (double)an[i]);
        }
    }
    print_message("L_D(real) wrt D: %d parameters, %d outside tolerance\n", checked, failures);
    assert_true(failures <= checked * 3 / 100);
    free(an);
    free(x);
    gan_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generator_loss_through_discriminator),
        cmocka_unit_test(test_zpredictor_loss),
        cmocka_unit_test(test_discriminator_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
