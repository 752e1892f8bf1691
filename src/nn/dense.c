/* nn/dense: fully connected layer, y = x . w + b, as single SGEMM calls.
 *
 * Forward writes y; backward writes dx and adds into dw and db, following nn.h. The bias
 * is broadcast into y before the product so that SGEMM adds onto it (beta = 1) instead
 * of a second pass over y. Bias gradients are column sums accumulated in double
 * (nn_colsum_add), so a large batch does not lose the small terms. */
#include <cblas.h>
#include <string.h>

#include "illgan/nn.h"
#include "nn/kernels.h"

void nn_dense_forward(float *y, const float *x, const float *w, const float *b,
                      int n, int in, int out)
{
    float beta = 0.0f;
    if (b) {
        for (int i = 0; i < n; i++)
            memcpy(y + (size_t)i * out, b, (size_t)out * sizeof *y);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, out, in, 1.0f, x, in, w, out,
                beta, y, out);
}

void nn_dense_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                       const float *w, int n, int in, int out)
{
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, in, out, 1.0f, dy, out, w,
                    out, 0.0f, dx, in);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, out, n, 1.0f, x, in, dy,
                    out, 1.0f, dw, out);
    if (db)
        nn_colsum_add(db, dy, (size_t)n, out);
}
