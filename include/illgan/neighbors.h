/* neighbors: exact nearest training images of generated ones, by pixel mean squared error.
 *
 * The overfitting check of the original IllustrationGAN: for a generated image, which
 * training images is it closest to? Distances use ||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b
 * with the dot products from one SGEMM per block of training images and the squared norms
 * precomputed once per dataset. SGEMM rounds, so every training image whose distance could,
 * within a proven bound on that rounding, be among the k smallest is re-ranked with an exact
 * integer sum of squared differences: the answer is exact, not approximate.
 *
 * An index refers to the dataset (which must outlive it) and is immutable once built, so
 * any number of threads may search it at once; each search allocates its own scratch. */
#ifndef ILLGAN_NEIGHBORS_H
#define ILLGAN_NEIGHBORS_H

#include <stddef.h>
#include <stdint.h>

#include "illgan/data.h"

typedef struct neighbors_index neighbors_index;

typedef struct {
    int index;   /* training image */
    double mse;  /* mean over side*side*3 values of the squared difference, pixels in [0, 1] */
} neighbor;

/* Precomputes what searches need (per-value integer mean, squared norms). */
int neighbors_index_build(neighbors_index **out, const dataset *ds, char *err, size_t errlen);
void neighbors_index_free(neighbors_index *ix);

/* queries (n, side, side, 3) RGB bytes -> out (n, k): for each query its k nearest training
 * images, nearest first, ties by index. 1 <= k <= dataset size. */
int neighbors_search(const neighbors_index *ix, const uint8_t *queries, int n, int k,
                     neighbor *out, char *err, size_t errlen);

/* The plain reference: exact integer distances to every training image, for tests. */
int neighbors_search_brute(const dataset *ds, const uint8_t *queries, int n, int k,
                           neighbor *out, char *err, size_t errlen);

#endif
