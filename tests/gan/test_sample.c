/* Sampling: an image depends only on its z and the weights (reference-batch statistics),
 * whatever else is in the request; snapshots do not change when training goes on; the
 * presets have the sizes docs/MODEL.md gives. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gan/internal.h"

static gan *tiny(void)
{
    gan_config cfg;
    gan_hparams hp;
    char err[256];
    assert_int_equal(gan_config_preset(&cfg, "tiny", err, sizeof err), 0);
    gan_hparams_default(&hp, "tiny");
    gan *g = NULL;
    assert_int_equal(gan_init(&g, &cfg, &hp, 1, err, sizeof err), 0);
    return g;
}

static void test_image_depends_only_on_z(void **state)
{
    (void)state;
    char err[256];
    gan *g = tiny();
    gan_snapshot *s;
    assert_int_equal(gan_snapshot_take(&s, g, err, sizeof err), 0);
    const int side = gan_snapshot_side(s);
    assert_int_equal(side, 32);
    const size_t img = (size_t)side * side * 3;
    enum { N = 21 };
    float *z = malloc(sizeof(float) * N * GAN_Z_DIM);
    float *all = malloc(sizeof(float) * N * img);
    float *one = malloc(sizeof(float) * img);
    gan_sample_z(z, N, 9);
    assert_int_equal(gan_snapshot_generate(s, z, N, all, err, sizeof err), 0);
    /* Image 17 alone, and as the first of a batch of 3, equals image 17 of the batch of 21. */
    assert_int_equal(gan_snapshot_generate(s, z + 17 * GAN_Z_DIM, 1, one, err, sizeof err), 0);
    assert_memory_equal(one, all + 17 * img, sizeof(float) * img);
    float *three = malloc(sizeof(float) * 3 * img);
    assert_int_equal(gan_snapshot_generate(s, z + 17 * GAN_Z_DIM, 3, three, err, sizeof err), 0);
    assert_memory_equal(three, all + 17 * img, sizeof(float) * 3 * img);
    float lo = 1, hi = -1;
    for (size_t i = 0; i < N * img; i++) {
        lo = fminf(lo, all[i]);
        hi = fmaxf(hi, all[i]);
    }
    print_message("generated values in [%g, %g]\n", (double)lo, (double)hi);
    assert_true(lo >= -1 && hi <= 1 && hi > lo);
    free(three);
    free(one);
    free(all);
    free(z);
    gan_snapshot_free(s);
    gan_free(g);
}

static void test_snapshot_is_immutable(void **state)
{
    (void)state;
    char err[256];
    gan *g = tiny();
    dataset ds;
    assert_int_equal(dataset_synthetic(&ds, 32, 32, 3, err, sizeof err), 0);
    gan_snapshot *before;
    assert_int_equal(gan_snapshot_take(&before, g, err, sizeof err), 0);
    const size_t img = 32 * 32 * 3;
    float z[4 * GAN_Z_DIM], a[4 * 32 * 32 * 3], b[4 * 32 * 32 * 3];
    gan_sample_z(z, 4, 2);
    assert_int_equal(gan_snapshot_generate(before, z, 4, a, err, sizeof err), 0);
    gan_stats st;
    assert_int_equal(gan_train_iteration(g, &ds, &st, err, sizeof err), 0);
    assert_int_equal(gan_snapshot_generate(before, z, 4, b, err, sizeof err), 0);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(gan_snapshot_step(before), 0);
    gan_snapshot *after;
    assert_int_equal(gan_snapshot_take(&after, g, err, sizeof err), 0);
    assert_int_equal(gan_snapshot_step(after), 1);
    assert_int_equal(gan_snapshot_generate(after, z, 4, b, err, sizeof err), 0);
    assert_true(memcmp(a, b, sizeof(float) * 4 * img) != 0);
    gan_snapshot_free(before);
    gan_snapshot_free(after);
    dataset_free(&ds);
    gan_free(g);
}

static void test_preset_sizes(void **state)
{
    (void)state;
    /* Parameter counts of the original architecture (docs/MODEL.md: G with its FC stack
     * about 21.5 M, Z about 10.6 M, D about 17.8 M), from the layouts alone. */
    gan_config cfg;
    char err[256];
    assert_int_equal(gan_config_preset(&cfg, "illustrationgan", err, sizeof err), 0);
    gan_g_layout gl;
    gan_z_layout zl;
    gan_d_layout dl;
    gan_layout_g(&gl, &cfg);
    gan_layout_z(&zl, &cfg);
    gan_layout_d(&dl, &cfg);
    print_message("illustrationgan: G %zu, Z %zu, D %zu parameters; D features %d\n", gl.count,
                  zl.count, dl.count, dl.features);
    assert_int_equal(gl.side, 64);
    assert_int_equal(gl.c0, 512);
    assert_int_equal(dl.features, 8192);
    assert_true(fabs(gl.count / 1e6 - 21.5) < 0.1);
    assert_true(fabs(zl.count / 1e6 - 10.6) < 0.1);
    assert_true(fabs(dl.count / 1e6 - 17.8) < 0.1);
    assert_int_equal(gan_config_preset(&cfg, "nope", err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown preset"));
    cfg.levels = 9;
    assert_int_equal(gan_config_validate(&cfg, err, sizeof err), -1);
}

static void test_hparams_validation_names_field(void **state)
{
    (void)state;
    gan_hparams hp;
    gan_hparams_default(&hp, "small");
    const char *field;
    char err[256];
    assert_int_equal(gan_hparams_validate(&hp, &field, err, sizeof err), 0);
    hp.beta2 = 1.5f;
    assert_int_equal(gan_hparams_validate(&hp, &field, err, sizeof err), -1);
    assert_string_equal(field, "beta2");
    gan_hparams_default(&hp, "small");
    hp.lr_g = NAN;
    assert_int_equal(gan_hparams_validate(&hp, &field, err, sizeof err), -1);
    assert_string_equal(field, "lr_g");
    gan_hparams_default(&hp, "small");
    hp.batch_size = 0;
    assert_int_equal(gan_hparams_validate(&hp, &field, err, sizeof err), -1);
    assert_string_equal(field, "batch_size");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_depends_only_on_z),
        cmocka_unit_test(test_snapshot_is_immutable),
        cmocka_unit_test(test_preset_sizes),
        cmocka_unit_test(test_hparams_validation_names_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
