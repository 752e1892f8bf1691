/* cli/prepare.c: `illgan prepare SRC DST`, a folder tree of pictures in, a training set out.
 *
 * The work is data_prepare's (src/data/prepare.c); this file parses the options and talks
 * to the user: one line per file it skips and per duplicate it leaves out, progress
 * (count, rate, time left) redrawn in place on a terminal or as a plain line every tenth
 * of the way otherwise (for 100 files or more), all on stderr, and the closing summary on
 * stdout. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "illgan/data.h"
#include "illgan/image.h"
#include "illgan/util.h"

static void usage(FILE *out)
{
    fprintf(out,
        "usage: illgan prepare [OPTIONS] SRC DST\n"
        "\n"
        "Turn every picture under the folder SRC (searched recursively) into a SIZExSIZE RGB\n"
        "PNG in the folder DST, ready for `illgan train --data DST` or `illgan serve`.\n"
        "\n"
        "  --size N               side of the output images in pixels (default 64, the size\n"
        "                         of the illustrationgan and small presets; tiny uses 32)\n"
        "  --background RRGGBB    colour that transparent pixels are composited onto, as a\n"
        "                         browser shows them, and the padding colour (default ffffff)\n"
        "  --crop center|pad      make pictures square by cutting the centre square out\n"
        "                         (center, the default) or by padding the short side with the\n"
        "                         background colour (pad); then shrink by area averaging, or\n"
        "                         enlarge small pictures smoothly (bilinear)\n"
        "  -q, --quiet            no progress display (skips and the summary still print)\n"
        "  -h, --help             this text\n"
        "\n"
        "Reads PNG (every colour type and bit depth, interlaced or not) and JPEG (baseline or\n"
        "progressive, grey, RGB or CMYK; EXIF orientation applied), recognised by content.\n"
        "Files that cannot be used are skipped, one line each, and the run goes on:\n"
        "zero bytes, not an image, unsupported format (GIF, WebP, ...), truncated, corrupt,\n"
        "too large (over %u pixels or %d pixels a side), unreadable. Pictures\n"
        "whose output pixels are identical to an earlier one's are left out as duplicates.\n"
        "Files and folders whose names start with '.' are ignored.\n"
        "\n"
        "Files are handled in order of their path, and each output is named after its path\n"
        "below SRC plus a short hash of it (cats/tom.jpg -> cats_tom-1a2b3c4d.png), so a\n"
        "rerun gives the same files, byte for byte. DST must be new, empty, or made by an\n"
        "earlier `illgan prepare`: a rerun removes the PNGs there it did not write this time.\n"
        "DST/.illgan-prepare lists every output with its source.\n"
        "\n"
        "Exit status: 0 when at least one image was written, 1 when none was or the run\n"
        "failed, 2 on a usage error.\n",
        IMAGE_MAX_PIXELS, IMAGE_MAX_SIDE);
}

typedef struct {
    int tty, quiet;
    int progress_shown; /* a progress line is on screen (terminal only) */
    int last_tenth;
    double start, last_draw;
} reporter;


static void clear_progress(reporter *r)
{
    if (r->progress_shown) {
        fputs("\r\033[K", stderr);
        r->progress_shown = 0;
    }
}

static void on_start(void *ctx, int total)
{
    reporter *r = ctx;
    r->start = r->last_draw = util_mono_seconds();
    fprintf(stderr, "illgan prepare: %d file%s to look at\n", total, total == 1 ? "" : "s");
}

static void on_skip(void *ctx, const char *rel, image_status why, const char *detail)
{
    reporter *r = ctx;
    clear_progress(r);
    const char *name = image_status_name(why);
    if (!detail[0] || !strcmp(detail, name))
        fprintf(stderr, "skip %s: %s\n", rel, name);
    else
        fprintf(stderr, "skip %s: %s (%s)\n", rel, name, detail);
}

static void on_duplicate(void *ctx, const char *rel, const char *same_as)
{
    reporter *r = ctx;
    clear_progress(r);
    fprintf(stderr, "duplicate %s: same pixels as %s\n", rel, same_as);
}

static void on_progress(void *ctx, int done, int total)
{
    reporter *r = ctx;
    /* Plain lines only for runs long enough to need them. */
    if (r->quiet || (!r->tty && total < 100))
        return;
    double t = util_mono_seconds();
    int tenth = (int)((10LL * done) / total);
    if (r->tty ? t - r->last_draw < 0.1 && done < total : tenth == r->last_tenth)
        return;
    r->last_draw = t;
    r->last_tenth = tenth;
    double rate = done / (t - r->start > 1e-6 ? t - r->start : 1e-6);
    double left = (total - done) / (rate > 1e-9 ? rate : 1e-9);
    char line[160];
    snprintf(line, sizeof line, "%d/%d files (%d%%), %.0f files/s, %.0f s left", done, total,
             (int)((100LL * done) / total), rate, left);
    if (r->tty) {
        fprintf(stderr, "\r%s\033[K", line);
        r->progress_shown = 1;
    } else {
        fprintf(stderr, "illgan prepare: %s\n", line);
    }
}

static int parse_colour(const char *text, uint8_t rgb[3])
{
    if (text[0] == '#')
        text++;
    if (strlen(text) != 6)
        return -1;
    unsigned v[3];
    for (int i = 0; i < 3; i++) {
        char two[3] = {text[2 * i], text[2 * i + 1], 0};
        char *end;
        if (!strchr("0123456789abcdefABCDEF", two[0]) || !strchr("0123456789abcdefABCDEF", two[1]))
            return -1;
        v[i] = (unsigned)strtoul(two, &end, 16);
    }
    for (int i = 0; i < 3; i++)
        rgb[i] = (uint8_t)v[i];
    return 0;
}

/* "2 corrupt, 1 truncated" for the reasons that occurred. */
static void reasons(char *out, size_t len, const data_prepare_report *rep)
{
    size_t at = 0;
    out[0] = '\0';
    for (int s = 1; s < IMAGE_STATUS_COUNT && at < len; s++)
        if (rep->skipped_by[s])
            at += (size_t)snprintf(out + at, len - at, "%s%d %s", at ? ", " : "",
                                   rep->skipped_by[s], image_status_name((image_status)s));
}

enum { OPT_SIZE = 256, OPT_BACKGROUND, OPT_CROP };

int cli_prepare(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"size", required_argument, 0, OPT_SIZE},
        {"background", required_argument, 0, OPT_BACKGROUND},
        {"crop", required_argument, 0, OPT_CROP},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    data_prepare_options o = {.size = 64, .background = {255, 255, 255}, .fit = IMAGE_FIT_CROP};
    reporter rep_ui = {.tty = isatty(STDERR_FILENO), .last_tenth = 0};
    optind = 1;
    opterr = 0;
    int c;
    long size = 64;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_SIZE:
            if (args_int(optarg, "--size", 1, 4096, &size) != 0)
                return 2;
            o.size = (int)size;
            break;
        case OPT_BACKGROUND:
            if (parse_colour(optarg, o.background) != 0) {
                fprintf(stderr,
                        "illgan: --background: expected a colour as RRGGBB hex digits "
                        "(such as ffffff), got '%s'\n", optarg);
                return 2;
            }
            break;
        case OPT_CROP:
            if (!strcmp(optarg, "center") || !strcmp(optarg, "centre")) {
                o.fit = IMAGE_FIT_CROP;
            } else if (!strcmp(optarg, "pad")) {
                o.fit = IMAGE_FIT_PAD;
            } else {
                fprintf(stderr, "illgan: --crop: expected center or pad, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'q': rep_ui.quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "illgan prepare: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "illgan prepare: expected SRC and DST folders\n");
        usage(stderr);
        return 2;
    }
    const char *src = argv[optind], *dst = argv[optind + 1];
    o.on_start = on_start;
    o.on_skip = on_skip;
    o.on_duplicate = on_duplicate;
    o.on_progress = on_progress;
    o.ctx = &rep_ui;

    data_prepare_report rep;
    char err[1024];
    double t0 = util_mono_seconds();
    int rc = data_prepare(src, dst, &o, &rep, err, sizeof err);
    clear_progress(&rep_ui);
    if (rc != 0) {
        fprintf(stderr, "illgan prepare: %s\n", err);
        return 1;
    }
    char why[512];
    reasons(why, sizeof why, &rep);
    printf("illgan prepare: %d written to %s (%dx%d), %d skipped%s%s%s, %d duplicate%s left "
           "out",
           rep.written, dst, o.size, o.size, rep.skipped, rep.skipped ? " (" : "", why,
           rep.skipped ? ")" : "", rep.duplicates, rep.duplicates == 1 ? "" : "s");
    if (rep.removed)
        printf(", %d stale file%s removed", rep.removed, rep.removed == 1 ? "" : "s");
    printf(", in %.1f s\n", util_mono_seconds() - t0);
    fflush(stdout);
    if (rep.found == 0) {
        fprintf(stderr, "illgan prepare: no files found under %s\n", src);
        return 1;
    }
    if (rep.written == 0) {
        fprintf(stderr, "illgan prepare: none of the %d files under %s could be used\n",
                rep.found, src);
        return 1;
    }
    return 0;
}
