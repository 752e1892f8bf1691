/* config: the daemon's settings and the table of "live" keys.
 *
 * Settings come from a config file (`key = value` lines, see etc/illgan.conf) and then from
 * command-line flags, which go through the same config_set and so the same checks. The live
 * keys (hyperparameters and the metrics/sample/checkpoint intervals) may also change while
 * the daemon runs, over HTTP (PATCH /api/hparams) or by SIGHUP; their names, types and
 * ranges live in one table here so that the config file, the HTTP API and its schema can
 * never disagree.
 *
 * Nothing here allocates or keeps global mutable state; functions that can fail return 0,
 * or -1 with a message in err. */
#ifndef ILLGAN_CONFIG_H
#define ILLGAN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "illgan/gan.h"

#define CONFIG_PATH_MAX 1024

/* Everything that may change between two iterations. */
typedef struct {
    gan_hparams hp;
    int metrics_every;     /* store a metrics row every N iterations (>= 1) */
    int sample_every;      /* store a sample grid every N iterations (0: never) */
    int checkpoint_every;  /* checkpoint every N iterations (0: only on request/stop) */
} live_params;

typedef enum { LIVE_NUMBER, LIVE_INTEGER, LIVE_BOOLEAN } live_type;

/* One live key: its JSON/config name, type and closed or open range. */
typedef struct {
    const char *name;
    live_type type;
    double min, max;
    int exclusive_min, exclusive_max;
    const char *help;
} live_key;

#define LIVE_KEY_COUNT 14

const live_key *live_key_at(int i);          /* 0 <= i < LIVE_KEY_COUNT */
int live_key_find(const char *name);         /* index, or -1 */
/* The value of key i (booleans as 0/1). */
double live_get(const live_params *p, int i);
/* Checks v against key i's type (integers and booleans must be whole) and range. */
int live_check(int i, double v, char *err, size_t errlen);
/* Sets key i to v, which live_check accepted. */
void live_set(live_params *p, int i, double v);
/* Defaults: gan_hparams_default for the preset, metrics_every 1, sample_every 100,
 * checkpoint_every 500. */
void live_default(live_params *p, const char *preset);
/* The shortest decimal that reads back as the same float, as a double: 2e-4f becomes
 * 0.0002, not 0.000199999995, in JSON, logs and the database. */
double live_float_decimal(float f);
/* Formats key i's value of p for logs and events ("0.0002", "16", "true"). */
void live_format(const live_params *p, int i, char *buf, size_t len);

/* Architecture keys that override the preset when given. */
enum {
    CONFIG_ARCH_LEVELS = 1u << 0,
    CONFIG_ARCH_BASE = 1u << 1,
    CONFIG_ARCH_FC_WIDTH = 1u << 2,
    CONFIG_ARCH_ZPRED_WIDTH = 1u << 3,
    CONFIG_ARCH_MB_KERNELS = 1u << 4,
    CONFIG_ARCH_MB_DIMS = 1u << 5
};

typedef struct {
    char listen[256];                  /* ADDR:PORT, [V6ADDR]:PORT; port 0 picks one */
    char state_dir[CONFIG_PATH_MAX];   /* database, checkpoints, port file */
    char data[CONFIG_PATH_MAX];        /* image folder, or "synthetic" */
    int synthetic_count;               /* images in the synthetic set */
    char web_dir[CONFIG_PATH_MAX];     /* dashboard files */
    char preset[32];
    gan_config arch;                   /* only the fields flagged in arch_set are used */
    unsigned arch_set;
    uint64_t seed;                     /* model initialisation seed of a new run */
    char auth_token_file[CONFIG_PATH_MAX];  /* "" = no token */
    int auth_reads;                    /* the token also guards reads */
    long max_body_bytes;
    int max_connections;
    int connection_timeout;            /* seconds of client inactivity */
    int max_generate;                  /* concurrent image generations */
    int sample_n;                      /* images in each stored sample grid */
    uint64_t sample_seed;              /* z of the stored sample grids */
    double snapshot_interval;          /* minimum seconds between generator snapshots */
    int checkpoint_keep;               /* checkpoint files kept (>= 2) */
    int watchdog_progress;             /* seconds without progress before WATCHDOG stops */
    live_params live;
    unsigned char live_given[LIVE_KEY_COUNT];  /* set explicitly (file or flag) */
} config;

void config_default(config *c);
/* Sets one key from its text form, checking type and range. */
int config_set(config *c, const char *key, const char *value, char *err, size_t errlen);
/* Reads `key = value` lines ('#' starts a comment line); errors say FILE:LINE. */
int config_load_file(config *c, const char *path, char *err, size_t errlen);
/* Fills what depends on other keys (batch size from the preset when not given) and checks
 * combinations. Call once after the file and the flags. */
int config_finish(config *c, char *err, size_t errlen);
/* The architecture to build: the preset with the explicitly given keys on top. */
int config_arch(const config *c, gan_config *out, char *err, size_t errlen);
/* Reads only the live keys of a config file into *live (starting from its current values)
 * and marks in given[] those the file sets; for SIGHUP. */
int config_load_live(const char *path, live_params *live, unsigned char given[LIVE_KEY_COUNT],
                     char *err, size_t errlen);

/* Splits "host:port" / "[v6]:port" into host and port; 0 or -1. */
int config_split_listen(const char *listen, char *host, size_t hostlen, int *port, char *err,
                        size_t errlen);

#endif
