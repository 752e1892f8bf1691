/* store: SQLite persistence for the daemon (include/illgan/store.h).
 *
 * Guarantees: the schema is created or upgraded atomically (BEGIN IMMEDIATE, so two
 * connections opening a fresh file at once cannot both create it); every multi-row write is
 * one transaction; a database from a newer illgan (higher user_version) is refused rather
 * than misread. */
#include "illgan/store.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct store {
    sqlite3 *db;
};

/* Version 1. Steps are the model's iteration counts, unique per table because a resumed
 * run first deletes the rows of the future it lost (store_rewind). Times are Unix seconds. */
static const char schema_v1[] =
    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY,"
    "  started REAL NOT NULL,"
    "  ended REAL,"
    "  preset TEXT NOT NULL,"
    "  version TEXT NOT NULL,"
    "  resumed_step INTEGER NOT NULL,"
    "  final_step INTEGER);"
    "CREATE TABLE metrics ("
    "  step INTEGER PRIMARY KEY,"
    "  run_id INTEGER,"
    "  time REAL NOT NULL,"
    "  train_seconds REAL NOT NULL,"
    "  loss_d REAL, loss_g REAL, loss_z REAL, d_real REAL, d_fake REAL,"
    "  images_per_second REAL,"
    "  lr_d REAL, lr_g REAL, lr_z REAL,"
    "  batch_size INTEGER);"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  run_id INTEGER,"
    "  time REAL NOT NULL,"
    "  step INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  message TEXT NOT NULL,"
    "  data TEXT NOT NULL DEFAULT '{}');"
    "CREATE TABLE samples ("
    "  step INTEGER PRIMARY KEY,"
    "  run_id INTEGER,"
    "  time REAL NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  seed INTEGER NOT NULL,"
    "  png BLOB NOT NULL);"
    "CREATE TABLE settings ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL);";

static int fail(store *st, char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s: %s", what, st && st->db ? sqlite3_errmsg(st->db) : "no database");
    return -1;
}

static int exec(store *st, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(st->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int prepare(store *st, const char *sql, sqlite3_stmt **stmt, char *err, size_t errlen)
{
    if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK)
        return fail(st, err, errlen, "prepare");
    return 0;
}

static int int_query(store *st, const char *sql, long *out, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (prepare(st, sql, &s, err, errlen))
        return -1;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = (long)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW)
        return fail(st, err, errlen, sql);
    return 0;
}

/* COMMIT, or on failure (a full disk, say) ROLLBACK, so that no transaction stays open to
 * block every later write on this connection. */
static int commit(store *st, char *err, size_t errlen)
{
    if (exec(st, "COMMIT", err, errlen) == 0)
        return 0;
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int migrate(store *st, char *err, size_t errlen)
{
    long v;
    if (exec(st, "BEGIN IMMEDIATE", err, errlen))
        return -1;
    if (int_query(st, "PRAGMA user_version", &v, err, errlen))
        goto rollback;
    if (v > STORE_SCHEMA_VERSION) {
        snprintf(err, errlen,
                 "database schema version %ld is newer than this illgan's (%d); refusing to "
                 "touch it",
                 v, STORE_SCHEMA_VERSION);
        goto rollback;
    }
    if (v < 1) {
        if (exec(st, schema_v1, err, errlen) || exec(st, "PRAGMA user_version = 1", err, errlen))
            goto rollback;
    }
    /* Later versions add steps here: if (v < 2) { ALTER ...; user_version = 2 } */
    return commit(st, err, errlen);
rollback:
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int store_open(store **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    store *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, st->db ? sqlite3_errmsg(st->db) : "cannot open");
        store_close(st);
        return -1;
    }
    sqlite3_busy_timeout(st->db, 10000);
    long dummy;
    char jm[32] = "";
    sqlite3_stmt *s;
    /* journal_mode=WAL is persistent in the file; setting it again is cheap. */
    if (prepare(st, "PRAGMA journal_mode=WAL", &s, err, errlen))
        goto fail;
    if (sqlite3_step(s) == SQLITE_ROW)
        snprintf(jm, sizeof jm, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    if (strcmp(jm, "wal")) {
        snprintf(err, errlen, "%s: cannot switch to WAL mode (got '%s'): %s", path, jm,
                 sqlite3_errmsg(st->db));
        goto fail;
    }
    /* FULL: a committed batch survives power loss too, not only a crash of the process,
     * so the database never lacks rows the fsynced checkpoint has trained past. Writes are
     * batched to about one transaction a second, so this costs one fsync a second. */
    if (exec(st, "PRAGMA synchronous=FULL", err, errlen) ||
        int_query(st, "PRAGMA user_version", &dummy, err, errlen) || migrate(st, err, errlen))
        goto fail;
    *out = st;
    return 0;
fail:
    store_close(st);
    return -1;
}

void store_close(store *st)
{
    if (!st)
        return;
    sqlite3_close(st->db);
    free(st);
}

int store_schema_version(store *st, int *version, char *err, size_t errlen)
{
    long v;
    if (int_query(st, "PRAGMA user_version", &v, err, errlen))
        return -1;
    *version = (int)v;
    return 0;
}

int store_integrity_check(store *st, char *result, size_t len, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (prepare(st, "PRAGMA integrity_check", &s, err, errlen))
        return -1;
    size_t used = 0;
    int rc;
    result[0] = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(s, 0);
        int m = snprintf(result + used, len - used, "%s%s", used ? "; " : "", t ? t : "");
        if (m < 0 || (size_t)m >= len - used)
            break;
        used += (size_t)m;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(st, err, errlen, "integrity_check");
    return 0;
}

static void bind_run(sqlite3_stmt *s, int i, long run_id)
{
    if (run_id > 0)
        sqlite3_bind_int64(s, i, run_id);
    else
        sqlite3_bind_null(s, i);
}

/* Binds v, storing NaN (an unknown value) as NULL. */
static void bind_num(sqlite3_stmt *s, int i, double v)
{
    if (isnan(v))
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_double(s, i, v);
}

static double col_num(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? NAN : sqlite3_column_double(s, i);
}

static int step_done(store *st, sqlite3_stmt *s, char *err, size_t errlen, const char *what)
{
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        fail(st, err, errlen, what);
        sqlite3_finalize(s);
        return -1;
    }
    sqlite3_finalize(s);
    return 0;
}

int store_run_begin(store *st, double time, const char *preset, const char *version,
                    long resumed_step, long *run_id, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (prepare(st,
                "INSERT INTO runs (started, preset, version, resumed_step) VALUES (?, ?, ?, ?)",
                &s, err, errlen))
        return -1;
    sqlite3_bind_double(s, 1, time);
    sqlite3_bind_text(s, 2, preset, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, version, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, resumed_step);
    if (step_done(st, s, err, errlen, "insert run"))
        return -1;
    *run_id = (long)sqlite3_last_insert_rowid(st->db);
    return 0;
}

int store_run_end(store *st, long run_id, double time, long step, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (prepare(st, "UPDATE runs SET ended = ?, final_step = ? WHERE id = ?", &s, err, errlen))
        return -1;
    sqlite3_bind_double(s, 1, time);
    sqlite3_bind_int64(s, 2, step);
    sqlite3_bind_int64(s, 3, run_id);
    return step_done(st, s, err, errlen, "end run");
}

int store_insert_metrics(store *st, long run_id, const store_metric *rows, int n, char *err,
                         size_t errlen)
{
    if (n <= 0)
        return 0;
    sqlite3_stmt *s;
    if (exec(st, "BEGIN IMMEDIATE", err, errlen))
        return -1;
    if (prepare(st,
                "INSERT OR REPLACE INTO metrics (step, run_id, time, train_seconds, loss_d, "
                "loss_g, loss_z, d_real, d_fake, images_per_second, lr_d, lr_g, lr_z, "
                "batch_size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                &s, err, errlen))
        goto rollback;
    for (int i = 0; i < n; i++) {
        const store_metric *r = &rows[i];
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, r->step);
        bind_run(s, 2, run_id);
        sqlite3_bind_double(s, 3, r->time);
        sqlite3_bind_double(s, 4, r->train_seconds);
        bind_num(s, 5, r->loss_d);
        bind_num(s, 6, r->loss_g);
        bind_num(s, 7, r->loss_z);
        bind_num(s, 8, r->d_real);
        bind_num(s, 9, r->d_fake);
        bind_num(s, 10, r->images_per_second);
        bind_num(s, 11, r->lr_d);
        bind_num(s, 12, r->lr_g);
        bind_num(s, 13, r->lr_z);
        sqlite3_bind_int(s, 14, r->batch_size);
        if (sqlite3_step(s) != SQLITE_DONE) {
            fail(st, err, errlen, "insert metrics");
            sqlite3_finalize(s);
            goto rollback;
        }
    }
    sqlite3_finalize(s);
    return commit(st, err, errlen);
rollback:
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* Runs a bounded query: binds (since, limit + 1), calls row() for at most limit rows into
 * an array of elem-sized items, and reports whether a further row exists. */
static int bounded_query(store *st, const char *sql, long since, int limit, size_t elem,
                         void (*row)(sqlite3_stmt *, void *item), void **out, int *n, int *more,
                         char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    *more = 0;
    if (limit < 0)
        limit = 0;
    sqlite3_stmt *s;
    if (prepare(st, sql, &s, err, errlen))
        return -1;
    sqlite3_bind_int64(s, 1, since);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)limit + 1);
    char *arr = NULL;
    int count = 0, cap = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (count == limit) {
            *more = 1;
            break;
        }
        if (count == cap) {
            int ncap = cap ? cap * 2 : 64;
            char *na = realloc(arr, (size_t)ncap * elem);
            if (!na) {
                free(arr);
                sqlite3_finalize(s);
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            arr = na;
            cap = ncap;
        }
        memset(arr + (size_t)count * elem, 0, elem);
        row(s, arr + (size_t)count * elem);
        count++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        fail(st, err, errlen, "query");
        sqlite3_finalize(s);
        free(arr);
        return -1;
    }
    sqlite3_finalize(s);
    *out = arr;
    *n = count;
    return 0;
}

static void metric_row(sqlite3_stmt *s, void *item)
{
    store_metric *m = item;
    m->step = (long)sqlite3_column_int64(s, 0);
    m->time = sqlite3_column_double(s, 1);
    m->train_seconds = sqlite3_column_double(s, 2);
    m->loss_d = col_num(s, 3);
    m->loss_g = col_num(s, 4);
    m->loss_z = col_num(s, 5);
    m->d_real = col_num(s, 6);
    m->d_fake = col_num(s, 7);
    m->images_per_second = col_num(s, 8);
    m->lr_d = col_num(s, 9);
    m->lr_g = col_num(s, 10);
    m->lr_z = col_num(s, 11);
    m->batch_size = sqlite3_column_int(s, 12);
}

int store_query_metrics(store *st, long since, int limit, store_metric **rows, int *n,
                        int *more, char *err, size_t errlen)
{
    void *out;
    int rc = bounded_query(st,
                           "SELECT step, time, train_seconds, loss_d, loss_g, loss_z, d_real, "
                           "d_fake, images_per_second, lr_d, lr_g, lr_z, batch_size FROM metrics "
                           "WHERE step >= ? ORDER BY step LIMIT ?",
                           since, limit, sizeof(store_metric), metric_row, &out, n, more, err,
                           errlen);
    *rows = out;
    return rc;
}

int store_train_seconds_at(store *st, long step, double *seconds, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (prepare(st, "SELECT train_seconds FROM metrics WHERE step <= ? ORDER BY step DESC LIMIT 1",
                &s, err, errlen))
        return -1;
    sqlite3_bind_int64(s, 1, step);
    int rc = sqlite3_step(s);
    *seconds = rc == SQLITE_ROW ? sqlite3_column_double(s, 0) : 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(st, err, errlen, "train seconds");
    return 0;
}

int store_insert_event(store *st, long run_id, double time, long step, const char *kind,
                       const char *message, const char *data_json, long *id, char *err,
                       size_t errlen)
{
    sqlite3_stmt *s;
    if (prepare(st,
                "INSERT INTO events (run_id, time, step, kind, message, data) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                &s, err, errlen))
        return -1;
    bind_run(s, 1, run_id);
    sqlite3_bind_double(s, 2, time);
    sqlite3_bind_int64(s, 3, step);
    sqlite3_bind_text(s, 4, kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 5, message ? message : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 6, data_json ? data_json : "{}", -1, SQLITE_TRANSIENT);
    if (step_done(st, s, err, errlen, "insert event"))
        return -1;
    if (id)
        *id = (long)sqlite3_last_insert_rowid(st->db);
    return 0;
}

static char *dup_col(sqlite3_stmt *s, int i)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    return strdup(t ? t : "");
}

static void event_row(sqlite3_stmt *s, void *item)
{
    store_event *e = item;
    e->id = (long)sqlite3_column_int64(s, 0);
    e->time = sqlite3_column_double(s, 1);
    e->step = (long)sqlite3_column_int64(s, 2);
    e->run_id = (long)sqlite3_column_int64(s, 3);
    const char *k = (const char *)sqlite3_column_text(s, 4);
    snprintf(e->kind, sizeof e->kind, "%s", k ? k : "");
    e->message = dup_col(s, 5);
    e->data = dup_col(s, 6);
}

int store_query_events(store *st, long since_id, int limit, store_event **events, int *n,
                       int *more, char *err, size_t errlen)
{
    void *out;
    int rc = bounded_query(st,
                           "SELECT id, time, step, run_id, kind, message, data FROM events "
                           "WHERE id > ? ORDER BY id LIMIT ?",
                           since_id, limit, sizeof(store_event), event_row, &out, n, more, err,
                           errlen);
    *events = out;
    if (rc)
        return -1;
    for (int i = 0; i < *n; i++)
        if (!(*events)[i].message || !(*events)[i].data) {
            store_events_free(*events, *n);
            *events = NULL;
            *n = 0;
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    return 0;
}

void store_events_free(store_event *events, int n)
{
    if (!events)
        return;
    for (int i = 0; i < n; i++) {
        free(events[i].message);
        free(events[i].data);
    }
    free(events);
}

int store_insert_sample(store *st, long run_id, long step, double time, int n, uint64_t seed,
                        const uint8_t *png, size_t len, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (prepare(st,
                "INSERT OR REPLACE INTO samples (step, run_id, time, n, seed, png) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                &s, err, errlen))
        return -1;
    sqlite3_bind_int64(s, 1, step);
    bind_run(s, 2, run_id);
    sqlite3_bind_double(s, 3, time);
    sqlite3_bind_int(s, 4, n);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)seed);
    sqlite3_bind_blob64(s, 6, png, len, SQLITE_TRANSIENT);
    return step_done(st, s, err, errlen, "insert sample");
}

static void sample_row(sqlite3_stmt *s, void *item)
{
    store_sample_info *r = item;
    r->step = (long)sqlite3_column_int64(s, 0);
    r->time = sqlite3_column_double(s, 1);
    r->n = sqlite3_column_int(s, 2);
    r->seed = (uint64_t)sqlite3_column_int64(s, 3);
    r->bytes = (long)sqlite3_column_int64(s, 4);
}

int store_list_samples(store *st, long since, int limit, store_sample_info **rows, int *n,
                       int *more, char *err, size_t errlen)
{
    void *out;
    int rc = bounded_query(st,
                           "SELECT step, time, n, seed, length(png) FROM samples "
                           "WHERE step >= ? ORDER BY step LIMIT ?",
                           since, limit, sizeof(store_sample_info), sample_row, &out, n, more,
                           err, errlen);
    *rows = out;
    return rc;
}

int store_get_sample(store *st, long step, uint8_t **png, size_t *len, char *err, size_t errlen)
{
    *png = NULL;
    *len = 0;
    sqlite3_stmt *s;
    if (prepare(st, "SELECT png FROM samples WHERE step = ?", &s, err, errlen))
        return -1;
    sqlite3_bind_int64(s, 1, step);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(s);
        return 1;
    }
    if (rc != SQLITE_ROW) {
        fail(st, err, errlen, "get sample");
        sqlite3_finalize(s);
        return -1;
    }
    const void *b = sqlite3_column_blob(s, 0);
    int n = sqlite3_column_bytes(s, 0);
    uint8_t *copy = malloc(n > 0 ? (size_t)n : 1);
    if (!copy) {
        sqlite3_finalize(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (n > 0)
        memcpy(copy, b, (size_t)n);
    sqlite3_finalize(s);
    *png = copy;
    *len = (size_t)n;
    return 0;
}

static int delete_after(store *st, const char *sql, long step, long *deleted, char *err,
                        size_t errlen)
{
    sqlite3_stmt *s;
    if (prepare(st, sql, &s, err, errlen))
        return -1;
    sqlite3_bind_int64(s, 1, step);
    if (step_done(st, s, err, errlen, "rewind"))
        return -1;
    *deleted = (long)sqlite3_changes(st->db);
    return 0;
}

int store_rewind(store *st, long step, long *metrics_deleted, long *samples_deleted, char *err,
                 size_t errlen)
{
    if (exec(st, "BEGIN IMMEDIATE", err, errlen))
        return -1;
    if (delete_after(st, "DELETE FROM metrics WHERE step > ?", step, metrics_deleted, err,
                     errlen) ||
        delete_after(st, "DELETE FROM samples WHERE step > ?", step, samples_deleted, err,
                     errlen)) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return commit(st, err, errlen);
}

int store_setting_get(store *st, const char *key, char *value, size_t len, char *err,
                      size_t errlen)
{
    sqlite3_stmt *s;
    if (prepare(st, "SELECT value FROM settings WHERE key = ?", &s, err, errlen))
        return -1;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(s, 0);
        snprintf(value, len, "%s", t ? t : "");
    }
    sqlite3_finalize(s);
    if (rc == SQLITE_DONE)
        return 1;
    if (rc != SQLITE_ROW)
        return fail(st, err, errlen, "get setting");
    return 0;
}

int store_setting_set(store *st, const char *key, const char *value, char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (prepare(st, "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", &s, err,
                errlen))
        return -1;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_TRANSIENT);
    return step_done(st, s, err, errlen, "set setting");
}
