/* nn/upsample: the generator's fixed 2x upsample, a per-channel transposed convolution
 * with the tent kernel [0.5, 1, 0.5] in each direction (docs/MODEL.md).
 *
 * 1-D rule for input length H, output 2H: out[2m+1] = in[m], out[2m] = 0.5 in[m] +
 * 0.5 in[m-1] with in[-1] = 0. Forward applies it along W to make the odd output rows,
 * then every even output row is the mean of its odd neighbours (the rule along H), so
 * each pass is a contiguous loop. Backward is the exact adjoint, gathered per input
 * pixel from its 3x3 output neighbourhood with weights 0.5/1/0.5 in each direction, and
 * writes every element of dx. Neither allocates. */
#include <string.h>

#include "illgan/nn.h"
#include "nn/kernels.h"

/* d = a + b, scaled by 0.5; b may be NULL (treated as zero). d may not overlap a or b. */
static void half_sum(float *restrict d, const float *restrict a, const float *restrict b,
                     size_t count)
{
    size_t i = 0;
    if (!b) {
        for (; i + NN_VB <= count; i += NN_VB)
            for (int t = 0; t < NN_VB; t++)
                d[i + t] = 0.5f * a[i + t];
        for (; i < count; i++)
            d[i] = 0.5f * a[i];
        return;
    }
    for (; i + NN_VB <= count; i += NN_VB)
        for (int t = 0; t < NN_VB; t++)
            d[i + t] = 0.5f * (a[i + t] + b[i + t]);
    for (; i < count; i++)
        d[i] = 0.5f * (a[i] + b[i]);
}

void nn_upsample2x_forward(float *y, const float *x, int n, int h, int w, int c)
{
    size_t cs = (size_t)c, xrow = (size_t)w * cs, yrow = 2 * xrow;
    for (int img = 0; img < n; img++) {
        const float *xi = x + (size_t)img * h * xrow;
        float *yi = y + (size_t)img * 2 * h * yrow;
        /* Odd rows 2m+1: input row m upsampled along W. */
        for (int m = 0; m < h; m++) {
            const float *src = xi + (size_t)m * xrow;
            float *dst = yi + (size_t)(2 * m + 1) * yrow;
            for (int b = 0; b < w; b++) {
                const float *cur = src + (size_t)b * cs;
                const float *prev = b > 0 ? cur - cs : NULL;
                half_sum(dst + (size_t)(2 * b) * cs, cur, prev, cs);
                memcpy(dst + (size_t)(2 * b + 1) * cs, cur, cs * sizeof *dst);
            }
        }
        /* Even rows 2m: mean of odd rows 2m+1 and 2m-1 (zero above the top). */
        for (int m = 0; m < h; m++)
            half_sum(yi + (size_t)(2 * m) * yrow, yi + (size_t)(2 * m + 1) * yrow,
                     m > 0 ? yi + (size_t)(2 * m - 1) * yrow : NULL, yrow);
    }
}

/* d += wr * (0.5 r[2b] + r[2b+1] + 0.5 r[2b+2]) for one output row r, where `last`
 * says that column 2b+2 lies beyond the row. */
static void gather_row(float *restrict d, const float *restrict r, float wr, int last,
                       size_t cs)
{
    const float *r0 = r, *r1 = r + cs, *r2 = r + 2 * cs;
    float half = 0.5f * wr;
    size_t i = 0;
    if (last) {
        for (; i + NN_VB <= cs; i += NN_VB)
            for (int t = 0; t < NN_VB; t++)
                d[i + t] += half * r0[i + t] + wr * r1[i + t];
        for (; i < cs; i++)
            d[i] += half * r0[i] + wr * r1[i];
        return;
    }
    for (; i + NN_VB <= cs; i += NN_VB)
        for (int t = 0; t < NN_VB; t++)
            d[i + t] += half * (r0[i + t] + r2[i + t]) + wr * r1[i + t];
    for (; i < cs; i++)
        d[i] += half * (r0[i] + r2[i]) + wr * r1[i];
}

void nn_upsample2x_backward(float *dx, const float *dy, int n, int h, int w, int c)
{
    size_t cs = (size_t)c, xrow = (size_t)w * cs, yrow = 2 * xrow;
    for (int img = 0; img < n; img++) {
        const float *yi = dy + (size_t)img * 2 * h * yrow;
        float *xi = dx + (size_t)img * h * xrow;
        for (int a = 0; a < h; a++) {
            for (int b = 0; b < w; b++) {
                float *d = xi + (size_t)a * xrow + (size_t)b * cs;
                memset(d, 0, cs * sizeof *d);
                const float *col = yi + (size_t)(2 * b) * cs;
                int last = b == w - 1;
                gather_row(d, col + (size_t)(2 * a) * yrow, 0.5f, last, cs);
                gather_row(d, col + (size_t)(2 * a + 1) * yrow, 1.0f, last, cs);
                if (a < h - 1)
                    gather_row(d, col + (size_t)(2 * a + 2) * yrow, 0.5f, last, cs);
            }
        }
    }
}
