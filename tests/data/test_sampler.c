/* The sampler: shuffled epochs and flips from (seed, epoch, pos) alone.
 *
 * Checked: every epoch hands out each image exactly once; epochs and seeds give different
 * orders, the same seed the same one; a sampler restored from a saved (seed, epoch, pos)
 * continues with exactly the indices, flips and floats of an uninterrupted run, also
 * across an epoch boundary; flip_prob 0 never flips, 1 always does, 0.5 about half the
 * time (4000 draws: 0.45..0.55, over 6 standard deviations either way); and the floats
 * handed out are dataset_image_float of the index, mirrored when flipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "illgan/data.h"

#define SIDE 4
#define PER (SIDE * SIDE * 3)

static void test_epochs_are_permutations(void **state)
{
    (void)state;
    const int count = 37;
    dataset ds;
    char err[128];
    assert_int_equal(dataset_synthetic(&ds, count, SIDE, 1, err, sizeof err), 0);
    data_sampler s;
    assert_int_equal(data_sampler_init(&s, count, 42, err, sizeof err), 0);
    float x[3 * PER];
    int idx[3], order[4][37];
    for (int e = 0; e < 4; e++) {
        int seen[37] = {0};
        for (int k = 0; k < count; k++) {
            data_sampler_next(&s, &ds, x, idx, 1, 0.5f);
            seen[idx[0]]++;
            order[e][k] = idx[0];
        }
        for (int i = 0; i < count; i++)
            assert_int_equal(seen[i], 1);
    }
    int same01 = !memcmp(order[0], order[1], sizeof order[0]);
    printf("4 epochs of 37: each a permutation; epoch 0 %s epoch 1\n",
           same01 ? "equals" : "differs from");
    assert_false(same01);
    assert_int_equal(s.epoch, 3);
    assert_int_equal(s.pos, 37);

    /* the same seed gives the same order, another seed another */
    data_sampler t, u;
    assert_int_equal(data_sampler_init(&t, count, 42, err, sizeof err), 0);
    assert_int_equal(data_sampler_init(&u, count, 43, err, sizeof err), 0);
    int diff = 0;
    for (int k = 0; k < count; k++) {
        data_sampler_next(&t, &ds, x, idx, 1, 0.5f);
        assert_int_equal(idx[0], order[0][k]);
        data_sampler_next(&u, &ds, x, idx, 1, 0.5f);
        diff += idx[0] != order[0][k];
    }
    printf("seed 43 puts %d of 37 images elsewhere than seed 42\n", diff);
    assert_true(diff > 20);
    data_sampler_free(&s);
    data_sampler_free(&t);
    data_sampler_free(&u);
    dataset_free(&ds);
    assert_int_equal(data_sampler_init(&s, 0, 1, err, sizeof err), -1);
}

static void test_resume_exactly(void **state)
{
    (void)state;
    const int count = 10, batch = 4, steps = 9; /* 36 images: crosses 3 epoch boundaries */
    dataset ds;
    char err[128];
    assert_int_equal(dataset_synthetic(&ds, count, SIDE, 3, err, sizeof err), 0);
    float *xa = malloc(sizeof(float) * steps * batch * PER);
    float *xb = malloc(sizeof(float) * steps * batch * PER);
    int ia[9 * 4], ib[9 * 4];
    assert_non_null(xa);
    assert_non_null(xb);

    data_sampler a;
    assert_int_equal(data_sampler_init(&a, count, 77, err, sizeof err), 0);
    for (int k = 0; k < steps; k++)
        data_sampler_next(&a, &ds, xa + (size_t)k * batch * PER, ia + k * batch, batch, 0.5f);

    for (int cut = 1; cut < steps; cut++) {
        data_sampler b;
        assert_int_equal(data_sampler_init(&b, count, 77, err, sizeof err), 0);
        for (int k = 0; k < cut; k++)
            data_sampler_next(&b, &ds, xb + (size_t)k * batch * PER, ib + k * batch, batch,
                              0.5f);
        uint64_t seed = b.seed, epoch = b.epoch, pos = b.pos;
        data_sampler_free(&b);
        /* a new process: nothing but the three integers */
        data_sampler c;
        assert_int_equal(data_sampler_init(&c, count, 1, err, sizeof err), 0);
        data_sampler_restore(&c, seed, epoch, pos);
        for (int k = cut; k < steps; k++)
            data_sampler_next(&c, &ds, xb + (size_t)k * batch * PER, ib + k * batch, batch,
                              0.5f);
        data_sampler_free(&c);
        int same = !memcmp(ia, ib, sizeof ia) &&
                   !memcmp(xa, xb, sizeof(float) * steps * batch * PER);
        printf("stop after %d batches (epoch %llu, pos %llu), resume: %s\n", cut,
               (unsigned long long)epoch, (unsigned long long)pos,
               same ? "identical" : "DIFFERENT");
        assert_true(same);
    }
    data_sampler_free(&a);
    free(xa);
    free(xb);
    dataset_free(&ds);
}

static void test_flips(void **state)
{
    (void)state;
    const int count = 50;
    dataset ds;
    char err[128];
    assert_int_equal(dataset_synthetic(&ds, count, SIDE, 9, err, sizeof err), 0);
    /* no picture may read the same mirrored: a ramp from left to right */
    for (int i = 0; i < count; i++)
        for (int k = 0; k < SIDE * SIDE; k++)
            for (int c = 0; c < 3; c++)
                ds.pixels[((size_t)i * SIDE * SIDE + k) * 3 + c] = (uint8_t)(i + 40 * (k % SIDE));
    float x[PER], plain[PER], mirrored[PER];
    int idx;
    const float probs[] = {0.0f, 1.0f, 0.5f};
    for (size_t p = 0; p < 3; p++) {
        data_sampler s;
        assert_int_equal(data_sampler_init(&s, count, 5, err, sizeof err), 0);
        int flipped = 0, n = 4000;
        for (int k = 0; k < n; k++) {
            data_sampler_next(&s, &ds, x, &idx, 1, probs[p]);
            dataset_image_float(&ds, idx, 0, plain);
            dataset_image_float(&ds, idx, 1, mirrored);
            int is_plain = !memcmp(x, plain, sizeof x), is_mirror = !memcmp(x, mirrored, sizeof x);
            assert_true(is_plain != is_mirror);
            flipped += is_mirror;
        }
        double frac = (double)flipped / n;
        printf("flip_prob %.1f: %d of %d draws mirrored (%.3f)\n", probs[p], flipped, n, frac);
        if (p == 0)
            assert_int_equal(flipped, 0);
        else if (p == 1)
            assert_int_equal(flipped, n);
        else
            assert_true(frac > 0.45 && frac < 0.55);
        data_sampler_free(&s);
    }
    dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epochs_are_permutations),
        cmocka_unit_test(test_resume_exactly),
        cmocka_unit_test(test_flips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
