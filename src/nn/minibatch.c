/* nn/minibatch: minibatch discrimination (Salimans et al. 2016) as docs/MODEL.md
 * defines it:
 *   M = x . t viewed as (n, b, c),
 *   o[i,k] = sum_j exp(-sum_c |M[i,k,c] - M[j,k,c]|) + bias[k], j over the whole batch
 *            including j = i (which contributes exp(0) = 1).
 * Backward:
 *   dbias[k] += sum_i g[i,k],
 *   dM[i,k,c] = -sum_{j != i} (g[i,k] + g[j,k]) exp(-D[i,k,j]) sign(M[i,k,c] - M[j,k,c]),
 *   dt += x^T . dM,  dx = dM . t^T.
 * Each unordered pair is visited once. Sums over the batch are in double. The
 * similarity part costs n^2 b c operations, small beside the SGEMMs. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "illgan/nn.h"

static float l1_distance(const float *a, const float *b, int c)
{
    float d = 0.0f;
    for (int u = 0; u < c; u++)
        d += fabsf(a[u] - b[u]);
    return d;
}

void nn_minibatch_forward(float *o, float *mcache, const float *x, const float *t,
                          const float *bias, int n, int f, int b, int c)
{
    int bc = b * c;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, bc, f, 1.0f, x, f, t, bc, 0.0f,
                mcache, bc);
    for (int k = 0; k < b; k++) {
        for (int i = 0; i < n; i++) {
            const float *mi = mcache + (size_t)i * bc + (size_t)k * c;
            double s = 1.0; /* j = i */
            for (int j = 0; j < n; j++) {
                if (j == i)
                    continue;
                const float *mj = mcache + (size_t)j * bc + (size_t)k * c;
                s += exp(-(double)l1_distance(mi, mj, c));
            }
            o[(size_t)i * b + k] = (float)s + (bias ? bias[k] : 0.0f);
        }
    }
}

size_t nn_minibatch_workspace_floats(int n, int b, int c)
{
    return (size_t)n * b * c;
}

void nn_minibatch_backward(float *dx, float *dt, float *dbias, const float *dout,
                           const float *x, const float *t, const float *mcache,
                           int n, int f, int b, int c, float *work)
{
    int bc = b * c;
    if (dbias)
        for (int k = 0; k < b; k++) {
            double s = 0.0;
            for (int i = 0; i < n; i++)
                s += dout[(size_t)i * b + k];
            dbias[k] += (float)s;
        }
    if (!dx && !dt)
        return;
    float *dm = work; /* (n, b*c) */
    memset(dm, 0, (size_t)n * bc * sizeof *dm);
    for (int i = 0; i < n; i++) {
        for (int j = i + 1; j < n; j++) {
            for (int k = 0; k < b; k++) {
                const float *mi = mcache + (size_t)i * bc + (size_t)k * c;
                const float *mj = mcache + (size_t)j * bc + (size_t)k * c;
                float e = expf(-l1_distance(mi, mj, c));
                float wgt = (dout[(size_t)i * b + k] + dout[(size_t)j * b + k]) * e;
                float *di = dm + (size_t)i * bc + (size_t)k * c;
                float *dj = dm + (size_t)j * bc + (size_t)k * c;
                for (int u = 0; u < c; u++) {
                    float diff = mi[u] - mj[u];
                    float sg = (diff > 0.0f) - (diff < 0.0f);
                    di[u] -= wgt * sg;
                    dj[u] += wgt * sg;
                }
            }
        }
    }
    if (dt)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, f, bc, n, 1.0f, x, f, dm, bc, 1.0f,
                    dt, bc);
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, f, bc, 1.0f, dm, bc, t, bc, 0.0f,
                    dx, f);
}
