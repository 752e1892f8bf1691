/* image_decode: the front door of picture decoding. Recognises the format by content (the
 * file name is never trusted), hands PNG and JPEG to their decoders, names the common
 * formats it does not read so that a user learns why a picture was refused, and reads
 * files whole (bounded by IMAGE_MAX_FILE_BYTES) so that every decoder works from memory
 * and a short file is always reported as truncated, never as a read error. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "illgan/util.h"
#include "io/image_internal.h"

int image_fail(image_status *why, image_status status, char *err, size_t errlen,
               const char *fmt, ...)
{
    if (why)
        *why = status;
    va_list ap;
    va_start(ap, fmt);
    util_vfail(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

const char *image_status_name(image_status s)
{
    switch (s) {
    case IMAGE_OK: return "ok";
    case IMAGE_ERR_READ: return "unreadable";
    case IMAGE_ERR_EMPTY: return "zero bytes";
    case IMAGE_ERR_NOT_IMAGE: return "not an image";
    case IMAGE_ERR_UNSUPPORTED: return "unsupported format";
    case IMAGE_ERR_TRUNCATED: return "truncated";
    case IMAGE_ERR_CORRUPT: return "corrupt";
    case IMAGE_ERR_TOO_LARGE: return "too large";
    case IMAGE_ERR_NOMEM: return "out of memory";
    case IMAGE_STATUS_COUNT: break;
    }
    return "unknown";
}

void image_rgba_free(image_rgba *im)
{
    if (!im)
        return;
    free(im->rgba);
    im->rgba = NULL;
    im->width = im->height = 0;
}

static int has_prefix(const uint8_t *d, size_t len, size_t at, const char *s, size_t n)
{
    return len >= at + n && memcmp(d + at, s, n) == 0;
}

/* Names a picture format that is recognised but not decoded, or returns NULL. */
static const char *unsupported_format(const uint8_t *d, size_t len)
{
    if (has_prefix(d, len, 0, "GIF87a", 6) || has_prefix(d, len, 0, "GIF89a", 6))
        return "GIF";
    if (has_prefix(d, len, 0, "RIFF", 4) && has_prefix(d, len, 8, "WEBP", 4))
        return "WebP";
    if (has_prefix(d, len, 0, "II*\0", 4) || has_prefix(d, len, 0, "MM\0*", 4))
        return "TIFF";
    if (has_prefix(d, len, 0, "8BPS", 4))
        return "Photoshop";
    if (has_prefix(d, len, 0, "\xff\x0a", 2) || has_prefix(d, len, 4, "JXL ", 4))
        return "JPEG XL";
    if (has_prefix(d, len, 4, "ftyp", 4)) {
        static const char *const heif[] = {"heic", "heix", "hevc", "heim", "heis", "mif1",
                                           "msf1", "avif", "avis"};
        for (size_t i = 0; i < sizeof heif / sizeof heif[0]; i++)
            if (has_prefix(d, len, 8, heif[i], 4))
                return d[8] == 'a' ? "AVIF" : "HEIF";
    }
    /* "BM" alone is too common a start for text; the DIB header size pins it down. */
    if (has_prefix(d, len, 0, "BM", 2) && len >= 18) {
        uint32_t dib = (uint32_t)d[14] | (uint32_t)d[15] << 8 | (uint32_t)d[16] << 16 |
                       (uint32_t)d[17] << 24;
        if (dib == 12 || dib == 40 || dib == 52 || dib == 56 || dib == 64 || dib == 108 ||
            dib == 124)
            return "BMP";
    }
    if (has_prefix(d, len, 0, "\0\0\1\0", 4) && len >= 6 && d[4] | d[5])
        return "ICO";
    /* SVG: text that opens an <svg> element near its start. */
    size_t n = len < 1024 ? len : 1024;
    for (size_t i = 0; i + 4 <= n; i++)
        if (d[i] == '<' && !memcmp(d + i + 1, "svg", 3))
            return "SVG";
    return NULL;
}

int image_decode_memory_ex(image_rgba *out, const uint8_t *data, size_t len, int min_side,
                           image_status *why, char *err, size_t errlen)
{
    out->rgba = NULL;
    out->width = out->height = 0;
    if (why)
        *why = IMAGE_OK;
    if (len == 0)
        return image_fail(why, IMAGE_ERR_EMPTY, err, errlen, "zero bytes");
    if (has_prefix(data, len, 0, "\x89PNG\r\n\x1a\n", 8))
        return image_png_decode(out, data, len, why, err, errlen);
    if (has_prefix(data, len, 0, "\xff\xd8\xff", 3))
        return image_jpeg_decode(out, data, len, min_side, why, err, errlen);
    /* A signature cut short is a truncated file, not a mystery. */
    if (len < 8 && !memcmp(data, "\x89PNG\r\n\x1a\n", len))
        return image_fail(why, IMAGE_ERR_TRUNCATED, err, errlen,
                          "PNG: file ends inside the signature");
    const char *fmt = unsupported_format(data, len);
    if (fmt)
        return image_fail(why, IMAGE_ERR_UNSUPPORTED, err, errlen,
                          "%s is not supported (convert it to PNG or JPEG)", fmt);
    return image_fail(why, IMAGE_ERR_NOT_IMAGE, err, errlen,
                      "neither PNG nor JPEG by its content");
}

int image_decode_memory(image_rgba *out, const uint8_t *data, size_t len, char *err,
                        size_t errlen)
{
    return image_decode_memory_ex(out, data, len, 0, NULL, err, errlen);
}

int image_decode_file_ex(image_rgba *out, const char *path, int min_side, image_status *why,
                         char *err, size_t errlen)
{
    out->rgba = NULL;
    out->width = out->height = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return image_fail(why, IMAGE_ERR_READ, err, errlen, "cannot open: %s",
                          strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return image_fail(why, IMAGE_ERR_READ, err, errlen, "cannot stat: %s", strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return image_fail(why, IMAGE_ERR_READ, err, errlen, "not a regular file");
    }
    if (st.st_size == 0) {
        close(fd);
        return image_fail(why, IMAGE_ERR_EMPTY, err, errlen, "zero bytes");
    }
    if ((uint64_t)st.st_size > IMAGE_MAX_FILE_BYTES) {
        close(fd);
        return image_fail(why, IMAGE_ERR_TOO_LARGE, err, errlen,
                          "file of %lld bytes, over the %u MiB limit", (long long)st.st_size,
                          IMAGE_MAX_FILE_BYTES >> 20);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size);
    if (!buf) {
        close(fd);
        return image_fail(why, IMAGE_ERR_NOMEM, err, errlen, "out of memory reading %zu bytes",
                          size);
    }
    /* The file may shrink while read; decode what is there (it will read as truncated). */
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return image_fail(why, IMAGE_ERR_READ, err, errlen, "read error: %s",
                              strerror(e));
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    int rc = image_decode_memory_ex(out, buf, got, min_side, why, err, errlen);
    free(buf);
    return rc;
}

int image_decode_file(image_rgba *out, const char *path, char *err, size_t errlen)
{
    return image_decode_file_ex(out, path, 0, NULL, err, errlen);
}
