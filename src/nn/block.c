/* nn/block: parameter blocks and Adam moments, each one zeroed allocation aligned to 64
 * bytes (a cache line, and the widest vector). The owner of a block is whoever called
 * nn_block_init / nn_adam_init, and frees it with the matching _free (NULL-safe on a
 * zeroed or freed struct). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "illgan/nn.h"

#define BLOCK_ALIGN 64

/* A zeroed, 64-byte aligned array of `count` floats (at least one cache line). */
static float *alloc_floats(size_t count)
{
    if (count > (SIZE_MAX - BLOCK_ALIGN) / sizeof(float))
        return NULL;
    size_t bytes = count * sizeof(float);
    bytes = (bytes + BLOCK_ALIGN - 1) / BLOCK_ALIGN * BLOCK_ALIGN;
    if (bytes == 0)
        bytes = BLOCK_ALIGN;
    float *p = aligned_alloc(BLOCK_ALIGN, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

int nn_block_init(nn_block *b, size_t count, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    b->w = alloc_floats(count);
    b->dw = alloc_floats(count);
    if (!b->w || !b->dw) {
        nn_block_free(b);
        snprintf(err, errlen, "out of memory for a parameter block of %zu floats", count);
        return -1;
    }
    b->count = count;
    return 0;
}

void nn_block_free(nn_block *b)
{
    if (!b)
        return;
    free(b->w);
    free(b->dw);
    memset(b, 0, sizeof *b);
}

void nn_block_zero_grad(nn_block *b)
{
    memset(b->dw, 0, b->count * sizeof *b->dw);
}

int nn_adam_init(nn_adam *a, size_t count, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->m = alloc_floats(count);
    a->v = alloc_floats(count);
    if (!a->m || !a->v) {
        nn_adam_free(a);
        snprintf(err, errlen, "out of memory for Adam moments of %zu floats", count);
        return -1;
    }
    a->count = count;
    return 0;
}

void nn_adam_free(nn_adam *a)
{
    if (!a)
        return;
    free(a->m);
    free(a->v);
    memset(a, 0, sizeof *a);
}
