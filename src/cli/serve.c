/* illgan serve: the long-running daemon. Reads the config and flags, takes the state
 * directory (lock), opens the database, resumes from the newest loadable checkpoint (or
 * starts a new model), loads the training set, starts the trainer thread and the HTTP
 * server, tells systemd it is ready once the server answers, then waits for signals.
 *
 * Signals: handlers only set flags, which the main thread polls. SIGTERM and SIGINT stop
 * training at the end of the current iteration, checkpoint, and exit 0 (1 when that
 * checkpoint failed); SIGHUP re-reads the config file's live keys (applied as "config"
 * hparams events) and the token file.
 * A stop requested over HTTP ends the same way. The watchdog (WATCHDOG=1) is fed only
 * while the trainer shows signs of life. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "illgan/config.h"
#include "illgan/log.h"
#include "illgan/neighbors.h"
#include "illgan/notify.h"
#include "illgan/server.h"
#include "illgan/store.h"
#include "illgan/trainer.h"
#include "illgan/util.h"

/* The only process-wide mutable state: what signal handlers may touch. */
static volatile sig_atomic_t got_stop, got_hup;

static void on_stop(int sig)
{
    got_stop = sig;
}

static void on_hup(int sig)
{
    (void)sig;
    got_hup = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: illgan serve [OPTIONS]\n\n"
            "Trains without end in a background thread while an HTTP server (docs/API.md)\n"
            "lets you steer and watch it. Flags override the config file.\n\n"
            "  --config FILE           config file (see etc/illgan.conf for every key)\n"
            "  --listen ADDR:PORT      address to serve on (default 127.0.0.1:8080; port 0\n"
            "                          picks a free port, logged and written to STATE/port)\n"
            "  --state-dir DIR         database, checkpoints, port file (default ./state)\n"
            "  --data DIR|synthetic    training images (side x side), or the built-in set\n"
            "  --preset NAME           tiny, small or illustrationgan (a new run only;\n"
            "                          a checkpoint keeps its own architecture)\n"
            "  --web-dir DIR           dashboard files (default ./web)\n"
            "  --auth-token-file FILE  bearer token for requests that change state\n"
            "  --seed N                initialisation seed of a new run\n"
            "  --set KEY=VALUE         any config key, e.g. --set lr_d=0.0001\n"
            "  --log-level LEVEL       debug, info (default), warn or error\n"
            "  -h, --help              this text\n\n"
            "Signals: SIGTERM/SIGINT checkpoint and exit 0; SIGHUP re-reads the config file's\n"
            "live keys and the token file. Under systemd it reports readiness (Type=notify)\n"
            "once the server answers, and feeds the watchdog while training progresses.\n");
}

typedef struct {
    config cfg;
    char config_path[CONFIG_PATH_MAX];
    log_level level;
} serve_args;

static int flag_key(const char *flag, const char **key)
{
    static const struct {
        const char *flag, *key;
    } map[] = {
        {"--listen", "listen"},   {"--state-dir", "state_dir"}, {"--data", "data"},
        {"--preset", "preset"},   {"--web-dir", "web_dir"},     {"--seed", "seed"},
        {"--auth-token-file", "auth_token_file"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(flag, map[i].flag)) {
            *key = map[i].key;
            return 0;
        }
    return -1;
}

/* 0: go on; 1: --help printed; 2: usage error (printed). */
static int parse_args(int argc, char **argv, serve_args *a)
{
    char err[512];
    config_default(&a->cfg);
    a->level = LOGLV_INFO;
    /* The config file first, wherever --config is, so that every flag overrides it. */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 1;
        }
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "illgan serve: --config needs a file\n");
                return 2;
            }
            snprintf(a->config_path, sizeof a->config_path, "%s", argv[++i]);
        }
    }
    if (a->config_path[0] && config_load_file(&a->cfg, a->config_path, err, sizeof err)) {
        fprintf(stderr, "illgan serve: %s\n", err);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *key = NULL;
        if (!strcmp(argv[i], "--config")) {
            i++;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "illgan serve: %s needs a value (see --help)\n", argv[i]);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(argv[i - 1], "--log-level")) {
            static const char *names[] = {"debug", "info", "warn", "error"};
            int found = 0;
            for (int l = 0; l < 4; l++)
                if (!strcmp(v, names[l])) {
                    a->level = (log_level)l;
                    found = 1;
                }
            if (!found) {
                fprintf(stderr, "illgan serve: --log-level: debug, info, warn or error\n");
                return 2;
            }
            continue;
        }
        if (!strcmp(argv[i - 1], "--set")) {
            const char *eq = strchr(v, '=');
            char k[64];
            if (!eq || eq == v || (size_t)(eq - v) >= sizeof k) {
                fprintf(stderr, "illgan serve: --set needs KEY=VALUE, not '%s'\n", v);
                return 2;
            }
            memcpy(k, v, (size_t)(eq - v));
            k[eq - v] = 0;
            if (config_set(&a->cfg, k, eq + 1, err, sizeof err)) {
                fprintf(stderr, "illgan serve: --set: %s\n", err);
                return 2;
            }
            continue;
        }
        if (flag_key(argv[i - 1], &key)) {
            fprintf(stderr, "illgan serve: unknown option '%s' (see --help)\n", argv[i - 1]);
            return 2;
        }
        if (config_set(&a->cfg, key, v, err, sizeof err)) {
            fprintf(stderr, "illgan serve: %s: %s\n", argv[i - 1], err);
            return 2;
        }
    }
    if (config_finish(&a->cfg, err, sizeof err)) {
        fprintf(stderr, "illgan serve: %s\n", err);
        return 2;
    }
    return 0;
}

/* The token: the file's first line, trimmed; printable ASCII without spaces. */
static int read_token(const char *path, char *tok, size_t len, logger *lg, char *err,
                      size_t errlen)
{
    tok[0] = 0;
    if (!path[0])
        return 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "auth_token_file %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (!fstat(fileno(f), &sb) && (sb.st_mode & 0077))
        log_msg(lg, LOGLV_WARN, "auth", "%s is readable by other users (mode %03o); chmod 600 it",
                path, (unsigned)(sb.st_mode & 0777));
    if (!fgets(tok, (int)len, f))
        tok[0] = 0;
    /* A first line that did not fit would leave a cut token that no client can present. */
    int cut = !strchr(tok, '\n') && strlen(tok) == len - 1 && fgetc(f) != EOF;
    fclose(f);
    if (cut) {
        tok[0] = 0;
        snprintf(err, errlen, "auth_token_file %s: the token is longer than %zu characters",
                 path, len - 2);
        return -1;
    }
    size_t n = strcspn(tok, "\r\n");
    tok[n] = 0;
    while (n && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
        tok[--n] = 0;
    for (size_t i = 0; i < n; i++)
        if (tok[i] <= ' ' || tok[i] > '~') {
            snprintf(err, errlen, "auth_token_file %s: the token must be printable ASCII "
                                  "without spaces", path);
            return -1;
        }
    if (!n) {
        snprintf(err, errlen, "auth_token_file %s is empty", path);
        return -1;
    }
    if (n < 16)
        log_msg(lg, LOGLV_WARN, "auth", "the token in %s is short (%zu characters); use 32 or more",
                path, n);
    return 0;
}

static int make_dir(const char *path, char *err, size_t errlen)
{
    if (mkdir(path, 0700) && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Writes the port atomically, so a reader never sees half a number. */
static void write_port_file(const char *state_dir, int port, logger *lg)
{
    char path[CONFIG_PATH_MAX + 16], tmp[CONFIG_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/port", state_dir);
    snprintf(tmp, sizeof tmp, "%s/port.tmp", state_dir);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) || rename(tmp, path))
        log_msg(lg, LOGLV_WARN, "serve", "cannot write %s: %s", path, strerror(errno));
}



static void event(store *st, long run, long step, const char *kind, const char *msg,
                  const char *data, logger *lg)
{
    char err[256];
    if (store_insert_event(st, run, util_wall_seconds(), step, kind, msg, data, NULL, err, sizeof err))
        log_msg(lg, LOGLV_ERROR, "store", "cannot record %s event: %s", kind, err);
}

/* Escapes s for a JSON string (checkpoint paths, error messages) into out. */
static void json_str(const char *s, char *out, size_t len)
{
    size_t o = 0;
    for (; *s && o + 7 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, len - o, "\\%c", c);
        else if (c < 0x20)
            o += (size_t)snprintf(out + o, len - o, "\\u%04x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = 0;
}

/* Everything the daemon holds, released in reverse order by serve_close. */
typedef struct {
    logger *log;
    int lock_fd;
    store *st;
    gan *g;
    dataset ds;
    int have_ds;
    neighbors_index *nn;
    trainer *tr;
    server *srv;
    long run_id;
    char port_path[CONFIG_PATH_MAX + 16];
} daemon_state;

static void serve_close(daemon_state *d)
{
    server_free(d->srv);
    if (d->tr) {
        trainer_status ts;
        trainer_get_status(d->tr, &ts);
        char err[256];
        if (d->st && store_run_end(d->st, d->run_id, util_wall_seconds(), ts.step, err, sizeof err))
            log_msg(d->log, LOGLV_ERROR, "store", "%s", err);
    }
    trainer_free(d->tr);
    gan_free(d->g);
    neighbors_index_free(d->nn);
    if (d->have_ds)
        dataset_free(&d->ds);
    store_close(d->st);
    if (d->port_path[0])
        unlink(d->port_path);
    if (d->lock_fd >= 0)
        close(d->lock_fd);
    logger_free(d->log);
}

/* Resumes from the newest loadable checkpoint or builds a new model; records fallback and
 * rewind events; fills the trainer options that depend on it. */
static int load_model(daemon_state *d, const config *c, const char *ckdir, trainer_options *to,
                      trainer_checkpoint_info *last, char *err, size_t errlen)
{
    trainer_load_report rep;
    if (trainer_load_newest(ckdir, &d->g, &rep, err, errlen))
        return -1;
    for (int i = 0; i < rep.failed && i < 4; i++) {
        char ep[600], ee[600], data[1400], msg[900];
        json_str(rep.failures[i].path, ep, sizeof ep);
        json_str(rep.failures[i].error, ee, sizeof ee);
        snprintf(data, sizeof data, "{\"path\":\"%s\",\"error\":\"%s\",\"used\":\"%s\"}", ep, ee,
                 d->g ? rep.used.path : "");
        snprintf(msg, sizeof msg, "damaged checkpoint skipped: %s", rep.failures[i].error);
        log_msg(d->log, LOGLV_WARN, "checkpoint_fallback", "%s; using %s", msg,
                d->g ? rep.used.path : "(none)");
        event(d->st, 0, d->g ? rep.used.step : 0, "checkpoint_fallback", msg, data, d->log);
    }
    to->metrics_every = c->live.metrics_every;
    to->sample_every = c->live.sample_every;
    to->checkpoint_every = c->live.checkpoint_every;
    if (!d->g) {
        gan_config arch;
        if (config_arch(c, &arch, err, errlen) ||
            gan_init(&d->g, &arch, &c->live.hp, c->seed, err, errlen))
            return -1;
        log_msg(d->log, LOGLV_INFO, "model", "new %s model (seed %llu)", arch.preset,
                (unsigned long long)c->seed);
        last->path[0] = 0;
        return 0;
    }
    *last = rep.used;
    long step = gan_step(d->g);
    log_msg(d->log, LOGLV_INFO, "model", "resuming from %s at step %ld", rep.used.path, step);
    gan_config want;
    char aerr[256];
    const gan_config *have = gan_get_config(d->g);
    if (!config_arch(c, &want, aerr, sizeof aerr) &&
        (strcmp(want.preset, have->preset) || want.levels != have->levels ||
         want.base != have->base || want.fc_width != have->fc_width))
        log_msg(d->log, LOGLV_WARN, "model",
                "the config asks for preset %s but the checkpoint is %s: the checkpoint wins "
                "(move the checkpoints away to start a new run)",
                want.preset, have->preset);
    /* The checkpoint's hyperparameters win; say which config values are not applied. */
    live_params ck = c->live;
    ck.hp = *gan_get_hparams(d->g);
    for (int i = 0; i < LIVE_KEY_COUNT; i++) {
        const live_key *k = live_key_at(i);
        if (strstr(k->name, "_every") || !c->live_given[i] ||
            live_get(&ck, i) == live_get(&c->live, i))
            continue;
        char a[48], b[48];
        live_format(&c->live, i, a, sizeof a);
        live_format(&ck, i, b, sizeof b);
        log_msg(d->log, LOGLV_WARN, "config",
                "%s = %s in the config is not applied: the checkpoint's %s wins (SIGHUP applies "
                "the config file's values)",
                k->name, a, b);
    }
    /* Intervals changed over HTTP were persisted in the database and win too. */
    static const char *const keys[] = {"metrics_every", "sample_every", "checkpoint_every"};
    int *dst[] = {&to->metrics_every, &to->sample_every, &to->checkpoint_every};
    for (int i = 0; i < 3; i++) {
        char v[32], serr[256];
        if (store_setting_get(d->st, keys[i], v, sizeof v, serr, sizeof serr) == 0) {
            int li = live_key_find(keys[i]);
            double x = strtod(v, NULL);
            if (!live_check(li, x, serr, sizeof serr))
                *dst[i] = (int)x;
        }
    }
    long md, sd;
    if (store_rewind(d->st, step, &md, &sd, err, errlen))
        return -1;
    if (md || sd) {
        char data[160], msg[200];
        snprintf(data, sizeof data,
                 "{\"from_step\":%ld,\"metrics_deleted\":%ld,\"samples_deleted\":%ld}", step, md,
                 sd);
        snprintf(msg, sizeof msg,
                 "resumed at step %ld: %ld metrics rows and %ld sample grids after it deleted",
                 step, md, sd);
        log_msg(d->log, LOGLV_INFO, "rewind", "%s", msg);
        event(d->st, 0, step, "rewind", msg, data, d->log);
    }
    return store_train_seconds_at(d->st, step, &to->train_seconds, err, errlen);
}

/* SIGHUP: the config file's live keys and the token file. */
static void reload(daemon_state *d, const serve_args *a)
{
    char err[512];
    notify_send("RELOADING=1", err, sizeof err);
    log_msg(d->log, LOGLV_INFO, "reload", "SIGHUP: re-reading %s",
            a->config_path[0] ? a->config_path : "(no config file) the token file");
    trainer_status ts;
    trainer_get_status(d->tr, &ts);
    event(d->st, d->run_id, ts.step, "reload", "SIGHUP: re-reading the config and token files",
          NULL, d->log);
    if (a->config_path[0]) {
        live_params live = ts.live;
        unsigned char given[LIVE_KEY_COUNT];
        const char *field = NULL;
        if (config_load_live(a->config_path, &live, given, err, sizeof err))
            log_msg(d->log, LOGLV_ERROR, "reload", "%s; nothing changed", err);
        else if (gan_hparams_validate(&live.hp, &field, err, sizeof err))
            log_msg(d->log, LOGLV_ERROR, "reload", "%s: %s; nothing changed", field ? field : "",
                    err);
        else if (trainer_set_live(d->tr, &live, given, "config", NULL, NULL, NULL, err,
                                  sizeof err))
            log_msg(d->log, LOGLV_ERROR, "reload", "%s", err);
    }
    char tok[512];
    if (a->cfg.auth_token_file[0]) {
        if (read_token(a->cfg.auth_token_file, tok, sizeof tok, d->log, err, sizeof err) ||
            server_set_token(d->srv, tok, err, sizeof err))
            log_msg(d->log, LOGLV_ERROR, "reload", "%s; the old token stays", err);
    }
    notify_send("READY=1", err, sizeof err);
}

static int run(const serve_args *a, daemon_state *d)
{
    const config *c = &a->cfg;
    char err[1024];
    double started = util_wall_seconds();
    char token[512];
    if (read_token(c->auth_token_file, token, sizeof token, d->log, err, sizeof err))
        goto fail;
    if (!token[0] && !server_listen_is_loopback(c->listen)) {
        snprintf(err, sizeof err,
                 "refusing to listen on %s, which is reachable from other machines, without a "
                 "token: set auth_token_file, or listen on 127.0.0.1",
                 c->listen);
        goto fail;
    }
    if (make_dir(c->state_dir, err, sizeof err))
        goto fail;
    char path[CONFIG_PATH_MAX + 32], ckdir[CONFIG_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/lock", c->state_dir);
    d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (d->lock_fd < 0 || flock(d->lock_fd, LOCK_EX | LOCK_NB)) {
        snprintf(err, sizeof err, "%s: %s", path,
                 errno == EWOULDBLOCK ? "another illgan serve uses this state directory"
                                      : strerror(errno));
        goto fail;
    }
    snprintf(ckdir, sizeof ckdir, "%s/checkpoints", c->state_dir);
    if (make_dir(ckdir, err, sizeof err))
        goto fail;
    char db[CONFIG_PATH_MAX + 32];
    snprintf(db, sizeof db, "%s/illgan.db", c->state_dir);
    if (store_open(&d->st, db, err, sizeof err))
        goto fail;

    trainer_options to;
    memset(&to, 0, sizeof to);
    trainer_checkpoint_info last;
    memset(&last, 0, sizeof last);
    if (load_model(d, c, ckdir, &to, &last, err, sizeof err))
        goto fail;
    const gan_config *arch = gan_get_config(d->g);
    int side = gan_config_side(arch);

    const int synthetic = !strcmp(c->data, "synthetic");
    double t0 = util_mono_seconds();
    if (synthetic ? dataset_synthetic(&d->ds, c->synthetic_count, side, 7, err, sizeof err)
                  : dataset_load(&d->ds, c->data, side, err, sizeof err))
        goto fail;
    d->have_ds = 1;
    if (d->ds.side != side) {
        snprintf(err, sizeof err, "the training images are %dx%d but the model makes %dx%d",
                 d->ds.side, d->ds.side, side, side);
        goto fail;
    }
    if (neighbors_index_build(&d->nn, &d->ds, err, sizeof err))
        goto fail;
    log_msg(d->log, LOGLV_INFO, "data", "%d images of %dx%d from %s in %.1f s", d->ds.count, side,
            side, synthetic ? "the synthetic set" : c->data, util_mono_seconds() - t0);

    long step = gan_step(d->g);
    if (store_run_begin(d->st, started, arch->preset, ILLGAN_VERSION, step, &d->run_id, err,
                        sizeof err))
        goto fail;
    {
        char data[256], msg[200];
        snprintf(data, sizeof data, "{\"preset\":\"%s\",\"resumed_from\":%ld,\"version\":\"%s\"}",
                 arch->preset, last.path[0] ? step : -1L, ILLGAN_VERSION);
        snprintf(msg, sizeof msg, "illgan %s started (%s, step %ld)", ILLGAN_VERSION, arch->preset,
                 step);
        event(d->st, d->run_id, step, "start", msg, data, d->log);
    }

    snprintf(to.checkpoint_dir, sizeof to.checkpoint_dir, "%s", ckdir);
    snprintf(to.db_path, sizeof to.db_path, "%s", db);
    to.checkpoint_keep = c->checkpoint_keep;
    to.run_id = d->run_id;
    to.sample_n = c->sample_n;
    to.sample_seed = c->sample_seed;
    to.snapshot_interval = c->snapshot_interval;
    to.log = d->log;
    size_t pg, pz, pd;
    gan_param_counts(d->g, &pg, &pz, &pd);
    gan_config model = *arch;
    if (trainer_start(&d->tr, d->g, &d->ds, &to, &last, err, sizeof err))
        goto fail;
    d->g = NULL; /* the trainer's now */

    server_options so = {
        .listen = c->listen, .web_dir = c->web_dir, .token = token, .auth_reads = c->auth_reads,
        .max_body_bytes = c->max_body_bytes, .max_connections = c->max_connections,
        .connection_timeout = c->connection_timeout, .max_generate = c->max_generate,
        .db_path = db, .ds = &d->ds, .dataset_label = synthetic ? "synthetic" : c->data,
        .nn = d->nn, .tr = d->tr, .model = model, .params_g = pg, .params_z = pz,
        .params_d = pd, .run_id = d->run_id, .sample_n = c->sample_n,
        .sample_seed = c->sample_seed, .started_at = started, .log = d->log,
    };
    if (server_start(&d->srv, &so, err, sizeof err))
        goto fail;
    int port = server_port(d->srv);
    snprintf(d->port_path, sizeof d->port_path, "%s/port", c->state_dir);
    write_port_file(c->state_dir, port, d->log);
    char host[256];
    int ignored;
    config_split_listen(c->listen, host, sizeof host, &ignored, err, sizeof err);
    int v6 = strchr(host, ':') != NULL;
    log_msg(d->log, LOGLV_INFO, "listen", "serving on http://%s%s%s:%d/ (port %d)", v6 ? "[" : "",
            host, v6 ? "]" : "", port, port);

    if (server_check_alive(d->srv, err, sizeof err))
        goto fail;
    char note[256];
    snprintf(note, sizeof note, "READY=1\nSTATUS=training %s at step %ld on port %d",
             model.preset, step, port);
    if (notify_send(note, err, sizeof err) < 0)
        log_msg(d->log, LOGLV_WARN, "systemd", "%s", err);

    uint64_t wd_usec = notify_watchdog_usec();
    double wd_next = util_mono_seconds(), status_next = util_mono_seconds() + 10;
    int stopping = 0, rc = 0;
    for (;;) {
        struct timespec nap = {0, 100 * 1000 * 1000};
        nanosleep(&nap, NULL);
        trainer_status ts;
        trainer_get_status(d->tr, &ts);
        if (got_stop && !stopping) {
            stopping = 1;
            const char *why = got_stop == SIGINT ? "SIGINT" : "SIGTERM";
            log_msg(d->log, LOGLV_INFO, "signal", "%s: checkpointing and stopping", why);
            notify_send("STOPPING=1", err, sizeof err);
            trainer_checkpoint_info ci;
            int r = trainer_stop(d->tr, why, &ci, err, sizeof err);
            if (r == -1) {
                log_msg(d->log, LOGLV_ERROR, "stop", "the final checkpoint failed: %s", err);
                rc = 1;
            }
            /* TRAINER_STOPPING: a stop over HTTP came first; wait for it to finish, so its
             * outcome decides the exit status. */
            if (r != TRAINER_STOPPING)
                break;
            continue;
        }
        if (ts.finished) {
            log_msg(d->log, LOGLV_INFO, "stop", "the trainer stopped at step %ld", ts.step);
            /* A stop over HTTP whose final checkpoint failed still stops; the exit status
             * must then say that training since the newest checkpoint is lost, as it does
             * for SIGTERM. */
            if (!ts.have_checkpoint || ts.checkpoint.step != ts.step) {
                log_msg(d->log, LOGLV_ERROR, "stop", "no checkpoint of the final step %ld",
                        ts.step);
                rc = 1;
            }
            notify_send("STOPPING=1", err, sizeof err);
            break;
        }
        if (got_hup) {
            got_hup = 0;
            reload(d, a);
        }
        double now = util_mono_seconds();
        if (wd_usec && now >= wd_next) {
            /* Alive means: the trainer looped (iteration done or paused tick) within the
             * watchdog period. A hung iteration stops the pings and systemd restarts us. */
            if (now - ts.last_alive < (double)wd_usec / 1e6)
                notify_send("WATCHDOG=1", err, sizeof err);
            wd_next = now + (double)wd_usec / 2e6;
        }
        if (now >= status_next) {
            snprintf(note, sizeof note, "STATUS=%s at step %ld (%.1f images/s)", ts.state, ts.step,
                     isfinite(ts.images_per_second) ? ts.images_per_second : 0.0);
            notify_send(note, err, sizeof err);
            status_next = now + 10;
        }
    }
    server_stop(d->srv);
    log_msg(d->log, LOGLV_INFO, "stop", "exiting with status %d", rc);
    return rc;
fail:
    log_msg(d->log, LOGLV_ERROR, "fatal", "%s", err);
    return 1;
}

int cli_serve(int argc, char **argv)
{
    serve_args *a = calloc(1, sizeof *a);
    if (!a) {
        fprintf(stderr, "illgan serve: out of memory\n");
        return 1;
    }
    int pr = parse_args(argc, argv, a);
    if (pr) {
        free(a);
        return pr == 1 ? 0 : 2;
    }
    daemon_state d;
    memset(&d, 0, sizeof d);
    d.lock_fd = -1;
    d.log = logger_new(stderr, a->level);
    if (!d.log) {
        free(a);
        fprintf(stderr, "illgan serve: out of memory\n");
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    int rc = run(a, &d);
    serve_close(&d);
    free(a);
    return rc;
}
