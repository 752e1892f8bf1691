/* trainer: the thread that owns the model and trains it without end.
 *
 * Only the trainer thread touches the `gan`. Other threads talk to it in two ways:
 *  - commands (pause, resume, checkpoint, stop, change live parameters) are queued and
 *    applied between two iterations; each call blocks until the trainer has acted and
 *    returns what it did, so an HTTP reply can state the result;
 *  - reads: trainer_status copies a small mutex-guarded record, and generator snapshots
 *    (immutable, reference-counted) let any number of threads render images while the
 *    trainer keeps training and publishes newer snapshots.
 * It stores metrics in batches (one transaction per second or per 256 rows), a sample grid
 * of fixed z every sample_every iterations, and checkpoints every checkpoint_every
 * iterations, on request and at stop, keeping the newest `keep` files; the events it causes
 * (pause, resume, hparams, checkpoint, stop, error) go to the database and the log.
 *
 * Command functions return 0 on success, -1 with err when the action failed (nothing
 * changed), TRAINER_STOPPING when the trainer is stopping or stopped and refuses commands. */
#ifndef ILLGAN_TRAINER_H
#define ILLGAN_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include "illgan/config.h"
#include "illgan/data.h"
#include "illgan/gan.h"
#include "illgan/log.h"

#define TRAINER_STOPPING (-2)

typedef enum { TRAINER_TRAINING, TRAINER_PAUSED, TRAINER_STOPPED_STATE } trainer_state_id;

typedef struct {
    char checkpoint_dir[CONFIG_PATH_MAX];
    int checkpoint_keep;           /* >= 2 */
    char db_path[CONFIG_PATH_MAX]; /* the trainer opens its own connection */
    long run_id;
    int sample_n;
    uint64_t sample_seed;
    double snapshot_interval;      /* seconds between snapshots published on demand */
    double train_seconds;          /* training time of the history before this process */
    int metrics_every, sample_every, checkpoint_every;
    int start_paused;
    logger *log;                   /* may be NULL */
} trainer_options;

typedef struct {
    long step;
    double time;                   /* Unix seconds */
    char path[CONFIG_PATH_MAX];
    long bytes;
} trainer_checkpoint_info;

typedef struct {
    const char *state;             /* "training", "paused", "stopping" */
    long step;
    int have_stats;
    gan_stats stats;               /* of the latest iteration */
    double iterations_per_second;  /* NaN before the first iteration of this process */
    double images_per_second;
    live_params live;
    int have_checkpoint;
    trainer_checkpoint_info checkpoint;
    long snapshot_step;            /* -1: none yet */
    double macs_per_iteration;     /* at the current batch size and step ratios */
    double train_seconds;          /* whole history, pauses excluded */
    double process_train_seconds;
    long process_iterations, process_images, process_checkpoints;
    double last_alive;             /* CLOCK_MONOTONIC seconds of the last sign of life */
    int finished;                  /* the thread has exited */
} trainer_status;

typedef struct trainer trainer;

/* Starts the thread. On success the trainer owns g (freed by trainer_free); ds must
 * outlive the trainer. A first snapshot is published before this returns. The newest
 * checkpoint already on disk, if any, can be announced with last_ckpt (may be NULL). */
int trainer_start(trainer **out, gan *g, const dataset *ds, const trainer_options *o,
                  const trainer_checkpoint_info *last_ckpt, char *err, size_t errlen);
/* Stops the thread if it still runs (without a checkpoint: call trainer_stop for one),
 * joins it and frees everything. NULL-safe. */
void trainer_free(trainer *t);

int trainer_pause(trainer *t, const char **state, long *step, char *err, size_t errlen);
int trainer_resume(trainer *t, const char **state, long *step, char *err, size_t errlen);
/* Checkpoints now (also while paused); the event records reason "request". */
int trainer_checkpoint(trainer *t, trainer_checkpoint_info *info, char *err, size_t errlen);
/* Checkpoints, then ends the thread; reason goes to the log and the stop event. */
int trainer_stop(trainer *t, const char *reason, trainer_checkpoint_info *info, char *err,
                 size_t errlen);
/* Sets the live keys i with mask[i] != 0 to their values in *values (already checked with
 * live_check by the caller), on top of the trainer's current values, so concurrent changes
 * of different keys never undo each other. One event per key whose value changed, with
 * source ("http" or "config"). *old receives all values before, *now all values after,
 * *effective_step the first iteration trained with them. Any of the three may be NULL. */
int trainer_set_live(trainer *t, const live_params *values,
                     const unsigned char mask[LIVE_KEY_COUNT], const char *source,
                     live_params *old, live_params *now, long *effective_step, char *err,
                     size_t errlen);

void trainer_get_status(trainer *t, trainer_status *st);

/* Snapshots: acquire returns the newest (NULL when none), which stays valid until
 * released, whatever the trainer publishes meanwhile. Acquiring a snapshot older than the
 * model asks the trainer for a fresh one (at most one per snapshot_interval). */
typedef struct trainer_snapshot trainer_snapshot;
trainer_snapshot *trainer_snapshot_acquire(trainer *t);
void trainer_snapshot_release(trainer_snapshot *s);
const gan_snapshot *trainer_snapshot_get(const trainer_snapshot *s);

/* ---- checkpoint files ---------------------------------------------------------------
 * Checkpoints are DIR/ckpt-<12-digit step>.bin. */

typedef struct {
    char path[CONFIG_PATH_MAX];
    char error[256];
} trainer_load_failure;

typedef struct {
    int found;                         /* checkpoint files seen */
    int failed;                        /* newer files that could not be loaded */
    trainer_load_failure failures[4];  /* the first ones */
    trainer_checkpoint_info used;      /* valid when *g was set */
} trainer_load_report;

/* Loads the newest loadable checkpoint in dir into *g (NULL when there is none at all);
 * damaged newer ones are skipped and reported. -1 only when files exist and none loads,
 * or dir cannot be read. */
int trainer_load_newest(const char *dir, gan **g, trainer_load_report *rep, char *err,
                        size_t errlen);

#endif
