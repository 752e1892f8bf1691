/* cli/common: steps the train and sample commands share. */
#ifndef ILLGAN_CLI_COMMON_H
#define ILLGAN_CLI_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "illgan/gan.h"

/* Saves a checkpoint at path, keeping the one it replaces as PATH-without-.ckpt.prev.ckpt
 * (a hard link taken before the atomic rename, so one of the two is always complete). */
int cli_checkpoint_rotate(const gan *g, const char *path, char *err, size_t errlen);
/* Writes a PNG grid of n samples drawn with `seed` from the model's current weights. */
int cli_write_grid(gan *g, const char *path, int n, uint64_t seed, char *err, size_t errlen);

#endif
