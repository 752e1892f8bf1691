/* trainer tests, on the tiny preset and a small synthetic set: pause holds the step and
 * resume continues from it; live changes reach the model, the database (events, settings)
 * and are refused by a stopped trainer; checkpoints on request keep only the newest two and
 * the newest loadable one is found, falling back past a damaged file; metrics rows, sample
 * grids and events land in SQLite; a held snapshot outlives newer publications.
 * Waiting is by polling a condition (with a generous bound), never by fixed sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/fs.h"
#include <dirent.h>

#include "illgan/store.h"
#include "illgan/trainer.h"

typedef struct {
    char dir[64];
    char ckdir[96];
    char db[96];
    dataset ds;
    trainer *t;
    long run_id;
} fixture;

static void start(fixture *f, int paused, int sample_every, int checkpoint_every)
{
    char err[256];
    gan_config cfg;
    gan_hparams hp;
    assert_int_equal(gan_config_preset(&cfg, "tiny", err, sizeof err), 0);
    gan_hparams_default(&hp, "tiny");
    hp.batch_size = 4;
    gan *g;
    assert_int_equal(gan_init(&g, &cfg, &hp, 7, err, sizeof err), 0);
    store *st;
    assert_int_equal(store_open(&st, f->db, err, sizeof err), 0);
    assert_int_equal(store_run_begin(st, 1.0, "tiny", "test", 0, &f->run_id, err, sizeof err), 0);
    store_close(st);
    trainer_options o = {0};
    snprintf(o.checkpoint_dir, sizeof o.checkpoint_dir, "%s", f->ckdir);
    snprintf(o.db_path, sizeof o.db_path, "%s", f->db);
    o.checkpoint_keep = 2;
    o.run_id = f->run_id;
    o.sample_n = 4;
    o.sample_seed = 3;
    o.snapshot_interval = 0;
    o.metrics_every = 1;
    o.sample_every = sample_every;
    o.checkpoint_every = checkpoint_every;
    o.start_paused = paused;
    if (trainer_start(&f->t, g, &f->ds, &o, NULL, err, sizeof err)) {
        printf("trainer_start: %s\n", err);
        fail();
    }
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/illgan-trainer-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->ckdir, sizeof f->ckdir, "%s/checkpoints", f->dir);
    snprintf(f->db, sizeof f->db, "%s/illgan.db", f->dir);
    char err[256];
    assert_int_equal(dataset_synthetic(&f->ds, 32, 32, 5, err, sizeof err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    trainer_free(f->t);
    dataset_free(&f->ds);
    assert_int_equal(test_remove_tree(f->dir), 0);
    free(f);
    return 0;
}

static long step_of(trainer *t)
{
    trainer_status s;
    trainer_get_status(t, &s);
    return s.step;
}

/* Polls until the trainer reaches step >= target; fails after a minute. */
static void wait_step(trainer *t, long target)
{
    for (int i = 0; i < 60000 && step_of(t) < target; i++)
        usleep(1000);
    assert_true(step_of(t) >= target);
}

static void test_pause_holds_resume_continues(void **state)
{
    fixture *f = *state;
    start(f, 0, 0, 0);
    char err[256];
    const char *st;
    long step;
    wait_step(f->t, 2);
    assert_int_equal(trainer_pause(f->t, &st, &step, err, sizeof err), 0);
    assert_string_equal(st, "paused");
    /* The trainer acted before replying: status shows the same step and state, and
     * commands are processed by the trainer thread, so a second command (a no-op resume
     * of nothing... here a checkpoint) observes the same step. */
    trainer_status s;
    trainer_get_status(f->t, &s);
    trainer_checkpoint_info ci;
    assert_int_equal(trainer_checkpoint(f->t, &ci, err, sizeof err), 0);
    long after = step_of(f->t);
    printf("paused at %ld, status %s/%ld, checkpoint at %ld, step later %ld\n", step, s.state,
           s.step, ci.step, after);
    assert_string_equal(s.state, "paused");
    assert_int_equal(s.step, step);
    assert_int_equal(ci.step, step);
    assert_int_equal(after, step);
    /* pausing twice is not an error */
    assert_int_equal(trainer_pause(f->t, &st, &step, err, sizeof err), 0);
    assert_int_equal(trainer_resume(f->t, &st, &step, err, sizeof err), 0);
    assert_string_equal(st, "training");
    wait_step(f->t, step + 2);
    printf("resumed from %ld, now at %ld\n", step, step_of(f->t));
}

static void test_live_change_events_and_stop(void **state)
{
    fixture *f = *state;
    start(f, 1, 0, 0);
    char err[256];
    trainer_status s;
    trainer_get_status(f->t, &s);
    live_params next = s.live, old, now;
    next.hp.lr_d = 1e-4f;
    next.hp.zpred = 0;
    next.sample_every = 7;
    next.hp.lr_g = 0.5f; /* not in the mask: must stay as it was */
    unsigned char mask[LIVE_KEY_COUNT] = {0};
    mask[live_key_find("lr_d")] = mask[live_key_find("zpred")] = 1;
    mask[live_key_find("sample_every")] = 1;
    long eff;
    assert_int_equal(trainer_set_live(f->t, &next, mask, "http", &old, &now, &eff, err,
                                      sizeof err), 0);
    trainer_get_status(f->t, &s);
    printf("effective step %ld (step %ld); lr_d %g -> %g, zpred %d -> %d\n", eff, s.step,
           old.hp.lr_d, s.live.hp.lr_d, old.hp.zpred, s.live.hp.zpred);
    assert_int_equal(eff, s.step + 1);
    assert_float_equal(s.live.hp.lr_d, 1e-4, 1e-9);
    assert_int_equal(s.live.hp.zpred, 0);
    assert_float_equal(old.hp.lr_d, 2e-4, 1e-9);
    assert_int_equal(s.live.sample_every, 7);
    assert_float_equal(s.live.hp.lr_g, 2e-4, 1e-9);
    assert_memory_equal(&now, &s.live, sizeof now);

    store *st;
    assert_int_equal(store_open(&st, f->db, err, sizeof err), 0);
    store_event *ev;
    int n, more;
    assert_int_equal(store_query_events(st, 0, 100, &ev, &n, &more, err, sizeof err), 0);
    int lr = 0, zp = 0, se = 0;
    for (int i = 0; i < n; i++) {
        printf("event %s: %s %s\n", ev[i].kind, ev[i].message, ev[i].data);
        lr += strstr(ev[i].data, "\"key\":\"lr_d\"") != NULL;
        zp += strstr(ev[i].data, "\"key\":\"zpred\",\"old\":true,\"new\":false") != NULL;
        se += strstr(ev[i].data, "\"key\":\"sample_every\"") != NULL;
    }
    store_events_free(ev, n);
    assert_int_equal(lr, 1);
    assert_int_equal(zp, 1);
    assert_int_equal(se, 1);
    char v[32];
    assert_int_equal(store_setting_get(st, "sample_every", v, sizeof v, err, sizeof err), 0);
    assert_string_equal(v, "7");
    store_close(st);

    trainer_checkpoint_info ci;
    assert_int_equal(trainer_stop(f->t, "test", &ci, err, sizeof err), 0);
    printf("stopped with checkpoint %s at %ld\n", ci.path, ci.step);
    assert_int_equal(access(ci.path, R_OK), 0);
    const char *state_name;
    long step;
    assert_int_equal(trainer_pause(f->t, &state_name, &step, err, sizeof err), TRAINER_STOPPING);
    assert_int_equal(trainer_set_live(f->t, &next, mask, "http", NULL, NULL, NULL, err,
                                      sizeof err),
                     TRAINER_STOPPING);
    printf("after stop: %s\n", err);
    trainer_get_status(f->t, &s);
    for (int i = 0; i < 10000 && !s.finished; i++) {
        usleep(1000);
        trainer_get_status(f->t, &s);
    }
    assert_true(s.finished);
}

static int count_ckpts(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, "ckpt-", 5) == 0;
    closedir(d);
    return n;
}

static void test_checkpoints_rotate_and_fallback(void **state)
{
    fixture *f = *state;
    start(f, 0, 0, 0);
    char err[256];
    trainer_checkpoint_info c[3];
    for (int i = 0; i < 3; i++) {
        wait_step(f->t, step_of(f->t) + 1);
        assert_int_equal(trainer_checkpoint(f->t, &c[i], err, sizeof err), 0);
    }
    printf("checkpoints at %ld, %ld, %ld; files kept %d\n", c[0].step, c[1].step, c[2].step,
           count_ckpts(f->ckdir));
    assert_true(c[0].step < c[1].step && c[1].step < c[2].step);
    assert_int_equal(count_ckpts(f->ckdir), 2);
    assert_int_not_equal(access(c[0].path, F_OK), 0);

    gan *g;
    trainer_load_report rep;
    assert_int_equal(trainer_load_newest(f->ckdir, &g, &rep, err, sizeof err), 0);
    printf("newest: %s step %ld\n", rep.used.path, rep.used.step);
    assert_int_equal(rep.used.step, c[2].step);
    assert_int_equal(gan_step(g), c[2].step);
    gan_free(g);

    /* Damage the newest: a flipped byte in the middle. */
    FILE *fp = fopen(c[2].path, "r+b");
    assert_non_null(fp);
    fseek(fp, c[2].bytes / 2, SEEK_SET);
    int ch = fgetc(fp);
    fseek(fp, c[2].bytes / 2, SEEK_SET);
    fputc(ch ^ 0x40, fp);
    fclose(fp);
    assert_int_equal(trainer_load_newest(f->ckdir, &g, &rep, err, sizeof err), 0);
    printf("fallback: used %s step %ld, %d failed (%s)\n", rep.used.path, rep.used.step,
           rep.failed, rep.failures[0].error);
    assert_int_equal(rep.failed, 1);
    assert_int_equal(rep.used.step, c[1].step);
    gan_free(g);

    /* Both damaged: refused, not a silent fresh start. */
    assert_int_equal(truncate(c[1].path, 10), 0);
    g = NULL;
    assert_int_equal(trainer_load_newest(f->ckdir, &g, &rep, err, sizeof err), -1);
    printf("none loadable: %s\n", err);
    assert_null(g);
}

static void test_metrics_samples_in_store(void **state)
{
    fixture *f = *state;
    start(f, 0, 3, 0);
    char err[256];
    wait_step(f->t, 7);
    const char *st_name;
    long step;
    /* Pausing flushes the metrics buffer before replying. */
    assert_int_equal(trainer_pause(f->t, &st_name, &step, err, sizeof err), 0);
    store *st;
    assert_int_equal(store_open(&st, f->db, err, sizeof err), 0);
    store_metric *m;
    int n, more;
    assert_int_equal(store_query_metrics(st, 0, 1000, &m, &n, &more, err, sizeof err), 0);
    printf("paused at %ld: %d metrics rows, last step %ld, loss_d %.4f\n", step, n,
           n ? m[n - 1].step : -1, n ? m[n - 1].loss_d : -1);
    assert_int_equal(n, step);
    assert_int_equal(m[n - 1].step, step);
    assert_true(m[n - 1].batch_size == 4);
    free(m);
    store_sample_info *si;
    assert_int_equal(store_list_samples(st, 0, 100, &si, &n, &more, err, sizeof err), 0);
    printf("%d sample grids, first at step %ld (%ld bytes)\n", n, si[0].step, si[0].bytes);
    assert_int_equal(n, step / 3);
    assert_int_equal(si[0].step, 3);
    assert_true(si[0].bytes > 8);
    free(si);
    uint8_t *png;
    size_t len;
    assert_int_equal(store_get_sample(st, 3, &png, &len, err, sizeof err), 0);
    assert_memory_equal(png, "\x89PNG", 4);
    free(png);
    store_close(st);
}

static void test_snapshot_outlives_publication(void **state)
{
    fixture *f = *state;
    start(f, 0, 0, 0);
    char err[256];
    trainer_snapshot *old = trainer_snapshot_acquire(f->t);
    assert_non_null(old);
    long s0 = gan_snapshot_step(trainer_snapshot_get(old));
    wait_step(f->t, s0 + 3);
    const char *st_name;
    long step;
    assert_int_equal(trainer_pause(f->t, &st_name, &step, err, sizeof err), 0);
    trainer_snapshot *cur = trainer_snapshot_acquire(f->t);
    long s1 = gan_snapshot_step(trainer_snapshot_get(cur));
    printf("held snapshot at %ld, current at %ld (paused at %ld)\n", s0, s1, step);
    assert_int_equal(s1, step);
    assert_true(s1 > s0);
    float z[2 * GAN_Z_DIM], a[2 * 32 * 32 * 3], b[2 * 32 * 32 * 3];
    gan_sample_z(z, 2, 9);
    assert_int_equal(gan_snapshot_generate(trainer_snapshot_get(old), z, 2, a, err, sizeof err), 0);
    assert_int_equal(gan_snapshot_generate(trainer_snapshot_get(cur), z, 2, b, err, sizeof err), 0);
    assert_memory_not_equal(a, b, sizeof a);
    trainer_snapshot_release(old);
    trainer_snapshot_release(cur);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pause_holds_resume_continues, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_change_events_and_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoints_rotate_and_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_samples_in_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_outlives_publication, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
