/* gan/checkpoint.c: one file holds everything needed to resume training exactly.
 *
 * Layout (little-endian; docs/CHECKPOINT.md is the reference for other tools): a fixed
 * 256-byte header, the float32 arrays in a fixed order, then a CRC-32 (zlib's polynomial)
 * of every byte before it. Saving writes PATH.tmp, fsyncs it, renames it over PATH and
 * fsyncs the folder, so a crash leaves either the old file or the new one, never half of
 * one. Loading checks magic, version, sizes against the header's configuration, the
 * file's length and the checksum before it hands out a model. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "gan/internal.h"

#define CKPT_MAGIC "ILLGANCK"
#define CKPT_VERSION 1u
#define CKPT_HEADER 256

/* ---- header encoding ------------------------------------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t at;
} cursor;

static void put(cursor *c, const void *v, size_t n)
{
    memcpy(c->p + c->at, v, n);
    c->at += n;
}
static void put_u32(cursor *c, uint32_t v) { put(c, &v, 4); }
static void put_i32(cursor *c, int32_t v) { put(c, &v, 4); }
static void put_f32(cursor *c, float v) { put(c, &v, 4); }
static void put_u64(cursor *c, uint64_t v) { put(c, &v, 8); }

static void get(cursor *c, void *v, size_t n)
{
    memcpy(v, c->p + c->at, n);
    c->at += n;
}
static uint32_t get_u32(cursor *c) { uint32_t v; get(c, &v, 4); return v; }
static int32_t get_i32(cursor *c) { int32_t v; get(c, &v, 4); return v; }
static float get_f32(cursor *c) { float v; get(c, &v, 4); return v; }
static uint64_t get_u64(cursor *c) { uint64_t v; get(c, &v, 8); return v; }

typedef struct {
    gan_config cfg;
    gan_hparams hp;
    long step, t_g, t_d, t_z;
    nn_rng rng;
    uint64_t sampler_seed, sampler_epoch, sampler_pos;
    uint64_t g_count, z_count, d_count, fc_count;
    uint64_t ref_seed;
} header;

static void encode_header(uint8_t buf[CKPT_HEADER], const header *h)
{
    memset(buf, 0, CKPT_HEADER);
    cursor c = {buf, 0};
    put(&c, CKPT_MAGIC, 8);
    put_u32(&c, CKPT_VERSION);
    put_u32(&c, CKPT_HEADER);
    char name[32] = {0};
    snprintf(name, sizeof name, "%s", h->cfg.preset);
    put(&c, name, 32);
    put_i32(&c, h->cfg.levels);
    put_i32(&c, h->cfg.base);
    put_i32(&c, h->cfg.fc_width);
    put_i32(&c, h->cfg.zpred_width);
    put_i32(&c, h->cfg.mb_kernels);
    put_i32(&c, h->cfg.mb_dims);
    put_f32(&c, h->hp.lr_d);
    put_f32(&c, h->hp.lr_g);
    put_f32(&c, h->hp.lr_z);
    put_f32(&c, h->hp.beta1);
    put_f32(&c, h->hp.beta2);
    put_i32(&c, h->hp.d_steps);
    put_i32(&c, h->hp.g_steps);
    put_i32(&c, h->hp.zpred);
    put_f32(&c, h->hp.dropout_keep);
    put_f32(&c, h->hp.flip_prob);
    put_i32(&c, h->hp.batch_size);
    put_u32(&c, 0); /* padding to 8 */
    put_u64(&c, (uint64_t)h->step);
    put_u64(&c, (uint64_t)h->t_g);
    put_u64(&c, (uint64_t)h->t_d);
    put_u64(&c, (uint64_t)h->t_z);
    for (int i = 0; i < 4; i++)
        put_u64(&c, h->rng.s[i]);
    put_u64(&c, h->sampler_seed);
    put_u64(&c, h->sampler_epoch);
    put_u64(&c, h->sampler_pos);
    put_u64(&c, h->g_count);
    put_u64(&c, h->z_count);
    put_u64(&c, h->d_count);
    put_u64(&c, h->fc_count);
    put_u64(&c, h->ref_seed);
}

static int decode_header(header *h, const uint8_t buf[CKPT_HEADER], char *err, size_t errlen)
{
    cursor c = {(uint8_t *)buf, 0};
    char magic[8];
    get(&c, magic, 8);
    if (memcmp(magic, CKPT_MAGIC, 8)) {
        snprintf(err, errlen, "not an illgan checkpoint (bad magic number)");
        return -1;
    }
    uint32_t version = get_u32(&c), size = get_u32(&c);
    if (version != CKPT_VERSION || size != CKPT_HEADER) {
        snprintf(err, errlen, "checkpoint format version %u is not supported (this build reads %u)",
                 version, CKPT_VERSION);
        return -1;
    }
    memset(h, 0, sizeof *h);
    get(&c, h->cfg.preset, 32);
    h->cfg.preset[31] = 0;
    h->cfg.levels = get_i32(&c);
    h->cfg.base = get_i32(&c);
    h->cfg.fc_width = get_i32(&c);
    h->cfg.zpred_width = get_i32(&c);
    h->cfg.mb_kernels = get_i32(&c);
    h->cfg.mb_dims = get_i32(&c);
    h->hp.lr_d = get_f32(&c);
    h->hp.lr_g = get_f32(&c);
    h->hp.lr_z = get_f32(&c);
    h->hp.beta1 = get_f32(&c);
    h->hp.beta2 = get_f32(&c);
    h->hp.d_steps = get_i32(&c);
    h->hp.g_steps = get_i32(&c);
    h->hp.zpred = get_i32(&c);
    h->hp.dropout_keep = get_f32(&c);
    h->hp.flip_prob = get_f32(&c);
    h->hp.batch_size = get_i32(&c);
    (void)get_u32(&c);
    h->step = (long)get_u64(&c);
    h->t_g = (long)get_u64(&c);
    h->t_d = (long)get_u64(&c);
    h->t_z = (long)get_u64(&c);
    for (int i = 0; i < 4; i++)
        h->rng.s[i] = get_u64(&c);
    h->sampler_seed = get_u64(&c);
    h->sampler_epoch = get_u64(&c);
    h->sampler_pos = get_u64(&c);
    h->g_count = get_u64(&c);
    h->z_count = get_u64(&c);
    h->d_count = get_u64(&c);
    h->fc_count = get_u64(&c);
    /* Files written before the seed was stored hold zero here, and were sampled with the
     * built-in seed. */
    h->ref_seed = get_u64(&c);
    if (h->ref_seed == 0)
        h->ref_seed = GAN_REF_SEED;
    if (gan_config_validate(&h->cfg, err, errlen))
        return -1;
    gan_g_layout gl;
    gan_z_layout zl;
    gan_d_layout dl;
    gan_layout_g(&gl, &h->cfg);
    gan_layout_z(&zl, &h->cfg);
    gan_layout_d(&dl, &h->cfg);
    if (h->g_count != gl.count || h->z_count != zl.count || h->d_count != dl.count ||
        h->fc_count != gl.fc_count) {
        snprintf(err, errlen, "checkpoint's parameter counts do not match its configuration");
        return -1;
    }
    return 0;
}

/* Every float array, in file order. */
typedef struct {
    float *p;
    size_t count;
} span;

static int spans_of(const gan *g, span out[9])
{
    const size_t zopt = g->gl.fc_count + g->zl.count;
    span s[9] = {
        {g->gp.w, g->gl.count},    {g->zp.w, g->zl.count},    {g->dp.w, g->dl.count},
        {g->opt_g.m, g->gl.count}, {g->opt_g.v, g->gl.count}, {g->opt_d.m, g->dl.count},
        {g->opt_d.v, g->dl.count}, {g->opt_z.m, zopt},        {g->opt_z.v, zopt},
    };
    memcpy(out, s, sizeof s);
    return 9;
}

static uint64_t payload_bytes(const gan_g_layout *gl, const gan_z_layout *zl,
                              const gan_d_layout *dl)
{
    /* G: w, m, v; D: w, m, v; Z: w; Z-optimizer: m, v over (fc_count + z_count). */
    uint64_t floats = 3 * (uint64_t)gl->count + 3 * (uint64_t)dl->count + (uint64_t)zl->count +
             2 * ((uint64_t)gl->fc_count + zl->count);
    return floats * sizeof(float);
}

/* ---- save ------------------------------------------------------------------------------ */

static int write_all(FILE *f, const void *p, size_t n, uLong *crc)
{
    const uint8_t *b = p;
    while (n) {
        size_t part = n > (1u << 30) ? (1u << 30) : n;
        *crc = crc32(*crc, b, (uInt)part);
        if (fwrite(b, 1, part, f) != part)
            return -1;
        b += part;
        n -= part;
    }
    return 0;
}

static int fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    free(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int gan_checkpoint_save(const gan *g, const char *path, char *err, size_t errlen)
{
    header h = {
        .cfg = g->cfg, .hp = g->hp, .step = g->step,
        .t_g = g->opt_g.t, .t_d = g->opt_d.t, .t_z = g->opt_z.t, .rng = g->rng,
        .sampler_seed = g->sampler.seed, .sampler_epoch = g->sampler.epoch,
        .sampler_pos = g->sampler.pos,
        .g_count = g->gl.count, .z_count = g->zl.count, .d_count = g->dl.count,
        .fc_count = g->gl.fc_count, .ref_seed = g->ref_seed,
    };
    uint8_t buf[CKPT_HEADER];
    encode_header(buf, &h);

    size_t tlen = strlen(path) + 5;
    char *tmp = malloc(tlen);
    if (!tmp) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(tmp, tlen, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    uLong crc = crc32(0, Z_NULL, 0);
    int bad = write_all(f, buf, sizeof buf, &crc);
    span s[9];
    int ns = spans_of(g, s);
    for (int i = 0; i < ns && !bad; i++)
        bad = write_all(f, s[i].p, s[i].count * sizeof(float), &crc);
    uint32_t c32 = (uint32_t)crc;
    if (!bad)
        bad = fwrite(&c32, 4, 1, f) != 1;
    if (!bad)
        bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    int saved_errno = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        saved_errno = errno;
    }
    if (!bad && rename(tmp, path) != 0) {
        bad = 1;
        saved_errno = errno;
    }
    if (bad) {
        snprintf(err, errlen, "cannot write checkpoint %s: %s", path, strerror(saved_errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    fsync_dir_of(path); /* best effort: the rename itself is already atomic */
    return 0;
}

/* ---- load ------------------------------------------------------------------------------ */

static int read_header(FILE *f, const char *path, header *h, char *err, size_t errlen)
{
    uint8_t buf[CKPT_HEADER];
    if (fread(buf, 1, sizeof buf, f) != sizeof buf) {
        snprintf(err, errlen, "%s: truncated checkpoint (shorter than its %d-byte header)", path,
                 CKPT_HEADER);
        return -1;
    }
    char why[200];
    if (decode_header(h, buf, why, sizeof why)) {
        snprintf(err, errlen, "%s: %s", path, why);
        return -1;
    }
    return 0;
}

int gan_checkpoint_peek(const char *path, gan_config *cfg, long *step, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    header h;
    int rc = read_header(f, path, &h, err, errlen);
    fclose(f);
    if (rc)
        return -1;
    if (cfg)
        *cfg = h.cfg;
    if (step)
        *step = h.step;
    return 0;
}

int gan_checkpoint_load(gan **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    header h;
    if (read_header(f, path, &h, err, errlen)) {
        fclose(f);
        return -1;
    }
    gan_g_layout gl;
    gan_z_layout zl;
    gan_d_layout dl;
    gan_layout_g(&gl, &h.cfg);
    gan_layout_z(&zl, &h.cfg);
    gan_layout_d(&dl, &h.cfg);
    const uint64_t expect = CKPT_HEADER + payload_bytes(&gl, &zl, &dl) + 4;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || (uint64_t)st.st_size != expect) {
        snprintf(err, errlen, "%s: truncated or padded checkpoint (%lld bytes, expected %llu)",
                 path, (long long)st.st_size, (unsigned long long)expect);
        fclose(f);
        return -1;
    }
    char why[256];
    gan *g;
    if (gan_alloc(&g, &h.cfg, &h.hp, why, sizeof why)) {
        snprintf(err, errlen, "%s: %s", path, why);
        fclose(f);
        return -1;
    }
    uint8_t buf[CKPT_HEADER];
    uLong crc = crc32(0, Z_NULL, 0);
    rewind(f); /* the CRC covers the header bytes exactly as stored */
    int bad = fread(buf, 1, sizeof buf, f) != sizeof buf;
    crc = crc32(crc, buf, sizeof buf);
    span s[9];
    int ns = spans_of(g, s);
    for (int i = 0; i < ns && !bad; i++) {
        uint8_t *p = (uint8_t *)s[i].p;
        size_t n = s[i].count * sizeof(float);
        if (fread(p, 1, n, f) != n) {
            bad = 1;
            break;
        }
        for (size_t at = 0; at < n; at += 1u << 30) {
            size_t part = n - at > (1u << 30) ? (1u << 30) : n - at;
            crc = crc32(crc, p + at, (uInt)part);
        }
    }
    uint32_t stored = 0;
    if (!bad)
        bad = fread(&stored, 4, 1, f) != 1;
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "%s: truncated checkpoint", path);
        gan_free(g);
        return -1;
    }
    if (stored != (uint32_t)crc) {
        snprintf(err, errlen, "%s: checksum mismatch (file damaged): stored %08x, computed %08x",
                 path, stored, (uint32_t)crc);
        gan_free(g);
        return -1;
    }
    g->step = h.step;
    g->opt_g.t = h.t_g;
    g->opt_d.t = h.t_d;
    g->opt_z.t = h.t_z;
    g->rng = h.rng;
    g->ref_seed = h.ref_seed;
    g->sampler.seed = h.sampler_seed;
    g->sampler.epoch = h.sampler_epoch;
    g->sampler.pos = h.sampler_pos;
    *out = g;
    return 0;
}
