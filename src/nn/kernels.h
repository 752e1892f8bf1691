/* nn/kernels: small numeric helpers shared by the layers of src/nn. Internal to the nn
 * module (not installed, not part of include/illgan/nn.h).
 *
 * gcc -O2 (GCC 12) vectorises a loop only when its trip count is a known multiple of the
 * vector width, so hot loops here and in the layers run in fixed blocks of NN_VB
 * elements with a scalar tail. */
#ifndef ILLGAN_NN_KERNELS_H
#define ILLGAN_NN_KERNELS_H

#include <stddef.h>

#define NN_VB 16

/* sum (c) += column sums of x (rows, c), accumulated in double so that sums over
 * hundreds of thousands of rows keep float precision. */
void nn_colsum_add(float *sum, const float *x, size_t rows, int c);

/* dst (count) += src (count); the two must not overlap. */
void nn_add_to(float *dst, const float *src, size_t count);

#endif
