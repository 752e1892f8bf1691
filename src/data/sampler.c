/* data/sampler: the order in which training reads the dataset.
 *
 * Epoch e is a permutation of all images, drawn by Fisher-Yates from an nn_rng seeded
 * with a hash of (seed, e); image number pos of that epoch is flipped left-right when a
 * hash of (seed, e, pos), read as a uniform number in [0, 1), falls below flip_prob.
 * Nothing else is remembered, so (seed, epoch, pos) from a checkpoint resumes the exact
 * stream: restoring and drawing gives the images and flips an uninterrupted run would
 * have given. The cached permutation is derived state, rebuilt when the epoch changes. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "illgan/data.h"
#include "illgan/nn.h"

#define NO_EPOCH UINT64_MAX

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int data_sampler_init(data_sampler *s, int count, uint64_t seed, char *err, size_t errlen)
{
    s->perm = NULL;
    s->count = 0;
    if (count <= 0) {
        if (err && errlen)
            snprintf(err, errlen, "sampler: the dataset is empty");
        return -1;
    }
    s->perm = malloc((size_t)count * sizeof *s->perm);
    if (!s->perm) {
        if (err && errlen)
            snprintf(err, errlen, "sampler: out of memory for %d images", count);
        return -1;
    }
    s->count = count;
    data_sampler_restore(s, seed, 0, 0);
    return 0;
}

void data_sampler_restore(data_sampler *s, uint64_t seed, uint64_t epoch, uint64_t pos)
{
    s->seed = seed;
    s->epoch = epoch;
    s->pos = pos;
    s->perm_epoch = NO_EPOCH;
}

void data_sampler_free(data_sampler *s)
{
    if (!s)
        return;
    free(s->perm);
    s->perm = NULL;
    s->count = 0;
}

static void make_perm(data_sampler *s)
{
    nn_rng r;
    nn_rng_seed(&r, mix64(mix64(s->seed ^ 0x7065726d75746521ull) ^ s->epoch));
    for (int i = 0; i < s->count; i++)
        s->perm[i] = (uint32_t)i;
    for (int i = s->count - 1; i > 0; i--) {
        uint32_t j = nn_rng_below(&r, (uint32_t)i + 1);
        uint32_t t = s->perm[i];
        s->perm[i] = s->perm[j];
        s->perm[j] = t;
    }
    s->perm_epoch = s->epoch;
}

/* Uniform in [0, 1) with 24 bits, from (seed, epoch, pos) alone. */
static float flip_draw(uint64_t seed, uint64_t epoch, uint64_t pos)
{
    uint64_t h = mix64(mix64(mix64(seed ^ 0x666c6970666c6970ull) ^ epoch) ^ pos);
    return (float)(h >> 40) * 0x1.0p-24f;
}

void data_sampler_next(data_sampler *s, const dataset *ds, float *x, int *idx, int n,
                       float flip_prob)
{
    assert(ds->count == s->count);
    const size_t per = (size_t)ds->side * ds->side * 3;
    for (int k = 0; k < n; k++) {
        if (s->pos >= (uint64_t)s->count) {
            s->epoch++;
            s->pos = 0;
        }
        if (s->perm_epoch != s->epoch)
            make_perm(s);
        int i = (int)s->perm[s->pos];
        int flip = flip_draw(s->seed, s->epoch, s->pos) < flip_prob;
        dataset_image_float(ds, i, flip, x + (size_t)k * per);
        if (idx)
            idx[k] = i;
        s->pos++;
    }
}
