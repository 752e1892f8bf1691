/* store: the daemon's SQLite database (illgan.db): runs, metrics, events, sample grids and
 * persisted settings. The schema is in docs/OPERATIONS.md; its version is SQLite's
 * user_version (STORE_SCHEMA_VERSION), upgraded in one transaction on open.
 *
 * A `store` is one connection and belongs to one thread at a time: each thread opens its
 * own (WAL mode lets readers run while the trainer writes; a busy timeout waits out the
 * short write locks). Writes of many rows go in one transaction. Commits use
 * synchronous=NORMAL: a crash of the process loses nothing committed; a power cut may lose
 * the last transactions, never the database's integrity.
 *
 * Functions return 0 on success, -1 with a message in err; lookups that may find nothing
 * return 1 for "not found". Arrays returned through out-parameters are owned by the caller
 * (free(), or the matching _free for events). */
#ifndef ILLGAN_STORE_H
#define ILLGAN_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA_VERSION 1

typedef struct store store;

/* Opens (creating when missing) and migrates the database at path. */
int store_open(store **out, const char *path, char *err, size_t errlen);
void store_close(store *st);
int store_schema_version(store *st, int *version, char *err, size_t errlen);
/* PRAGMA integrity_check; result is "ok" when the database is sound. */
int store_integrity_check(store *st, char *result, size_t len, char *err, size_t errlen);

/* A run is one start of the daemon. */
int store_run_begin(store *st, double time, const char *preset, const char *version,
                    long resumed_step, long *run_id, char *err, size_t errlen);
int store_run_end(store *st, long run_id, double time, long step, char *err, size_t errlen);

typedef struct {
    long step;
    double time;             /* Unix seconds */
    double train_seconds;    /* cumulative, pauses excluded */
    double loss_d, loss_g, loss_z, d_real, d_fake;
    double images_per_second;
    double lr_d, lr_g, lr_z;
    int batch_size;
} store_metric;

/* Inserts rows in one transaction; a row with an existing step replaces it. */
int store_insert_metrics(store *st, long run_id, const store_metric *rows, int n, char *err,
                         size_t errlen);
/* Rows with step >= since, oldest first, at most limit; *more says whether more exist. */
int store_query_metrics(store *st, long since, int limit, store_metric **rows, int *n,
                        int *more, char *err, size_t errlen);
/* train_seconds of the newest row at or before step (0 when none). */
int store_train_seconds_at(store *st, long step, double *seconds, char *err, size_t errlen);

typedef struct {
    long id;
    double time;
    long step;
    long run_id;
    char kind[32];
    char *message;  /* owned by the array; freed by store_events_free */
    char *data;     /* JSON object text */
} store_event;

/* data_json: a JSON object's text, or NULL for {}. */
int store_insert_event(store *st, long run_id, double time, long step, const char *kind,
                       const char *message, const char *data_json, long *id, char *err,
                       size_t errlen);
/* Events with id > since_id, oldest first, at most limit. */
int store_query_events(store *st, long since_id, int limit, store_event **events, int *n,
                       int *more, char *err, size_t errlen);
void store_events_free(store_event *events, int n);

typedef struct {
    long step;
    double time;
    int n;
    uint64_t seed;
    long bytes;
} store_sample_info;

int store_insert_sample(store *st, long run_id, long step, double time, int n, uint64_t seed,
                        const uint8_t *png, size_t len, char *err, size_t errlen);
int store_list_samples(store *st, long since, int limit, store_sample_info **rows, int *n,
                       int *more, char *err, size_t errlen);
/* 0 and the PNG (malloc'd, caller frees) when stored, 1 when there is none for step. */
int store_get_sample(store *st, long step, uint8_t **png, size_t *len, char *err,
                     size_t errlen);

/* Deletes metrics and samples after step (the future of a run that was lost, when the
 * daemon resumes from an older checkpoint), in one transaction. */
int store_rewind(store *st, long step, long *metrics_deleted, long *samples_deleted, char *err,
                 size_t errlen);

/* Small persisted key/value settings (the live intervals). 1 when key is absent. */
int store_setting_get(store *st, const char *key, char *value, size_t len, char *err,
                      size_t errlen);
int store_setting_set(store *st, const char *key, const char *value, char *err, size_t errlen);

#endif
