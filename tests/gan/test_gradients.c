/* Whole-network gradient checks: d(L_G)/d(G's parameters) through D, and
 * d(L_Z)/d(G's FC layers and Z), against central finite differences.
 *
 * The network is a small custom configuration that still has every kind of layer: two
 * upsampling blocks in G (batch norm included), two conv blocks in D (dropout and batch
 * norm in the second), the head, minibatch discrimination. D's dropout masks come from a
 * copy of one fixed generator state on every evaluation, so the loss is a deterministic
 * function of the parameters.
 *
 * Tolerances: the model runs in float32. The loss is O(1), so rounding makes a central
 * difference with step h = 1e-3 uncertain by about 1e-7 / h = 1e-4; a check passes when
 * |fd - analytic| <= 2e-2 * max(|fd|, |analytic|) + 2e-4. ReLU, LeakyReLU, max-pool and
 * |.| in minibatch discrimination have kinks, and a step that crosses one gives a wrong
 * difference: each point is therefore differenced with steps h and h/2, and when the two
 * disagree by more than the tolerance the function is not smooth there; such points are
 * skipped and counted (at most 10% of the points may be skipped). The weights are
 * re-drawn larger than Xavier's so that every gradient stands well above the rounding
 * floor (with Xavier weights in such narrow layers, d(L_Z)/d(G) is about 1e-5). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gan/internal.h"

#define H 1e-3f

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
    /* Larger weights than Xavier's, and non-zero betas and biases (see the top). */
    nn_rng r;
    nn_rng_seed(&r, 5);
    nn_block *blocks[3] = {&g->gp, &g->zp, &g->dp};
    for (int b = 0; b < 3; b++)
        for (size_t i = 0; i < blocks[b]->count; i++)
            blocks[b]->w[i] = 1.5f * (nn_rng_uniform(&r) - 0.5f);
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

/* Central difference of f at parameter i of block with step h. */
static float central(gan *g, nn_block *block, size_t i, float h, loss_fn f, const float *z,
                     const nn_rng *dropout)
{
    float saved = block->w[i];
    block->w[i] = saved + h;
    float lp = f(g, z, dropout);
    block->w[i] = saved - h;
    float lm = f(g, z, dropout);
    block->w[i] = saved;
    return (lp - lm) / (2 * h);
}

static int outside(float a, float b)
{
    return fabsf(a - b) > 2e-2f * fmaxf(fabsf(a), fabsf(b)) + 2e-4f;
}

/* Checks `count` parameters of `block` spread over [from, to); z is f's input. */
static void check(gan *g, nn_block *block, size_t from, size_t to, int count, loss_fn f,
                  const float *z, const char *what)
{
    nn_rng dropout;
    nn_rng_seed(&dropout, 1234);

    f(g, z, &dropout);
    float *analytic = malloc(sizeof(float) * block->count);
    memcpy(analytic, block->dw, sizeof(float) * block->count);

    int failures = 0, kinks = 0;
    float worst = 0, smallest = INFINITY;
    const size_t stride = (to - from) / count > 1 ? (to - from) / count : 1;
    nn_rng pick;
    nn_rng_seed(&pick, 4242);
    for (int k = 0; k < count; k++) {
        size_t i = from + (size_t)k * stride + nn_rng_below(&pick, (uint32_t)stride);
        if (i >= to)
            i = to - 1 - nn_rng_below(&pick, (uint32_t)(to - from));
        float fd = central(g, block, i, H, f, z, &dropout);
        float fd_half = central(g, block, i, H / 2, f, z, &dropout);
        if (outside(fd, fd_half)) {
            kinks++;
            continue;
        }
        float an = analytic[i];
        if (outside(fd_half, an)) {
            failures++;
            print_message("  %s[%zu]: finite difference %.6g, analytic %.6g\n", what, i,
                          (double)fd_half, (double)an);
        }
        worst = fmaxf(worst, fabsf(fd_half - an));
        smallest = fminf(smallest, fmaxf(fabsf(an), fabsf(fd_half)));
    }
    print_message("%s: %d parameters, %d at a kink (skipped), %d outside tolerance, largest "
                  "absolute error %.2e, smallest gradient %.2e\n",
                  what, count, kinks, failures, (double)worst, (double)smallest);
    assert_int_equal(failures, 0);
    assert_true(kinks <= count / 10);
    free(analytic);
}

static void draw(float *x, size_t count, uint64_t seed)
{
    nn_rng r;
    nn_rng_seed(&r, seed);
    for (size_t i = 0; i < count; i++)
        x[i] = nn_rng_truncated_normal(&r);
}

static void test_generator_loss_through_discriminator(void **state)
{
    (void)state;
    gan *g = small_gan();
    const gan_g_layout *l = &g->gl;
    float z[3 * GAN_Z_DIM];
    draw(z, 3 * GAN_Z_DIM, 99);
    check(g, &g->gp, 0, l->fc_count, 60, loss_g, z, "L_G wrt G FC layers");
    check(g, &g->gp, l->up[0].w, l->up[0].b + l->up[0].cout, 40, loss_g, z, "L_G wrt G block 0");
    check(g, &g->gp, l->up[1].w, l->up[1].b + l->up[1].cout, 40, loss_g, z, "L_G wrt G block 1");
    check(g, &g->gp, l->out.w, l->count, 40, loss_g, z, "L_G wrt G output conv");
    gan_free(g);
}

static void test_zpredictor_loss(void **state)
{
    (void)state;
    gan *g = small_gan();
    float z[3 * GAN_Z_DIM];
    draw(z, 3 * GAN_Z_DIM, 98);
    check(g, &g->gp, 0, g->gl.fc_count, 80, loss_z, z, "L_Z wrt G FC layers");
    check(g, &g->zp, 0, g->zl.count, 80, loss_z, z, "L_Z wrt Z");
    /* The Z loss must not touch G's convolutions. */
    loss_z(g, z, NULL);
    for (size_t i = g->gl.fc_count; i < g->gp.count; i++)
        assert_true(g->gp.dw[i] == 0.0f);
    gan_free(g);
}

/* D's own gradients: the D step's loss on a fixed input image batch. */
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
    const gan_d_layout *l = &g->dl;
    const size_t count = (size_t)g->n * l->side * l->side * 3;
    float *x = malloc(sizeof(float) * count);
    draw(x, count, 77);
    check(g, &g->dp, l->conv[0].w, l->conv[1].w, 40, loss_d_real, x, "L_D wrt D block 0");
    check(g, &g->dp, l->conv[1].w, l->head[0].w, 40, loss_d_real, x, "L_D wrt D block 1");
    check(g, &g->dp, l->head[0].w, l->mb_t, 40, loss_d_real, x, "L_D wrt D head");
    check(g, &g->dp, l->mb_t, l->logit.w, 40, loss_d_real, x, "L_D wrt minibatch layer");
    check(g, &g->dp, l->logit.w, l->count, 20, loss_d_real, x, "L_D wrt final layer");
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
