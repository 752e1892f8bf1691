/* cli/common.c: checkpoint rotation and sample grids for the headless commands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/common.h"
#include "illgan/image.h"

int cli_checkpoint_rotate(const gan *g, const char *path, char *err, size_t errlen)
{
    char prev[4096];
    size_t len = strlen(path);
    const char *ext = ".ckpt";
    size_t stem = len > 5 && !strcmp(path + len - 5, ext) ? len - 5 : len;
    if (snprintf(prev, sizeof prev, "%.*s.prev.ckpt", (int)stem, path) >= (int)sizeof prev) {
        snprintf(err, errlen, "checkpoint path too long");
        return -1;
    }
    if (access(path, F_OK) == 0) {
        unlink(prev);
        if (link(path, prev) != 0) {
            snprintf(err, errlen, "cannot keep previous checkpoint as %s: %s", prev,
                     strerror(errno));
            return -1;
        }
    }
    return gan_checkpoint_save(g, path, err, errlen);
}

int cli_write_grid(gan *g, const char *path, int n, uint64_t seed, char *err, size_t errlen)
{
    gan_snapshot *s;
    if (gan_snapshot_take(&s, g, err, errlen))
        return -1;
    const int side = gan_snapshot_side(s);
    float *z = malloc(sizeof(float) * n * GAN_Z_DIM);
    float *img = malloc(sizeof(float) * n * side * side * 3);
    uint8_t *rgb = NULL;
    int w, h, rc = -1;
    static const uint8_t white[3] = {255, 255, 255};
    if (!z || !img) {
        snprintf(err, errlen, "out of memory");
    } else {
        gan_sample_z(z, n, seed);
        if (gan_snapshot_generate(s, z, n, img, err, errlen) == 0 &&
            image_grid_rgb(&rgb, &w, &h, img, n, side, 0, 2, white, err, errlen) == 0)
            rc = image_png_write_rgb(path, rgb, w, h, err, errlen);
    }
    free(rgb);
    free(z);
    free(img);
    gan_snapshot_free(s);
    return rc;
}
