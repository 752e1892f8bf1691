/* nn/pool: 2x2 max-pool with stride 2 on NHWC tensors.
 *
 * Forward records, per output element, which of the four window inputs won (0..3 in
 * row-major order; on ties the first); backward routes dy there and writes every
 * element of dx (zero elsewhere), so dx needs no clearing beforehand. */
#include "illgan/nn.h"

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
                const float *a = r0 + 2 * (size_t)j * cs, *b = a + cs;
                const float *cc = r1 + 2 * (size_t)j * cs, *d = cc + cs;
                float *yo = y + o + (size_t)j * cs;
                uint8_t *ao = arg + o + (size_t)j * cs;
                for (size_t ch = 0; ch < cs; ch++) {
                    float best = a[ch];
                    uint8_t k = 0;
                    if (b[ch] > best) { best = b[ch]; k = 1; }
                    if (cc[ch] > best) { best = cc[ch]; k = 2; }
                    if (d[ch] > best) { best = d[ch]; k = 3; }
                    yo[ch] = best;
                    ao[ch] = k;
                }
            }
        }
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
                float *a = r0 + 2 * (size_t)j * cs, *b = a + cs;
                float *cc = r1 + 2 * (size_t)j * cs, *d = cc + cs;
                const float *g = dy + o + (size_t)j * cs;
                const uint8_t *k = arg + o + (size_t)j * cs;
                for (size_t ch = 0; ch < cs; ch++) {
                    a[ch] = k[ch] == 0 ? g[ch] : 0.0f;
                    b[ch] = k[ch] == 1 ? g[ch] : 0.0f;
                    cc[ch] = k[ch] == 2 ? g[ch] : 0.0f;
                    d[ch] = k[ch] == 3 ? g[ch] : 0.0f;
                }
            }
        }
    }
}
