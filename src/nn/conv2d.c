/* nn/conv2d: k x k "same" convolution (cross-correlation, stride 1, zero padding k/2) on
 * NHWC tensors, as SGEMM over chunks of output positions.
 *
 * Guarantees: forward writes y; backward writes dx and adds into dw and db; nothing
 * allocates; the workspace is bounded whatever the batch size: one chunk of
 * CONV_BUDGET_FLOATS (at least CONV_MIN_ROWS rows when a single row is very wide), plus
 * up to two permuted copies of the weights, each at most CONV_TRANSPOSED_MAX_WEIGHTS,
 * for the transposed mapping. Under 16 MiB for every layer of docs/MODEL.md.
 *
 * Two mappings onto SGEMM, chosen by shape (conv_transposed):
 * - direct, when cout > cin (or the weights exceed CONV_TRANSPOSED_MAX_WEIGHTS, or
 *   rows are absurdly wide): col = im2col(x) (rows, k*k*cin); y = col . W with W as
 *   (k*k*cin, cout). Backward: dW += col^T . dy; dcol = dy . W^T is scattered back
 *   into dx (col2im).
 * - transposed, when cout <= cin or cout <= 4 (the generator's narrowing layers, and
 *   above all its final 3-channel conv, where an SGEMM with N = 3 runs at a few
 *   percent of peak): the k*k taps move to the wide side of the product. Forward:
 *   Z = x . Wall with Wall (cin, k*k*cout) gives each position's contribution to every
 *   tap, and y gathers k*k slices of Z. Backward: G = im2col of dy with the kernel
 *   flipped (rows, k*k*cout); dx = G . Wr with Wr (k*k*cout, cin), and
 *   dW (as cin, k*k*cout) += x^T . G. Same arithmetic as direct, but with N = k*k*cout
 *   or cin instead of cout. */
#include <cblas.h>
#include <string.h>

#include "illgan/nn.h"
#include "nn/kernels.h"

/* Floats of column matrix per chunk: 8 MiB keeps the matrix in the last-level cache
 * and still gives SGEMM several hundred rows for the widest layers. */
#define CONV_BUDGET_FLOATS (1u << 21)
/* Fewer rows than this and SGEMM spends its time packing the weights. */
#define CONV_MIN_ROWS 256
/* Largest weight tensor (floats) for the transposed mapping, which keeps two permuted
 * copies of it; beyond this (512-channel layers) both mappings run near SGEMM's peak. */
#define CONV_TRANSPOSED_MAX_WEIGHTS (1u << 20)
/* Outputs this narrow gather into registers instead of adding into y. */
#define CONV_THIN_COUT 4

static size_t conv_positions(const nn_conv_shape *s)
{
    return (size_t)s->n * (size_t)s->h * (size_t)s->w;
}

static size_t conv_weights(const nn_conv_shape *s)
{
    return (size_t)s->k * s->k * s->cin * s->cout;
}

static int conv_transposed(const nn_conv_shape *s)
{
    /* The banded forward needs at least k image rows of Z; on absurdly wide images that
     * would break the workspace bound, so they take the direct mapping. */
    size_t min_ring = (size_t)s->k * s->w * s->k * s->k * s->cout;
    if (min_ring > 2 * (size_t)CONV_BUDGET_FLOATS)
        return 0;
    return s->cout <= CONV_THIN_COUT ||
           (s->cout <= s->cin && conv_weights(s) <= CONV_TRANSPOSED_MAX_WEIGHTS);
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

/* ---- direct mapping ------------------------------------------------------------------ */

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

static void conv_direct_forward(float *y, const float *x, const float *w, const float *b,
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

static void conv_direct_backward(float *dx, float *dw, const float *dy, const float *x,
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

/* ---- transposed mapping ------------------------------------------------------------ */

/* Forward plan. Z holds per-tap contributions, (positions, k*k*cout). When a whole image
 * fits the budget, a chunk is several whole images. Otherwise an image is swept in bands
 * of `band` output rows, and Z is a ring of `ring` image rows (band + 2 pad halo): each
 * Z row is computed once, when the sweep first needs it. */
typedef struct {
    int images;     /* whole images per chunk, or 0 for the banded sweep */
    int band, ring; /* banded sweep: output rows per band, Z rows kept */
    size_t zfloats;
} tr_plan;

static tr_plan tr_forward_plan(const nn_conv_shape *s)
{
    size_t taps = (size_t)s->k * s->k * s->cout;
    size_t row = (size_t)s->w * taps, img = (size_t)s->h * row;
    tr_plan pl = {0, 0, 0, 0};
    if (img <= CONV_BUDGET_FLOATS) {
        size_t g = CONV_BUDGET_FLOATS / img;
        pl.images = g < (size_t)s->n ? (int)g : s->n;
        pl.zfloats = (size_t)pl.images * img;
        return pl;
    }
    int pad = s->k / 2;
    size_t fit = CONV_BUDGET_FLOATS / row;
    pl.band = fit > (size_t)(2 * pad + 1) ? (int)fit - 2 * pad : 1;
    pl.ring = pl.band + 2 * pad;
    pl.zfloats = (size_t)pl.ring * row;
    return pl;
}

/* Rows of G per backward chunk. */
static size_t tr_backward_rows(const nn_conv_shape *s)
{
    return conv_chunk_rows(s, (size_t)s->k * s->k * s->cout);
}

/* Z row of image row ii: rows live at ii - z0 (whole images) or ii % ring (banded). */
static const float *z_row(const float *z, int ii, int z0, int ring, size_t row)
{
    return z + (size_t)(ring ? ii % ring : ii - z0) * row;
}

/* d (count) += s (count), inlined here: the gather calls it k*k times per position. */
static inline void add_slice(float *restrict d, const float *restrict s, int count)
{
    int i = 0;
    for (; i + NN_VB <= count; i += NN_VB)
        for (int t = 0; t < NN_VB; t++)
            d[i + t] += s[i + t];
    for (; i < count; i++)
        d[i] += s[i];
}

/* y rows [r0, r1) of one image (h, w, cout) = bias + the sum over taps of Z slices. */
static void tr_gather(float *y, const float *z, const float *b, const nn_conv_shape *s,
                      int z0, int ring, int r0, int r1)
{
    int k = s->k, pad = k / 2, w = s->w, cout = s->cout;
    size_t taps = (size_t)k * k * cout, row = (size_t)w * taps;
    for (int i = r0; i < r1; i++) {
        for (int j = 0; j < w; j++) {
            float *yo = y + ((size_t)i * w + j) * cout;
            float acc[CONV_THIN_COUT];
            int thin = cout <= CONV_THIN_COUT;
            if (thin)
                for (int co = 0; co < cout; co++)
                    acc[co] = b ? b[co] : 0.0f;
            else if (b)
                memcpy(yo, b, (size_t)cout * sizeof *yo);
            else
                memset(yo, 0, (size_t)cout * sizeof *yo);
            for (int kh = 0; kh < k; kh++) {
                int ii = i + kh - pad;
                if (ii < 0 || ii >= s->h)
                    continue;
                const float *zr = z_row(z, ii, z0, ring, row);
                for (int kw = 0; kw < k; kw++) {
                    int jj = j + kw - pad;
                    if (jj < 0 || jj >= w)
                        continue;
                    const float *zt = zr + (size_t)jj * taps + ((size_t)kh * k + kw) * cout;
                    if (thin)
                        for (int co = 0; co < cout; co++)
                            acc[co] += zt[co];
                    else
                        add_slice(yo, zt, cout);
                }
            }
            if (thin)
                memcpy(yo, acc, (size_t)cout * sizeof *yo);
        }
    }
}

/* Z rows [a, b) of one image from x rows [a, b), into ring slots a % ring, ...: one
 * SGEMM per run of slots that does not wrap. */
static void tr_fill_ring(float *z, const float *ximg, const float *wall,
                         const nn_conv_shape *s, int ring, int a, int b)
{
    int taps = s->k * s->k * s->cout;
    size_t row = (size_t)s->w * taps;
    while (a < b) {
        int slot = a % ring, run = b - a < ring - slot ? b - a : ring - slot;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, run * s->w, taps, s->cin, 1.0f,
                    ximg + (size_t)a * s->w * s->cin, s->cin, wall, taps, 0.0f,
                    z + (size_t)slot * row, taps);
        a += run;
    }
}

static void conv_tr_forward(float *y, const float *x, const float *w, const float *b,
                            const nn_conv_shape *s, float *work)
{
    int k = s->k, pad = k / 2, cin = s->cin, cout = s->cout;
    int taps = k * k * cout;
    size_t hw = (size_t)s->h * s->w;
    float *wall = work;                      /* (cin, k*k*cout) */
    float *z = work + conv_weights(s);       /* plan.zfloats */
    for (int t = 0; t < k * k; t++)
        for (int ci = 0; ci < cin; ci++)
            for (int co = 0; co < cout; co++)
                wall[(size_t)ci * taps + (size_t)t * cout + co] =
                    w[((size_t)t * cin + ci) * cout + co];
    tr_plan pl = tr_forward_plan(s);
    if (pl.images) {
        for (int n0 = 0; n0 < s->n; n0 += pl.images) {
            int g = s->n - n0 < pl.images ? s->n - n0 : pl.images;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)((size_t)g * hw), taps,
                        cin, 1.0f, x + (size_t)n0 * hw * cin, cin, wall, taps, 0.0f, z, taps);
            for (int i = 0; i < g; i++)
                tr_gather(y + (size_t)(n0 + i) * hw * cout, z + (size_t)i * hw * taps, b, s, 0,
                          0, 0, s->h);
        }
        return;
    }
    for (int img = 0; img < s->n; img++) {
        const float *ximg = x + (size_t)img * hw * cin;
        int filled = 0; /* Z holds image rows [.., filled) */
        for (int r0 = 0; r0 < s->h; r0 += pl.band) {
            int r1 = r0 + pl.band < s->h ? r0 + pl.band : s->h;
            int need = r1 + pad < s->h ? r1 + pad : s->h;
            tr_fill_ring(z, ximg, wall, s, pl.ring, filled, need);
            filled = need;
            tr_gather(y + (size_t)img * hw * cout, z, b, s, 0, pl.ring, r0, r1);
        }
    }
}

static void conv_tr_backward(float *dx, float *dw, const float *dy, const float *x,
                             const float *w, const nn_conv_shape *s, float *work)
{
    int k = s->k, cin = s->cin, cout = s->cout;
    int taps = k * k * cout;
    size_t wsize = conv_weights(s);
    float *wr = work;              /* (k*k*cout, cin) */
    float *dacc = work + wsize;    /* (cin, k*k*cout): dW with the taps last */
    float *g = work + 2 * wsize;   /* (rows, k*k*cout) */
    if (dx)
        for (int t = 0; t < k * k; t++)
            for (int co = 0; co < cout; co++)
                for (int ci = 0; ci < cin; ci++)
                    wr[((size_t)t * cout + co) * cin + ci] = w[((size_t)t * cin + ci) * cout + co];
    size_t p = conv_positions(s), rows = tr_backward_rows(s);
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
            for (int ci = 0; ci < cin; ci++) {
                float *d = dw + ((size_t)t * cin + ci) * cout;
                const float *a = dacc + (size_t)ci * taps + (size_t)t * cout;
                nn_add_to(d, a, (size_t)cout);
            }
}

/* ---- public entry points ----------------------------------------------------------- */

size_t nn_conv2d_workspace_floats(const nn_conv_shape *s)
{
    if (!conv_transposed(s)) {
        size_t kk = (size_t)s->k * s->k * s->cin;
        return conv_chunk_rows(s, kk) * kk;
    }
    size_t taps = (size_t)s->k * s->k * s->cout, wsize = conv_weights(s);
    size_t fwd = wsize + tr_forward_plan(s).zfloats;
    size_t bwd = 2 * wsize + tr_backward_rows(s) * taps;
    return fwd > bwd ? fwd : bwd;
}

void nn_conv2d_forward(float *y, const float *x, const float *w, const float *b,
                       const nn_conv_shape *s, float *work)
{
    if (conv_transposed(s))
        conv_tr_forward(y, x, w, b, s, work);
    else
        conv_direct_forward(y, x, w, b, s, work);
}

void nn_conv2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                        const float *w, const nn_conv_shape *s, float *work)
{
    if (conv_transposed(s))
        conv_tr_backward(dx, dw, dy, x, w, s, work);
    else
        conv_direct_backward(dx, dw, dy, x, w, s, work);
    if (db)
        nn_colsum_add(db, dy, conv_positions(s), s->cout);
}
