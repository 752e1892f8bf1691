/* Adam and the parameter blocks.
 *
 * Adam's expected values are worked by hand (and confirmed in Python in double) from
 * the update in nn.h, with round numbers: lr 0.1, beta1 0.5, beta2 0.75, eps 1e-8,
 * w0 = 1, gradients 2, -1, 0.5:
 *   t=1: m = 0.5*2 = 1,            v = 0.25*4 = 1,
 *        lr_t = 0.1 sqrt(1-0.75)/(1-0.5) = 0.1,           w = 1 - 0.1*1/1 = 0.9
 *   t=2: m = 0.5*1 + 0.5*(-1) = 0, v = 0.75*1 + 0.25*1 = 1,
 *        lr_t = 0.1 sqrt(0.4375)/0.75 = 0.0881917,        w = 0.9 (m = 0)
 *   t=3: m = 0.5*0 + 0.5*0.5 = 0.25, v = 0.75*1 + 0.25*0.25 = 0.8125,
 *        lr_t = 0.1 sqrt(1-0.421875)/0.875 = 0.0868966,
 *        w = 0.9 - 0.0868966*0.25/sqrt(0.8125) = 0.8758992. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "illgan/nn.h"

static void test_adam_by_hand(void **state)
{
    (void)state;
    nn_adam_config cfg = {0.1f, 0.5f, 0.75f, 1e-8f};
    /* element 0 follows the worked example; element 1 gets the negated gradients and
     * must mirror it around its start of -1 */
    float w[2] = {1.0f, -1.0f}, m[2] = {0}, v[2] = {0};
    const float grads[3] = {2.0f, -1.0f, 0.5f};
    const float want_m[3] = {1.0f, 0.0f, 0.25f}, want_v[3] = {1.0f, 1.0f, 0.8125f};
    const float want_w[3] = {0.9f, 0.9f, 0.8758992f};
    for (int t = 1; t <= 3; t++) {
        float g[2] = {grads[t - 1], -grads[t - 1]};
        nn_adam_update(w, g, m, v, 2, &cfg, t);
        printf("  step %d: w %.7f (want %.7f), m %.4f, v %.4f; mirrored w %.7f\n", t, w[0],
               want_w[t - 1], m[0], v[0], w[1]);
        assert_true(fabsf(m[0] - want_m[t - 1]) < 1e-6f);
        assert_true(fabsf(v[0] - want_v[t - 1]) < 1e-6f);
        assert_true(fabsf(w[0] - want_w[t - 1]) < 2e-6f);
        assert_true(fabsf(w[1] + w[0]) < 1e-6f);
    }
}

/* With MODEL.md's settings the first step moves every weight by lr against the sign of
 * its gradient, whatever the gradient's size: m/sqrt(v) after bias correction is
 * g/|g| (up to eps / |g| sqrt(1 - beta2), under 1e-6 relative here). A zero gradient
 * does not move its weight. */
static void test_adam_first_step_is_lr(void **state)
{
    (void)state;
    nn_adam_config cfg = {2e-4f, 0.5f, 0.999f, 1e-8f};
    float w[5] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f}, m[5] = {0}, v[5] = {0};
    const float g[5] = {1e-2f, -7.0f, 300.0f, -0.02f, 0.0f};
    nn_adam_update(w, g, m, v, 5, &cfg, 1);
    for (int i = 0; i < 5; i++) {
        float want = g[i] > 0 ? 0.5f - 2e-4f : g[i] < 0 ? 0.5f + 2e-4f : 0.5f;
        printf("  g %g: w %.7f (want %.7f)\n", g[i], w[i], want);
        assert_true(fabsf(w[i] - want) < 1e-7f);
    }
}

static void test_block_layout(void **state)
{
    (void)state;
    char err[128] = "";
    nn_block b;
    assert_int_equal(nn_block_init(&b, 1000, err, sizeof err), 0);
    assert_int_equal(b.count, 1000);
    assert_true((uintptr_t)b.w % 64 == 0 && (uintptr_t)b.dw % 64 == 0);
    for (size_t i = 0; i < b.count; i++)
        assert_true(b.w[i] == 0.0f && b.dw[i] == 0.0f);
    printf("  block of 1000: 64-byte aligned, zeroed\n");
    for (size_t i = 0; i < b.count; i++)
        b.dw[i] = (float)i;
    nn_block_zero_grad(&b);
    for (size_t i = 0; i < b.count; i++)
        assert_true(b.dw[i] == 0.0f);
    nn_block_free(&b);
    assert_null(b.w);
    nn_block_free(&b); /* a freed block frees again harmlessly */
    nn_block_free(NULL);

    nn_adam a;
    assert_int_equal(nn_adam_init(&a, 77, err, sizeof err), 0);
    assert_int_equal(a.count, 77);
    assert_int_equal(a.t, 0);
    assert_true((uintptr_t)a.m % 64 == 0 && (uintptr_t)a.v % 64 == 0);
    for (size_t i = 0; i < a.count; i++)
        assert_true(a.m[i] == 0.0f && a.v[i] == 0.0f);
    printf("  adam moments of 77: 64-byte aligned, zeroed, t = 0\n");
    nn_adam_free(&a);
    nn_adam_free(&a);
    nn_adam_free(NULL);
}

/* A request too large to represent in bytes fails cleanly, before reaching malloc (so
 * this runs under AddressSanitizer too). */
static void test_block_out_of_memory(void **state)
{
    (void)state;
    char err[128] = "";
    nn_block b;
    assert_int_equal(nn_block_init(&b, SIZE_MAX / 2, err, sizeof err), -1);
    printf("  error: %s\n", err);
    assert_non_null(strstr(err, "out of memory"));
    assert_null(b.w);
    assert_null(b.dw);
    nn_adam a;
    assert_int_equal(nn_adam_init(&a, SIZE_MAX / 2, err, sizeof err), -1);
    assert_null(a.m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adam_by_hand),
        cmocka_unit_test(test_adam_first_step_is_lr),
        cmocka_unit_test(test_block_layout),
        cmocka_unit_test(test_block_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
