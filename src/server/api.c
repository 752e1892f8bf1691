/* server/api: the JSON endpoints of docs/API.md other than images and Prometheus.
 *
 * Control calls (pause, resume, checkpoint, stop, PATCH hparams) block until the trainer
 * has acted and reply with what it did. PATCH checks every key (known, type, range) before
 * anything is sent to the trainer, so a refused request changes nothing. Reads of the
 * database go through the pool, one connection per thread at a time. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "illgan/config.h"
#include "server/internal.h"

#define MAX_SAFE_INT 9007199254740991LL /* 2^53 - 1: exact in JSON numbers */

static const char *const no_params[] = {NULL};

int api_healthz(server *s, const http_request *q, http_reply *r)
{
    (void)s;
    if (param_check(q, no_params, r))
        return -1;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddTrueToObject(o, "ok");
    return reply_json(r, o);
}

static cJSON *checkpoint_json(const trainer_checkpoint_info *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "step", (double)c->step);
    cJSON_AddStringToObject(o, "path", c->path);
    cJSON_AddNumberToObject(o, "time", c->time);
    cJSON_AddNumberToObject(o, "bytes", (double)c->bytes);
    return o;
}

int api_status(server *s, const http_request *q, http_reply *r)
{
    if (param_check(q, no_params, r))
        return -1;
    trainer_status st;
    trainer_get_status(s->o.tr, &st);
    double now = server_wall_now();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "version", ILLGAN_VERSION);
    cJSON_AddStringToObject(o, "state", st.state);
    cJSON_AddNumberToObject(o, "step", (double)st.step);
    cJSON_AddNumberToObject(o, "run_id", (double)s->o.run_id);
    json_add_number(o, "iterations_per_second", st.iterations_per_second);
    json_add_number(o, "images_per_second", st.images_per_second);
    cJSON *l = cJSON_AddObjectToObject(o, "losses");
    json_add_number(l, "d", st.have_stats ? live_float_decimal(st.stats.loss_d) : NAN);
    json_add_number(l, "g", st.have_stats ? live_float_decimal(st.stats.loss_g) : NAN);
    json_add_number(l, "z", st.have_stats ? live_float_decimal(st.stats.loss_z) : NAN);
    json_add_number(o, "d_real", st.have_stats ? live_float_decimal(st.stats.d_real) : NAN);
    json_add_number(o, "d_fake", st.have_stats ? live_float_decimal(st.stats.d_fake) : NAN);
    const gan_config *m = &s->o.model;
    cJSON *mo = cJSON_AddObjectToObject(o, "model");
    cJSON_AddStringToObject(mo, "preset", m->preset);
    cJSON_AddNumberToObject(mo, "side", gan_config_side(m));
    cJSON_AddNumberToObject(mo, "levels", m->levels);
    cJSON_AddNumberToObject(mo, "base", m->base);
    cJSON_AddNumberToObject(mo, "fc_width", m->fc_width);
    cJSON_AddNumberToObject(mo, "zpred_width", m->zpred_width);
    cJSON_AddNumberToObject(mo, "mb_kernels", m->mb_kernels);
    cJSON_AddNumberToObject(mo, "mb_dims", m->mb_dims);
    cJSON *pc = cJSON_AddObjectToObject(mo, "params");
    cJSON_AddNumberToObject(pc, "g", (double)s->o.params_g);
    cJSON_AddNumberToObject(pc, "z", (double)s->o.params_z);
    cJSON_AddNumberToObject(pc, "d", (double)s->o.params_d);
    json_add_number(mo, "macs_per_iteration", st.macs_per_iteration);
    cJSON *d = cJSON_AddObjectToObject(o, "dataset");
    cJSON_AddNumberToObject(d, "count", s->o.ds->count);
    cJSON_AddNumberToObject(d, "side", s->o.ds->side);
    cJSON_AddStringToObject(d, "dir", s->o.dataset_label);
    if (st.have_checkpoint)
        cJSON_AddItemToObject(o, "checkpoint", checkpoint_json(&st.checkpoint));
    else
        cJSON_AddNullToObject(o, "checkpoint");
    if (st.snapshot_step >= 0)
        cJSON_AddNumberToObject(o, "snapshot_step", (double)st.snapshot_step);
    else
        cJSON_AddNullToObject(o, "snapshot_step");
    cJSON_AddNumberToObject(o, "started_at", s->o.started_at);
    cJSON_AddNumberToObject(o, "uptime_seconds", now - s->o.started_at);
    cJSON_AddNumberToObject(o, "training_seconds", st.train_seconds);
    cJSON *a = cJSON_AddObjectToObject(o, "auth");
    pthread_mutex_lock(&s->token_mu);
    cJSON_AddBoolToObject(a, "token", s->token != NULL);
    pthread_mutex_unlock(&s->token_mu);
    cJSON_AddBoolToObject(a, "reads", s->o.auth_reads != 0);
    return reply_json(r, o);
}

/* A control call takes no parameters and an empty body or {}. */
static int control_input(const http_request *q, http_reply *r)
{
    if (param_check(q, no_params, r))
        return -1;
    cJSON *b;
    if (body_object(q, &b, r))
        return -1;
    if (b->child) {
        char name[64];
        snprintf(name, sizeof name, "%s", b->child->string);
        cJSON_Delete(b);
        return reply_error(r, 400, "unknown_key", name, "this call takes no body keys ('%s')",
                           name);
    }
    cJSON_Delete(b);
    return 0;
}

static int trainer_failure(http_reply *r, int rc, const char *err)
{
    if (rc == TRAINER_STOPPING)
        return reply_error(r, 409, "conflict", NULL, "the daemon is stopping");
    return reply_error(r, 500, "internal", NULL, "%s", err);
}

static int state_reply(http_reply *r, const char *state, long step)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "state", state);
    cJSON_AddNumberToObject(o, "step", (double)step);
    return reply_json(r, o);
}

int api_pause(server *s, const http_request *q, http_reply *r)
{
    if (control_input(q, r))
        return -1;
    const char *state;
    long step;
    char err[256];
    int rc = trainer_pause(s->o.tr, &state, &step, err, sizeof err);
    if (rc)
        return trainer_failure(r, rc, err);
    return state_reply(r, state, step);
}

int api_resume(server *s, const http_request *q, http_reply *r)
{
    if (control_input(q, r))
        return -1;
    const char *state;
    long step;
    char err[256];
    int rc = trainer_resume(s->o.tr, &state, &step, err, sizeof err);
    if (rc)
        return trainer_failure(r, rc, err);
    return state_reply(r, state, step);
}

int api_checkpoint(server *s, const http_request *q, http_reply *r)
{
    if (control_input(q, r))
        return -1;
    trainer_checkpoint_info ci;
    char err[256];
    int rc = trainer_checkpoint(s->o.tr, &ci, err, sizeof err);
    if (rc)
        return trainer_failure(r, rc, err);
    return reply_json(r, checkpoint_json(&ci));
}

int api_stop(server *s, const http_request *q, http_reply *r)
{
    if (control_input(q, r))
        return -1;
    trainer_checkpoint_info ci;
    char err[256];
    int rc = trainer_stop(s->o.tr, "HTTP /api/stop", &ci, err, sizeof err);
    reply_header(r, "Connection", "close");
    if (rc == -1)
        return reply_error(r, 500, "internal", NULL, "stopping, but the checkpoint failed: %s",
                           err);
    if (rc)
        return trainer_failure(r, rc, err);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "state", "stopping");
    cJSON_AddNumberToObject(o, "step", (double)ci.step);
    cJSON_AddItemToObject(o, "checkpoint", checkpoint_json(&ci));
    return reply_json(r, o);
}

/* ---- hyperparameters ---------------------------------------------------------------- */

static void add_live_value(cJSON *o, const char *name, const live_key *k, double v)
{
    if (k->type == LIVE_BOOLEAN)
        cJSON_AddBoolToObject(o, name, v != 0);
    else
        cJSON_AddNumberToObject(o, name, v);
}

static cJSON *live_json(const live_params *p)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < LIVE_KEY_COUNT; i++) {
        const live_key *k = live_key_at(i);
        add_live_value(o, k->name, k, live_get(p, i));
    }
    return o;
}

int api_hparams_get(server *s, const http_request *q, http_reply *r)
{
    if (param_check(q, no_params, r))
        return -1;
    trainer_status st;
    trainer_get_status(s->o.tr, &st);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "step", (double)st.step);
    cJSON_AddItemToObject(o, "hparams", live_json(&st.live));
    cJSON *schema = cJSON_AddObjectToObject(o, "schema");
    for (int i = 0; i < LIVE_KEY_COUNT; i++) {
        const live_key *k = live_key_at(i);
        cJSON *e = cJSON_AddObjectToObject(schema, k->name);
        cJSON_AddStringToObject(e, "type", k->type == LIVE_NUMBER    ? "number"
                                         : k->type == LIVE_INTEGER ? "integer"
                                                                   : "boolean");
        if (k->type != LIVE_BOOLEAN) {
            cJSON_AddNumberToObject(e, "min", k->min);
            cJSON_AddNumberToObject(e, "max", k->max);
            if (k->exclusive_min)
                cJSON_AddTrueToObject(e, "exclusive_min");
            if (k->exclusive_max)
                cJSON_AddTrueToObject(e, "exclusive_max");
        }
        cJSON_AddStringToObject(e, "description", k->help);
    }
    return reply_json(r, o);
}

int api_hparams_patch(server *s, const http_request *q, http_reply *r)
{
    if (param_check(q, no_params, r))
        return -1;
    cJSON *b;
    if (body_object(q, &b, r))
        return -1;
    live_params want;
    memset(&want, 0, sizeof want);
    unsigned char mask[LIVE_KEY_COUNT] = {0};
    char err[256];
    for (cJSON *e = b->child; e; e = e->next) {
        int i = live_key_find(e->string);
        if (i < 0) {
            reply_error(r, 400, "unknown_key", e->string, "unknown hyperparameter '%s'",
                        e->string);
            goto refused;
        }
        const live_key *k = live_key_at(i);
        double v;
        if (k->type == LIVE_BOOLEAN) {
            if (!cJSON_IsBool(e)) {
                reply_error(r, 400, "wrong_type", k->name, "%s must be true or false", k->name);
                goto refused;
            }
            v = cJSON_IsTrue(e);
        } else {
            if (!cJSON_IsNumber(e)) {
                reply_error(r, 400, "wrong_type", k->name, "%s must be a JSON %s", k->name,
                            k->type == LIVE_INTEGER ? "integer" : "number");
                goto refused;
            }
            v = e->valuedouble;
            if (k->type == LIVE_INTEGER && v != floor(v)) {
                reply_error(r, 400, "wrong_type", k->name, "%s must be an integer, not %g",
                            k->name, v);
                goto refused;
            }
        }
        if (live_check(i, v, err, sizeof err)) {
            reply_error(r, 400, "out_of_range", k->name, "%s", err);
            goto refused;
        }
        live_set(&want, i, v);
        mask[i] = 1;
    }
    cJSON_Delete(b);
    /* The model's own checks see the whole combination before the trainer does. */
    trainer_status st;
    trainer_get_status(s->o.tr, &st);
    live_params combined = st.live;
    for (int i = 0; i < LIVE_KEY_COUNT; i++)
        if (mask[i])
            live_set(&combined, i, live_get(&want, i));
    const char *field = NULL;
    if (gan_hparams_validate(&combined.hp, &field, err, sizeof err))
        return reply_error(r, 400, "out_of_range", field, "%s", err);

    live_params old, now;
    long eff;
    int rc = trainer_set_live(s->o.tr, &want, mask, "http", &old, &now, &eff, err, sizeof err);
    if (rc)
        return trainer_failure(r, rc, err);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "effective_step", (double)eff);
    cJSON *ch = cJSON_AddObjectToObject(o, "changed");
    for (int i = 0; i < LIVE_KEY_COUNT; i++) {
        if (!mask[i] || live_get(&old, i) == live_get(&now, i))
            continue;
        const live_key *k = live_key_at(i);
        cJSON *c = cJSON_AddObjectToObject(ch, k->name);
        add_live_value(c, "old", k, live_get(&old, i));
        add_live_value(c, "new", k, live_get(&now, i));
    }
    cJSON_AddItemToObject(o, "hparams", live_json(&now));
    return reply_json(r, o);
refused:
    cJSON_Delete(b);
    return -1;
}

/* ---- history: metrics, events, samples ---------------------------------------------- */

static const char *const range_params[] = {"since", "limit", NULL};
static const char *const event_params[] = {"since_id", "limit", NULL};

static int range_input(const http_request *q, const char *since_name, int64_t *since,
                       int64_t *limit, http_reply *r)
{
    if (param_check(q, !strcmp(since_name, "since") ? range_params : event_params, r) ||
        param_int(q, since_name, 0, MAX_SAFE_INT, 0, since, r) ||
        param_int(q, "limit", 1, 10000, 1000, limit, r))
        return -1;
    return 0;
}

int api_metrics(server *s, const http_request *q, http_reply *r)
{
    int64_t since, limit;
    if (range_input(q, "since", &since, &limit, r))
        return -1;
    store *st = pool_acquire(s);
    store_metric *m;
    int n, more;
    char err[256];
    int rc = store_query_metrics(st, (long)since, (int)limit, &m, &n, &more, err, sizeof err);
    pool_release(s, st);
    if (rc)
        return reply_error(r, 503, "unavailable", NULL, "database: %s", err);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "metrics");
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "step", (double)m[i].step);
        cJSON_AddNumberToObject(e, "time", m[i].time);
        cJSON_AddNumberToObject(e, "train_seconds", m[i].train_seconds);
        json_add_number(e, "loss_d", m[i].loss_d);
        json_add_number(e, "loss_g", m[i].loss_g);
        json_add_number(e, "loss_z", m[i].loss_z);
        json_add_number(e, "d_real", m[i].d_real);
        json_add_number(e, "d_fake", m[i].d_fake);
        json_add_number(e, "images_per_second", m[i].images_per_second);
        json_add_number(e, "lr_d", m[i].lr_d);
        json_add_number(e, "lr_g", m[i].lr_g);
        json_add_number(e, "lr_z", m[i].lr_z);
        cJSON_AddNumberToObject(e, "batch_size", m[i].batch_size);
        cJSON_AddItemToArray(arr, e);
    }
    cJSON_AddNumberToObject(o, "next_since", n ? (double)(m[n - 1].step + 1) : (double)since);
    cJSON_AddBoolToObject(o, "more", more);
    free(m);
    return reply_json(r, o);
}

int api_events(server *s, const http_request *q, http_reply *r)
{
    int64_t since, limit;
    if (range_input(q, "since_id", &since, &limit, r))
        return -1;
    store *st = pool_acquire(s);
    store_event *ev;
    int n, more;
    char err[256];
    int rc = store_query_events(st, (long)since, (int)limit, &ev, &n, &more, err, sizeof err);
    pool_release(s, st);
    if (rc)
        return reply_error(r, 503, "unavailable", NULL, "database: %s", err);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "events");
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "id", (double)ev[i].id);
        cJSON_AddNumberToObject(e, "time", ev[i].time);
        cJSON_AddNumberToObject(e, "step", (double)ev[i].step);
        if (ev[i].run_id > 0)
            cJSON_AddNumberToObject(e, "run_id", (double)ev[i].run_id);
        else
            cJSON_AddNullToObject(e, "run_id");
        cJSON_AddStringToObject(e, "kind", ev[i].kind);
        cJSON_AddStringToObject(e, "message", ev[i].message);
        cJSON *data = cJSON_Parse(ev[i].data);
        if (!cJSON_IsObject(data)) {
            cJSON_Delete(data);
            data = cJSON_CreateObject();
        }
        cJSON_AddItemToObject(e, "data", data);
        cJSON_AddItemToArray(arr, e);
    }
    cJSON_AddNumberToObject(o, "next_since_id", n ? (double)ev[n - 1].id : (double)since);
    cJSON_AddBoolToObject(o, "more", more);
    store_events_free(ev, n);
    return reply_json(r, o);
}

int api_samples(server *s, const http_request *q, http_reply *r)
{
    int64_t since, limit;
    if (range_input(q, "since", &since, &limit, r))
        return -1;
    store *st = pool_acquire(s);
    store_sample_info *si;
    int n, more;
    char err[256];
    int rc = store_list_samples(st, (long)since, (int)limit, &si, &n, &more, err, sizeof err);
    pool_release(s, st);
    if (rc)
        return reply_error(r, 503, "unavailable", NULL, "database: %s", err);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "samples");
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        char url[64];
        snprintf(url, sizeof url, "/api/samples/%ld.png", si[i].step);
        cJSON_AddNumberToObject(e, "step", (double)si[i].step);
        cJSON_AddNumberToObject(e, "time", si[i].time);
        cJSON_AddNumberToObject(e, "bytes", (double)si[i].bytes);
        cJSON_AddStringToObject(e, "url", url);
        cJSON_AddItemToArray(arr, e);
    }
    cJSON_AddNumberToObject(o, "n", s->o.sample_n);
    cJSON_AddNumberToObject(o, "seed", (double)s->o.sample_seed);
    cJSON_AddNumberToObject(o, "next_since", n ? (double)(si[n - 1].step + 1) : (double)since);
    cJSON_AddBoolToObject(o, "more", more);
    free(si);
    return reply_json(r, o);
}

int api_sample_png(server *s, const http_request *q, http_reply *r, const char *rest)
{
    if (param_check(q, no_params, r))
        return -1;
    /* STEP.png: decimal digits only, no sign, no leading zeros beyond "0". */
    size_t nd = 0;
    while (rest[nd] >= '0' && rest[nd] <= '9')
        nd++;
    if (!nd || nd > 15 || strcmp(rest + nd, ".png") || (nd > 1 && rest[0] == '0'))
        return reply_error(r, 404, "not_found", "step",
                           "no such sample: expected /api/samples/STEP.png");
    long step = strtol(rest, NULL, 10);
    store *st = pool_acquire(s);
    uint8_t *png;
    size_t len;
    char err[256];
    int rc = store_get_sample(st, step, &png, &len, err, sizeof err);
    pool_release(s, st);
    if (rc < 0)
        return reply_error(r, 503, "unavailable", NULL, "database: %s", err);
    if (rc == 1)
        return reply_error(r, 404, "not_found", "step", "no sample grid stored at step %ld", step);
    char h[32];
    snprintf(h, sizeof h, "%ld", step);
    reply_header(r, "X-Illgan-Step", h);
    reply_bytes(r, 200, "image/png", png, len);
    return 0;
}
