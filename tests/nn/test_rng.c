/* nn_rng: reproducibility, known values and distribution checks.
 *
 * Distribution checks use fixed seeds, so they are deterministic; their bounds are loose
 * (several standard errors) so that they test the transform, not the luck of a seed. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "illgan/nn.h"

/* First outputs for seeds 0 and 42, from an independent Python transcription of the
 * published splitmix64 and xoshiro256** algorithms. splitmix64's first output for 0,
 * 0xe220a8397b1dcdaf, is also its published test value: it is the first state word. */
static void test_rng_known_values(void **state)
{
    (void)state;
    nn_rng r;
    nn_rng_seed(&r, 0);
    assert_true(r.s[0] == 0xe220a8397b1dcdafull);
    assert_true(r.s[3] == 0xf88bb8a8724c81ecull);
    const uint64_t want0[] = {0x99ec5f36cb75f2b4ull, 0xbf6e1f784956452aull,
                              0x1a5f849d4933e6e0ull, 0x6aa594f1262d2d2cull};
    for (int i = 0; i < 4; i++)
        assert_true(nn_rng_next(&r) == want0[i]);
    nn_rng_seed(&r, 42);
    const uint64_t want42[] = {0x15780b2e0c2ec716ull, 0x6104d9866d113a7eull,
                               0xae17533239e499a1ull, 0xecb8ad4703b360a1ull};
    for (int i = 0; i < 4; i++) {
        uint64_t v = nn_rng_next(&r);
        printf("  seed 42 output %d: %016llx\n", i, (unsigned long long)v);
        assert_true(v == want42[i]);
    }
}

static void test_rng_reproducible_and_resumable(void **state)
{
    (void)state;
    nn_rng a, b;
    nn_rng_seed(&a, 1234);
    nn_rng_seed(&b, 1234);
    for (int i = 0; i < 1000; i++)
        assert_true(nn_rng_next(&a) == nn_rng_next(&b));
    /* a different seed gives a different stream */
    nn_rng c;
    nn_rng_seed(&c, 1235);
    int same = 0;
    for (int i = 0; i < 100; i++)
        same += nn_rng_next(&a) == nn_rng_next(&c);
    assert_int_equal(same, 0);
    /* a saved copy of the state resumes exactly, across every kind of draw */
    nn_rng saved = a;
    float first[6];
    first[0] = nn_rng_uniform(&a);
    first[1] = nn_rng_normal(&a);
    first[2] = nn_rng_truncated_normal(&a);
    first[3] = (float)nn_rng_below(&a, 1000);
    first[4] = nn_rng_normal(&a);
    first[5] = nn_rng_uniform(&a);
    nn_rng resumed = saved;
    assert_true(nn_rng_uniform(&resumed) == first[0]);
    assert_true(nn_rng_normal(&resumed) == first[1]);
    assert_true(nn_rng_truncated_normal(&resumed) == first[2]);
    assert_true((float)nn_rng_below(&resumed, 1000) == first[3]);
    assert_true(nn_rng_normal(&resumed) == first[4]);
    assert_true(nn_rng_uniform(&resumed) == first[5]);
    assert_memory_equal(&resumed, &a, sizeof a);
}

static void test_rng_uniform(void **state)
{
    (void)state;
    nn_rng r;
    nn_rng_seed(&r, 7);
    const int n = 200000;
    double sum = 0.0, lo = 1.0, hi = 0.0;
    for (int i = 0; i < n; i++) {
        float u = nn_rng_uniform(&r);
        assert_true(u >= 0.0f && u < 1.0f);
        sum += u;
        if (u < lo)
            lo = u;
        if (u > hi)
            hi = u;
    }
    double mean = sum / n;
    printf("  uniform: mean %.5f (want 0.5, standard error 0.00065), range [%.6f, %.6f]\n",
           mean, lo, hi);
    assert_true(fabs(mean - 0.5) < 0.004);
    assert_true(lo < 1e-3 && hi > 1.0 - 1e-3);
}

static void test_rng_normal(void **state)
{
    (void)state;
    nn_rng r;
    nn_rng_seed(&r, 8);
    const int n = 200000;
    double s1 = 0.0, s2 = 0.0, s4 = 0.0;
    int beyond3 = 0;
    for (int i = 0; i < n; i++) {
        double v = nn_rng_normal(&r);
        assert_true(isfinite(v));
        s1 += v;
        s2 += v * v;
        s4 += v * v * v * v;
        beyond3 += fabs(v) > 3.0;
    }
    double mean = s1 / n, var = s2 / n - mean * mean, kurt = s4 / n;
    printf("  normal: mean %.4f, variance %.4f, 4th moment %.3f (want 0, 1, 3), |v| > 3: "
           "%d (want ~540)\n", mean, var, kurt, beyond3);
    /* standard errors: mean 0.0022, variance 0.0032, 4th moment 0.022 */
    assert_true(fabs(mean) < 0.015);
    assert_true(fabs(var - 1.0) < 0.02);
    assert_true(fabs(kurt - 3.0) < 0.15);
    assert_true(beyond3 > 400 && beyond3 < 700);
}

static void test_rng_truncated_normal(void **state)
{
    (void)state;
    nn_rng r;
    nn_rng_seed(&r, 9);
    const int n = 200000;
    double s1 = 0.0, s2 = 0.0, hi = 0.0;
    for (int i = 0; i < n; i++) {
        float v = nn_rng_truncated_normal(&r);
        assert_true(v >= -2.0f && v <= 2.0f);
        s1 += v;
        s2 += (double)v * v;
        if (fabsf(v) > hi)
            hi = fabsf(v);
    }
    /* variance of N(0,1) truncated to [-2,2]: 1 - 4 phi(2) / (Phi(2) - Phi(-2)) = 0.7737 */
    double mean = s1 / n, var = s2 / n - mean * mean;
    printf("  truncated normal: mean %.4f, variance %.4f (want 0.7737), max |v| %.4f\n", mean,
           var, hi);
    assert_true(fabs(mean) < 0.015);
    assert_true(fabs(var - 0.7737) < 0.015);
    assert_true(hi > 1.99);
}

static void test_rng_below(void **state)
{
    (void)state;
    nn_rng r;
    nn_rng_seed(&r, 10);
    for (int i = 0; i < 100; i++)
        assert_int_equal(nn_rng_below(&r, 1), 0);
    int counts[7] = {0};
    const int n = 70000;
    for (int i = 0; i < n; i++) {
        uint32_t v = nn_rng_below(&r, 7);
        assert_true(v < 7);
        counts[v]++;
    }
    for (int k = 0; k < 7; k++) {
        printf("  below(7) == %d: %d times (want 10000, standard error 93)\n", k, counts[k]);
        assert_true(counts[k] > 9500 && counts[k] < 10500);
    }
    /* the largest bounds, where the rejection zone is biggest */
    uint32_t big = 0xffffffffu, half = 0x80000001u;
    int upper = 0;
    for (int i = 0; i < 10000; i++) {
        assert_true(nn_rng_below(&r, big) < big);
        uint32_t v = nn_rng_below(&r, half);
        assert_true(v < half);
        upper += v >= half / 2;
    }
    printf("  below(2^31+1): %d of 10000 in the upper half\n", upper);
    assert_true(upper > 4700 && upper < 5300);
}

static void test_xavier_uniform(void **state)
{
    (void)state;
    nn_rng r;
    nn_rng_seed(&r, 11);
    static float w[5 * 5 * 64 * 128];
    size_t n = sizeof w / sizeof w[0];
    int fan_in = 5 * 5 * 64, fan_out = 5 * 5 * 128;
    nn_xavier_uniform(w, n, fan_in, fan_out, &r);
    double a = sqrt(6.0 / (fan_in + fan_out)), s1 = 0.0, s2 = 0.0, hi = 0.0;
    for (size_t i = 0; i < n; i++) {
        assert_true(fabs(w[i]) <= a * (1.0 + 1e-6));
        s1 += w[i];
        s2 += (double)w[i] * w[i];
        if (fabs(w[i]) > hi)
            hi = fabs(w[i]);
    }
    double mean = s1 / n, var = s2 / n;
    printf("  xavier: limit %.5f, max |w| %.5f, mean %.2g, variance %.4g (want a^2/3 = %.4g)\n",
           a, hi, mean, var, a * a / 3.0);
    assert_true(hi > 0.999 * a);
    assert_true(fabs(mean) < 0.01 * a);
    assert_true(fabs(var / (a * a / 3.0) - 1.0) < 0.02);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_known_values),
        cmocka_unit_test(test_rng_reproducible_and_resumable),
        cmocka_unit_test(test_rng_uniform),
        cmocka_unit_test(test_rng_normal),
        cmocka_unit_test(test_rng_truncated_normal),
        cmocka_unit_test(test_rng_below),
        cmocka_unit_test(test_xavier_uniform),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
