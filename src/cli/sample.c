/* cli/sample.c: `illgan sample`, a PNG grid of generated images from a checkpoint.
 *
 * The same checkpoint and seed give the same bytes. --z reads explicit latent vectors and
 * --raw writes the generator's float output, so that other tools can explore the latent
 * space and cross-check the network (both little-endian float32, row-major). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "illgan/gan.h"
#include "illgan/image.h"

#define MAX_SAMPLES 1024

static void usage(FILE *out)
{
    fprintf(out,
        "usage: illgan sample --checkpoint FILE [OPTIONS] -o GRID.png\n"
        "\n"
        "Draw a grid of generated images. Batch-norm statistics come from a fixed reference\n"
        "batch, so each image depends only on its z and the weights.\n"
        "\n"
        "  --checkpoint FILE   a checkpoint written by `illgan train` or `illgan serve`\n"
        "  -o, --out FILE      the PNG grid to write\n"
        "  -n N                number of images, 1..%d (default 16)\n"
        "  --seed S            seed of the latent vectors, plain N(0,1) (default 1)\n"
        "  --cols C            grid columns (default: as square as possible)\n"
        "  --pad P             pixels between and around images, 0..64 (default 2)\n"
        "  --z FILE            read the n latent vectors from FILE instead: n x 100\n"
        "                      little-endian float32 (n is then the file's size / 400 bytes)\n"
        "  --raw FILE          also write the generator's output: n x H x W x 3 little-endian\n"
        "                      float32 in [-1, 1], NHWC\n"
        "  -h, --help          this text\n",
        MAX_SAMPLES);
}

static float *read_z(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    rewind(f);
    const long row = GAN_Z_DIM * (long)sizeof(float);
    if (bytes <= 0 || bytes % row || bytes / row > MAX_SAMPLES) {
        fprintf(stderr, "illgan sample: %s: size %ld bytes is not n x %ld bytes with n in 1..%d\n",
                path, bytes, row, MAX_SAMPLES);
        fclose(f);
        return NULL;
    }
    float *z = malloc(bytes);
    if (!z || fread(z, 1, bytes, f) != (size_t)bytes) {
        fprintf(stderr, "illgan sample: cannot read %s\n", path);
        free(z);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *n = bytes / row;
    return z;
}

static int write_raw(const char *path, const float *img, size_t count)
{
    FILE *f = fopen(path, "wb");
    int written = f && fwrite(img, sizeof(float), count, f) == count;
    if (f && fclose(f) != 0)
        written = 0;
    if (!written)
        perror(path);
    return written ? 0 : -1;
}

int cli_sample(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"checkpoint", required_argument, 0, 'c'}, {"out", required_argument, 0, 'o'},
        {"seed", required_argument, 0, 's'},       {"cols", required_argument, 0, 'C'},
        {"pad", required_argument, 0, 'p'},        {"z", required_argument, 0, 'z'},
        {"raw", required_argument, 0, 'r'},        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *ckpt = NULL, *out = NULL, *zfile = NULL, *raw = NULL;
    long n = 16, cols = 0, pad = 2;
    uint64_t seed = 1;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "ho:n:", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'c': ckpt = optarg; break;
        case 'o': out = optarg; break;
        case 'n': bad = args_int(optarg, "-n", 1, MAX_SAMPLES, &n); break;
        case 's': bad = args_u64(optarg, "--seed", &seed); break;
        case 'C': bad = args_int(optarg, "--cols", 1, MAX_SAMPLES, &cols); break;
        case 'p': bad = args_int(optarg, "--pad", 0, 64, &pad); break;
        case 'z': zfile = optarg; break;
        case 'r': raw = optarg; break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "illgan sample: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
        if (bad)
            return 2;
    }
    if (!ckpt || !out || optind < argc) {
        fprintf(stderr, "illgan sample: %s\n",
                optind < argc ? "unexpected argument" : "--checkpoint and -o are required");
        usage(stderr);
        return 2;
    }

    char err[512];
    gan *g = NULL;
    gan_snapshot *s = NULL;
    float *z = NULL, *img = NULL;
    uint8_t *png = NULL;
    size_t len = 0;
    int rc = 1;
    if (zfile && !(z = read_z(zfile, &n)))
        return 1;
    if (gan_checkpoint_load(&g, ckpt, err, sizeof err) ||
        gan_snapshot_take(&s, g, err, sizeof err)) {
        fprintf(stderr, "illgan sample: %s\n", err);
        goto done;
    }
    gan_free(g);
    g = NULL;
    const int side = gan_snapshot_side(s);
    const size_t count = (size_t)n * side * side * 3;
    if (!z && (z = malloc(sizeof(float) * n * GAN_Z_DIM)))
        gan_sample_z(z, (int)n, seed);
    img = malloc(sizeof(float) * count);
    if (!z || !img) {
        fprintf(stderr, "illgan sample: out of memory\n");
        goto done;
    }
    if (gan_snapshot_generate(s, z, (int)n, img, err, sizeof err) ||
        image_grid_png(&png, &len, img, (int)n, side, (int)cols, (int)pad, err, sizeof err)) {
        fprintf(stderr, "illgan sample: %s\n", err);
        goto done;
    }
    FILE *f = fopen(out, "wb");
    int written = f && fwrite(png, 1, len, f) == len;
    if (f && fclose(f) != 0)
        written = 0;
    if (!written) {
        perror(out);
        goto done;
    }
    if (raw && write_raw(raw, img, count))
        goto done;
    printf("illgan sample: %ld images from step %ld -> %s\n", n, gan_snapshot_step(s), out);
    rc = 0;
done:
    free(png);
    free(img);
    free(z);
    gan_snapshot_free(s);
    gan_free(g);
    return rc;
}
