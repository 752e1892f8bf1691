/* cli/train.c: `illgan train`, headless training for scripts, benchmarks and smoke runs.
 *
 * Trains on a folder of images (or the built-in synthetic set), prints a progress line
 * every few steps, and writes OUT/checkpoint.ckpt (the previous one kept as
 * OUT/checkpoint.prev.ckpt) and a sample grid OUT/samples-STEP.png at every
 * --checkpoint-every steps and at the end. Ctrl-C stops at the next iteration boundary and
 * still writes both. */
#include <cblas.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "illgan/data.h"
#include "illgan/gan.h"
#include "illgan/util.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: illgan train [OPTIONS]\n"
        "\n"
        "Train the GAN without a server. Runs --steps iterations (each: D step, z-predictor\n"
        "step, G step), printing progress, and writes OUT/checkpoint.ckpt and a sample grid\n"
        "OUT/samples-STEP.png every --checkpoint-every steps and at the end.\n"
        "\n"
        "  --preset NAME          illustrationgan (64x64, the original), small (64x64, the\n"
        "                         default) or tiny (32x32)\n"
        "  --data DIR             folder of SIDExSIDE images (see `illgan prepare`); without it,\n"
        "                         a built-in synthetic set of coloured shapes\n"
        "  --steps N              iterations to run in this invocation (default 100)\n"
        "  --out DIR              where checkpoints and grids go (default ./train-out)\n"
        "  --seed S               seed of initialisation, z draws, dropout, data order (default 1)\n"
        "  --batch B              batch size (default: the preset's, 32 or 16 for tiny)\n"
        "  --resume               continue from OUT/checkpoint.ckpt (its sizes, hyperparameters,\n"
        "                         random state and data position), exactly where it stopped\n"
        "  --checkpoint-every K   also checkpoint every K steps (default 0: only at the end)\n"
        "  --log-every K          progress line every K steps (default 10)\n"
        "  --threads T            BLAS threads (default: all cores)\n"
        "  --lr-d X, --lr-g X, --lr-z X   Adam learning rates (default 2e-4)\n"
        "  --no-zpred             switch the z-predictor off (the ablation)\n"
        "custom sizes (override the preset's):\n"
        "  --levels L             upsampling blocks; image side = 4 * 2^L\n"
        "  --base F               filter base of G and D\n"
        "  --fc-width W           width of G's and D's fully connected layers\n"
        "  --zpred-width W        width of the z-predictor's hidden layers\n"
        "  -h, --help             this text\n");
}

typedef struct {
    const char *preset, *data, *out;
    long steps, checkpoint_every, log_every, threads, batch;
    long levels, base, fc_width, zpred_width;
    double lr_d, lr_g, lr_z;
    uint64_t seed;
    int resume, no_zpred;
} options;

enum {
    OPT_PRESET = 256, OPT_DATA, OPT_STEPS, OPT_OUT, OPT_SEED, OPT_BATCH, OPT_RESUME,
    OPT_CKPT_EVERY, OPT_LOG_EVERY, OPT_THREADS, OPT_LR_D, OPT_LR_G, OPT_LR_Z, OPT_NO_ZPRED,
    OPT_LEVELS, OPT_BASE, OPT_FC_WIDTH, OPT_ZPRED_WIDTH,
};

static int parse(int argc, char **argv, options *o)
{
    static const struct option longopts[] = {
        {"preset", required_argument, 0, OPT_PRESET},
        {"data", required_argument, 0, OPT_DATA},
        {"steps", required_argument, 0, OPT_STEPS},
        {"out", required_argument, 0, OPT_OUT},
        {"seed", required_argument, 0, OPT_SEED},
        {"batch", required_argument, 0, OPT_BATCH},
        {"resume", no_argument, 0, OPT_RESUME},
        {"checkpoint-every", required_argument, 0, OPT_CKPT_EVERY},
        {"log-every", required_argument, 0, OPT_LOG_EVERY},
        {"threads", required_argument, 0, OPT_THREADS},
        {"lr-d", required_argument, 0, OPT_LR_D},
        {"lr-g", required_argument, 0, OPT_LR_G},
        {"lr-z", required_argument, 0, OPT_LR_Z},
        {"no-zpred", no_argument, 0, OPT_NO_ZPRED},
        {"levels", required_argument, 0, OPT_LEVELS},
        {"base", required_argument, 0, OPT_BASE},
        {"fc-width", required_argument, 0, OPT_FC_WIDTH},
        {"zpred-width", required_argument, 0, OPT_ZPRED_WIDTH},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    *o = (options){.out = "train-out", .steps = 100, .log_every = 10, .seed = 1,
                   .lr_d = -1, .lr_g = -1, .lr_z = -1};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case OPT_PRESET: o->preset = optarg; break;
        case OPT_DATA: o->data = optarg; break;
        case OPT_OUT: o->out = optarg; break;
        case OPT_STEPS: bad = args_int(optarg, "--steps", 0, 1000000000, &o->steps); break;
        case OPT_SEED: bad = args_u64(optarg, "--seed", &o->seed); break;
        case OPT_BATCH: bad = args_int(optarg, "--batch", 2, 1024, &o->batch); break;
        case OPT_RESUME: o->resume = 1; break;
        case OPT_CKPT_EVERY:
            bad = args_int(optarg, "--checkpoint-every", 0, 1000000000, &o->checkpoint_every);
            break;
        case OPT_LOG_EVERY: bad = args_int(optarg, "--log-every", 1, 1000000000, &o->log_every); break;
        case OPT_THREADS: bad = args_int(optarg, "--threads", 1, 1024, &o->threads); break;
        case OPT_LR_D: bad = args_float(optarg, "--lr-d", 1e-12, 1, &o->lr_d); break;
        case OPT_LR_G: bad = args_float(optarg, "--lr-g", 1e-12, 1, &o->lr_g); break;
        case OPT_LR_Z: bad = args_float(optarg, "--lr-z", 1e-12, 1, &o->lr_z); break;
        case OPT_NO_ZPRED: o->no_zpred = 1; break;
        case OPT_LEVELS: bad = args_int(optarg, "--levels", 1, 6, &o->levels); break;
        case OPT_BASE: bad = args_int(optarg, "--base", 1, 1024, &o->base); break;
        case OPT_FC_WIDTH: bad = args_int(optarg, "--fc-width", 1, 16384, &o->fc_width); break;
        case OPT_ZPRED_WIDTH:
            bad = args_int(optarg, "--zpred-width", 1, 16384, &o->zpred_width);
            break;
        case 'h': usage(stdout); return 1;
        default:
            fprintf(stderr, "illgan train: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
        if (bad)
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "illgan train: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return 0;
}

static int custom_sizes(const options *o)
{
    return o->levels || o->base || o->fc_width || o->zpred_width;
}

/* A new model from the options, or the checkpoint's with --resume. */
static int make_model(const options *o, const char *ckpt, gan **g, char *err, size_t errlen)
{
    if (o->resume) {
        if (gan_checkpoint_load(g, ckpt, err, errlen))
            return -1;
        const gan_config *have = gan_get_config(*g);
        if (o->preset && !custom_sizes(o) && strcmp(o->preset, have->preset)) {
            snprintf(err, errlen, "%s was written for preset '%s', not '%s'", ckpt, have->preset,
                     o->preset);
            return -1;
        }
        if ((o->levels && o->levels != have->levels) || (o->base && o->base != have->base) ||
            (o->fc_width && o->fc_width != have->fc_width) ||
            (o->zpred_width && o->zpred_width != have->zpred_width)) {
            snprintf(err, errlen, "%s was written for other sizes (levels %d, base %d, "
                     "fc-width %d, zpred-width %d)", ckpt, have->levels, have->base,
                     have->fc_width, have->zpred_width);
            return -1;
        }
        return 0;
    }
    gan_config cfg;
    const char *preset = o->preset ? o->preset : "small";
    if (gan_config_preset(&cfg, preset, err, errlen))
        return -1;
    if (custom_sizes(o)) {
        snprintf(cfg.preset, sizeof cfg.preset, "custom");
        if (o->levels) cfg.levels = (int)o->levels;
        if (o->base) cfg.base = (int)o->base;
        if (o->fc_width) cfg.fc_width = (int)o->fc_width;
        if (o->zpred_width) cfg.zpred_width = (int)o->zpred_width;
    }
    gan_hparams hp;
    gan_hparams_default(&hp, preset);
    return gan_init(g, &cfg, &hp, o->seed, err, errlen);
}

/* Options that change hyperparameters apply to new and resumed runs alike. */
static int apply_overrides(const options *o, gan *g, char *err, size_t errlen)
{
    gan_hparams hp = *gan_get_hparams(g);
    if (o->batch) hp.batch_size = (int)o->batch;
    if (o->lr_d > 0) hp.lr_d = (float)o->lr_d;
    if (o->lr_g > 0) hp.lr_g = (float)o->lr_g;
    if (o->lr_z > 0) hp.lr_z = (float)o->lr_z;
    if (o->no_zpred) hp.zpred = 0;
    return gan_set_hparams(g, &hp, err, errlen);
}

static int save_outputs(gan *g, const char *out, const char *ckpt, char *err, size_t errlen)
{
    if (cli_checkpoint_rotate(g, ckpt, err, errlen))
        return -1;
    char grid[4096];
    snprintf(grid, sizeof grid, "%s/samples-%06ld.png", out, gan_step(g));
    return cli_write_grid(g, grid, 16, 1, err, errlen);
}


int cli_train(int argc, char **argv)
{
    options o;
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (o.threads)
        openblas_set_num_threads((int)o.threads);
    if (mkdir(o.out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "illgan train: cannot create %s: %s\n", o.out, strerror(errno));
        return 1;
    }
    char ckpt[4096], err[512];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.ckpt", o.out);

    gan *g = NULL;
    dataset ds = {0};
    if (make_model(&o, ckpt, &g, err, sizeof err) || apply_overrides(&o, g, err, sizeof err)) {
        fprintf(stderr, "illgan train: %s\n", err);
        gan_free(g);
        return 1;
    }
    const gan_config *cfg = gan_get_config(g);
    const int side = gan_config_side(cfg);
    rc = o.data ? dataset_load(&ds, o.data, side, err, sizeof err)
                : dataset_synthetic(&ds, 1024, side, 7, err, sizeof err);
    if (rc) {
        fprintf(stderr, "illgan train: %s\n", err);
        gan_free(g);
        return 1;
    }
    size_t gc, zc, dc;
    gan_param_counts(g, &gc, &zc, &dc);
    printf("illgan train: preset %s, %dx%d, batch %d, %s %ld; G %.2fM, Z %.2fM, D %.2fM "
           "parameters; data: %s (%d images)\n",
           cfg->preset, side, side, gan_get_hparams(g)->batch_size,
           o.resume ? "resuming at step" : "seed", o.resume ? gan_step(g) : (long)o.seed,
           gc / 1e6, zc / 1e6, dc / 1e6, o.data ? o.data : "built-in synthetic shapes",
           ds.count);
    fflush(stdout);

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    double window_start = util_mono_seconds();
    long window_steps = 0, last_saved = -1;
    rc = 0;
    for (long i = 0; i < o.steps && !stop_requested; i++) {
        gan_stats st;
        if (gan_train_iteration(g, &ds, &st, err, sizeof err)) {
            fprintf(stderr, "illgan train: %s\n", err);
            rc = 1;
            break;
        }
        window_steps++;
        long step = gan_step(g);
        if (step % o.log_every == 0 || i == o.steps - 1) {
            double t = util_mono_seconds();
            double ips = window_steps * gan_get_hparams(g)->batch_size / (t - window_start);
            printf("step %6ld  loss_d %.4f  loss_g %.4f  loss_z %.4f  D(x) %.3f  D(G(z)) %.3f  "
                   "%.1f img/s\n",
                   step, st.loss_d, st.loss_g, st.loss_z, st.d_real, st.d_fake, ips);
            fflush(stdout);
            window_start = t;
            window_steps = 0;
        }
        if (o.checkpoint_every && step % o.checkpoint_every == 0) {
            if (save_outputs(g, o.out, ckpt, err, sizeof err)) {
                fprintf(stderr, "illgan train: %s\n", err);
                rc = 1;
                break;
            }
            last_saved = step;
        }
    }
    if (rc == 0 && last_saved != gan_step(g)) {
        if (save_outputs(g, o.out, ckpt, err, sizeof err)) {
            fprintf(stderr, "illgan train: %s\n", err);
            rc = 1;
        }
    }
    if (rc == 0)
        printf("illgan train: step %ld, checkpoint %s\n", gan_step(g), ckpt);
    dataset_free(&ds);
    gan_free(g);
    return rc;
}
