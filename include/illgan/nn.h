/* nn: the neural-network core. Plain functions over float arrays, one forward/backward pair
 * per layer, on OpenBLAS.
 *
 * Conventions (every function below follows them):
 * - Tensors are row-major NHWC float arrays; shapes are written as comments.
 * - Outputs first, then inputs, then parameters, then sizes.
 * - x_forward writes its output (it never accumulates).
 * - x_backward WRITES dx (skipped when dx is NULL) and ADDS into parameter gradients
 *   (dw, db, ...), which the caller zeroes once per step. Parameter-gradient pointers may
 *   be NULL when the caller does not need them.
 * - Element-wise layers may run in place (y == x, dx == dy) where noted.
 * - No function allocates memory, except the ones whose names end in _init; scratch
 *   memory is passed in, sized by the matching _workspace_floats() call.
 * - Nothing here prints or exits. Functions that can fail return 0 on success and -1
 *   with a message in err.
 * - Threads: BLAS calls use OpenBLAS's own thread pool; nothing here starts threads. */
#ifndef ILLGAN_NN_H
#define ILLGAN_NN_H

#include <stddef.h>
#include <stdint.h>

/* ---- random numbers ------------------------------------------------------------------
 * xoshiro256** seeded through splitmix64. The whole state is the struct: copy it to save
 * it, copy it back to resume the exact same stream. */
typedef struct {
    uint64_t s[4];
} nn_rng;

void nn_rng_seed(nn_rng *r, uint64_t seed);
uint64_t nn_rng_next(nn_rng *r);
/* uniform in [0, 1), 24 random bits */
float nn_rng_uniform(nn_rng *r);
/* N(0, 1) by Box-Muller, one value per call (no cached spare, so the state stays 4 words) */
float nn_rng_normal(nn_rng *r);
/* N(0, 1) truncated to [-2, 2] by redrawing */
float nn_rng_truncated_normal(nn_rng *r);
/* uniform integer in [0, n), n > 0, without modulo bias */
uint32_t nn_rng_below(nn_rng *r, uint32_t n);

/* Glorot/Xavier uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)). */
void nn_xavier_uniform(float *w, size_t count, int fan_in, int fan_out, nn_rng *r);

/* ---- fully connected -----------------------------------------------------------------
 * y (n, out) = x (n, in) . w (in, out) + b (out); b may be NULL (no bias). */
void nn_dense_forward(float *y, const float *x, const float *w, const float *b,
                      int n, int in, int out);
void nn_dense_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                       const float *w, int n, int in, int out);

/* ---- convolution ---------------------------------------------------------------------
 * k x k cross-correlation, stride 1, zero "same" padding of k/2 (k odd).
 * x (n, h, w, cin), y (n, h, w, cout), weights (k, k, cin, cout), bias (cout) or NULL.
 * Runs as im2col + SGEMM in chunks of output rows, so that the workspace stays bounded
 * (a few MiB) whatever the batch and image size. */
typedef struct {
    int n, h, w, cin, cout, k;
} nn_conv_shape;

size_t nn_conv2d_workspace_floats(const nn_conv_shape *s);
void nn_conv2d_forward(float *y, const float *x, const float *w, const float *b,
                       const nn_conv_shape *s, float *work);
/* dx, dw, db each optional (NULL = not needed). */
void nn_conv2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                        const float *w, const nn_conv_shape *s, float *work);

/* ---- fixed 2x upsample (tent kernel [0.5, 1, 0.5], see docs/MODEL.md) -------------------
 * x (n, h, w, c) -> y (n, 2h, 2w, c). Per axis: out[2m+1] = in[m],
 * out[2m] = 0.5 in[m] + 0.5 in[m-1] with in[-1] = 0. Backward is the exact adjoint. */
void nn_upsample2x_forward(float *y, const float *x, int n, int h, int w, int c);
void nn_upsample2x_backward(float *dx, const float *dy, int n, int h, int w, int c);

/* ---- 2x2 max-pool, stride 2 ----------------------------------------------------------
 * x (n, h, w, c) -> y (n, h/2, w/2, c), h and w even. arg (n, h/2, w/2, c) records which
 * of the four inputs won (0..3, first maximum in row-major order); backward routes dy there. */
void nn_maxpool2x2_forward(float *y, uint8_t *arg, const float *x, int n, int h, int w, int c);
void nn_maxpool2x2_backward(float *dx, const float *dy, const uint8_t *arg,
                            int n, int h, int w, int c);

/* ---- batch norm, offset only (no scale), eps = 1e-3 ----------------------------------
 * Over rows = n*h*w positions of c channels: y = (x - mean) * rstd + beta.
 * Training: statistics of this batch (biased variance), written to mean (c) and rstd (c)
 * for backward; gradients flow through the statistics. y may equal x. */
#define NN_BN_EPS 1e-3f
void nn_batchnorm_forward(float *y, float *mean, float *rstd, const float *x,
                          const float *beta, size_t rows, int c);
/* Sampling: apply given statistics. y may equal x. */
void nn_batchnorm_apply(float *y, const float *x, const float *beta, const float *mean,
                        const float *rstd, size_t rows, int c);
/* y is the forward output (so the layer can run in place); dx may equal dy. */
void nn_batchnorm_backward(float *dx, float *dbeta, const float *dy, const float *y,
                           const float *beta, const float *rstd, size_t rows, int c);

/* ---- element-wise activations (all may run in place: y == x, dx == dy) ---------------
 * Backward functions read the forward OUTPUT y. */
void nn_relu_forward(float *y, const float *x, size_t count);
void nn_relu_backward(float *dx, const float *dy, const float *y, size_t count);
#define NN_LEAKY_SLOPE 0.1f
void nn_leaky_relu_forward(float *y, const float *x, float slope, size_t count);
void nn_leaky_relu_backward(float *dx, const float *dy, const float *y, float slope,
                            size_t count);
void nn_tanh_forward(float *y, const float *x, size_t count);
void nn_tanh_backward(float *dx, const float *dy, const float *y, size_t count);

/* ---- inverted dropout ------------------------------------------------------------------
 * keeps each value with probability keep and scales kept ones by 1/keep; mask (count)
 * records 1 = kept. keep = 1 copies x. y may equal x, dx may equal dy. */
void nn_dropout_forward(float *y, uint8_t *mask, const float *x, float keep, size_t count,
                        nn_rng *r);
void nn_dropout_backward(float *dx, const float *dy, const uint8_t *mask, float keep,
                         size_t count);

/* ---- minibatch discrimination --------------------------------------------------------
 * x (n, f), t (f, b*c), bias (b) -> o (n, b):
 *   M = x . t viewed as (n, b, c);
 *   o[i,b] = sum_j exp(-sum_c |M[i,b,c] - M[j,b,c]|) + bias[b], j over the whole batch
 *   including j = i.
 * mcache (n, b*c) keeps M for backward. The backward workspace holds n*b*c floats. */
void nn_minibatch_forward(float *o, float *mcache, const float *x, const float *t,
                          const float *bias, int n, int f, int b, int c);
size_t nn_minibatch_workspace_floats(int n, int b, int c);
void nn_minibatch_backward(float *dx, float *dt, float *dbias, const float *dout,
                           const float *x, const float *t, const float *mcache,
                           int n, int f, int b, int c, float *work);

/* ---- losses --------------------------------------------------------------------------
 * Sigmoid cross-entropy on logits, target y in {0,1}, averaged over n, in the stable form
 * max(l,0) - l*y + log(1 + exp(-|l|)). Backward writes dl = scale * (sigmoid(l) - y) / n. */
float nn_bce_logits_forward(const float *logits, float target, int n);
void nn_bce_logits_backward(float *dlogits, const float *logits, float target, int n,
                            float scale);
/* mean over count of (pred - target)^2; backward writes 2 (pred - target) / count. */
float nn_mse_forward(const float *pred, const float *target, size_t count);
void nn_mse_backward(float *dpred, const float *pred, const float *target, size_t count);

/* ---- Adam ----------------------------------------------------------------------------
 * w -= lr_t * m / (sqrt(v) + eps), lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t),
 * where m, v are the moment estimates after folding in g, and t (>= 1) is the step count
 * after this update. One call updates one contiguous range. */
typedef struct {
    float lr, beta1, beta2, eps;
} nn_adam_config;
void nn_adam_update(float *w, const float *g, float *m, float *v, size_t count,
                    const nn_adam_config *cfg, long t);

/* ---- parameter blocks ----------------------------------------------------------------
 * One allocation each for a network's weights and their gradients, zeroed. The owner
 * names its tensors by offsets into the block (src/gan/layout.c), so one layout serves
 * the live model, its snapshots and its checkpoints. */
typedef struct {
    float *w;       /* (count) weights */
    float *dw;      /* (count) gradients */
    size_t count;   /* floats in the block */
} nn_block;

int nn_block_init(nn_block *b, size_t count, char *err, size_t errlen);
void nn_block_free(nn_block *b);
void nn_block_zero_grad(nn_block *b);

/* Adam moments for a contiguous range of some block. */
typedef struct {
    float *m, *v;   /* (count) */
    size_t count;
    long t;         /* updates applied so far */
} nn_adam;

int nn_adam_init(nn_adam *a, size_t count, char *err, size_t errlen);
void nn_adam_free(nn_adam *a);

#endif
