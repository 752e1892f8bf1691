/* gan/internal.h: what the gan module's files share and its tests may look at.
 *
 * Parameter tensors are named by their offset into a network's block (nn_block), so the
 * same layout describes the live model, the copy inside a snapshot and the checkpoint file.
 * The declaration order in layout.c fixes the byte layout documented in docs/CHECKPOINT.md. */
#ifndef ILLGAN_GAN_INTERNAL_H
#define ILLGAN_GAN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "illgan/data.h"
#include "illgan/gan.h"
#include "illgan/nn.h"

#define GAN_MAX_LEVELS 6
#define GAN_NO_BIAS ((size_t)-1)
#define GAN_REF_BATCH 64
#define GAN_REF_SEED 0x1115A7C0FFEEull
#define GAN_ADAM_EPS 1e-8f

typedef struct {
    size_t w, b;        /* offsets of (in, out) weights and (out) bias, or GAN_NO_BIAS */
    int in, out;
} gan_dense;

typedef struct {
    size_t w, b;        /* offsets of (k, k, cin, cout) weights and (cout) bias/beta */
    int cin, cout;
    int side;           /* input and output side (convolutions keep the size) */
} gan_conv;

/* G: 4 FC layers, `levels` blocks of upsample + conv + batch norm (b is beta) + ReLU,
 * then conv to RGB (b is a bias) and tanh. */
typedef struct {
    int side, c0, levels;
    gan_dense fc[4];
    gan_conv up[GAN_MAX_LEVELS];  /* up[i].side is the side after upsampling */
    gan_conv out;
    size_t count;                 /* floats in the block */
    size_t fc_count;              /* the FC layers come first: floats [0, fc_count) */
} gan_g_layout;

typedef struct {
    gan_dense fc[4];              /* features -> W -> W -> W -> 100 */
    size_t count;
} gan_z_layout;

/* D: conv blocks (block 0 has a bias, later ones batch norm with beta in b), head FC x2,
 * minibatch discrimination (t: (features, B*C), bias: (B)), final FC (W + B) -> 1. */
typedef struct {
    int side, levels, features;
    gan_conv conv[GAN_MAX_LEVELS];
    gan_dense head[2];
    size_t mb_t, mb_bias;
    int mb_kernels, mb_dims;
    gan_dense logit;
    size_t count;
} gan_d_layout;

void gan_layout_g(gan_g_layout *l, const gan_config *c);
void gan_layout_z(gan_z_layout *l, const gan_config *c);
void gan_layout_d(gan_d_layout *l, const gan_config *c);

/* Activations of one G forward pass over a batch, kept for backward. */
typedef struct {
    float *z;                       /* (n, 100) */
    float *fc[4];                   /* (n, width) after ReLU; fc[3] is the features */
    float *u[GAN_MAX_LEVELS];       /* (n, s, s, cin) upsampled input of block i */
    float *y[GAN_MAX_LEVELS];       /* (n, s, s, cout) batch-norm output */
    float *a[GAN_MAX_LEVELS];       /* (n, s, s, cout) after ReLU */
    float *mean[GAN_MAX_LEVELS], *rstd[GAN_MAX_LEVELS];  /* (cout) */
    float *img;                     /* (n, side, side, 3) after tanh */
} gan_g_acts;

typedef struct {
    const float *x;                 /* (n, side, side, 3) input, not owned */
    float *drop[GAN_MAX_LEVELS];    /* (n, s, s, cin) dropout output, blocks >= 1 */
    uint8_t *mask[GAN_MAX_LEVELS];
    float *y[GAN_MAX_LEVELS];       /* (n, s, s, cout) conv (+bias) or batch-norm output */
    float *a[GAN_MAX_LEVELS];       /* (n, s, s, cout) after LeakyReLU */
    float *p[GAN_MAX_LEVELS];       /* (n, s/2, s/2, cout) after max-pool */
    uint8_t *arg[GAN_MAX_LEVELS];
    float *mean[GAN_MAX_LEVELS], *rstd[GAN_MAX_LEVELS];
    float *h[2];                    /* (n, W) head after LeakyReLU */
    float *mcache;                  /* (n, B*C) */
    float *mbo;                     /* (n, B) minibatch features */
    float *cat;                     /* (n, W + B) head output and minibatch features */
    float *logit;                   /* (n) */
} gan_d_acts;

typedef struct {
    float *h[3];                    /* (n, Wz) after ReLU */
    float *zhat;                    /* (n, 100) */
} gan_z_acts;

struct gan {
    gan_config cfg;
    gan_hparams hp;
    gan_g_layout gl;
    gan_z_layout zl;
    gan_d_layout dl;
    nn_block gp, zp, dp;            /* parameters and gradients of G, Z, D */
    nn_adam opt_g, opt_d;           /* over the whole G block, the whole D block */
    nn_adam opt_z;                  /* over G's FC range, then the Z block */
    long step;
    nn_rng rng;                     /* z draws and dropout masks */
    uint64_t ref_seed;              /* sampling's reference batch (GAN_REF_SEED unless loaded) */
    data_sampler sampler;
    int sampler_ready;

    int n;                          /* batch size the buffers below are sized for */
    void *arena;                    /* one allocation holding every buffer below */
    gan_g_acts ga;
    gan_d_acts da;
    gan_z_acts za;
    float *real;                    /* (n, side, side, 3) */
    float *gbuf[2];                 /* gradient ping-pong, each the largest activation */
    float *dcat, *dmb, *dfeat;      /* D-head gradient scratch */
    float *dlogit;                  /* (n) */
    float *work;                    /* convolution / minibatch workspace */
};

/* Allocates blocks, optimizers and buffers for cfg; weights are left zero. */
int gan_alloc(gan **out, const gan_config *cfg, const gan_hparams *hp, char *err,
              size_t errlen);
/* Sizes the activation arena for batch n (reallocating when it changes). */
int gan_buffers_resize(gan *g, int n, char *err, size_t errlen);

/* Forward and backward passes over the gan's own buffers at batch g->n. Gradients travel
 * through the two scratch buffers gbuf[0] and gbuf[1]:
 * - gan_g_backward reads d(image) from gbuf[0] (and overwrites both) and fills every
 *   gradient of G;
 * - gan_g_fc_backward reads d(features) from the given gbuf and fills G's FC gradients;
 * - gan_d_backward with want_dx leaves d(input image) in gbuf[0]; with want_dw it adds
 *   D's parameter gradients, without it D is treated as frozen.
 * D's dropout masks are drawn from `dropout`. */
void gan_g_forward(gan *g, const float *z);
void gan_g_backward(gan *g);
void gan_g_fc_backward(gan *g, float *dfeatures);
void gan_z_forward(gan *g);
void gan_d_forward(gan *g, const float *x, float keep, nn_rng *dropout);
void gan_d_backward(gan *g, const float *dlogit, int want_dx, int want_dw);

/* Losses with their gradients on given inputs; `dropout` is the generator for D's
 * masks. These are the pieces of one iteration, exposed for the whole-network
 * gradient checks. Each zeroes and then fills the gradients it names. */
float gan_g_loss_grad(gan *g, const float *z, nn_rng *dropout);  /* L_G -> G grads */
float gan_z_loss_grad(gan *g, const float *z);                   /* L_Z -> G FC + Z grads */

#endif
