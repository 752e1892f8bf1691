/* nn/pool: 2x2 max-pool with stride 2 on NHWC tensors.
 *
 * Forward records, per output element, which of the four window inputs won (0..3 in
 * row-major order; on ties the first); backward routes dy there and writes every
 * element of dx (zero elsewhere), so dx needs no clearing beforehand. Which input wins
 * is data-dependent, so both directions use selects rather than branches, over blocks
 * of NN_VB channels that gcc vectorises (the winner's index is carried as a float
 * forward and compared as an int32 backward: same-width lanes). */
#include "illgan/nn.h"
#include "nn/kernels.h"

/* One window position for channels [0, count): inputs a b (top row), c d (bottom). */
static void pool_window(float *restrict y, uint8_t *restrict arg, const float *restrict a,
                        const float *restrict b, const float *restrict c,
                        const float *restrict d, size_t count)
{
    size_t i = 0;
    for (; i + NN_VB <= count; i += NN_VB) {
        float best[NN_VB], k[NN_VB];
        for (int u = 0; u < NN_VB; u++) {
            float v0 = a[i + u], v1 = b[i + u], v2 = c[i + u], v3 = d[i + u];
            float b1 = v1 > v0 ? v1 : v0, k1 = v1 > v0 ? 1.0f : 0.0f;
            float b2 = v2 > b1 ? v2 : b1, k2 = v2 > b1 ? 2.0f : k1;
            best[u] = v3 > b2 ? v3 : b2;
            k[u] = v3 > b2 ? 3.0f : k2;
        }
        for (int u = 0; u < NN_VB; u++) {
            y[i + u] = best[u];
            arg[i + u] = (uint8_t)k[u];
        }
    }
    for (; i < count; i++) {
        float v0 = a[i], v1 = b[i], v2 = c[i], v3 = d[i];
        float b1 = v1 > v0 ? v1 : v0, k1 = v1 > v0 ? 1.0f : 0.0f;
        float b2 = v2 > b1 ? v2 : b1, k2 = v2 > b1 ? 2.0f : k1;
        y[i] = v3 > b2 ? v3 : b2;
        arg[i] = (uint8_t)(v3 > b2 ? 3.0f : k2);
    }
}

void nn_maxpool2x2_forward(float *y, uint8_t *arg, const float *x, int n, int h, int w, int c)
{
    size_t cs = (size_t)c, xrow = (size_t)w * cs;
    int ho = h / 2, wo = w / 2;
    for (int img = 0; img < n; img++) {
        for (int i = 0; i < ho; i++) {
            const float *r0 = x + ((size_t)img * h + 2 * (size_t)i) * xrow;
            const float *r1 = r0 + xrow;
            size_t o = (((size_t)img * ho + i) * wo) * cs;
            for (int j = 0; j < wo; j++) {
                const float *a = r0 + 2 * (size_t)j * cs, *cc = r1 + 2 * (size_t)j * cs;
                pool_window(y + o + (size_t)j * cs, arg + o + (size_t)j * cs, a, a + cs, cc,
                            cc + cs, cs);
            }
        }
    }
}

/* dx for one window position: g goes to the input named by arg, zero to the others. */
static void unpool_window(float *restrict a, float *restrict b, float *restrict c,
                          float *restrict d, const float *restrict g,
                          const uint8_t *restrict arg, size_t count)
{
    size_t i = 0;
    for (; i + NN_VB <= count; i += NN_VB) {
        float t0[NN_VB], t1[NN_VB], t2[NN_VB], t3[NN_VB];
        /* two selects per loop: with four, gcc 12 gives up if-converting */
        for (int u = 0; u < NN_VB; u++) {
            int32_t k = arg[i + u];
            float v = g[i + u];
            t0[u] = k == 0 ? v : 0.0f;
            t1[u] = k == 1 ? v : 0.0f;
        }
        for (int u = 0; u < NN_VB; u++) {
            int32_t k = arg[i + u];
            float v = g[i + u];
            t2[u] = k == 2 ? v : 0.0f;
            t3[u] = k == 3 ? v : 0.0f;
        }
        for (int u = 0; u < NN_VB; u++) {
            a[i + u] = t0[u];
            b[i + u] = t1[u];
            c[i + u] = t2[u];
            d[i + u] = t3[u];
        }
    }
    for (; i < count; i++) {
        float v = g[i];
        a[i] = arg[i] == 0 ? v : 0.0f;
        b[i] = arg[i] == 1 ? v : 0.0f;
        c[i] = arg[i] == 2 ? v : 0.0f;
        d[i] = arg[i] == 3 ? v : 0.0f;
    }
}

void nn_maxpool2x2_backward(float *dx, const float *dy, const uint8_t *arg,
                            int n, int h, int w, int c)
{
    size_t cs = (size_t)c, xrow = (size_t)w * cs;
    int ho = h / 2, wo = w / 2;
    for (int img = 0; img < n; img++) {
        for (int i = 0; i < ho; i++) {
            float *r0 = dx + ((size_t)img * h + 2 * (size_t)i) * xrow;
            float *r1 = r0 + xrow;
            size_t o = (((size_t)img * ho + i) * wo) * cs;
            for (int j = 0; j < wo; j++) {
                float *a = r0 + 2 * (size_t)j * cs, *cc = r1 + 2 * (size_t)j * cs;
                unpool_window(a, a + cs, cc, cc + cs, dy + o + (size_t)j * cs,
                              arg + o + (size_t)j * cs, cs);
            }
        }
    }
}
