/* image_internal: what the image_*.c files of src/io share and nobody else sees. */
#ifndef ILLGAN_IO_IMAGE_INTERNAL_H
#define ILLGAN_IO_IMAGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "illgan/image.h"

/* Sets *why (when not NULL) and writes the printf-style reason into err; returns -1. */
int image_fail(image_status *why, image_status status, char *err, size_t errlen,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Format decoders; data is known to start with the format's signature. */
int image_png_decode(image_rgba *out, const uint8_t *data, size_t len, image_status *why,
                     char *err, size_t errlen);
int image_jpeg_decode(image_rgba *out, const uint8_t *data, size_t len, int min_side,
                      image_status *why, char *err, size_t errlen);

#endif
