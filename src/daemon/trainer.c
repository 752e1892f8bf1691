/* trainer: the training thread and its command queue (include/illgan/trainer.h).
 *
 * Guarantees:
 *  - only the trainer thread uses the gan after trainer_start returns;
 *  - commands are applied in the order they were posted, each between two iterations,
 *    and the poster is woken only after the trainer has acted (or refused);
 *  - a snapshot handed out stays valid until released (atomic reference count), so the
 *    trainer may publish newer ones at any time;
 *  - metrics rows reach the database before any checkpoint of a later step is written, so
 *    after a crash the database never lacks rows the resumed model has trained past;
 *  - a failed iteration pauses training (logged, recorded as an error event) instead of
 *    retrying in a tight loop.
 * Lock order: t->mu is never held while training, writing files or talking to SQLite. */
#include "illgan/trainer.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "illgan/image.h"
#include "illgan/store.h"
#include "illgan/util.h"

struct trainer_snapshot {
    gan_snapshot *snap;
    atomic_int refs;
};

enum { CMD_PAUSE, CMD_RESUME, CMD_CHECKPOINT, CMD_STOP, CMD_SET_LIVE };

typedef struct trainer_cmd {
    int kind;
    const char *reason;         /* CMD_STOP */
    live_params live;           /* CMD_SET_LIVE: requested; after: previous values */
    live_params now;            /* CMD_SET_LIVE: values after */
    unsigned char mask[LIVE_KEY_COUNT];
    const char *source;
    /* results */
    int done;
    int rc;
    char err[256];
    long step;
    trainer_checkpoint_info ckpt;
    struct trainer_cmd *next;
} trainer_cmd;

#define SPEED_WINDOW 16
#define METRICS_BATCH 256

struct trainer {
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t wake;        /* commands posted */
    pthread_cond_t done;        /* a command finished */
    trainer_cmd *head, *tail;
    int accepting;              /* 0 once stopping: new commands are refused */

    /* Owned by the trainer thread only. */
    gan *g;
    const dataset *ds;
    trainer_options o;
    store *st;
    live_params live;
    int paused;
    int stop;
    float *sample_z;            /* (sample_n, GAN_Z_DIM) */
    store_metric mbuf[METRICS_BATCH];
    int mcount;
    double last_flush;
    double dur[SPEED_WINDOW];
    int batch[SPEED_WINDOW];
    int nspeed, speed_pos;
    double last_snap_time, last_snap_cost;

    /* Shared, under mu. */
    trainer_status status;
    trainer_snapshot *snap;
    int snap_wanted;
};



/* ---- snapshots -------------------------------------------------------------------- */

void trainer_snapshot_release(trainer_snapshot *s)
{
    if (!s)
        return;
    if (atomic_fetch_sub(&s->refs, 1) == 1) {
        gan_snapshot_free(s->snap);
        free(s);
    }
}

const gan_snapshot *trainer_snapshot_get(const trainer_snapshot *s)
{
    return s ? s->snap : NULL;
}

trainer_snapshot *trainer_snapshot_acquire(trainer *t)
{
    pthread_mutex_lock(&t->mu);
    trainer_snapshot *s = t->snap;
    if (s) {
        atomic_fetch_add(&s->refs, 1);
        if (gan_snapshot_step(s->snap) < t->status.step && !t->snap_wanted) {
            t->snap_wanted = 1;
            pthread_cond_signal(&t->wake);
        }
    }
    pthread_mutex_unlock(&t->mu);
    return s;
}

/* Takes a snapshot of the current weights and makes it the one readers get. */
static int publish_snapshot(trainer *t, char *err, size_t errlen)
{
    double t0 = util_mono_seconds();
    trainer_snapshot *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (gan_snapshot_take(&s->snap, t->g, err, errlen)) {
        free(s);
        return -1;
    }
    atomic_init(&s->refs, 1);
    pthread_mutex_lock(&t->mu);
    trainer_snapshot *old = t->snap;
    t->snap = s;
    t->snap_wanted = 0;
    t->status.snapshot_step = gan_snapshot_step(s->snap);
    pthread_mutex_unlock(&t->mu);
    trainer_snapshot_release(old);
    t->last_snap_time = util_mono_seconds();
    t->last_snap_cost = t->last_snap_time - t0;
    return 0;
}

/* ---- events and metrics ------------------------------------------------------------- */

/* Records an event in the database and the log; data (may be NULL) is consumed. */
static void record_event(trainer *t, log_level lv, const char *kind, cJSON *data,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void record_event(trainer *t, log_level lv, const char *kind, cJSON *data,
                         const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_msg(t->o.log, lv, kind, "%s", msg);
    char *json = data ? cJSON_PrintUnformatted(data) : NULL;
    cJSON_Delete(data);
    char err[256];
    if (t->st && store_insert_event(t->st, t->o.run_id, util_wall_seconds(), gan_step(t->g), kind, msg,
                                    json, NULL, err, sizeof err))
        log_msg(t->o.log, LOGLV_ERROR, "store", "cannot record %s event: %s", kind, err);
    free(json);
}

static void flush_metrics(trainer *t)
{
    if (!t->mcount)
        return;
    char err[256];
    if (store_insert_metrics(t->st, t->o.run_id, t->mbuf, t->mcount, err, sizeof err))
        log_msg(t->o.log, LOGLV_ERROR, "store", "%d metrics rows lost: %s", t->mcount, err);
    t->mcount = 0;
    t->last_flush = util_mono_seconds();
}

/* ---- checkpoints ------------------------------------------------------------------ */

static int parse_ckpt_name(const char *name, long *step)
{
    unsigned long long v;
    int used = 0;
    if (strncmp(name, "ckpt-", 5) || strlen(name) != 5 + 12 + 4 ||
        strcmp(name + 17, ".bin") || sscanf(name + 5, "%12llu%n", &v, &used) != 1 ||
        used != 12)
        return -1;
    *step = (long)v;
    return 0;
}

typedef struct {
    long step;
    char name[32];
} ckpt_file;

static int ckpt_newest_first(const void *a, const void *b)
{
    long x = ((const ckpt_file *)a)->step, y = ((const ckpt_file *)b)->step;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Checkpoint files in dir, newest first. *files is malloc'd. */
static int list_ckpts(const char *dir, ckpt_file **files, int *n, char *err, size_t errlen)
{
    *files = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    ckpt_file *arr = NULL;
    int count = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        long step;
        if (parse_ckpt_name(e->d_name, &step))
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 8;
            ckpt_file *na = realloc(arr, (size_t)cap * sizeof *na);
            if (!na) {
                free(arr);
                closedir(d);
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            arr = na;
        }
        arr[count].step = step;
        snprintf(arr[count].name, sizeof arr[count].name, "%s", e->d_name);
        count++;
    }
    closedir(d);
    if (count)
        qsort(arr, (size_t)count, sizeof *arr, ckpt_newest_first);
    *files = arr;
    *n = count;
    return 0;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int trainer_load_newest(const char *dir, gan **g, trainer_load_report *rep, char *err,
                        size_t errlen)
{
    memset(rep, 0, sizeof *rep);
    *g = NULL;
    ckpt_file *files;
    int n;
    if (list_ckpts(dir, &files, &n, err, errlen))
        return -1;
    rep->found = n;
    for (int i = 0; i < n; i++) {
        char path[CONFIG_PATH_MAX], lerr[256];
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        if (!gan_checkpoint_load(g, path, lerr, sizeof lerr)) {
            struct stat sb;
            snprintf(rep->used.path, sizeof rep->used.path, "%s", path);
            rep->used.step = gan_step(*g);
            rep->used.bytes = stat(path, &sb) ? 0 : (long)sb.st_size;
            rep->used.time = stat(path, &sb) ? 0
                           : (double)sb.st_mtim.tv_sec + 1e-9 * (double)sb.st_mtim.tv_nsec;
            free(files);
            return 0;
        }
        if (rep->failed < (int)(sizeof rep->failures / sizeof rep->failures[0])) {
            trainer_load_failure *f = &rep->failures[rep->failed];
            snprintf(f->path, sizeof f->path, "%s", path);
            snprintf(f->error, sizeof f->error, "%s", lerr);
        }
        rep->failed++;
    }
    free(files);
    if (n) {
        snprintf(err, errlen, "none of the %d checkpoints in %s can be loaded (newest: %s)", n,
                 dir, rep->failures[0].error);
        return -1;
    }
    return 0;
}

/* Deletes ckpt-*.bin.tmp files: what a save killed mid-write (kill -9, power loss) left
 * behind. Called only after a save has finished, and the state lock makes this trainer the
 * only writer, so none of them is being written. Without this they stay forever, each as
 * large as a checkpoint, unless a later save happens to reach the same step. */
static void remove_orphan_tmps(trainer *t)
{
    DIR *d = opendir(t->o.checkpoint_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char base[32];
        long step;
        size_t len = strlen(e->d_name);
        if (len != 5 + 12 + 8 || strcmp(e->d_name + len - 4, ".tmp"))
            continue;
        snprintf(base, sizeof base, "%.*s", (int)(len - 4), e->d_name);
        if (parse_ckpt_name(base, &step))
            continue;
        char path[CONFIG_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", t->o.checkpoint_dir, e->d_name);
        if (unlink(path))
            log_msg(t->o.log, LOGLV_WARN, "checkpoint", "cannot remove %s: %s", path,
                    strerror(errno));
        else
            log_msg(t->o.log, LOGLV_INFO, "checkpoint", "removed %s, left by an interrupted save",
                    path);
    }
    closedir(d);
}

/* Deletes all but the newest `keep` checkpoints; `current` is never deleted. */
static void prune_ckpts(trainer *t, const char *current)
{
    remove_orphan_tmps(t);
    ckpt_file *files;
    int n;
    char err[256];
    if (list_ckpts(t->o.checkpoint_dir, &files, &n, err, sizeof err)) {
        log_msg(t->o.log, LOGLV_WARN, "checkpoint", "cannot list old checkpoints: %s", err);
        return;
    }
    for (int i = t->o.checkpoint_keep; i < n; i++) {
        char path[CONFIG_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", t->o.checkpoint_dir, files[i].name);
        if (!strcmp(path, current))
            continue;
        if (unlink(path))
            log_msg(t->o.log, LOGLV_WARN, "checkpoint", "cannot remove %s: %s", path,
                    strerror(errno));
    }
    free(files);
}

static int do_checkpoint(trainer *t, const char *reason, trainer_checkpoint_info *info,
                         char *err, size_t errlen)
{
    flush_metrics(t);
    trainer_checkpoint_info ci;
    memset(&ci, 0, sizeof ci);
    ci.step = gan_step(t->g);
    snprintf(ci.path, sizeof ci.path, "%s/ckpt-%012ld.bin", t->o.checkpoint_dir, ci.step);
    if (mkdir(t->o.checkpoint_dir, 0700) && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", t->o.checkpoint_dir, strerror(errno));
        return -1;
    }
    if (gan_checkpoint_save(t->g, ci.path, err, errlen)) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "where", "checkpoint");
        record_event(t, LOGLV_ERROR, "error", d, "checkpoint at step %ld failed: %s", ci.step,
                     err);
        return -1;
    }
    fsync_dir(t->o.checkpoint_dir);
    struct stat sb;
    ci.bytes = stat(ci.path, &sb) ? 0 : (long)sb.st_size;
    ci.time = util_wall_seconds();
    prune_ckpts(t, ci.path);
    pthread_mutex_lock(&t->mu);
    t->status.have_checkpoint = 1;
    t->status.checkpoint = ci;
    t->status.process_checkpoints++;
    pthread_mutex_unlock(&t->mu);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "path", ci.path);
    cJSON_AddNumberToObject(d, "bytes", (double)ci.bytes);
    cJSON_AddStringToObject(d, "reason", reason);
    record_event(t, LOGLV_INFO, "checkpoint", d, "step %ld saved to %s (%ld bytes, %s)", ci.step,
                 ci.path, ci.bytes, reason);
    if (info)
        *info = ci;
    return 0;
}

/* ---- sample history -------------------------------------------------------------- */

static void store_sample_grid(trainer *t)
{
    char err[256];
    if (publish_snapshot(t, err, sizeof err)) {
        log_msg(t->o.log, LOGLV_ERROR, "sample", "snapshot failed: %s", err);
        return;
    }
    int n = t->o.sample_n;
    uint8_t *png = NULL;
    size_t len = 0;
    trainer_snapshot *s = trainer_snapshot_acquire(t);
    int rc = gan_snapshot_grid_png(s->snap, t->sample_z, n, 0, 2, &png, &len, err, sizeof err);
    if (!rc)
        rc = store_insert_sample(t->st, t->o.run_id, gan_step(t->g), util_wall_seconds(), n,
                                 t->o.sample_seed, png, len, err, sizeof err);
    trainer_snapshot_release(s);
    if (rc)
        log_msg(t->o.log, LOGLV_ERROR, "sample", "sample grid at step %ld not stored: %s",
                gan_step(t->g), err);
    free(png);
}

/* ---- commands ---------------------------------------------------------------------- */

static void set_state(trainer *t, int paused)
{
    t->paused = paused;
    pthread_mutex_lock(&t->mu);
    t->status.state = paused ? "paused" : "training";
    pthread_mutex_unlock(&t->mu);
}

static void apply_live(trainer *t, trainer_cmd *c)
{
    live_params old = t->live, next = t->live;
    for (int i = 0; i < LIVE_KEY_COUNT; i++)
        if (c->mask[i])
            live_set(&next, i, live_get(&c->live, i));
    if (memcmp(&old.hp, &next.hp, sizeof old.hp) &&
        gan_set_hparams(t->g, &next.hp, c->err, sizeof c->err)) {
        c->rc = -1;
        return;
    }
    t->live = next;
    t->live.hp = *gan_get_hparams(t->g);
    for (int i = 0; i < LIVE_KEY_COUNT; i++) {
        if (live_get(&old, i) == live_get(&t->live, i))
            continue;
        const live_key *k = live_key_at(i);
        char a[48], b[48];
        live_format(&old, i, a, sizeof a);
        live_format(&t->live, i, b, sizeof b);
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "key", k->name);
        if (k->type == LIVE_BOOLEAN) {
            cJSON_AddBoolToObject(d, "old", live_get(&old, i) != 0);
            cJSON_AddBoolToObject(d, "new", live_get(&t->live, i) != 0);
        } else {
            cJSON_AddNumberToObject(d, "old", strtod(a, NULL));
            cJSON_AddNumberToObject(d, "new", strtod(b, NULL));
        }
        cJSON_AddStringToObject(d, "source", c->source ? c->source : "http");
        record_event(t, LOGLV_INFO, "hparams", d, "%s %s -> %s (%s, from step %ld)", k->name, a, b,
                     c->source ? c->source : "http", gan_step(t->g) + 1);
        if (!strcmp(k->name, "metrics_every") || !strcmp(k->name, "sample_every") ||
            !strcmp(k->name, "checkpoint_every")) {
            char err[256];
            if (store_setting_set(t->st, k->name, b, err, sizeof err))
                log_msg(t->o.log, LOGLV_ERROR, "store", "cannot persist %s: %s", k->name, err);
        }
    }
    pthread_mutex_lock(&t->mu);
    t->status.live = t->live;
    t->status.macs_per_iteration = gan_iteration_macs(t->g);
    pthread_mutex_unlock(&t->mu);
    c->live = old;
    c->now = t->live;
    c->step = gan_step(t->g) + 1;
    c->rc = 0;
}

static void execute(trainer *t, trainer_cmd *c)
{
    c->rc = 0;
    c->step = gan_step(t->g);
    switch (c->kind) {
    case CMD_PAUSE:
        if (!t->paused) {
            flush_metrics(t);
            set_state(t, 1);
            record_event(t, LOGLV_INFO, "pause", NULL, "paused at step %ld", c->step);
            char err[256];
            if (t->status.snapshot_step != c->step && publish_snapshot(t, err, sizeof err))
                log_msg(t->o.log, LOGLV_ERROR, "snapshot", "%s", err);
        }
        break;
    case CMD_RESUME:
        if (t->paused) {
            set_state(t, 0);
            record_event(t, LOGLV_INFO, "resume", NULL, "resumed at step %ld", c->step);
        }
        break;
    case CMD_CHECKPOINT:
        c->rc = do_checkpoint(t, "request", &c->ckpt, c->err, sizeof c->err);
        break;
    case CMD_STOP:
        pthread_mutex_lock(&t->mu);
        t->status.state = "stopping";
        pthread_mutex_unlock(&t->mu);
        c->rc = do_checkpoint(t, "stop", &c->ckpt, c->err, sizeof c->err);
        record_event(t, LOGLV_INFO, "stop", NULL, "stopping at step %ld (%s)", c->step,
                     c->reason ? c->reason : "request");
        break;
    case CMD_SET_LIVE:
        apply_live(t, c);
        break;
    }
}

/* Applies every queued command; called and returns with t->mu held. */
static void drain(trainer *t)
{
    while (t->head) {
        trainer_cmd *c = t->head;
        t->head = c->next;
        if (!t->head)
            t->tail = NULL;
        pthread_mutex_unlock(&t->mu);
        execute(t, c);
        pthread_mutex_lock(&t->mu);
        if (c->kind == CMD_STOP)
            t->stop = 1;
        c->done = 1;
        pthread_cond_broadcast(&t->done);
    }
}

static int post(trainer *t, trainer_cmd *c, char *err, size_t errlen)
{
    c->done = 0;
    c->next = NULL;
    c->err[0] = 0;
    pthread_mutex_lock(&t->mu);
    if (!t->accepting) {
        pthread_mutex_unlock(&t->mu);
        snprintf(err, errlen, "the trainer is stopping");
        return TRAINER_STOPPING;
    }
    if (c->kind == CMD_STOP)
        t->accepting = 0;
    if (t->tail)
        t->tail->next = c;
    else
        t->head = c;
    t->tail = c;
    pthread_cond_signal(&t->wake);
    while (!c->done)
        pthread_cond_wait(&t->done, &t->mu);
    pthread_mutex_unlock(&t->mu);
    if (c->rc == -1)
        snprintf(err, errlen, "%s", c->err);
    else if (c->rc == TRAINER_STOPPING)
        snprintf(err, errlen, "the trainer is stopping");
    return c->rc;
}

int trainer_pause(trainer *t, const char **state, long *step, char *err, size_t errlen)
{
    trainer_cmd c = {.kind = CMD_PAUSE};
    int rc = post(t, &c, err, errlen);
    if (!rc) {
        *state = "paused";
        *step = c.step;
    }
    return rc;
}

int trainer_resume(trainer *t, const char **state, long *step, char *err, size_t errlen)
{
    trainer_cmd c = {.kind = CMD_RESUME};
    int rc = post(t, &c, err, errlen);
    if (!rc) {
        *state = "training";
        *step = c.step;
    }
    return rc;
}

int trainer_checkpoint(trainer *t, trainer_checkpoint_info *info, char *err, size_t errlen)
{
    trainer_cmd c = {.kind = CMD_CHECKPOINT};
    int rc = post(t, &c, err, errlen);
    if (!rc && info)
        *info = c.ckpt;
    return rc;
}

int trainer_stop(trainer *t, const char *reason, trainer_checkpoint_info *info, char *err,
                 size_t errlen)
{
    trainer_cmd c = {.kind = CMD_STOP, .reason = reason};
    int rc = post(t, &c, err, errlen);
    if (!rc && info)
        *info = c.ckpt;
    return rc;
}

int trainer_set_live(trainer *t, const live_params *values,
                     const unsigned char mask[LIVE_KEY_COUNT], const char *source,
                     live_params *old, live_params *now, long *effective_step, char *err,
                     size_t errlen)
{
    trainer_cmd c = {.kind = CMD_SET_LIVE, .live = *values, .source = source};
    memcpy(c.mask, mask, sizeof c.mask);
    int rc = post(t, &c, err, errlen);
    if (!rc) {
        if (old)
            *old = c.live;
        if (now)
            *now = c.now;
        if (effective_step)
            *effective_step = c.step;
    }
    return rc;
}

void trainer_get_status(trainer *t, trainer_status *st)
{
    pthread_mutex_lock(&t->mu);
    *st = t->status;
    pthread_mutex_unlock(&t->mu);
}

/* ---- the loop ------------------------------------------------------------------------ */

static void after_iteration(trainer *t, const gan_stats *gs, double seconds)
{
    const gan_hparams *hp = gan_get_hparams(t->g);
    long step = gan_step(t->g);
    t->dur[t->speed_pos] = seconds;
    t->batch[t->speed_pos] = hp->batch_size;
    t->speed_pos = (t->speed_pos + 1) % SPEED_WINDOW;
    if (t->nspeed < SPEED_WINDOW)
        t->nspeed++;
    double sum = 0, imgs = 0;
    for (int i = 0; i < t->nspeed; i++) {
        sum += t->dur[i];
        imgs += t->batch[i];
    }
    double now = util_mono_seconds();
    pthread_mutex_lock(&t->mu);
    trainer_status *s = &t->status;
    s->step = step;
    s->have_stats = 1;
    s->stats = *gs;
    s->iterations_per_second = sum > 0 ? t->nspeed / sum : NAN;
    s->images_per_second = sum > 0 ? imgs / sum : NAN;
    s->process_train_seconds += seconds;
    s->train_seconds = t->o.train_seconds + s->process_train_seconds;
    s->process_iterations++;
    s->process_images += hp->batch_size;
    s->last_alive = now;
    store_metric m = {
        .step = step, .time = util_wall_seconds(), .train_seconds = s->train_seconds,
        .loss_d = live_float_decimal(gs->loss_d), .loss_g = live_float_decimal(gs->loss_g),
        .loss_z = live_float_decimal(gs->loss_z), .d_real = live_float_decimal(gs->d_real),
        .d_fake = live_float_decimal(gs->d_fake), .images_per_second = s->images_per_second,
        .lr_d = live_float_decimal(hp->lr_d), .lr_g = live_float_decimal(hp->lr_g),
        .lr_z = live_float_decimal(hp->lr_z), .batch_size = hp->batch_size,
    };
    int wanted = t->snap_wanted;
    pthread_mutex_unlock(&t->mu);

    if (step % t->live.metrics_every == 0)
        t->mbuf[t->mcount++] = m;
    if (t->mcount == METRICS_BATCH || (t->mcount && now - t->last_flush >= 1.0))
        flush_metrics(t);
    if (t->live.sample_every > 0 && step % t->live.sample_every == 0) {
        store_sample_grid(t);
    } else if (wanted) {
        double gap = t->o.snapshot_interval;
        if (gap < 10 * t->last_snap_cost)
            gap = 10 * t->last_snap_cost;
        char err[256];
        if (now - t->last_snap_time >= gap && publish_snapshot(t, err, sizeof err))
            log_msg(t->o.log, LOGLV_ERROR, "snapshot", "%s", err);
    }
    if (t->live.checkpoint_every > 0 && step % t->live.checkpoint_every == 0) {
        char err[256];
        if (do_checkpoint(t, "periodic", NULL, err, sizeof err))
            log_msg(t->o.log, LOGLV_ERROR, "checkpoint", "%s", err);
    }
}

static void *trainer_main(void *arg)
{
    trainer *t = arg;
    char err[256];
    pthread_mutex_lock(&t->mu);
    for (;;) {
        drain(t);
        if (t->stop)
            break;
        t->status.last_alive = util_mono_seconds();
        if (t->paused) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            if (!t->head)
                pthread_cond_timedwait(&t->wake, &t->mu, &until);
            continue;
        }
        pthread_mutex_unlock(&t->mu);
        gan_stats gs;
        double t0 = util_mono_seconds();
        int rc = gan_train_iteration(t->g, t->ds, &gs, err, sizeof err);
        double t1 = util_mono_seconds();
        if (rc) {
            flush_metrics(t);
            set_state(t, 1);
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "where", "training");
            record_event(t, LOGLV_ERROR, "error", d, "iteration %ld failed, training paused: %s",
                         gan_step(t->g) + 1, err);
        } else {
            after_iteration(t, &gs, t1 - t0);
        }
        pthread_mutex_lock(&t->mu);
    }
    t->accepting = 0;
    t->status.state = "stopping";
    pthread_mutex_unlock(&t->mu);
    flush_metrics(t);
    pthread_mutex_lock(&t->mu);
    /* Commands posted after the stop are answered, never left waiting. */
    while (t->head) {
        trainer_cmd *c = t->head;
        t->head = c->next;
        c->rc = TRAINER_STOPPING;
        c->done = 1;
    }
    t->tail = NULL;
    t->status.finished = 1;
    pthread_cond_broadcast(&t->done);
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

int trainer_start(trainer **out, gan *g, const dataset *ds, const trainer_options *o,
                  const trainer_checkpoint_info *last_ckpt, char *err, size_t errlen)
{
    *out = NULL;
    if (o->checkpoint_keep < 2 || o->sample_n < 1 || o->metrics_every < 1) {
        snprintf(err, errlen, "trainer: checkpoint_keep >= 2, sample_n >= 1, metrics_every >= 1");
        return -1;
    }
    trainer *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    t->o = *o;
    t->ds = ds;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->wake, NULL);
    pthread_cond_init(&t->done, NULL);
    t->sample_z = malloc((size_t)o->sample_n * GAN_Z_DIM * sizeof *t->sample_z);
    if (!t->sample_z) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    gan_sample_z(t->sample_z, o->sample_n, o->sample_seed);
    if (store_open(&t->st, o->db_path, err, errlen))
        goto fail;
    t->g = g;
    t->live.hp = *gan_get_hparams(g);
    t->live.metrics_every = o->metrics_every;
    t->live.sample_every = o->sample_every;
    t->live.checkpoint_every = o->checkpoint_every;
    t->paused = o->start_paused;
    t->accepting = 1;
    t->last_flush = util_mono_seconds();
    trainer_status *s = &t->status;
    s->state = t->paused ? "paused" : "training";
    s->step = gan_step(g);
    s->iterations_per_second = s->images_per_second = NAN;
    s->live = t->live;
    s->snapshot_step = -1;
    s->macs_per_iteration = gan_iteration_macs(g);
    s->train_seconds = o->train_seconds;
    s->last_alive = util_mono_seconds();
    if (last_ckpt && last_ckpt->path[0]) {
        s->have_checkpoint = 1;
        s->checkpoint = *last_ckpt;
    }
    if (publish_snapshot(t, err, errlen))
        goto fail;
    if (pthread_create(&t->thread, NULL, trainer_main, t)) {
        snprintf(err, errlen, "cannot start the trainer thread");
        goto fail;
    }
    t->thread_started = 1;
    *out = t;
    return 0;
fail:
    t->g = NULL; /* still the caller's */
    trainer_free(t);
    return -1;
}

void trainer_free(trainer *t)
{
    if (!t)
        return;
    if (t->thread_started) {
        pthread_mutex_lock(&t->mu);
        t->stop = 1; /* read by the thread after its next drain, under mu */
        pthread_cond_signal(&t->wake);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->thread, NULL);
    }
    trainer_snapshot_release(t->snap);
    store_close(t->st);
    gan_free(t->g);
    free(t->sample_z);
    pthread_cond_destroy(&t->wake);
    pthread_cond_destroy(&t->done);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
