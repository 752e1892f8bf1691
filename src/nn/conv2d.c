/* nn/conv2d: k x k "same" convolution (cross-correlation, stride 1, zero padding k/2) on
 * NHWC tensors, as im2col + SGEMM over chunks of output positions.
 *
 * Guarantees: the workspace is bounded by a fixed budget (CONV_BUDGET_FLOATS, or
 * CONV_MIN_ROWS rows of the column matrix when a single row is very wide), whatever the
 * batch and image size; forward writes y; backward writes dx and adds into dw and db;
 * nothing allocates.
 *
 * Two ways of mapping the convolution onto SGEMM, chosen by shape:
 * - general: col (rows, k*k*cin) . W (k*k*cin, cout) -> y. Backward: dW += col^T . dy,
 *   dcol = dy . W^T scattered back into dx (col2im).
 * - thin output (cout <= CONV_THIN_COUT, e.g. the generator's final 3-channel conv):
 *   an SGEMM with N = 3 runs far below peak, so the product is turned around. Forward:
 *   Z = x (positions, cin) . Wall (cin, k*k*cout) gives every position's contribution to
 *   each tap, and y gathers k*k of them. Backward: G = im2col of dy with the kernel
 *   flipped (positions, k*k*cout); dx = G . Wr (k*k*cout, cin) and
 *   dW^T += x^T . G, both wide products. */
#include <cblas.h>
#include <string.h>

#include "illgan/nn.h"
#include "nn/kernels.h"

/* Floats of column matrix per chunk: 8 MiB keeps the matrix in the last-level cache
 * and still gives SGEMM several hundred rows for the widest layers. */
#define CONV_BUDGET_FLOATS (1u << 21)
/* Fewer rows than this and SGEMM spends its time packing the weights. */
#define CONV_MIN_ROWS 256
#define CONV_THIN_COUT 4

static size_t conv_positions(const nn_conv_shape *s)
{
    return (size_t)s->n * (size_t)s->h * (size_t)s->w;
}

static int conv_is_thin(const nn_conv_shape *s)
{
    return s->cout <= CONV_THIN_COUT;
}

/* Rows per chunk for a matrix of `width` floats per row. */
static size_t conv_chunk_rows(const nn_conv_shape *s, size_t width)
{
    size_t rows = CONV_BUDGET_FLOATS / width;
    if (rows < CONV_MIN_ROWS)
        rows = CONV_MIN_ROWS;
    size_t p = conv_positions(s);
    return rows < p ? rows : p;
}

/* ---- general path ------------------------------------------------------------------ */

/* col (p1 - p0, k*k*c) = patches of x (n, h, w, c) for positions [p0, p1). With `flip`,
 * tap (kh, kw) reads offset (pad - kh, pad - kw) instead of (kh - pad, kw - pad): the
 * patches of the transposed convolution. */
static void im2col(float *restrict col, const float *restrict x, int h, int w, int c, int k,
                   size_t p0, size_t p1, int flip)
{
    int pad = k / 2;
    size_t hw = (size_t)h * w;
    size_t cs = (size_t)c;
    for (size_t p = p0; p < p1; p++) {
        size_t img = p / hw;
        int i = (int)(p % hw / (size_t)w), j = (int)(p % (size_t)w);
        const float *ximg = x + img * hw * cs;
        float *row = col + (p - p0) * (size_t)k * k * cs;
        for (int kh = 0; kh < k; kh++) {
            float *dst = row + (size_t)kh * k * cs;
            int ii = flip ? i + pad - kh : i + kh - pad;
            if (ii < 0 || ii >= h) {
                memset(dst, 0, (size_t)k * cs * sizeof *dst);
                continue;
            }
            const float *xrow = ximg + (size_t)ii * w * cs;
            if (flip) {
                for (int kw = 0; kw < k; kw++) {
                    int jj = j + pad - kw;
                    if (jj < 0 || jj >= w)
                        memset(dst + kw * cs, 0, cs * sizeof *dst);
                    else
                        memcpy(dst + kw * cs, xrow + (size_t)jj * cs, cs * sizeof *dst);
                }
                continue;
            }
            /* Taps kw in [lo, hi) read the contiguous input positions j + kw - pad. */
            int lo = pad - j > 0 ? pad - j : 0;
            int hi = w - j + pad < k ? w - j + pad : k;
            if (lo > 0)
                memset(dst, 0, (size_t)lo * cs * sizeof *dst);
            if (hi > lo)
                memcpy(dst + lo * cs, xrow + (size_t)(j + lo - pad) * cs,
                       (size_t)(hi - lo) * cs * sizeof *dst);
            if (hi < k)
                memset(dst + hi * cs, 0, (size_t)(k - hi) * cs * sizeof *dst);
        }
    }
}

/* dx (n, h, w, c) += the patches in col (p1 - p0, k*k*c): the adjoint of im2col. */
static void col2im_add(float *dx, const float *col, int h, int w, int c, int k, size_t p0,
                       size_t p1)
{
    int pad = k / 2;
    size_t hw = (size_t)h * w;
    size_t cs = (size_t)c;
    for (size_t p = p0; p < p1; p++) {
        size_t img = p / hw;
        int i = (int)(p % hw / (size_t)w), j = (int)(p % (size_t)w);
        float *dimg = dx + img * hw * cs;
        const float *row = col + (p - p0) * (size_t)k * k * cs;
        int lo = pad - j > 0 ? pad - j : 0;
        int hi = w - j + pad < k ? w - j + pad : k;
        if (hi <= lo)
            continue;
        for (int kh = 0; kh < k; kh++) {
            int ii = i + kh - pad;
            if (ii < 0 || ii >= h)
                continue;
            nn_add_to(dimg + ((size_t)ii * w + (size_t)(j + lo - pad)) * cs,
                      row + ((size_t)kh * k + lo) * cs, (size_t)(hi - lo) * cs);
        }
    }
}

static void conv_general_forward(float *y, const float *x, const float *w, const float *b,
                                 const nn_conv_shape *s, float *col)
{
    size_t kk = (size_t)s->k * s->k * s->cin;
    size_t p = conv_positions(s), rows = conv_chunk_rows(s, kk);
    for (size_t p0 = 0; p0 < p; p0 += rows) {
        size_t p1 = p0 + rows < p ? p0 + rows : p;
        float *yc = y + p0 * (size_t)s->cout;
        float beta = 0.0f;
        if (b) {
            for (size_t q = p0; q < p1; q++)
                memcpy(y + q * (size_t)s->cout, b, (size_t)s->cout * sizeof *y);
            beta = 1.0f;
        }
        im2col(col, x, s->h, s->w, s->cin, s->k, p0, p1, 0);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(p1 - p0), s->cout,
                    (int)kk, 1.0f, col, (int)kk, w, s->cout, beta, yc, s->cout);
    }
}

static void conv_general_backward(float *dx, float *dw, const float *dy, const float *x,
                                  const float *w, const nn_conv_shape *s, float *col)
{
    size_t kk = (size_t)s->k * s->k * s->cin;
    size_t p = conv_positions(s), rows = conv_chunk_rows(s, kk);
    if (dx)
        memset(dx, 0, p * (size_t)s->cin * sizeof *dx);
    for (size_t p0 = 0; p0 < p; p0 += rows) {
        size_t p1 = p0 + rows < p ? p0 + rows : p;
        int m = (int)(p1 - p0);
        const float *dyc = dy + p0 * (size_t)s->cout;
        if (dw) {
            im2col(col, x, s->h, s->w, s->cin, s->k, p0, p1, 0);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kk, s->cout, m, 1.0f,
                        col, (int)kk, dyc, s->cout, 1.0f, dw, s->cout);
        }
        if (dx) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, (int)kk, s->cout, 1.0f,
                        dyc, s->cout, w, s->cout, 0.0f, col, (int)kk);
            col2im_add(dx, col, s->h, s->w, s->cin, s->k, p0, p1);
        }
    }
}

/* ---- thin-output path -------------------------------------------------------------- */

/* Image rows per forward chunk: whole images when one fits the budget, otherwise bands
 * of `band` output rows, whose Z also covers `pad` rows of halo on each side. */
typedef struct {
    int images;   /* images per chunk (>= 1) */
    int band;     /* output rows per chunk within an image (h when whole images) */
    size_t zfloats;
} thin_plan;

static thin_plan thin_forward_plan(const nn_conv_shape *s)
{
    size_t taps = (size_t)s->k * s->k * s->cout;
    size_t img = (size_t)s->h * s->w * taps;
    thin_plan pl;
    if (img <= CONV_BUDGET_FLOATS) {
        size_t g = CONV_BUDGET_FLOATS / img;
        pl.images = g < (size_t)s->n ? (int)g : s->n;
        pl.band = s->h;
        pl.zfloats = (size_t)pl.images * img;
        return pl;
    }
    int pad = s->k / 2;
    size_t fit = CONV_BUDGET_FLOATS / ((size_t)s->w * taps);
    pl.images = 1;
    pl.band = fit > (size_t)(2 * pad + 1) ? (int)fit - 2 * pad : 1;
    if (pl.band > s->h)
        pl.band = s->h;
    size_t zrows = (size_t)pl.band + 2 * (size_t)pad;
    if (zrows > (size_t)s->h)
        zrows = (size_t)s->h;
    pl.zfloats = zrows * s->w * taps;
    return pl;
}

/* Rows of G per backward chunk. */
static size_t thin_backward_rows(const nn_conv_shape *s)
{
    return conv_chunk_rows(s, (size_t)s->k * s->k * s->cout);
}

/* y rows [r0, r1) of one image (h, w, cout) from Z, which holds image rows [z0, ...) of
 * per-tap contributions (w, k*k*cout). */
static void thin_gather(float *y, const float *z, const float *b, const nn_conv_shape *s,
                        int z0, int r0, int r1)
{
    int k = s->k, pad = k / 2, w = s->w, cout = s->cout;
    size_t taps = (size_t)k * k * cout;
    for (int i = r0; i < r1; i++) {
        for (int j = 0; j < w; j++) {
            float acc[CONV_THIN_COUT];
            for (int co = 0; co < cout; co++)
                acc[co] = b ? b[co] : 0.0f;
            for (int kh = 0; kh < k; kh++) {
                int ii = i + kh - pad;
                if (ii < 0 || ii >= s->h)
                    continue;
                for (int kw = 0; kw < k; kw++) {
                    int jj = j + kw - pad;
                    if (jj < 0 || jj >= w)
                        continue;
                    const float *zt = z + ((size_t)(ii - z0) * w + jj) * taps +
                                      ((size_t)kh * k + kw) * cout;
                    for (int co = 0; co < cout; co++)
                        acc[co] += zt[co];
                }
            }
            memcpy(y + ((size_t)i * w + j) * cout, acc, (size_t)cout * sizeof *y);
        }
    }
}

static void conv_thin_forward(float *y, const float *x, const float *w, const float *b,
                              const nn_conv_shape *s, float *work)
{
    int k = s->k, pad = k / 2, cin = s->cin, cout = s->cout;
    int taps = k * k * cout;
    size_t hw = (size_t)s->h * s->w;
    float *wall = work;                           /* (cin, k*k*cout) */
    float *z = work + (size_t)cin * taps;         /* (positions, k*k*cout) */
    for (int t = 0; t < k * k; t++)
        for (int ci = 0; ci < cin; ci++)
            for (int co = 0; co < cout; co++)
                wall[(size_t)ci * taps + (size_t)t * cout + co] =
                    w[((size_t)t * cin + ci) * cout + co];
    thin_plan pl = thin_forward_plan(s);
    if (pl.band == s->h) {
        for (int n0 = 0; n0 < s->n; n0 += pl.images) {
            int g = s->n - n0 < pl.images ? s->n - n0 : pl.images;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)((size_t)g * hw), taps,
                        cin, 1.0f, x + (size_t)n0 * hw * cin, cin, wall, taps, 0.0f, z, taps);
            for (int i = 0; i < g; i++)
                thin_gather(y + (size_t)(n0 + i) * hw * cout, z + (size_t)i * hw * taps, b, s,
                            0, 0, s->h);
        }
        return;
    }
    for (int img = 0; img < s->n; img++) {
        const float *ximg = x + (size_t)img * hw * cin;
        for (int r0 = 0; r0 < s->h; r0 += pl.band) {
            int r1 = r0 + pl.band < s->h ? r0 + pl.band : s->h;
            int z0 = r0 - pad > 0 ? r0 - pad : 0;
            int z1 = r1 + pad < s->h ? r1 + pad : s->h;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (z1 - z0) * s->w, taps, cin,
                        1.0f, ximg + (size_t)z0 * s->w * cin, cin, wall, taps, 0.0f, z, taps);
            thin_gather(y + (size_t)img * hw * cout, z, b, s, z0, r0, r1);
        }
    }
}

static void conv_thin_backward(float *dx, float *dw, const float *dy, const float *x,
                               const float *w, const nn_conv_shape *s, float *work)
{
    int k = s->k, cin = s->cin, cout = s->cout;
    int taps = k * k * cout;
    size_t wsize = (size_t)cin * taps;
    float *wr = work;              /* (k*k*cout, cin) */
    float *dacc = work + wsize;    /* (cin, k*k*cout): dW with taps last */
    float *g = work + 2 * wsize;   /* (rows, k*k*cout) */
    if (dx)
        for (int t = 0; t < k * k; t++)
            for (int co = 0; co < cout; co++)
                for (int ci = 0; ci < cin; ci++)
                    wr[((size_t)t * cout + co) * cin + ci] = w[((size_t)t * cin + ci) * cout + co];
    size_t p = conv_positions(s), rows = thin_backward_rows(s);
    for (size_t p0 = 0; p0 < p; p0 += rows) {
        size_t p1 = p0 + rows < p ? p0 + rows : p;
        int m = (int)(p1 - p0);
        im2col(g, dy, s->h, s->w, cout, k, p0, p1, 1);
        if (dx)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, cin, taps, 1.0f, g, taps,
                        wr, cin, 0.0f, dx + p0 * cin, cin);
        if (dw)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cin, taps, m, 1.0f,
                        x + p0 * cin, cin, g, taps, p0 == 0 ? 0.0f : 1.0f, dacc, taps);
    }
    if (dw)
        for (int t = 0; t < k * k; t++)
            for (int ci = 0; ci < cin; ci++)
                for (int co = 0; co < cout; co++)
                    dw[((size_t)t * cin + ci) * cout + co] +=
                        dacc[(size_t)ci * taps + (size_t)t * cout + co];
}

/* ---- public entry points ----------------------------------------------------------- */

size_t nn_conv2d_workspace_floats(const nn_conv_shape *s)
{
    if (!conv_is_thin(s)) {
        size_t kk = (size_t)s->k * s->k * s->cin;
        return conv_chunk_rows(s, kk) * kk;
    }
    size_t taps = (size_t)s->k * s->k * s->cout;
    size_t wsize = (size_t)s->cin * taps;
    size_t fwd = wsize + thin_forward_plan(s).zfloats;
    size_t bwd = 2 * wsize + thin_backward_rows(s) * taps;
    return fwd > bwd ? fwd : bwd;
}

void nn_conv2d_forward(float *y, const float *x, const float *w, const float *b,
                       const nn_conv_shape *s, float *work)
{
    if (conv_is_thin(s))
        conv_thin_forward(y, x, w, b, s, work);
    else
        conv_general_forward(y, x, w, b, s, work);
}

void nn_conv2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                        const float *w, const nn_conv_shape *s, float *work)
{
    if (conv_is_thin(s))
        conv_thin_backward(dx, dw, dy, x, w, s, work);
    else
        conv_general_backward(dx, dw, dy, x, w, s, work);
    if (db)
        nn_colsum_add(db, dy, conv_positions(s), s->cout);
}
