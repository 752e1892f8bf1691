/* nn/kernels: see kernels.h. Column sums run over blocks of rows in float (short sums,
 * vectorised across channels) and fold each block's partial sums into double totals, so
 * the result is accurate to float precision whatever the number of rows. */
#include "nn/kernels.h"

/* Channels handled per pass, and rows summed in float before folding into double. */
#define COLSUM_CH 256
#define COLSUM_ROWS 64

void nn_colsum_add(float *sum, const float *x, size_t rows, int c)
{
    for (int c0 = 0; c0 < c; c0 += COLSUM_CH) {
        int cb = c - c0 < COLSUM_CH ? c - c0 : COLSUM_CH;
        double total[COLSUM_CH] = {0};
        for (size_t r0 = 0; r0 < rows; r0 += COLSUM_ROWS) {
            size_t r1 = r0 + COLSUM_ROWS < rows ? r0 + COLSUM_ROWS : rows;
            float part[COLSUM_CH] = {0};
            for (size_t r = r0; r < r1; r++) {
                const float *row = x + r * (size_t)c + c0;
                int j = 0;
                for (; j + NN_VB <= cb; j += NN_VB)
                    for (int t = 0; t < NN_VB; t++)
                        part[j + t] += row[j + t];
                for (; j < cb; j++)
                    part[j] += row[j];
            }
            for (int j = 0; j < cb; j++)
                total[j] += part[j];
        }
        for (int j = 0; j < cb; j++)
            sum[c0 + j] += (float)total[j];
    }
}

void nn_add_to(float *restrict dst, const float *restrict src, size_t count)
{
    size_t i = 0;
    for (; i + NN_VB <= count; i += NN_VB)
        for (int t = 0; t < NN_VB; t++)
            dst[i + t] += src[i + t];
    for (; i < count; i++)
        dst[i] += src[i];
}
