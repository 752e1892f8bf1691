/* store tests: schema creation and version, WAL mode, bounded oldest-first queries,
 * events, sample blobs, rewind, settings, refusal of a newer schema, and two connections
 * writing and reading the same file. Each test uses a fresh temporary database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/fs.h"
#include <math.h>
#include <sqlite3.h>

#include "illgan/store.h"

typedef struct {
    char dir[64];
    char path[128];
    store *st;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/illgan-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/illgan.db", f->dir);
    char err[256];
    assert_int_equal(store_open(&f->st, f->path, err, sizeof err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    store_close(f->st);
    assert_int_equal(test_remove_tree(f->dir), 0);
    free(f);
    return 0;
}

static void test_schema_version_and_wal(void **state)
{
    fixture *f = *state;
    char err[256];
    int v = -1;
    assert_int_equal(store_schema_version(f->st, &v, err, sizeof err), 0);
    printf("schema version %d (expected %d)\n", v, STORE_SCHEMA_VERSION);
    assert_int_equal(v, STORE_SCHEMA_VERSION);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    printf("journal_mode %s\n", (const char *)sqlite3_column_text(s, 0));
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(db);
    char res[64];
    assert_int_equal(store_integrity_check(f->st, res, sizeof res, err, sizeof err), 0);
    assert_string_equal(res, "ok");
    /* Reopening an existing database keeps its version and does not recreate tables. */
    store *again;
    assert_int_equal(store_open(&again, f->path, err, sizeof err), 0);
    assert_int_equal(store_schema_version(again, &v, err, sizeof err), 0);
    assert_int_equal(v, STORE_SCHEMA_VERSION);
    store_close(again);
}

static void test_newer_schema_refused(void **state)
{
    fixture *f = *state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    store *st = NULL;
    char err[256] = "";
    assert_int_equal(store_open(&st, f->path, err, sizeof err), -1);
    printf("refused: %s\n", err);
    assert_null(st);
    assert_non_null(strstr(err, "newer"));
}

static store_metric metric(long step)
{
    store_metric m = {0};
    m.step = step;
    m.time = 1000.0 + (double)step;
    m.train_seconds = 0.5 * (double)step;
    m.loss_d = 1.0 + 0.001 * (double)step;
    m.loss_g = 0.7;
    m.loss_z = NAN; /* unknown values round-trip as NaN (NULL in SQL) */
    m.d_real = 0.6;
    m.d_fake = 0.4;
    m.images_per_second = 64;
    m.lr_d = m.lr_g = m.lr_z = 2e-4;
    m.batch_size = 16;
    return m;
}

static void test_metrics_bounds_oldest_first(void **state)
{
    fixture *f = *state;
    char err[256];
    long run;
    assert_int_equal(store_run_begin(f->st, 1.0, "tiny", "test", 0, &run, err, sizeof err), 0);
    store_metric rows[100];
    /* inserted newest first to show that the query orders by step, not by insertion */
    for (int i = 0; i < 100; i++)
        rows[i] = metric(100 - i);
    assert_int_equal(store_insert_metrics(f->st, run, rows, 100, err, sizeof err), 0);

    store_metric *out;
    int n, more;
    assert_int_equal(store_query_metrics(f->st, 0, 10, &out, &n, &more, err, sizeof err), 0);
    printf("since 0 limit 10: %d rows, first step %ld, last %ld, more %d\n", n, out[0].step,
           out[n - 1].step, more);
    assert_int_equal(n, 10);
    assert_int_equal(out[0].step, 1);
    assert_int_equal(out[9].step, 10);
    assert_true(more);
    assert_true(isnan(out[0].loss_z));
    assert_float_equal(out[4].loss_d, 1.005, 1e-9);
    assert_int_equal(out[4].batch_size, 16);
    free(out);

    assert_int_equal(store_query_metrics(f->st, 95, 10, &out, &n, &more, err, sizeof err), 0);
    printf("since 95 limit 10: %d rows, more %d\n", n, more);
    assert_int_equal(n, 6);
    assert_int_equal(out[0].step, 95);
    assert_false(more);
    free(out);

    assert_int_equal(store_query_metrics(f->st, 101, 10, &out, &n, &more, err, sizeof err), 0);
    assert_int_equal(n, 0);
    assert_false(more);
    free(out);

    double secs;
    assert_int_equal(store_train_seconds_at(f->st, 50, &secs, err, sizeof err), 0);
    printf("train seconds at 50: %g (expected 25)\n", secs);
    assert_float_equal(secs, 25.0, 1e-9);
    assert_int_equal(store_train_seconds_at(f->st, 0, &secs, err, sizeof err), 0);
    assert_float_equal(secs, 0.0, 0);
}

static void test_events_and_since_id(void **state)
{
    fixture *f = *state;
    char err[256];
    long id1, id2, id3;
    assert_int_equal(store_insert_event(f->st, 1, 10.0, 5, "pause", "paused", NULL, &id1, err,
                                        sizeof err), 0);
    assert_int_equal(store_insert_event(f->st, 1, 11.0, 5, "hparams", "lr_d 0.0002 -> 0.0001",
                                        "{\"key\":\"lr_d\",\"old\":0.0002,\"new\":0.0001}", &id2,
                                        err, sizeof err), 0);
    assert_int_equal(store_insert_event(f->st, 0, 12.0, 6, "resume", "resumed", NULL, &id3, err,
                                        sizeof err), 0);
    assert_true(id1 < id2 && id2 < id3);
    store_event *ev;
    int n, more;
    assert_int_equal(store_query_events(f->st, 0, 2, &ev, &n, &more, err, sizeof err), 0);
    printf("events: %d (more %d): %s/%s, %s/%s\n", n, more, ev[0].kind, ev[0].data, ev[1].kind,
           ev[1].data);
    assert_int_equal(n, 2);
    assert_true(more);
    assert_string_equal(ev[0].kind, "pause");
    assert_string_equal(ev[0].data, "{}");
    assert_string_equal(ev[1].message, "lr_d 0.0002 -> 0.0001");
    assert_non_null(strstr(ev[1].data, "\"old\":0.0002"));
    store_events_free(ev, n);
    assert_int_equal(store_query_events(f->st, id2, 10, &ev, &n, &more, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].id, id3);
    assert_int_equal(ev[0].step, 6);
    assert_false(more);
    store_events_free(ev, n);
}

static void test_samples_blob_roundtrip(void **state)
{
    fixture *f = *state;
    char err[256];
    uint8_t blob[300];
    for (int i = 0; i < 300; i++)
        blob[i] = (uint8_t)(i * 7);
    assert_int_equal(store_insert_sample(f->st, 1, 100, 5.0, 16, UINT64_C(0xfedcba9876543210),
                                         blob, sizeof blob, err, sizeof err), 0);
    assert_int_equal(store_insert_sample(f->st, 1, 200, 6.0, 16, 1, blob, 10, err, sizeof err),
                     0);
    store_sample_info *rows;
    int n, more;
    assert_int_equal(store_list_samples(f->st, 0, 100, &rows, &n, &more, err, sizeof err), 0);
    printf("samples: %d, bytes %ld and %ld, seed %llx\n", n, rows[0].bytes, rows[1].bytes,
           (unsigned long long)rows[0].seed);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].bytes, 300);
    assert_int_equal(rows[1].bytes, 10);
    assert_true(rows[0].seed == UINT64_C(0xfedcba9876543210));
    free(rows);
    uint8_t *png;
    size_t len;
    assert_int_equal(store_get_sample(f->st, 100, &png, &len, err, sizeof err), 0);
    assert_int_equal(len, 300);
    assert_memory_equal(png, blob, 300);
    free(png);
    assert_int_equal(store_get_sample(f->st, 150, &png, &len, err, sizeof err), 1);
    assert_null(png);
}

static void test_rewind_deletes_only_the_future(void **state)
{
    fixture *f = *state;
    char err[256];
    store_metric rows[20];
    for (int i = 0; i < 20; i++)
        rows[i] = metric(i + 1);
    assert_int_equal(store_insert_metrics(f->st, 1, rows, 20, err, sizeof err), 0);
    uint8_t b = 1;
    for (long s = 5; s <= 20; s += 5)
        assert_int_equal(store_insert_sample(f->st, 1, s, 1.0, 1, 1, &b, 1, err, sizeof err), 0);
    long md, sd;
    assert_int_equal(store_rewind(f->st, 12, &md, &sd, err, sizeof err), 0);
    printf("rewind to 12: %ld metrics and %ld samples deleted (expected 8, 2)\n", md, sd);
    assert_int_equal(md, 8);
    assert_int_equal(sd, 2);
    store_metric *out;
    int n, more;
    assert_int_equal(store_query_metrics(f->st, 0, 100, &out, &n, &more, err, sizeof err), 0);
    assert_int_equal(n, 12);
    assert_int_equal(out[11].step, 12);
    free(out);
}

static void test_settings(void **state)
{
    fixture *f = *state;
    char err[256], v[64];
    assert_int_equal(store_setting_get(f->st, "sample_every", v, sizeof v, err, sizeof err), 1);
    assert_int_equal(store_setting_set(f->st, "sample_every", "50", err, sizeof err), 0);
    assert_int_equal(store_setting_set(f->st, "sample_every", "70", err, sizeof err), 0);
    assert_int_equal(store_setting_get(f->st, "sample_every", v, sizeof v, err, sizeof err), 0);
    printf("sample_every = %s\n", v);
    assert_string_equal(v, "70");
}

static void test_two_connections(void **state)
{
    fixture *f = *state;
    char err[256];
    store *reader;
    assert_int_equal(store_open(&reader, f->path, err, sizeof err), 0);
    store_metric rows[50];
    for (int i = 0; i < 50; i++)
        rows[i] = metric(i + 1);
    /* The reader holds an open read transaction (a query in progress) while the writer
     * commits: WAL lets both proceed. */
    assert_int_equal(store_insert_metrics(f->st, 1, rows, 25, err, sizeof err), 0);
    store_metric *out;
    int n, more;
    assert_int_equal(store_query_metrics(reader, 0, 1000, &out, &n, &more, err, sizeof err), 0);
    assert_int_equal(n, 25);
    free(out);
    assert_int_equal(store_insert_metrics(f->st, 1, rows + 25, 25, err, sizeof err), 0);
    assert_int_equal(store_query_metrics(reader, 0, 1000, &out, &n, &more, err, sizeof err), 0);
    printf("reader sees %d rows after the second batch\n", n);
    assert_int_equal(n, 50);
    free(out);
    store_close(reader);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema_version_and_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_bounds_oldest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_and_since_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_samples_blob_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewind_deletes_only_the_future, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_connections, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
