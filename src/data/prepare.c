/* data/prepare: turns a folder tree of pictures into a training set (`illgan prepare`).
 *
 * The run has three phases. The walk lists every file under src (links followed, names
 * starting with '.' left out, dst and folder loops skipped) and sorts the list by path,
 * so what follows does not depend on the order the file system returns. Each file is then
 * decoded, composited onto the background, squared and resized (src/io), hashed to find
 * exact duplicates, and written under a name derived from its path alone. Last, PNGs left
 * in dst by an earlier run and not written by this one are removed, and the manifest is
 * rewritten. Everything a user should hear about goes through the caller's callbacks;
 * nothing here prints.
 *
 * dst is refused unless it is missing, empty or carries the manifest, so that prepare
 * never deletes files it did not make. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "illgan/data.h"
#include "illgan/image.h"
#include "illgan/util.h"

#define MAX_DEPTH 256   /* deeper trees are almost surely link loops the checks missed */
#define STEM_MAX 96     /* bytes of the sanitised path kept in an output name */

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* ---- hashes ----------------------------------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* FNV-1a over bytes, then mixed: byte-wise, so names are the same on every machine. */
static uint64_t str_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return mix64(h);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* Two independent 64-bit lanes over 8-byte words: 128 bits, so that unequal pictures
 * sharing a hash is not a practical concern. */
static void pixel_hash(const uint8_t *p, size_t n, uint64_t h[2])
{
    uint64_t a = 0x243f6a8885a308d3ull ^ n, b = 0x13198a2e03707344ull + n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        a = rotl(a ^ (w * 0x87c37b91114253d5ull), 31) * 0x4cf5ad432745937full;
        b = (rotl(b + w * 0x9e3779b97f4a7c15ull, 27) ^ w) * 0xff51afd7ed558ccdull;
    }
    uint64_t tail = 0;
    for (size_t k = 0; i + k < n; k++)
        tail |= (uint64_t)p[i + k] << (8 * k);
    h[0] = mix64(a ^ mix64(tail + 1));
    h[1] = mix64(b + mix64(tail ^ 0x5bd1e9955bd1e995ull));
}

/* ---- the walk --------------------------------------------------------------------------- */

typedef struct {
    char *rel;           /* path relative to src */
    image_status pre;    /* a failure found by the walk, or IMAGE_OK */
    char *pre_msg;
} entry;

typedef struct {
    entry *v;
    int n, cap;
    dev_t dst_dev;
    ino_t dst_ino;
    dev_t anc_dev[MAX_DEPTH + 1];
    ino_t anc_ino[MAX_DEPTH + 1];
} walk_state;

static int add_entry(walk_state *w, const char *rel, image_status pre, const char *msg)
{
    if (w->n == w->cap) {
        int cap = w->cap ? w->cap * 2 : 1024;
        entry *v = realloc(w->v, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        w->v = v;
        w->cap = cap;
    }
    entry *e = &w->v[w->n];
    e->rel = strdup(rel);
    e->pre = pre;
    e->pre_msg = msg ? strdup(msg) : NULL;
    if (!e->rel || (msg && !e->pre_msg)) {
        free(e->rel);
        free(e->pre_msg);
        return -1;
    }
    w->n++;
    return 0;
}

/* Lists folder `abs` (rel below src; "" for src itself) at depth `depth`. Returns -1
 * only when out of memory. */
static int walk_dir(walk_state *w, const char *abs, const char *rel, int depth)
{
    DIR *d = opendir(abs);
    if (!d) {
        char msg[300];
        snprintf(msg, sizeof msg, "cannot read the folder: %s", strerror(errno));
        return add_entry(w, rel[0] ? rel : ".", IMAGE_ERR_READ, msg);
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *a = join(abs, e->d_name);
        char *r = rel[0] ? join(rel, e->d_name) : strdup(e->d_name);
        if (!a || !r) {
            free(a);
            free(r);
            rc = -1;
            break;
        }
        struct stat st;
        if (stat(a, &st) != 0) {
            char msg[300];
            struct stat lst;
            if (lstat(a, &lst) == 0 && S_ISLNK(lst.st_mode))
                snprintf(msg, sizeof msg, "a link to nothing");
            else
                snprintf(msg, sizeof msg, "cannot stat: %s", strerror(errno));
            rc = add_entry(w, r, IMAGE_ERR_READ, msg);
        } else if (S_ISDIR(st.st_mode)) {
            int skip = st.st_dev == w->dst_dev && st.st_ino == w->dst_ino;
            for (int k = 0; k <= depth && !skip; k++)
                skip = st.st_dev == w->anc_dev[k] && st.st_ino == w->anc_ino[k];
            if (!skip && depth < MAX_DEPTH) {
                w->anc_dev[depth + 1] = st.st_dev;
                w->anc_ino[depth + 1] = st.st_ino;
                rc = walk_dir(w, a, r, depth + 1);
            }
        } else if (S_ISREG(st.st_mode)) {
            rc = add_entry(w, r, IMAGE_OK, NULL);
        } else {
            rc = add_entry(w, r, IMAGE_ERR_READ, "not a regular file");
        }
        free(a);
        free(r);
    }
    closedir(d);
    return rc;
}

static int cmp_entries(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->rel, ((const entry *)b)->rel);
}

static void free_entries(walk_state *w)
{
    for (int i = 0; i < w->n; i++) {
        free(w->v[i].rel);
        free(w->v[i].pre_msg);
    }
    free(w->v);
    w->v = NULL;
    w->n = w->cap = 0;
}

/* ---- output names ----------------------------------------------------------------------- */

/* "<sanitised rel without extension>-<8 hex>.png", plus "-N" before ".png" when the name
 * is already taken (suffix > 1). */
static void output_name(char *out, size_t outlen, const char *rel, int suffix)
{
    char stem[STEM_MAX + 1];
    const char *slash = strrchr(rel, '/');
    const char *dot = strrchr(rel, '.');
    size_t len = dot && dot > (slash ? slash + 1 : rel) ? (size_t)(dot - rel) : strlen(rel);
    if (len > STEM_MAX)
        len = STEM_MAX;
    for (size_t i = 0; i < len; i++) {
        char c = rel[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        stem[i] = ok ? c : '_';
    }
    stem[len] = '\0';
    if (stem[0] == '.')
        stem[0] = '_'; /* never a hidden output */
    unsigned h = (unsigned)(str_hash(rel) & 0xffffffffu);
    if (suffix > 1)
        snprintf(out, outlen, "%s-%08x-%d.png", stem, h, suffix);
    else
        snprintf(out, outlen, "%s-%08x.png", stem, h);
}

/* A set of strings (open addressing), for the names taken so far. */
typedef struct {
    char **slot;
    size_t cap, n;
} name_set;

static int name_set_has(const name_set *s, const char *name)
{
    if (s->cap == 0)
        return 0;
    for (size_t i = str_hash(name) & (s->cap - 1); s->slot[i]; i = (i + 1) & (s->cap - 1))
        if (!strcmp(s->slot[i], name))
            return 1;
    return 0;
}

/* Stores `name` (not copied: the caller keeps it alive). */
static int name_set_add(name_set *s, char *name)
{
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        char **slot = calloc(cap, sizeof *slot);
        if (!slot)
            return -1;
        for (size_t k = 0; k < s->cap; k++)
            if (s->slot[k]) {
                size_t i = str_hash(s->slot[k]) & (cap - 1);
                while (slot[i])
                    i = (i + 1) & (cap - 1);
                slot[i] = s->slot[k];
            }
        free(s->slot);
        s->slot = slot;
        s->cap = cap;
    }
    size_t i = str_hash(name) & (s->cap - 1);
    while (s->slot[i])
        i = (i + 1) & (s->cap - 1);
    s->slot[i] = name;
    s->n++;
    return 0;
}

/* ---- duplicates ------------------------------------------------------------------------- */

typedef struct {
    uint64_t h[2];
    int out; /* index into the outputs; -1 = empty slot */
} dup_slot;

typedef struct {
    dup_slot *slot;
    size_t cap, n;
} dup_table;

/* Finds h; returns the output index stored with it, or -1 after storing `out` with it. */
static int dup_find_or_add(dup_table *t, const uint64_t h[2], int out, int *nomem)
{
    if (2 * (t->n + 1) > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        dup_slot *slot = malloc(cap * sizeof *slot);
        if (!slot) {
            *nomem = 1;
            return -1;
        }
        for (size_t k = 0; k < cap; k++)
            slot[k].out = -1;
        for (size_t k = 0; k < t->cap; k++)
            if (t->slot[k].out >= 0) {
                size_t i = t->slot[k].h[0] & (cap - 1);
                while (slot[i].out >= 0)
                    i = (i + 1) & (cap - 1);
                slot[i] = t->slot[k];
            }
        free(t->slot);
        t->slot = slot;
        t->cap = cap;
    }
    size_t i = h[0] & (t->cap - 1);
    for (; t->slot[i].out >= 0; i = (i + 1) & (t->cap - 1))
        if (t->slot[i].h[0] == h[0] && t->slot[i].h[1] == h[1])
            return t->slot[i].out;
    t->slot[i].h[0] = h[0];
    t->slot[i].h[1] = h[1];
    t->slot[i].out = out;
    t->n++;
    return -1;
}

/* ---- dst and its manifest --------------------------------------------------------------- */

typedef struct {
    char *name; /* file name in dst */
    int src;    /* index into the walk's entries */
} output;

static int mkdir_p(const char *path, char *err, size_t errlen)
{
    char *p = strdup(path);
    if (!p)
        return util_fail(err, errlen, "out of memory");
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            util_fail(err, errlen, "cannot create the folder %s: %s", p, strerror(e));
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = 0;
    if (mkdir(p, 0777) != 0 && errno != EEXIST)
        rc = util_fail(err, errlen, "cannot create the folder %s: %s", p, strerror(errno));
    free(p);
    return rc;
}

/* Whether dst may be written: it carries a manifest, or holds nothing but dot files. */
static int check_dst(const char *dst, char *err, size_t errlen)
{
    char *man = join(dst, DATA_PREPARE_MANIFEST);
    if (!man)
        return util_fail(err, errlen, "out of memory");
    int managed = access(man, F_OK) == 0;
    free(man);
    if (managed)
        return 0;
    DIR *d = opendir(dst);
    if (!d)
        return util_fail(err, errlen, "cannot read the folder %s: %s", dst, strerror(errno));
    struct dirent *e;
    int foreign = 0;
    char first[256] = "";
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (!foreign++)
            snprintf(first, sizeof first, "%s", e->d_name);
    }
    closedir(d);
    if (foreign)
        return util_fail(err, errlen,
                    "%s already holds %d file%s that illgan prepare did not make (such as "
                    "'%s'); give it an empty or new folder, since it removes what it did "
                    "not write", dst, foreign, foreign == 1 ? "" : "s", first);
    return 0;
}

/* Appends s to the growing buffer, with tab, newline and backslash escaped when `esc`. */
typedef struct {
    char *buf;
    size_t len, cap;
    int nomem;
} text;

static void text_add(text *t, const char *s, int esc)
{
    for (; *s && !t->nomem; s++) {
        char two[2] = {*s, 0};
        size_t n = 1;
        if (esc && (*s == '\t' || *s == '\n' || *s == '\\')) {
            two[0] = '\\';
            two[1] = *s == '\t' ? 't' : *s == '\n' ? 'n' : '\\';
            n = 2;
        }
        if (t->cap - t->len < n + 1) {
            size_t cap = t->cap ? t->cap * 2 : 4096;
            char *b = realloc(t->buf, cap);
            if (!b) {
                t->nomem = 1;
                return;
            }
            t->buf = b;
            t->cap = cap;
        }
        memcpy(t->buf + t->len, two, n);
        t->len += n;
        t->buf[t->len] = '\0';
    }
}

static int write_manifest(const char *dst, const data_prepare_options *o, int complete,
                          const output *outs, int nouts, const walk_state *w, char *err,
                          size_t errlen)
{
    text t = {0};
    char line[160];
    text_add(&t, "# written by `illgan prepare`: the files it made in this folder, each with "
                 "its source\n", 0);
    snprintf(line, sizeof line,
             "version 1\nstate %s\nsize %d\nbackground %02x%02x%02x\ncrop %s\nwritten %d\n",
             complete ? "complete" : "running", o->size, o->background[0], o->background[1],
             o->background[2], o->fit == IMAGE_FIT_PAD ? "pad" : "center", nouts);
    text_add(&t, line, 0);
    for (int i = 0; i < nouts; i++) {
        text_add(&t, outs[i].name, 1);
        text_add(&t, "\t", 0);
        text_add(&t, w->v[outs[i].src].rel, 1);
        text_add(&t, "\n", 0);
    }
    if (t.nomem) {
        free(t.buf);
        return util_fail(err, errlen, "out of memory writing the manifest");
    }
    char *path = join(dst, DATA_PREPARE_MANIFEST);
    char *tmp = join(dst, DATA_PREPARE_MANIFEST ".tmp");
    int rc = 0;
    if (!path || !tmp) {
        rc = util_fail(err, errlen, "out of memory");
    } else {
        FILE *f = fopen(tmp, "w");
        if (!f || fwrite(t.buf, 1, t.len, f) != t.len || fclose(f) != 0 ||
            rename(tmp, path) != 0) {
            rc = util_fail(err, errlen, "cannot write %s: %s", path, strerror(errno));
            unlink(tmp);
        }
    }
    free(path);
    free(tmp);
    free(t.buf);
    return rc;
}

static int has_png_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && !strcasecmp(dot, ".png");
}

/* Removes PNGs in dst that this run did not write (dst is prepare's: check_dst). */
static int remove_stale(const char *dst, const name_set *written, int *removed, char *err,
                        size_t errlen)
{
    DIR *d = opendir(dst);
    if (!d)
        return util_fail(err, errlen, "cannot read the folder %s: %s", dst, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !has_png_ext(e->d_name) || name_set_has(written, e->d_name))
            continue;
        char *p = join(dst, e->d_name);
        struct stat st;
        if (!p) {
            rc = util_fail(err, errlen, "out of memory");
        } else if (lstat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            if (unlink(p) == 0)
                (*removed)++;
            else
                rc = util_fail(err, errlen, "cannot remove the stale %s: %s", p, strerror(errno));
        }
        free(p);
    }
    closedir(d);
    return rc;
}

/* ---- the run ---------------------------------------------------------------------------- */

typedef struct {
    walk_state walk;
    output *outs;
    int nouts;
    name_set names;
    dup_table dups;
    uint8_t *rgb;
} run_state;

static void run_free(run_state *r)
{
    free_entries(&r->walk);
    for (int i = 0; i < r->nouts; i++)
        free(r->outs[i].name);
    free(r->outs);
    free(r->names.slot);
    free(r->dups.slot);
    free(r->rgb);
}

/* Turns entry i into an output, or reports why not. Returns -1 only on a fatal error. */
static int prepare_one(run_state *r, int i, const char *src, const char *dst,
                       const data_prepare_options *o, data_prepare_report *rep, char *err,
                       size_t errlen)
{
    const entry *e = &r->walk.v[i];
    image_status why = e->pre;
    char detail[512] = "";
    if (why != IMAGE_OK)
        snprintf(detail, sizeof detail, "%s", e->pre_msg ? e->pre_msg : "");
    image_rgba im = {0};
    if (why == IMAGE_OK) {
        char *path = join(src, e->rel);
        if (!path)
            return util_fail(err, errlen, "out of memory");
        /* A JPEG may be decoded at a reduced scale, keeping twice the output size. */
        image_decode_file_ex(&im, path, 2 * o->size, &why, detail, sizeof detail);
        free(path);
    }
    if (why == IMAGE_OK &&
        image_square_rgb(r->rgb, o->size, &im, o->fit, o->background, detail,
                         sizeof detail) != 0)
        why = IMAGE_ERR_TOO_LARGE;
    image_rgba_free(&im);
    if (why != IMAGE_OK) {
        rep->skipped++;
        rep->skipped_by[why]++;
        if (o->on_skip)
            o->on_skip(o->ctx, e->rel, why, detail);
        return 0;
    }

    uint64_t h[2];
    int nomem = 0;
    pixel_hash(r->rgb, (size_t)o->size * o->size * 3, h);
    int same = dup_find_or_add(&r->dups, h, r->nouts, &nomem);
    if (nomem)
        return util_fail(err, errlen, "out of memory");
    if (same >= 0) {
        rep->duplicates++;
        if (o->on_duplicate)
            o->on_duplicate(o->ctx, e->rel, r->walk.v[r->outs[same].src].rel);
        return 0;
    }

    char name[STEM_MAX + 40];
    for (int suffix = 1;; suffix++) {
        output_name(name, sizeof name, e->rel, suffix);
        if (!name_set_has(&r->names, name))
            break;
    }
    output *out = &r->outs[r->nouts];
    if (!(out->name = strdup(name)))
        return util_fail(err, errlen, "out of memory");
    out->src = i;
    r->nouts++;
    if (name_set_add(&r->names, out->name) != 0)
        return util_fail(err, errlen, "out of memory");
    char *path = join(dst, name);
    if (!path)
        return util_fail(err, errlen, "out of memory");
    char werr[512];
    int rc = image_png_write_rgb(path, r->rgb, o->size, o->size, werr, sizeof werr);
    free(path);
    if (rc != 0)
        return util_fail(err, errlen, "%s", werr);
    rep->written++;
    return 0;
}

int data_prepare(const char *src, const char *dst, const data_prepare_options *o,
                 data_prepare_report *rep, char *err, size_t errlen)
{
    memset(rep, 0, sizeof *rep);
    if (o->size < 1 || o->size > IMAGE_MAX_SIDE)
        return util_fail(err, errlen, "output size %d is out of range (1..%d)", o->size,
                    IMAGE_MAX_SIDE);
    struct stat sst, dstst;
    if (stat(src, &sst) != 0)
        return util_fail(err, errlen, "cannot read %s: %s", src, strerror(errno));
    if (!S_ISDIR(sst.st_mode))
        return util_fail(err, errlen, "%s is not a folder", src);
    if (mkdir_p(dst, err, errlen) != 0)
        return -1;
    if (stat(dst, &dstst) != 0 || !S_ISDIR(dstst.st_mode))
        return util_fail(err, errlen, "%s is not a folder", dst);
    if (sst.st_dev == dstst.st_dev && sst.st_ino == dstst.st_ino)
        return util_fail(err, errlen, "the source and destination are the same folder (%s)", src);
    if (check_dst(dst, err, errlen) != 0)
        return -1;

    run_state r = {0};
    r.walk.dst_dev = dstst.st_dev;
    r.walk.dst_ino = dstst.st_ino;
    r.walk.anc_dev[0] = sst.st_dev;
    r.walk.anc_ino[0] = sst.st_ino;
    if (walk_dir(&r.walk, src, "", 0) != 0) {
        run_free(&r);
        return util_fail(err, errlen, "out of memory listing %s", src);
    }
    if (r.walk.n > 1)
        qsort(r.walk.v, (size_t)r.walk.n, sizeof *r.walk.v, cmp_entries);
    rep->found = r.walk.n;
    r.outs = malloc(((size_t)r.walk.n + 1) * sizeof *r.outs);
    r.rgb = malloc((size_t)o->size * o->size * 3);
    if (!r.outs || !r.rgb) {
        run_free(&r);
        return util_fail(err, errlen, "out of memory");
    }
    if (write_manifest(dst, o, 0, NULL, 0, &r.walk, err, errlen) != 0) {
        run_free(&r);
        return -1;
    }
    if (o->on_start)
        o->on_start(o->ctx, r.walk.n);
    for (int i = 0; i < r.walk.n; i++) {
        if (prepare_one(&r, i, src, dst, o, rep, err, errlen) != 0) {
            run_free(&r);
            return -1;
        }
        if (o->on_progress)
            o->on_progress(o->ctx, i + 1, r.walk.n);
    }
    int rc = remove_stale(dst, &r.names, &rep->removed, err, errlen);
    if (rc == 0)
        rc = write_manifest(dst, o, 1, r.outs, r.nouts, &r.walk, err, errlen);
    run_free(&r);
    return rc;
}
