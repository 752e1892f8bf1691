/* gan: the IllustrationGAN model of docs/MODEL.md (generator G, z-predictor Z,
 * discriminator D), its training iteration, sampling and checkpoints.
 *
 * A `gan` owns everything training needs: the three parameter blocks, the three Adam
 * optimizers, activations for one batch size, the random generator and the data sampler's
 * position. It is not thread-safe: one thread (the trainer) owns it. Other threads read
 * `gan_snapshot`s, immutable copies of the generator that are safe to share.
 *
 * Functions that can fail return 0 on success and -1 with a message in err. */
#ifndef ILLGAN_GAN_H
#define ILLGAN_GAN_H

#include <stddef.h>
#include <stdint.h>

#include "illgan/data.h"

#define GAN_Z_DIM 100

/* The architecture. Presets fill it; every field is also settable for custom sizes. */
typedef struct {
    char preset[32];   /* "illustrationgan", "small", "tiny" or "custom" */
    int levels;        /* upsampling blocks; image side = 4 * 2^levels */
    int base;          /* G/D filter base */
    int fc_width;      /* width of G's first three FC layers and D's two head layers */
    int zpred_width;   /* width of Z's hidden layers */
    int mb_kernels;    /* minibatch discrimination B (100) */
    int mb_dims;       /* minibatch discrimination C (5) */
} gan_config;

int gan_config_preset(gan_config *c, const char *name, char *err, size_t errlen);
/* Checks ranges (levels 1..6, base 1..1024, widths 1..16384, ...). */
int gan_config_validate(const gan_config *c, char *err, size_t errlen);
int gan_config_side(const gan_config *c);

/* Training hyperparameters: all may change between iterations. */
typedef struct {
    float lr_d, lr_g, lr_z;   /* Adam learning rates (2e-4) */
    float beta1, beta2;       /* Adam moments (0.5, 0.999) */
    int d_steps, g_steps;     /* D and G updates per iteration (1, 1) */
    int zpred;                /* 1: train the z-predictor (the default); 0: ablation */
    float dropout_keep;       /* D's dropout keep probability (0.5) */
    float flip_prob;          /* probability of mirroring a training image (0.5) */
    int batch_size;           /* images per batch (preset's default) */
} gan_hparams;

void gan_hparams_default(gan_hparams *hp, const char *preset);
/* Checks every field; on failure names the offending field in *field (static string). */
int gan_hparams_validate(const gan_hparams *hp, const char **field, char *err, size_t errlen);

typedef struct gan gan;

/* New randomly initialised model (Xavier uniform, zero biases), seeded by `seed`. */
int gan_init(gan **out, const gan_config *cfg, const gan_hparams *hp, uint64_t seed,
             char *err, size_t errlen);
void gan_free(gan *g);

const gan_config *gan_get_config(const gan *g);
const gan_hparams *gan_get_hparams(const gan *g);
/* Applies new hyperparameters (validated); a new batch size reallocates activations. */
int gan_set_hparams(gan *g, const gan_hparams *hp, char *err, size_t errlen);
/* Iterations completed. */
long gan_step(const gan *g);
/* Parameter counts of G, Z, D. */
void gan_param_counts(const gan *g, size_t *g_count, size_t *z_count, size_t *d_count);
/* Multiply-adds of one training iteration at the current batch size and step ratios,
 * counted from the layer shapes. */
double gan_iteration_macs(const gan *g);

typedef struct {
    float loss_d, loss_g, loss_z;   /* last step's losses (loss_z is 0 when zpred is off) */
    float d_real, d_fake;           /* mean sigmoid(D) on the real and fake batches */
} gan_stats;

/* One training iteration (MODEL.md): d_steps D steps, a Z step, g_steps G steps, each on
 * freshly drawn z, reading real images from ds through the gan's own sampler. */
int gan_train_iteration(gan *g, const dataset *ds, gan_stats *st, char *err, size_t errlen);

/* Data sampler position (saved in checkpoints). */
data_sampler *gan_sampler(gan *g);

/* ---- sampling ------------------------------------------------------------------------
 * A snapshot is an immutable copy of G's weights plus batch-norm statistics from a fixed
 * reference batch of 64 z (MODEL.md), so that an image depends only on its z and the
 * weights. Snapshots are safe to use from many threads at once. */
typedef struct gan_snapshot gan_snapshot;

int gan_snapshot_take(gan_snapshot **out, gan *g, char *err, size_t errlen);
void gan_snapshot_free(gan_snapshot *s);
long gan_snapshot_step(const gan_snapshot *s);
int gan_snapshot_side(const gan_snapshot *s);
/* z (n, 100) -> images (n, side, side, 3) in [-1, 1]. Allocates its own scratch, so
 * concurrent calls on one snapshot are safe. */
int gan_snapshot_generate(const gan_snapshot *s, const float *z, int n, float *images,
                          char *err, size_t errlen);
/* Generates z (n, 100) and lays the images out as a PNG grid (cols and pad as for
 * image_grid_png); *png is the caller's to free. Thread-safe like generation. */
int gan_snapshot_grid_png(const gan_snapshot *s, const float *z, int n, int cols, int pad,
                          uint8_t **png, size_t *len, char *err, size_t errlen);
/* n latent vectors of plain N(0, 1), a pure function of (seed, n). */
void gan_sample_z(float *z, int n, uint64_t seed);

/* ---- checkpoints (format in docs/CHECKPOINT.md) ----------------------------------------
 * Everything needed to resume exactly: config, hyperparameters, step counters, all three
 * parameter blocks, all three optimizers' moments, the random generator, the data
 * sampler's position and the reference-batch seed. Written to PATH.tmp, fsynced and
 * renamed. */
int gan_checkpoint_save(const gan *g, const char *path, char *err, size_t errlen);
/* Loads a checkpoint into a new gan. Refuses a truncated file, a bad checksum, a wrong
 * magic number or format version, with a message saying which. */
int gan_checkpoint_load(gan **out, const char *path, char *err, size_t errlen);
/* Reads only the header (config and step) without loading weights. */
int gan_checkpoint_peek(const char *path, gan_config *cfg, long *step, char *err,
                        size_t errlen);

#endif
