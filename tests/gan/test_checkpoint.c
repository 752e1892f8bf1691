/* Checkpoints: exact resume (N+M iterations in one run equal N, save, load, M more, bit
 * for bit, at a fixed BLAS thread count) and refusal of damaged or foreign files. */
#include <cblas.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/fs.h"

#include "gan/internal.h"

static char dir[] = "/tmp/illgan-ckpt-XXXXXX";
static char path[256];

static gan *new_gan(void)
{
    gan_config cfg = {.preset = "custom", .levels = 2, .base = 4, .fc_width = 16,
                      .zpred_width = 16, .mb_kernels = 8, .mb_dims = 3};
    gan_hparams hp;
    gan_hparams_default(&hp, "custom");
    hp.batch_size = 4;
    char err[256];
    gan *g = NULL;
    assert_int_equal(gan_init(&g, &cfg, &hp, 3, err, sizeof err), 0);
    return g;
}

static void train(gan *g, const dataset *ds, int steps)
{
    char err[256];
    for (int i = 0; i < steps; i++) {
        gan_stats st;
        int rc = gan_train_iteration(g, ds, &st, err, sizeof err);
        if (rc)
            print_error("%s\n", err);
        assert_int_equal(rc, 0);
    }
}

/* Saves g to the test's checkpoint path, frees it, and loads it back. */
static gan *save_and_reload(gan *g)
{
    char err[256];
    assert_int_equal(gan_checkpoint_save(g, path, err, sizeof err), 0);
    gan_free(g);
    gan *back = NULL;
    int rc = gan_checkpoint_load(&back, path, err, sizeof err);
    if (rc)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    return back;
}

static void assert_same_floats(const float *a, const float *b, size_t n, const char *what)
{
    size_t differ = 0;
    for (size_t i = 0; i < n; i++)
        differ += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    print_message("%s: %zu of %zu floats differ\n", what, differ, n);
    assert_int_equal(differ, 0);
}

static void test_exact_resume(void **state)
{
    (void)state;
    char err[256];
    dataset ds;
    assert_int_equal(dataset_synthetic(&ds, 40, 16, 5, err, sizeof err), 0);

    gan *one = new_gan();
    train(one, &ds, 7); /* the 40-image set wraps an epoch at 10 x 4: covered */

    gan *two = new_gan();
    train(two, &ds, 4);
    gan *back = save_and_reload(two);
    assert_int_equal(gan_step(back), 4);
    train(back, &ds, 3);

    assert_int_equal(gan_step(one), gan_step(back));
    assert_same_floats(one->gp.w, back->gp.w, one->gp.count, "G weights");
    assert_same_floats(one->zp.w, back->zp.w, one->zp.count, "Z weights");
    assert_same_floats(one->dp.w, back->dp.w, one->dp.count, "D weights");
    assert_same_floats(one->opt_g.v, back->opt_g.v, one->opt_g.count, "G Adam v");
    assert_same_floats(one->opt_z.m, back->opt_z.m, one->opt_z.count, "Z Adam m");
    assert_true(memcmp(&one->rng, &back->rng, sizeof one->rng) == 0);
    gan_free(one);
    gan_free(back);
    dataset_free(&ds);
}

/* A checkpoint taken exactly at the end of an epoch (16 images, 4 per batch, 4
 * iterations: position 16 of 16) must resume into the next epoch, as the uninterrupted
 * run does, not replay the epoch it has just finished. */
static void test_exact_resume_at_epoch_end(void **state)
{
    (void)state;
    char err[256];
    dataset ds;
    assert_int_equal(dataset_synthetic(&ds, 16, 16, 5, err, sizeof err), 0);

    gan *one = new_gan();
    train(one, &ds, 6);

    gan *two = new_gan();
    train(two, &ds, 4);
    print_message("saved at epoch %llu, position %llu of %d\n",
                  (unsigned long long)two->sampler.epoch, (unsigned long long)two->sampler.pos,
                  ds.count);
    assert_int_equal(two->sampler.pos, (uint64_t)ds.count);
    gan *back = save_and_reload(two);
    train(back, &ds, 2);

    print_message("after 6 iterations: uninterrupted at epoch %llu position %llu, resumed at "
                  "epoch %llu position %llu\n",
                  (unsigned long long)one->sampler.epoch, (unsigned long long)one->sampler.pos,
                  (unsigned long long)back->sampler.epoch, (unsigned long long)back->sampler.pos);
    assert_int_equal(one->sampler.epoch, back->sampler.epoch);
    assert_int_equal(one->sampler.pos, back->sampler.pos);
    assert_same_floats(one->dp.w, back->dp.w, one->dp.count, "D weights");
    assert_same_floats(one->gp.w, back->gp.w, one->gp.count, "G weights");
    gan_free(one);
    gan_free(back);
    dataset_free(&ds);
}

/* MODEL.md: checkpoints hold the reference-batch seed. The header keeps it at offset 240
 * (docs/CHECKPOINT.md), and a loaded model samples with the seed it was saved with. */
static void test_reference_seed_kept(void **state)
{
    (void)state;
    char err[256];
    gan *g = new_gan();
    assert_int_equal(gan_checkpoint_save(g, path, err, sizeof err), 0);
    uint64_t stored = 0;
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 240, SEEK_SET), 0);
    assert_int_equal(fread(&stored, 8, 1, f), 1);
    fclose(f);
    print_message("header offset 240: %#llx, built-in reference seed %#llx\n",
                  (unsigned long long)stored, (unsigned long long)GAN_REF_SEED);
    assert_true(stored == GAN_REF_SEED);

    g->ref_seed = 0x5EED0FF5E7ull;
    assert_int_equal(gan_checkpoint_save(g, path, err, sizeof err), 0);
    gan *back = NULL;
    assert_int_equal(gan_checkpoint_load(&back, path, err, sizeof err), 0);
    print_message("reference seed saved %#llx, loaded %#llx\n",
                  (unsigned long long)g->ref_seed, (unsigned long long)back->ref_seed);
    assert_true(back->ref_seed == g->ref_seed);
    /* Same weights and seed: the same images for the same z. */
    float z[2 * GAN_Z_DIM];
    gan_sample_z(z, 2, 17);
    const size_t count = 2 * (size_t)g->gl.side * g->gl.side * 3;
    float *a = malloc(sizeof(float) * count), *b = malloc(sizeof(float) * count);
    gan_snapshot *sa = NULL, *sb = NULL;
    assert_int_equal(gan_snapshot_take(&sa, g, err, sizeof err), 0);
    assert_int_equal(gan_snapshot_take(&sb, back, err, sizeof err), 0);
    assert_int_equal(gan_snapshot_generate(sa, z, 2, a, err, sizeof err), 0);
    assert_int_equal(gan_snapshot_generate(sb, z, 2, b, err, sizeof err), 0);
    assert_same_floats(a, b, count, "images from the saved and the loaded model");
    gan_snapshot_free(sa);
    gan_snapshot_free(sb);
    free(a);
    free(b);
    gan_free(g);
    gan_free(back);
}

static long file_size(const char *p)
{
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void poke(const char *p, long at, uint8_t xor)
{
    FILE *f = fopen(p, "r+b");
    assert_non_null(f);
    fseek(f, at, SEEK_SET);
    int c = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(c ^ xor, f);
    fclose(f);
}

static void expect_refusal(const char *p, const char *needle)
{
    char err[512] = "";
    gan *g = NULL;
    assert_int_equal(gan_checkpoint_load(&g, p, err, sizeof err), -1);
    assert_null(g);
    print_message("refused as expected: %s\n", err);
    assert_non_null(strstr(err, needle));
}

static void test_refuses_damaged_files(void **state)
{
    (void)state;
    char err[256];
    gan *g = new_gan();
    assert_int_equal(gan_checkpoint_save(g, path, err, sizeof err), 0);
    gan_free(g);
    long size = file_size(path);
    char copy[300];
    snprintf(copy, sizeof copy, "%s.bad", path);
    char cmd[700];

    snprintf(cmd, sizeof cmd, "cp %s %s", path, copy);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(truncate(copy, size - 100), 0);
    expect_refusal(copy, "truncated");

    assert_int_equal(system(cmd), 0);
    poke(copy, size / 2, 0x40);
    expect_refusal(copy, "checksum");

    assert_int_equal(system(cmd), 0);
    poke(copy, 0, 0xff);
    expect_refusal(copy, "magic");

    assert_int_equal(system(cmd), 0);
    poke(copy, 8, 0x07); /* format version */
    expect_refusal(copy, "version");

    assert_int_equal(system(cmd), 0);
    poke(copy, 48, 0x01); /* levels: the counts no longer match the configuration */
    expect_refusal(copy, "match");

    assert_int_equal(truncate(copy, 10), 0);
    expect_refusal(copy, "truncated");
    expect_refusal("/nonexistent/illgan.ckpt", "cannot open");
    unlink(copy);
}

static void test_peek_reads_header(void **state)
{
    (void)state;
    char err[256];
    gan *g = new_gan();
    dataset ds;
    assert_int_equal(dataset_synthetic(&ds, 16, 16, 5, err, sizeof err), 0);
    train(g, &ds, 2);
    assert_int_equal(gan_checkpoint_save(g, path, err, sizeof err), 0);
    gan_config cfg;
    long step = -1;
    assert_int_equal(gan_checkpoint_peek(path, &cfg, &step, err, sizeof err), 0);
    assert_int_equal(step, 2);
    assert_int_equal(cfg.levels, 2);
    assert_int_equal(cfg.base, 4);
    assert_string_equal(cfg.preset, "custom");
    gan_free(g);
    dataset_free(&ds);
}

static int setup(void **state)
{
    (void)state;
    openblas_set_num_threads(2);
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/model.ckpt", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return test_remove_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_resume),
        cmocka_unit_test(test_exact_resume_at_epoch_end),
        cmocka_unit_test(test_reference_seed_kept),
        cmocka_unit_test(test_refuses_damaged_files),
        cmocka_unit_test(test_peek_reads_header),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
