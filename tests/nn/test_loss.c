/* Losses: sigmoid cross-entropy on logits and mean squared error.
 *
 * Values are compared with the textbook formulas evaluated in double, where they are
 * still finite (exp(100) is 2.7e43 in double), and gradients with those formulas and
 * with central differences of the returned loss (eps 1e-2 on logits of order 1: the
 * loss is smooth, truncation ~1e-5 relative, and float rounding of an O(1) loss, ~1e-7,
 * over 2e-2 gives ~5e-6 absolute). */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "illgan/nn.h"

static const float logits[] = {-100.0f, -20.0f, -3.0f, -0.5f, 0.0f, 0.25f, 2.5f, 30.0f, 100.0f};
#define NL ((int)(sizeof logits / sizeof logits[0]))

/* -log(sigmoid(l)) for target 1, -log(1 - sigmoid(l)) for target 0, in double */
static double bce_direct(double l, double y)
{
    return y > 0.5 ? log1p(exp(-l)) : log1p(exp(l));
}

static void test_bce_values_extreme_logits(void **state)
{
    (void)state;
    for (int target = 0; target <= 1; target++) {
        double want = 0.0;
        for (int i = 0; i < NL; i++)
            want += bce_direct(logits[i], target);
        want /= NL;
        float got = nn_bce_logits_forward(logits, (float)target, NL);
        printf("  BCE target %d over logits -100..100: %.7f (direct formula %.7f)\n", target,
               got, want);
        assert_true(isfinite(got));
        assert_true(fabs(got - want) < 1e-6 * (1.0 + want));
        /* one logit alone: 100 with the wrong target costs 100, the right one ~e^-100 */
        float l = 100.0f, wrong = nn_bce_logits_forward(&l, 0.0f, 1);
        float right = nn_bce_logits_forward(&l, 1.0f, 1);
        assert_true(fabsf(wrong - 100.0f) < 1e-4f);
        assert_true(right >= 0.0f && right < 1e-30f);
    }
}

static void test_bce_gradient(void **state)
{
    (void)state;
    const float scale = 0.75f;
    for (int target = 0; target <= 1; target++) {
        float d[NL];
        nn_bce_logits_backward(d, logits, (float)target, NL, scale);
        for (int i = 0; i < NL; i++) {
            double sig = 1.0 / (1.0 + exp(-(double)logits[i]));
            double want = scale * (sig - target) / NL;
            assert_true(isfinite(d[i]));
            assert_true(fabs(d[i] - want) < 1e-7);
        }
        printf("  target %d: dlogit at -100 = %g, at 100 = %g (want %g and %g)\n", target,
               d[0], d[NL - 1], scale * (0.0 - target) / NL, scale * (1.0 - target) / NL);
        /* central differences on the logits where the loss has curvature (|l| <= 3),
         * alone, so that the loss is O(1) and its float rounding small */
        const int nm = 5;
        float lc[5], dm[5];
        for (int i = 0; i < nm; i++)
            lc[i] = logits[i + 2];
        nn_bce_logits_backward(dm, lc, (float)target, nm, scale);
        for (int i = 0; i < nm; i++) {
            float orig = lc[i], eps = 1e-2f;
            lc[i] = orig + eps;
            double lp = nn_bce_logits_forward(lc, (float)target, nm);
            lc[i] = orig - eps;
            double lm = nn_bce_logits_forward(lc, (float)target, nm);
            lc[i] = orig;
            double num = scale * (lp - lm) / ((double)(orig + eps) - (double)(orig - eps));
            printf("  target %d logit %g: analytic %.6f numeric %.6f\n", target, orig, dm[i],
                   num);
            assert_true(fabs(num - dm[i]) < 1e-3 * fabs(dm[i]) + 1e-5);
        }
    }
}

static void test_mse(void **state)
{
    (void)state;
    const float pred[5] = {1.0f, -2.0f, 0.5f, 3.0f, 0.0f};
    const float target[5] = {0.0f, -2.0f, 1.5f, 1.0f, -1.0f};
    /* squared errors 1, 0, 1, 4, 1: mean 7/5 */
    float loss = nn_mse_forward(pred, target, 5);
    printf("  MSE %.7f (want 1.4)\n", loss);
    assert_true(fabsf(loss - 1.4f) < 1e-6f);
    float d[5];
    nn_mse_backward(d, pred, target, 5);
    const float want[5] = {0.4f, 0.0f, -0.4f, 0.8f, 0.4f}; /* 2 (p - t) / 5 */
    for (int i = 0; i < 5; i++)
        assert_true(fabsf(d[i] - want[i]) < 1e-6f);
    /* and against central differences (exact for a quadratic up to rounding) */
    float p[5];
    for (int i = 0; i < 5; i++)
        p[i] = pred[i];
    for (int i = 0; i < 5; i++) {
        float orig = p[i];
        p[i] = orig + 0.25f;
        double lp = nn_mse_forward(p, target, 5);
        p[i] = orig - 0.25f;
        double lm = nn_mse_forward(p, target, 5);
        p[i] = orig;
        assert_true(fabs((lp - lm) / 0.5 - d[i]) < 1e-5);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bce_values_extreme_logits),
        cmocka_unit_test(test_bce_gradient),
        cmocka_unit_test(test_mse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
