/* neighbors tests: the SGEMM search with its exact re-ranking returns exactly what the
 * brute-force integer search returns (indices, order, MSE), on random images, on clusters of
 * near-duplicates, and on exact ties; a training image is its own nearest neighbour at MSE 0;
 * bad k is refused. The last test prints the time for n=10, k=5 over 20,000 64x64 images
 * (a figure, not an assertion: tests never depend on timing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "illgan/neighbors.h"

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* count images of side x side: cluster c = i % clusters is a random prototype, each image
 * the prototype plus noise of +-noise (noise 0: exact duplicates). */
static void make_set(dataset *ds, int count, int side, int clusters, int noise, uint64_t seed)
{
    size_t dim = (size_t)side * side * 3;
    memset(ds, 0, sizeof *ds);
    ds->count = count;
    ds->side = side;
    ds->pixels = malloc((size_t)count * dim);
    assert_non_null(ds->pixels);
    uint8_t *proto = malloc((size_t)clusters * dim);
    assert_non_null(proto);
    uint64_t s = seed | 1;
    for (size_t j = 0; j < (size_t)clusters * dim; j++)
        proto[j] = (uint8_t)(rng_next(&s) >> 56);
    for (int i = 0; i < count; i++) {
        const uint8_t *p = proto + (size_t)(i % clusters) * dim;
        uint8_t *t = ds->pixels + (size_t)i * dim;
        for (size_t j = 0; j < dim; j++) {
            int v = p[j];
            if (noise)
                v += (int)(rng_next(&s) % (uint64_t)(2 * noise + 1)) - noise;
            t[j] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
    free(proto);
}

static void make_queries(uint8_t *q, int n, size_t dim, uint64_t seed)
{
    uint64_t s = seed | 1;
    for (size_t j = 0; j < (size_t)n * dim; j++)
        q[j] = (uint8_t)(rng_next(&s) >> 56);
}

static void compare(const dataset *ds, const uint8_t *q, int n, int k, const char *what)
{
    char err[256];
    neighbors_index *ix;
    assert_int_equal(neighbors_index_build(&ix, ds, err, sizeof err), 0);
    neighbor *fast = calloc((size_t)n * k, sizeof *fast);
    neighbor *slow = calloc((size_t)n * k, sizeof *slow);
    assert_non_null(fast);
    assert_non_null(slow);
    assert_int_equal(neighbors_search(ix, q, n, k, fast, err, sizeof err), 0);
    assert_int_equal(neighbors_search_brute(ds, q, n, k, slow, err, sizeof err), 0);
    int same = 0;
    for (int i = 0; i < n * k; i++)
        same += fast[i].index == slow[i].index && fast[i].mse == slow[i].mse;
    printf("%s: %d of %d (query, rank) pairs identical to brute force; query 0 nearest %d "
           "mse %.6f\n",
           what, same, n * k, fast[0].index, fast[0].mse);
    for (int i = 0; i < n * k; i++) {
        assert_int_equal(fast[i].index, slow[i].index);
        assert_true(fast[i].mse == slow[i].mse);
        if (i % k)
            assert_true(fast[i].mse >= fast[i - 1].mse);
    }
    free(fast);
    free(slow);
    neighbors_index_free(ix);
}

static void test_random_matches_brute(void **state)
{
    (void)state;
    dataset ds;
    make_set(&ds, 700, 16, 700, 0, 11);
    uint8_t *q = malloc(8 * 16 * 16 * 3);
    assert_non_null(q);
    make_queries(q, 8, 16 * 16 * 3, 5);
    compare(&ds, q, 8, 7, "random images");
    free(q);
    free(ds.pixels);
}

static void test_near_duplicates_match_brute(void **state)
{
    (void)state;
    dataset ds;
    /* 20 clusters of 30 images that differ by +-2 per value: distances within a cluster are
     * close together, which is where rounding could reorder them. */
    make_set(&ds, 600, 16, 20, 2, 21);
    size_t dim = 16 * 16 * 3;
    uint8_t *q = malloc(6 * dim);
    assert_non_null(q);
    for (int i = 0; i < 6; i++)
        memcpy(q + i * dim, ds.pixels + (size_t)(i * 7) * dim, dim);
    q[0] ^= 1; /* not exactly a training image */
    compare(&ds, q, 6, 12, "near-duplicate clusters");
    free(q);
    free(ds.pixels);
}

static void test_exact_ties_by_index(void **state)
{
    (void)state;
    dataset ds;
    make_set(&ds, 90, 8, 9, 0, 31); /* 10 identical copies of each of 9 images */
    size_t dim = 8 * 8 * 3;
    char err[256];
    neighbors_index *ix;
    assert_int_equal(neighbors_index_build(&ix, &ds, err, sizeof err), 0);
    neighbor out[12];
    assert_int_equal(neighbors_search(ix, ds.pixels + 4 * dim, 1, 12, out, err, sizeof err), 0);
    printf("copies of image 4:");
    for (int j = 0; j < 12; j++)
        printf(" %d(%.4f)", out[j].index, out[j].mse);
    printf("\n");
    for (int j = 0; j < 10; j++) {
        assert_int_equal(out[j].index, 4 + 9 * j);
        assert_true(out[j].mse == 0.0);
    }
    assert_true(out[10].mse > 0.0);
    compare(&ds, ds.pixels + 4 * dim, 1, 12, "exact ties");
    neighbors_index_free(ix);
    free(ds.pixels);
}

static void test_bad_k_refused(void **state)
{
    (void)state;
    dataset ds;
    make_set(&ds, 10, 8, 10, 0, 41);
    char err[256] = "";
    neighbors_index *ix;
    assert_int_equal(neighbors_index_build(&ix, &ds, err, sizeof err), 0);
    neighbor out[11];
    assert_int_equal(neighbors_search(ix, ds.pixels, 1, 11, out, err, sizeof err), -1);
    printf("k=11 of 10: %s\n", err);
    assert_int_equal(neighbors_search(ix, ds.pixels, 1, 0, out, err, sizeof err), -1);
    neighbors_index_free(ix);
    free(ds.pixels);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_20000_faces_size(void **state)
{
    (void)state;
    dataset ds;
    const int side = 64, n = 10, k = 5;
    size_t dim = (size_t)side * side * 3;
    make_set(&ds, 20000, side, 200, 40, 51);
    uint8_t *q = malloc((size_t)n * dim);
    assert_non_null(q);
    for (int i = 0; i < n; i++) /* near a training image, as a memorising GAN's would be */
        for (size_t j = 0; j < dim; j++)
            q[(size_t)i * dim + j] = (uint8_t)(ds.pixels[(size_t)(i * 1234) * dim + j] ^ (j & 7));
    char err[256];
    double t0 = now();
    neighbors_index *ix;
    assert_int_equal(neighbors_index_build(&ix, &ds, err, sizeof err), 0);
    double t1 = now();
    neighbor out[10 * 5];
    assert_int_equal(neighbors_search(ix, q, n, k, out, err, sizeof err), 0);
    double t2 = now();
    neighbor ref[10 * 5];
    assert_int_equal(neighbors_search_brute(&ds, q, n, k, ref, err, sizeof err), 0);
    double t3 = now();
    printf("20000 x 64x64: index %.3f s, search n=10 k=5 %.3f s, brute force %.3f s\n", t1 - t0,
           t2 - t1, t3 - t2);
    for (int i = 0; i < n * k; i++) {
        assert_int_equal(out[i].index, ref[i].index);
        assert_true(out[i].mse == ref[i].mse);
    }
    neighbors_index_free(ix);
    free(q);
    free(ds.pixels);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_matches_brute),
        cmocka_unit_test(test_near_duplicates_match_brute),
        cmocka_unit_test(test_exact_ties_by_index),
        cmocka_unit_test(test_bad_k_refused),
        cmocka_unit_test(test_20000_faces_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
