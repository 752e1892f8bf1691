/* neighbors: exact k-nearest training images by pixel MSE (include/illgan/neighbors.h).
 *
 * Why it is exact. Values are centred by an integer per-value mean m (distances do not
 * change), so a = q - m and b = t - m are integers in [-255, 255]: exact in float, and so
 * are their products. SGEMM then only rounds while summing D products, and for any
 * summation order |fl(a.b) - a.b| <= gamma_D * sum |a_i b_i| <= gamma_D * ||a|| ||b||
 * with gamma_D = D u / (1 - D u), u = 2^-24. Norms are exact integers. So the true distance
 * of training image i lies within approx_i -/+ E_i, E_i = 2 gamma_D ||a|| ||b_i||. The true
 * k-th smallest distance is at most the k-th smallest upper bound U; any image whose lower
 * bound exceeds U cannot be among the k nearest. All others are re-ranked with exact integer
 * sums of squared differences. */
#include "illgan/neighbors.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct neighbors_index {
    const dataset *ds;
    size_t dim;       /* side * side * 3 */
    uint8_t *mean;    /* (dim) rounded per-value mean */
    double *norm;     /* (count) exact ||t - mean||^2 */
};

/* SGEMM shape. OpenBLAS runs a call of m*n*k <= 65536 * 4 multiply-adds on the calling
 * thread alone, and larger ones on its shared thread pool. Inside the daemon the trainer
 * keeps that pool busy, and a second caller spins waiting for it (measured: 1.3-1.6 s per
 * search instead of 0.3 s). So the search is cut into calls below that size, accumulated
 * over slices of KC values (beta = 1): it then runs on the request's own thread and competes
 * with training only for the cores. The rounding bound below holds for any summation order,
 * so slicing changes nothing about exactness. */
#define SINGLE_THREAD_MACS 262144.0
#define KC 384
#define BLOCK 256 /* training images converted at once, at most */

void neighbors_index_free(neighbors_index *ix)
{
    if (!ix)
        return;
    free(ix->mean);
    free(ix->norm);
    free(ix);
}

int neighbors_index_build(neighbors_index **out, const dataset *ds, char *err, size_t errlen)
{
    *out = NULL;
    if (!ds || ds->count < 1 || ds->side < 1) {
        snprintf(err, errlen, "neighbors: empty dataset");
        return -1;
    }
    neighbors_index *ix = calloc(1, sizeof *ix);
    size_t dim = (size_t)ds->side * (size_t)ds->side * 3;
    uint64_t *sum = calloc(dim, sizeof *sum);
    if (ix) {
        ix->mean = malloc(dim);
        ix->norm = malloc((size_t)ds->count * sizeof *ix->norm);
    }
    if (!ix || !sum || !ix->mean || !ix->norm) {
        free(sum);
        neighbors_index_free(ix);
        snprintf(err, errlen, "neighbors: out of memory");
        return -1;
    }
    ix->ds = ds;
    ix->dim = dim;
    for (int i = 0; i < ds->count; i++) {
        const uint8_t *t = ds->pixels + (size_t)i * dim;
        for (size_t j = 0; j < dim; j++)
            sum[j] += t[j];
    }
    uint64_t c = (uint64_t)ds->count;
    for (size_t j = 0; j < dim; j++)
        ix->mean[j] = (uint8_t)((sum[j] + c / 2) / c);
    free(sum);
    for (int i = 0; i < ds->count; i++) {
        const uint8_t *t = ds->pixels + (size_t)i * dim;
        int64_t s = 0;
        for (size_t j = 0; j < dim; j++) {
            int d = (int)t[j] - (int)ix->mean[j];
            s += d * d;
        }
        ix->norm[i] = (double)s;
    }
    *out = ix;
    return 0;
}

/* Exact sum of squared differences; 32-bit partial sums of at most 16384 terms of at most
 * 255^2 cannot overflow, and the loop stays simple enough to vectorise. */
static uint64_t sse_u8(const uint8_t *a, const uint8_t *b, size_t d)
{
    uint64_t total = 0;
    size_t i = 0;
    while (i < d) {
        size_t end = d - i > 16384 ? i + 16384 : d;
        uint32_t s = 0;
        for (; i < end; i++) {
            int x = (int)a[i] - (int)b[i];
            s += (uint32_t)(x * x);
        }
        total += s;
    }
    return total;
}

typedef struct {
    uint64_t sse;
    int index;
} ranked;

static int ranked_less(const ranked *a, const ranked *b)
{
    return a->sse < b->sse || (a->sse == b->sse && a->index < b->index);
}

static int ranked_cmp(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    return ranked_less(a, b) ? -1 : ranked_less(b, a) ? 1 : 0;
}

/* Keeps the k smallest of a stream in a max-heap on (key, index). */
typedef struct {
    double key;
    int index;
} heap_item;

static int heap_greater(const heap_item *a, const heap_item *b)
{
    return a->key > b->key || (a->key == b->key && a->index > b->index);
}

static void heap_offer(heap_item *h, int *size, int k, double key, int index)
{
    heap_item it = {key, index};
    if (*size < k) {
        int i = (*size)++;
        while (i > 0) {
            int p = (i - 1) / 2;
            if (!heap_greater(&it, &h[p]))
                break;
            h[i] = h[p];
            i = p;
        }
        h[i] = it;
        return;
    }
    if (!heap_greater(&h[0], &it))
        return;
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        const heap_item *big = &it;
        if (l < k && heap_greater(&h[l], big)) {
            m = l;
            big = &h[l];
        }
        if (r < k && heap_greater(&h[r], big))
            m = r;
        if (m == i)
            break;
        h[i] = h[m];
        i = m;
    }
    h[i] = it;
}

static void fill_result(const ranked *r, int k, size_t dim, neighbor *out)
{
    double scale = 1.0 / ((double)dim * 255.0 * 255.0);
    for (int j = 0; j < k; j++) {
        out[j].index = r[j].index;
        out[j].mse = (double)r[j].sse * scale;
    }
}

static int check_args(const dataset *ds, const uint8_t *queries, int n, int k, char *err,
                      size_t errlen)
{
    if (!ds || !queries || n < 1) {
        snprintf(err, errlen, "neighbors: no queries");
        return -1;
    }
    if (k < 1 || k > ds->count) {
        snprintf(err, errlen, "neighbors: k must be in 1..%d", ds->count);
        return -1;
    }
    return 0;
}

int neighbors_search_brute(const dataset *ds, const uint8_t *queries, int n, int k,
                           neighbor *out, char *err, size_t errlen)
{
    if (check_args(ds, queries, n, k, err, errlen))
        return -1;
    size_t dim = (size_t)ds->side * (size_t)ds->side * 3;
    ranked *all = malloc((size_t)ds->count * sizeof *all);
    if (!all) {
        snprintf(err, errlen, "neighbors: out of memory");
        return -1;
    }
    for (int q = 0; q < n; q++) {
        for (int i = 0; i < ds->count; i++) {
            all[i].sse = sse_u8(queries + (size_t)q * dim, ds->pixels + (size_t)i * dim, dim);
            all[i].index = i;
        }
        qsort(all, (size_t)ds->count, sizeof *all, ranked_cmp);
        fill_result(all, k, dim, out + (size_t)q * (size_t)k);
    }
    free(all);
    return 0;
}

int neighbors_search(const neighbors_index *ix, const uint8_t *queries, int n, int k,
                     neighbor *out, char *err, size_t errlen)
{
    const dataset *ds = ix ? ix->ds : NULL;
    if (check_args(ds, queries, n, k, err, errlen))
        return -1;
    const size_t dim = ix->dim;
    const int count = ds->count;
    float *qf = malloc((size_t)n * dim * sizeof *qf);
    float *tf = malloc((size_t)BLOCK * dim * sizeof *tf);
    float *dots = malloc((size_t)n * BLOCK * sizeof *dots);
    double *approx = malloc((size_t)n * (size_t)count * sizeof *approx);
    double *qnorm = malloc((size_t)n * sizeof *qnorm);
    heap_item *heap = malloc((size_t)k * sizeof *heap);
    ranked *cand = malloc((size_t)count * sizeof *cand);
    int rc = -1;
    if (!qf || !tf || !dots || !approx || !qnorm || !heap || !cand) {
        snprintf(err, errlen, "neighbors: out of memory");
        goto done;
    }
    for (int q = 0; q < n; q++) {
        const uint8_t *a = queries + (size_t)q * dim;
        float *af = qf + (size_t)q * dim;
        int64_t s = 0;
        for (size_t j = 0; j < dim; j++) {
            int d = (int)a[j] - (int)ix->mean[j];
            af[j] = (float)d;
            s += d * d;
        }
        qnorm[q] = (double)s;
    }
    int block = (int)(SINGLE_THREAD_MACS / ((double)n * KC));
    block = block < 1 ? 1 : block > BLOCK ? BLOCK : block;
    for (int b0 = 0; b0 < count; b0 += block) {
        int bs = count - b0 < block ? count - b0 : block;
        for (int i = 0; i < bs; i++) {
            const uint8_t *t = ds->pixels + (size_t)(b0 + i) * dim;
            float *row = tf + (size_t)i * dim;
            for (size_t j = 0; j < dim; j++)
                row[j] = (float)((int)t[j] - (int)ix->mean[j]);
        }
        /* dots (n, bs) = qf (n, dim) . tf (bs, dim)^T, summed over slices of KC values */
        for (size_t k0 = 0; k0 < dim; k0 += KC) {
            int kk = dim - k0 < KC ? (int)(dim - k0) : KC;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, bs, kk, 1.0f, qf + k0,
                        (int)dim, tf + k0, (int)dim, k0 ? 1.0f : 0.0f, dots, bs);
        }
        for (int q = 0; q < n; q++) {
            const float *dq = dots + (size_t)q * (size_t)bs;
            double *aq = approx + (size_t)q * (size_t)count + (size_t)b0;
            for (int i = 0; i < bs; i++)
                aq[i] = qnorm[q] + ix->norm[b0 + i] - 2.0 * (double)dq[i];
        }
    }
    const double u = ldexp(1.0, -24);
    const double gamma = (double)dim * u / (1.0 - (double)dim * u);
    for (int q = 0; q < n; q++) {
        const double *ap = approx + (size_t)q * (size_t)count;
        const double qn = sqrt(qnorm[q]);
        int hs = 0;
        for (int i = 0; i < count; i++) {
            double e = 2.0 * gamma * qn * sqrt(ix->norm[i]);
            heap_offer(heap, &hs, k, ap[i] + e, i);
        }
        /* The k-th smallest upper bound, widened by a relative 1e-12 for the rounding of the
         * double arithmetic above (exact integers up to 2^53, then a few roundings). */
        double upper = heap[0].key * (1.0 + 1e-12) + 1e-6;
        int nc = 0;
        const uint8_t *a = queries + (size_t)q * dim;
        for (int i = 0; i < count; i++) {
            double e = 2.0 * gamma * qn * sqrt(ix->norm[i]);
            if (ap[i] - e <= upper) {
                cand[nc].sse = sse_u8(a, ds->pixels + (size_t)i * dim, dim);
                cand[nc].index = i;
                nc++;
            }
        }
        qsort(cand, (size_t)nc, sizeof *cand, ranked_cmp);
        fill_result(cand, k, dim, out + (size_t)q * (size_t)k);
    }
    rc = 0;
done:
    free(qf);
    free(tf);
    free(dots);
    free(approx);
    free(qnorm);
    free(heap);
    free(cand);
    return rc;
}
