/* config: parsing and checking the daemon's settings (include/illgan/config.h).
 *
 * Guarantees: a key is either set to a value that passed its type and range check or left
 * unchanged with an error naming it; the live-key table below is the single source of the
 * names, types and ranges used by the config file, SIGHUP and the HTTP API. */
#include "illgan/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    K_LR_D, K_LR_G, K_LR_Z, K_BETA1, K_BETA2, K_D_STEPS, K_G_STEPS, K_ZPRED, K_DROPOUT_KEEP,
    K_FLIP_PROB, K_BATCH_SIZE, K_METRICS_EVERY, K_SAMPLE_EVERY, K_CHECKPOINT_EVERY
};

static const live_key live_keys[LIVE_KEY_COUNT] = {
    [K_LR_D] = {"lr_d", LIVE_NUMBER, 0, 1, 1, 0, "Adam learning rate of D"},
    [K_LR_G] = {"lr_g", LIVE_NUMBER, 0, 1, 1, 0, "Adam learning rate of G"},
    [K_LR_Z] = {"lr_z", LIVE_NUMBER, 0, 1, 1, 0, "Adam learning rate of Z"},
    [K_BETA1] = {"beta1", LIVE_NUMBER, 0, 0.9999, 0, 0, "Adam beta1"},
    [K_BETA2] = {"beta2", LIVE_NUMBER, 0, 0.99999, 0, 0, "Adam beta2"},
    [K_D_STEPS] = {"d_steps", LIVE_INTEGER, 1, 16, 0, 0, "D updates per iteration"},
    [K_G_STEPS] = {"g_steps", LIVE_INTEGER, 1, 16, 0, 0, "G updates per iteration"},
    [K_ZPRED] = {"zpred", LIVE_BOOLEAN, 0, 1, 0, 0, "train the z-predictor"},
    [K_DROPOUT_KEEP] = {"dropout_keep", LIVE_NUMBER, 0, 1, 1, 0, "D dropout keep probability"},
    [K_FLIP_PROB] = {"flip_prob", LIVE_NUMBER, 0, 1, 0, 0, "probability of mirroring"},
    [K_BATCH_SIZE] = {"batch_size", LIVE_INTEGER, 2, 256, 0, 0, "images per batch"},
    [K_METRICS_EVERY] = {"metrics_every", LIVE_INTEGER, 1, 1000000, 0, 0,
                         "store metrics every N iterations"},
    [K_SAMPLE_EVERY] = {"sample_every", LIVE_INTEGER, 0, 1000000, 0, 0,
                        "store a sample grid every N iterations (0: never)"},
    [K_CHECKPOINT_EVERY] = {"checkpoint_every", LIVE_INTEGER, 0, 1000000, 0, 0,
                            "checkpoint every N iterations (0: on request only)"},
};

const live_key *live_key_at(int i)
{
    return (i >= 0 && i < LIVE_KEY_COUNT) ? &live_keys[i] : NULL;
}

int live_key_find(const char *name)
{
    for (int i = 0; i < LIVE_KEY_COUNT; i++)
        if (!strcmp(live_keys[i].name, name))
            return i;
    return -1;
}

double live_float_decimal(float f)
{
    char buf[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        double d = strtod(buf, NULL);
        if ((float)d == f)
            return d;
    }
    return (double)f;
}

double live_get(const live_params *p, int i)
{
    switch (i) {
    case K_LR_D: return live_float_decimal(p->hp.lr_d);
    case K_LR_G: return live_float_decimal(p->hp.lr_g);
    case K_LR_Z: return live_float_decimal(p->hp.lr_z);
    case K_BETA1: return live_float_decimal(p->hp.beta1);
    case K_BETA2: return live_float_decimal(p->hp.beta2);
    case K_D_STEPS: return p->hp.d_steps;
    case K_G_STEPS: return p->hp.g_steps;
    case K_ZPRED: return p->hp.zpred ? 1 : 0;
    case K_DROPOUT_KEEP: return live_float_decimal(p->hp.dropout_keep);
    case K_FLIP_PROB: return live_float_decimal(p->hp.flip_prob);
    case K_BATCH_SIZE: return p->hp.batch_size;
    case K_METRICS_EVERY: return p->metrics_every;
    case K_SAMPLE_EVERY: return p->sample_every;
    case K_CHECKPOINT_EVERY: return p->checkpoint_every;
    default: return NAN;
    }
}

void live_set(live_params *p, int i, double v)
{
    switch (i) {
    case K_LR_D: p->hp.lr_d = (float)v; break;
    case K_LR_G: p->hp.lr_g = (float)v; break;
    case K_LR_Z: p->hp.lr_z = (float)v; break;
    case K_BETA1: p->hp.beta1 = (float)v; break;
    case K_BETA2: p->hp.beta2 = (float)v; break;
    case K_D_STEPS: p->hp.d_steps = (int)v; break;
    case K_G_STEPS: p->hp.g_steps = (int)v; break;
    case K_ZPRED: p->hp.zpred = v != 0; break;
    case K_DROPOUT_KEEP: p->hp.dropout_keep = (float)v; break;
    case K_FLIP_PROB: p->hp.flip_prob = (float)v; break;
    case K_BATCH_SIZE: p->hp.batch_size = (int)v; break;
    case K_METRICS_EVERY: p->metrics_every = (int)v; break;
    case K_SAMPLE_EVERY: p->sample_every = (int)v; break;
    case K_CHECKPOINT_EVERY: p->checkpoint_every = (int)v; break;
    default: break;
    }
}

static void fmt_range(const live_key *k, char *buf, size_t len)
{
    if (k->type == LIVE_BOOLEAN)
        snprintf(buf, len, "true or false");
    else if (k->type == LIVE_INTEGER)
        snprintf(buf, len, "an integer in %.0f..%.0f", k->min, k->max);
    else
        snprintf(buf, len, "a number with %g %s x %s %g", k->min, k->exclusive_min ? "<" : "<=",
                 k->exclusive_max ? "<" : "<=", k->max);
}

int live_check(int i, double v, char *err, size_t errlen)
{
    const live_key *k = live_key_at(i);
    char range[96];
    if (!k) {
        snprintf(err, errlen, "unknown key");
        return -1;
    }
    fmt_range(k, range, sizeof range);
    int ok = isfinite(v);
    if (ok && k->type != LIVE_NUMBER)
        ok = v == floor(v);
    if (ok)
        ok = (k->exclusive_min ? v > k->min : v >= k->min) &&
             (k->exclusive_max ? v < k->max : v <= k->max);
    if (!ok) {
        snprintf(err, errlen, "%s must be %s", k->name, range);
        return -1;
    }
    return 0;
}

void live_default(live_params *p, const char *preset)
{
    memset(p, 0, sizeof *p);
    gan_hparams_default(&p->hp, preset);
    p->metrics_every = 1;
    p->sample_every = 100;
    p->checkpoint_every = 500;
}

void live_format(const live_params *p, int i, char *buf, size_t len)
{
    const live_key *k = live_key_at(i);
    double v = live_get(p, i);
    if (!k)
        snprintf(buf, len, "?");
    else if (k->type == LIVE_BOOLEAN)
        snprintf(buf, len, "%s", v != 0 ? "true" : "false");
    else if (k->type == LIVE_INTEGER)
        snprintf(buf, len, "%.0f", v);
    else
        snprintf(buf, len, "%.9g", v); /* v is already the shortest form */
}

/* ---- text values ------------------------------------------------------------------- */

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    static const char *yes[] = {"true", "yes", "on", "1"};
    static const char *no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i])) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(s, no[i])) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    if (!*s || isspace((unsigned char)*s))
        return -1;
    long v = strtol(s, &end, 10);
    if (*end || errno == ERANGE || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*s))
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno == ERANGE)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int set_path(char *dst, size_t dstlen, const char *key, const char *value, int may_be_empty,
                    char *err, size_t errlen)
{
    size_t n = strlen(value);
    if ((!n && !may_be_empty) || n >= dstlen) {
        snprintf(err, errlen, "%s must be a path of 1..%zu bytes", key, dstlen - 1);
        return -1;
    }
    memcpy(dst, value, n + 1);
    return 0;
}

typedef struct {
    const char *name;
    long lo, hi;
    size_t offset;  /* of an int or long in config */
    int is_long;
} int_key;

#define INT_KEY(n, lo, hi, field) {n, lo, hi, offsetof(config, field), 0}
static const int_key int_keys[] = {
    INT_KEY("synthetic_count", 16, 1000000, synthetic_count),
    INT_KEY("max_connections", 1, 10000, max_connections),
    INT_KEY("connection_timeout", 1, 3600, connection_timeout),
    INT_KEY("max_generate", 1, 64, max_generate),
    INT_KEY("sample_n", 1, 256, sample_n),
    INT_KEY("checkpoint_keep", 2, 100, checkpoint_keep),
    INT_KEY("watchdog_progress", 0, 86400, watchdog_progress),
    {"max_body_bytes", 1024, 1L << 30, offsetof(config, max_body_bytes), 1},
};

typedef struct {
    const char *name;
    unsigned flag;
    long lo, hi;
} arch_key;

static const arch_key arch_keys[] = {
    {"levels", CONFIG_ARCH_LEVELS, 1, 6},
    {"base", CONFIG_ARCH_BASE, 1, 1024},
    {"fc_width", CONFIG_ARCH_FC_WIDTH, 1, 16384},
    {"zpred_width", CONFIG_ARCH_ZPRED_WIDTH, 1, 16384},
    {"mb_kernels", CONFIG_ARCH_MB_KERNELS, 1, 1024},
    {"mb_dims", CONFIG_ARCH_MB_DIMS, 1, 1024},
};

static void arch_store(gan_config *a, unsigned flag, int v)
{
    switch (flag) {
    case CONFIG_ARCH_LEVELS: a->levels = v; break;
    case CONFIG_ARCH_BASE: a->base = v; break;
    case CONFIG_ARCH_FC_WIDTH: a->fc_width = v; break;
    case CONFIG_ARCH_ZPRED_WIDTH: a->zpred_width = v; break;
    case CONFIG_ARCH_MB_KERNELS: a->mb_kernels = v; break;
    default: a->mb_dims = v; break;
    }
}

void config_default(config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->listen, sizeof c->listen, "127.0.0.1:8080");
    snprintf(c->state_dir, sizeof c->state_dir, "state");
    snprintf(c->data, sizeof c->data, "synthetic");
    c->synthetic_count = 1024;
    snprintf(c->web_dir, sizeof c->web_dir, "web");
    snprintf(c->preset, sizeof c->preset, "small");
    c->seed = 1;
    c->auth_reads = 0;
    c->max_body_bytes = 1L << 20;
    c->max_connections = 64;
    c->connection_timeout = 30;
    c->max_generate = 2;
    c->sample_n = 16;
    c->sample_seed = 1;
    c->snapshot_interval = 2.0;
    c->checkpoint_keep = 2;
    c->watchdog_progress = 600;
    live_default(&c->live, c->preset);
}

static int set_live_text(live_params *live, unsigned char *given, int li, const char *value,
                         char *err, size_t errlen)
{
    const live_key *k = live_key_at(li);
    double v;
    int b;
    if (k->type == LIVE_BOOLEAN) {
        if (parse_bool(value, &b)) {
            snprintf(err, errlen, "%s must be true or false, not '%s'", k->name, value);
            return -1;
        }
        v = b;
    } else if (parse_double(value, &v)) {
        snprintf(err, errlen, "%s must be a number, not '%s'", k->name, value);
        return -1;
    }
    if (live_check(li, v, err, errlen))
        return -1;
    live_set(live, li, v);
    if (given)
        given[li] = 1;
    return 0;
}

/* An integer config value in [lo, hi], or an error naming the key. */
static int parse_key_long(const char *key, const char *value, long lo, long hi, long *v,
                          char *err, size_t errlen)
{
    if (parse_long(value, lo, hi, v) == 0)
        return 0;
    snprintf(err, errlen, "%s must be an integer in %ld..%ld, not '%s'", key, lo, hi, value);
    return -1;
}

int config_set(config *c, const char *key, const char *value, char *err, size_t errlen)
{
    int li = live_key_find(key);
    if (li >= 0)
        return set_live_text(&c->live, c->live_given, li, value, err, errlen);
    for (size_t i = 0; i < sizeof int_keys / sizeof int_keys[0]; i++) {
        const int_key *k = &int_keys[i];
        if (strcmp(k->name, key))
            continue;
        long v;
        if (parse_key_long(key, value, k->lo, k->hi, &v, err, errlen))
            return -1;
        if (k->is_long)
            *(long *)(void *)((char *)c + k->offset) = v;
        else
            *(int *)(void *)((char *)c + k->offset) = (int)v;
        return 0;
    }
    for (size_t i = 0; i < sizeof arch_keys / sizeof arch_keys[0]; i++) {
        const arch_key *k = &arch_keys[i];
        if (strcmp(k->name, key))
            continue;
        long v;
        if (parse_key_long(key, value, k->lo, k->hi, &v, err, errlen))
            return -1;
        arch_store(&c->arch, k->flag, (int)v);
        c->arch_set |= k->flag;
        return 0;
    }
    if (!strcmp(key, "listen")) {
        char host[256];
        int port;
        if (config_split_listen(value, host, sizeof host, &port, err, errlen))
            return -1;
        snprintf(c->listen, sizeof c->listen, "%s", value);
        return 0;
    }
    if (!strcmp(key, "state_dir"))
        return set_path(c->state_dir, sizeof c->state_dir, key, value, 0, err, errlen);
    if (!strcmp(key, "data"))
        return set_path(c->data, sizeof c->data, key, value, 0, err, errlen);
    if (!strcmp(key, "web_dir"))
        return set_path(c->web_dir, sizeof c->web_dir, key, value, 0, err, errlen);
    if (!strcmp(key, "auth_token_file"))
        return set_path(c->auth_token_file, sizeof c->auth_token_file, key, value, 1, err, errlen);
    if (!strcmp(key, "preset")) {
        gan_config tmp;
        char perr[128];
        if (gan_config_preset(&tmp, value, perr, sizeof perr)) {
            snprintf(err, errlen, "preset: %s", perr);
            return -1;
        }
        snprintf(c->preset, sizeof c->preset, "%s", value);
        return 0;
    }
    if (!strcmp(key, "seed") || !strcmp(key, "sample_seed")) {
        uint64_t v;
        if (parse_u64(value, &v)) {
            snprintf(err, errlen, "%s must be a non-negative integer, not '%s'", key, value);
            return -1;
        }
        *(!strcmp(key, "seed") ? &c->seed : &c->sample_seed) = v;
        return 0;
    }
    if (!strcmp(key, "auth_reads")) {
        if (parse_bool(value, &c->auth_reads)) {
            snprintf(err, errlen, "auth_reads must be true or false, not '%s'", value);
            return -1;
        }
        return 0;
    }
    if (!strcmp(key, "snapshot_interval")) {
        double v;
        if (parse_double(value, &v) || v < 0 || v > 3600) {
            snprintf(err, errlen, "snapshot_interval must be seconds in 0..3600, not '%s'", value);
            return -1;
        }
        c->snapshot_interval = v;
        return 0;
    }
    snprintf(err, errlen, "unknown key '%s'", key);
    return -1;
}

/* Calls fn(key, value) for every setting line of path; errors are prefixed FILE:LINE. */
static int each_line(const char *path, int (*fn)(void *ctx, const char *key, const char *value,
                                                 char *err, size_t errlen),
                     void *ctx, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n' && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno);
            rc = -1;
            break;
        }
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        char *e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
            *--e = 0;
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'key = value'", path, lineno);
            rc = -1;
            break;
        }
        char *k = s, *ke = eq;
        while (ke > k && isspace((unsigned char)ke[-1]))
            ke--;
        *ke = 0;
        char *v = eq + 1;
        while (isspace((unsigned char)*v))
            v++;
        size_t vl = strlen(v);
        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
            v[vl - 1] = 0;
            v++;
        }
        char kerr[512];
        if (fn(ctx, k, v, kerr, sizeof kerr)) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, kerr);
            rc = -1;
            break;
        }
    }
    if (!rc && ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        rc = -1;
    }
    fclose(f);
    return rc;
}

static int set_any(void *ctx, const char *key, const char *value, char *err, size_t errlen)
{
    return config_set(ctx, key, value, err, errlen);
}

int config_load_file(config *c, const char *path, char *err, size_t errlen)
{
    return each_line(path, set_any, c, err, errlen);
}

typedef struct {
    live_params *live;
    unsigned char *given;
    config scratch;  /* checks the non-live keys so a typo is still reported */
} live_ctx;

static int set_live_only(void *ctx, const char *key, const char *value, char *err, size_t errlen)
{
    live_ctx *lc = ctx;
    int li = live_key_find(key);
    if (li >= 0)
        return set_live_text(lc->live, lc->given, li, value, err, errlen);
    return config_set(&lc->scratch, key, value, err, errlen);
}

int config_load_live(const char *path, live_params *live, unsigned char given[LIVE_KEY_COUNT],
                     char *err, size_t errlen)
{
    live_ctx *lc = malloc(sizeof *lc);
    if (!lc) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    live_params tmp = *live;
    unsigned char g[LIVE_KEY_COUNT] = {0};
    lc->live = &tmp;
    lc->given = g;
    config_default(&lc->scratch);
    int rc = each_line(path, set_live_only, lc, err, errlen);
    free(lc);
    if (rc)
        return -1;
    *live = tmp;
    memcpy(given, g, sizeof g);
    return 0;
}

int config_arch(const config *c, gan_config *out, char *err, size_t errlen)
{
    if (gan_config_preset(out, c->preset, err, errlen))
        return -1;
    for (size_t i = 0; i < sizeof arch_keys / sizeof arch_keys[0]; i++) {
        unsigned f = arch_keys[i].flag;
        if (!(c->arch_set & f))
            continue;
        int v = f == CONFIG_ARCH_LEVELS ? c->arch.levels
              : f == CONFIG_ARCH_BASE ? c->arch.base
              : f == CONFIG_ARCH_FC_WIDTH ? c->arch.fc_width
              : f == CONFIG_ARCH_ZPRED_WIDTH ? c->arch.zpred_width
              : f == CONFIG_ARCH_MB_KERNELS ? c->arch.mb_kernels : c->arch.mb_dims;
        arch_store(out, f, v);
    }
    if (c->arch_set)
        snprintf(out->preset, sizeof out->preset, "custom");
    return gan_config_validate(out, err, errlen);
}

int config_finish(config *c, char *err, size_t errlen)
{
    live_params d;
    live_default(&d, c->preset);
    for (int i = 0; i < LIVE_KEY_COUNT; i++)
        if (!c->live_given[i])
            live_set(&c->live, i, live_get(&d, i));
    const char *field = NULL;
    char herr[256];
    if (gan_hparams_validate(&c->live.hp, &field, herr, sizeof herr)) {
        snprintf(err, errlen, "%s: %s", field ? field : "hyperparameters", herr);
        return -1;
    }
    gan_config arch;
    return config_arch(c, &arch, err, errlen);
}

int config_split_listen(const char *listen, char *host, size_t hostlen, int *port, char *err,
                        size_t errlen)
{
    const char *colon;
    const char *h = listen;
    size_t hl;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':') {
            snprintf(err, errlen, "listen: expected [IPV6]:PORT, not '%s'", listen);
            return -1;
        }
        h = listen + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon || strchr(listen, ':') != colon) {
            snprintf(err, errlen, "listen: expected ADDRESS:PORT, not '%s'", listen);
            return -1;
        }
        hl = (size_t)(colon - listen);
    }
    long p;
    if (hl == 0 || hl >= hostlen || parse_long(colon + 1, 0, 65535, &p)) {
        snprintf(err, errlen, "listen: expected ADDRESS:PORT with a port in 0..65535, not '%s'",
                 listen);
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = 0;
    *port = (int)p;
    return 0;
}
