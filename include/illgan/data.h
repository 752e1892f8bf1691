/* data: the training set in memory and the order in which training reads it.
 *
 * A dataset is every image file directly inside one folder (PNG or JPEG, side x side RGB,
 * as `illgan prepare` writes them), held as one uint8 array, with each image's file name.
 * Images are ordered by file name, so an index means the same image on every load.
 *
 * The sampler walks shuffled epochs. Its whole state is three integers (seed, epoch,
 * position), so a checkpoint can store it and training resumes on the very next image:
 * the permutation of epoch e is derived from (seed, e), and each image's left-right flip
 * from (seed, epoch, position). */
#ifndef ILLGAN_DATA_H
#define ILLGAN_DATA_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *pixels;  /* (count, side, side, 3) RGB */
    char **names;     /* (count) file names relative to the folder */
    int count;
    int side;
    char *dir;        /* the folder it was loaded from */
} dataset;

/* Loads every image in dir; fails with a clear message when the folder cannot be read,
 * holds no images, or holds an image that is not side x side. */
int dataset_load(dataset *ds, const char *dir, int side, char *err, size_t errlen);
/* A built-in synthetic set (coloured shapes on plain backgrounds), so that training runs
 * with no data at hand: `count` images, deterministic for a given seed. */
int dataset_synthetic(dataset *ds, int count, int side, uint64_t seed, char *err,
                      size_t errlen);
void dataset_free(dataset *ds);

/* Image i as floats in [-1, 1] (x * 2/255 - 1), (side, side, 3), optionally mirrored. */
void dataset_image_float(const dataset *ds, int i, int flip, float *out);

typedef struct {
    uint64_t seed;
    uint64_t epoch;
    uint64_t pos;      /* images of this epoch already handed out */
    uint32_t *perm;    /* (count) permutation of the current epoch; derived, not state */
    uint64_t perm_epoch;
    int count;
} data_sampler;

int data_sampler_init(data_sampler *s, int count, uint64_t seed, char *err, size_t errlen);
/* Restores a saved position (seed, epoch, pos) from a checkpoint. */
void data_sampler_restore(data_sampler *s, uint64_t seed, uint64_t epoch, uint64_t pos);
void data_sampler_free(data_sampler *s);
/* Fills x (n, side, side, 3) with the next n images in [-1, 1], each mirrored with
 * probability flip_prob; idx (n), when not NULL, receives their indices. */
void data_sampler_next(data_sampler *s, const dataset *ds, float *x, int *idx, int n,
                       float flip_prob);

#endif
