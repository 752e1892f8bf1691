/* gan/config.c: the architecture presets of docs/MODEL.md and the training
 * hyperparameters, with the range checks that every other entry point relies on. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gan/internal.h"

typedef struct {
    const char *name;
    int levels, base, fc_width, zpred_width, batch;
} preset;

static const preset presets[] = {
    {"illustrationgan", 4, 64, 1024, 1024, 32},
    {"small", 4, 16, 512, 512, 32},
    {"tiny", 3, 8, 128, 128, 16},
};

static const preset *find_preset(const char *name)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (!strcmp(presets[i].name, name))
            return &presets[i];
    return NULL;
}

int gan_config_preset(gan_config *c, const char *name, char *err, size_t errlen)
{
    const preset *p = find_preset(name);
    if (!p) {
        snprintf(err, errlen, "unknown preset '%s' (illustrationgan, small or tiny)", name);
        return -1;
    }
    memset(c, 0, sizeof *c);
    snprintf(c->preset, sizeof c->preset, "%s", p->name);
    c->levels = p->levels;
    c->base = p->base;
    c->fc_width = p->fc_width;
    c->zpred_width = p->zpred_width;
    c->mb_kernels = 100;
    c->mb_dims = 5;
    return 0;
}

static int check_int(const char *name, int v, int lo, int hi, char *err, size_t errlen)
{
    if (v >= lo && v <= hi)
        return 0;
    snprintf(err, errlen, "%s must be in %d..%d, not %d", name, lo, hi, v);
    return -1;
}

int gan_config_validate(const gan_config *c, char *err, size_t errlen)
{
    if (check_int("levels", c->levels, 1, GAN_MAX_LEVELS, err, errlen) ||
        check_int("base", c->base, 1, 1024, err, errlen) ||
        check_int("fc_width", c->fc_width, 1, 16384, err, errlen) ||
        check_int("zpred_width", c->zpred_width, 1, 16384, err, errlen) ||
        check_int("mb_kernels", c->mb_kernels, 1, 1024, err, errlen) ||
        check_int("mb_dims", c->mb_dims, 1, 64, err, errlen))
        return -1;
    /* The widest layer has base * 2^(levels-1) channels: keep tensor sizes in int range. */
    long c0 = (long)c->base << (c->levels - 1);
    if (c0 > 4096) {
        snprintf(err, errlen, "base * 2^(levels-1) = %ld channels is too wide (at most 4096)",
                 c0);
        return -1;
    }
    return 0;
}

int gan_config_side(const gan_config *c)
{
    return 4 << c->levels;
}

void gan_hparams_default(gan_hparams *hp, const char *preset_name)
{
    const preset *p = find_preset(preset_name ? preset_name : "");
    hp->lr_d = hp->lr_g = hp->lr_z = 2e-4f;
    hp->beta1 = 0.5f;
    hp->beta2 = 0.999f;
    hp->d_steps = 1;
    hp->g_steps = 1;
    hp->zpred = 1;
    hp->dropout_keep = 0.5f;
    hp->flip_prob = 0.5f;
    hp->batch_size = p ? p->batch : 16;
}

static int check_float(const char *name, float v, float lo, float hi, int lo_open,
                       const char **field, char *err, size_t errlen)
{
    if (isfinite(v) && (lo_open ? v > lo : v >= lo) && v <= hi)
        return 0;
    *field = name;
    snprintf(err, errlen, "%s must be in %s%g, %g], not %g", name, lo_open ? "(" : "[",
             (double)lo, (double)hi, (double)v);
    return -1;
}

static int check_count(const char *name, int v, int lo, int hi, const char **field,
                       char *err, size_t errlen)
{
    if (check_int(name, v, lo, hi, err, errlen) == 0)
        return 0;
    *field = name;
    return -1;
}

int gan_hparams_validate(const gan_hparams *hp, const char **field, char *err, size_t errlen)
{
    const char *unused;
    if (!field)
        field = &unused;
    *field = NULL;
    if (check_float("lr_d", hp->lr_d, 0, 1, 1, field, err, errlen) ||
        check_float("lr_g", hp->lr_g, 0, 1, 1, field, err, errlen) ||
        check_float("lr_z", hp->lr_z, 0, 1, 1, field, err, errlen) ||
        check_float("beta1", hp->beta1, 0, 0.9999f, 0, field, err, errlen) ||
        check_float("beta2", hp->beta2, 0, 0.99999f, 0, field, err, errlen) ||
        check_count("d_steps", hp->d_steps, 1, 100, field, err, errlen) ||
        check_count("g_steps", hp->g_steps, 1, 100, field, err, errlen) ||
        check_count("zpred", hp->zpred, 0, 1, field, err, errlen) ||
        check_float("dropout_keep", hp->dropout_keep, 0, 1, 1, field, err, errlen) ||
        check_float("flip_prob", hp->flip_prob, 0, 1, 0, field, err, errlen) ||
        check_count("batch_size", hp->batch_size, 2, 1024, field, err, errlen))
        return -1;
    return 0;
}
