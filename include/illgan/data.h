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

#include "illgan/image.h"

typedef struct {
    uint8_t *pixels;  /* (count, side, side, 3) RGB */
    char **names;     /* (count) file names relative to the folder */
    int count;
    int side;
    char *dir;        /* the folder it was loaded from; "(synthetic)" for the built-in set */
} dataset;

/* Loads every image in dir; fails with a clear message when the folder cannot be read,
 * holds no images, or holds an image that is not side x side. "Every image" means every
 * file whose name ends in .png, .jpg or .jpeg (any case) and does not start with '.';
 * other files are ignored. Transparent pixels are composited onto white, as prepare
 * does by default. side <= 0 takes the side of the first image (by name). Decoding runs
 * on a few threads of its own; 20,000 64x64 PNGs load in about a second. */
int dataset_load(dataset *ds, const char *dir, int side, char *err, size_t errlen);
/* A built-in synthetic set (coloured shapes on plain backgrounds), so that training runs
 * with no data at hand: `count` images, deterministic for a given seed. Image i depends
 * only on (seed, i), so a larger count extends a smaller one. */
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

/* ---- preparing a training set (`illgan prepare`) ---------------------------------------
 * Turns every picture under src (recursively; names starting with '.' are left out, and so
 * is dst when it lies inside src) into a size x size RGB PNG in dst: composited onto
 * `background` (image_composite_rgb), squared by `fit`, resized (image_square_rgb).
 * Files are taken in byte order of their path relative to src, so a run is deterministic:
 * the same input gives the same files with the same bytes. A file that cannot be used is
 * skipped with its reason, and the run goes on; a picture whose pixels equal an earlier
 * one's exactly (128-bit hash of the output pixels) is left out as a duplicate.
 *
 * Output names are "<relative path, '/' as '_', without extension>-<8 hex digits of a
 * hash of the relative path>.png" (characters other than A-Z a-z 0-9 . _ - become '_'),
 * so they are unique when the same name sits in two folders and stable across runs.
 *
 * dst belongs to prepare: it must be missing, empty, or made by an earlier run (it holds
 * the manifest dst/.illgan-prepare, listing each output with its source); PNG files in it
 * that this run did not write are removed at the end, so a rerun leaves exactly its own
 * output. The manifest is written at the start ("state running") and rewritten at the end
 * ("state complete", with "written N" and one "NAME<TAB>SOURCE" line per file). */
#define DATA_PREPARE_MANIFEST ".illgan-prepare"

typedef struct {
    int size;              /* output side, 1..IMAGE_MAX_SIDE */
    uint8_t background[3]; /* RGB */
    image_fit fit;
    /* Events, each optional, called on the calling thread in input order. rel is the path
     * relative to src. */
    void (*on_start)(void *ctx, int total);
    void (*on_skip)(void *ctx, const char *rel, image_status why, const char *detail);
    void (*on_duplicate)(void *ctx, const char *rel, const char *same_as_rel);
    void (*on_progress)(void *ctx, int done, int total);
    void *ctx;
} data_prepare_options;

typedef struct {
    int found;                           /* files looked at */
    int written;
    int duplicates;
    int skipped;                         /* all reasons together */
    int skipped_by[IMAGE_STATUS_COUNT];  /* by reason */
    int removed;                         /* stale PNGs of an earlier run removed from dst */
} data_prepare_report;

/* Returns 0 when the run went through (even if every file was skipped: see rep), -1 with
 * a message when it could not: src unreadable, dst not usable, an output not writable. */
int data_prepare(const char *src, const char *dst, const data_prepare_options *opt,
                 data_prepare_report *rep, char *err, size_t errlen);

#endif
