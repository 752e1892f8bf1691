/* nn/batchnorm: batch normalisation with an offset only (no scale), eps = NN_BN_EPS.
 *
 * Training uses this batch's statistics over rows = n*h*w positions per channel, with
 * the biased variance computed in a second pass around the mean (no cancellation), and
 * sums accumulated in double over float partial sums of short row blocks. Backward goes
 * through the statistics, reading the forward OUTPUT: with xhat = y - beta,
 *   dx = rstd * (dy - mean(dy) - xhat * mean(dy * xhat)),  dbeta += sum(dy),
 * so the layer may run in place (y == x, dx == dy): every function reads all it needs
 * for a block of channels before writing that block. */
#include <math.h>

#include "illgan/nn.h"
#include "nn/kernels.h"

/* Channels per block (local accumulators) and rows per float partial sum. */
#define BN_CH 256
#define BN_ROWS 64

/* out[j] = (x[j] - sub[j]) * mul[j] + add[j] for j < cb, one row; out may equal x. */
static void bn_row(float *out, const float *x, const float *sub, const float *mul,
                   const float *add, int cb)
{
    int j = 0;
    for (; j + NN_VB <= cb; j += NN_VB) {
        float t[NN_VB];
        for (int u = 0; u < NN_VB; u++)
            t[u] = (x[j + u] - sub[j + u]) * mul[j + u] + add[j + u];
        for (int u = 0; u < NN_VB; u++)
            out[j + u] = t[u];
    }
    for (; j < cb; j++)
        out[j] = (x[j] - sub[j]) * mul[j] + add[j];
}

/* total[j] += sum over rows of (x[r, j] - center[j])^p for p = 1 (center NULL) or 2. */
static void bn_moment(double *total, const float *x, const float *center, size_t rows,
                      int c, int cb)
{
    for (size_t r0 = 0; r0 < rows; r0 += BN_ROWS) {
        size_t r1 = r0 + BN_ROWS < rows ? r0 + BN_ROWS : rows;
        float part[BN_CH] = {0};
        for (size_t r = r0; r < r1; r++) {
            const float *row = x + r * (size_t)c;
            int j = 0;
            if (!center) {
                for (; j + NN_VB <= cb; j += NN_VB)
                    for (int u = 0; u < NN_VB; u++)
                        part[j + u] += row[j + u];
                for (; j < cb; j++)
                    part[j] += row[j];
            } else {
                for (; j + NN_VB <= cb; j += NN_VB)
                    for (int u = 0; u < NN_VB; u++) {
                        float d = row[j + u] - center[j + u];
                        part[j + u] += d * d;
                    }
                for (; j < cb; j++) {
                    float d = row[j] - center[j];
                    part[j] += d * d;
                }
            }
        }
        for (int j = 0; j < cb; j++)
            total[j] += part[j];
    }
}

void nn_batchnorm_forward(float *y, float *mean, float *rstd, const float *x,
                          const float *beta, size_t rows, int c)
{
    for (int c0 = 0; c0 < c; c0 += BN_CH) {
        int cb = c - c0 < BN_CH ? c - c0 : BN_CH;
        double total[BN_CH] = {0};
        bn_moment(total, x + c0, NULL, rows, c, cb);
        for (int j = 0; j < cb; j++)
            mean[c0 + j] = (float)(total[j] / (double)rows);
        double sq[BN_CH] = {0};
        bn_moment(sq, x + c0, mean + c0, rows, c, cb);
        for (int j = 0; j < cb; j++)
            rstd[c0 + j] = (float)(1.0 / sqrt(sq[j] / (double)rows + (double)NN_BN_EPS));
        for (size_t r = 0; r < rows; r++)
            bn_row(y + r * (size_t)c + c0, x + r * (size_t)c + c0, mean + c0, rstd + c0,
                   beta + c0, cb);
    }
}

void nn_batchnorm_apply(float *y, const float *x, const float *beta, const float *mean,
                        const float *rstd, size_t rows, int c)
{
    for (size_t r = 0; r < rows; r++)
        bn_row(y + r * (size_t)c, x + r * (size_t)c, mean, rstd, beta, c);
}

void nn_batchnorm_backward(float *dx, float *dbeta, const float *dy, const float *y,
                           const float *beta, const float *rstd, size_t rows, int c)
{
    for (int c0 = 0; c0 < c; c0 += BN_CH) {
        int cb = c - c0 < BN_CH ? c - c0 : BN_CH;
        double s1[BN_CH] = {0}, s2[BN_CH] = {0};
        for (size_t r0 = 0; r0 < rows; r0 += BN_ROWS) {
            size_t r1 = r0 + BN_ROWS < rows ? r0 + BN_ROWS : rows;
            float p1[BN_CH] = {0}, p2[BN_CH] = {0};
            for (size_t r = r0; r < r1; r++) {
                const float *g = dy + r * (size_t)c + c0, *o = y + r * (size_t)c + c0;
                const float *bt = beta + c0;
                int j = 0;
                for (; j + NN_VB <= cb; j += NN_VB)
                    for (int u = 0; u < NN_VB; u++) {
                        p1[j + u] += g[j + u];
                        p2[j + u] += g[j + u] * (o[j + u] - bt[j + u]);
                    }
                for (; j < cb; j++) {
                    p1[j] += g[j];
                    p2[j] += g[j] * (o[j] - bt[j]);
                }
            }
            for (int j = 0; j < cb; j++) {
                s1[j] += p1[j];
                s2[j] += p2[j];
            }
        }
        if (dbeta)
            for (int j = 0; j < cb; j++)
                dbeta[c0 + j] += (float)s1[j];
        if (!dx)
            continue;
        /* dx = rstd*dy - rstd*mean(dy) - (y - beta) * rstd*mean(dy*xhat), per row:
         * out = (g - a) * rstd + (o - beta) * b with a, b per channel. */
        float a[BN_CH], b[BN_CH];
        for (int j = 0; j < cb; j++) {
            a[j] = (float)(s1[j] / (double)rows);
            b[j] = (float)(-(double)rstd[c0 + j] * s2[j] / (double)rows);
        }
        const float *rs = rstd + c0, *bt = beta + c0;
        for (size_t r = 0; r < rows; r++) {
            const float *g = dy + r * (size_t)c + c0, *o = y + r * (size_t)c + c0;
            float *d = dx + r * (size_t)c + c0;
            int j = 0;
            for (; j + NN_VB <= cb; j += NN_VB) {
                float t[NN_VB];
                for (int u = 0; u < NN_VB; u++)
                    t[u] = (g[j + u] - a[j + u]) * rs[j + u] + (o[j + u] - bt[j + u]) * b[j + u];
                for (int u = 0; u < NN_VB; u++)
                    d[j + u] = t[u];
            }
            for (; j < cb; j++)
                d[j] = (g[j] - a[j]) * rs[j] + (o[j] - bt[j]) * b[j];
        }
    }
}
