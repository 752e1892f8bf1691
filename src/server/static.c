/* server/static: dashboard files from web_dir.
 *
 * Two fences keep requests inside web_dir: the decoded path is refused outright when any
 * segment is empty, "." or "..", or starts with '.' (also hiding .git and editor files),
 * or when it holds a backslash or control character; then the real path (links resolved)
 * must still lie under the real web_dir. Only regular files are served; a directory serves
 * its index.html. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/internal.h"

int static_path_ok(const char *path)
{
    if (path[0] != '/')
        return 0;
    for (const char *p = path; *p; p++)
        if (*p == '\\' || (unsigned char)*p < 0x20 || *p == 0x7f)
            return 0;
    const char *seg = path + 1;
    if (!*seg)
        return 1; /* "/" */
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 0) {
            /* Only a single trailing slash ("/dir/") is allowed. */
            if (!end && seg > path + 1)
                return 1;
            return 0;
        }
        if (seg[0] == '.')
            return 0;
        if (!end)
            return 1;
        seg = end + 1;
        if (!*seg)
            return 1;
    }
}

static const char *type_of(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
        {".png", "image/png"}, {".svg", "image/svg+xml"}, {".json", "application/json"},
        {".ico", "image/x-icon"}, {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (!strcmp(dot, types[i].ext))
                return types[i].type;
    return "application/octet-stream";
}

static int not_found(http_reply *r, const char *path)
{
    return reply_error(r, 404, "not_found", NULL, "no such file: %.200s", path);
}

int static_file(const char *root, const char *path, http_reply *r)
{
    if (!static_path_ok(path))
        return not_found(r, path);
    size_t rl = strlen(root);
    char want[PATH_MAX];
    int n = snprintf(want, sizeof want, "%s%s", root, path);
    if (n < 0 || (size_t)n >= sizeof want)
        return not_found(r, path);
    char *real = realpath(want, NULL);
    if (!real)
        return not_found(r, path);
    struct stat sb;
    if (!stat(real, &sb) && S_ISDIR(sb.st_mode)) {
        char idx[PATH_MAX];
        n = snprintf(idx, sizeof idx, "%s/index.html", real);
        free(real);
        if (n < 0 || (size_t)n >= sizeof idx || !(real = realpath(idx, NULL)))
            return not_found(r, path);
    }
    int inside = !strncmp(real, root, rl) && (real[rl] == '/' || real[rl] == 0);
    int fd = inside ? open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
    const char *type = type_of(real);
    free(real);
    if (fd < 0)
        return not_found(r, path);
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        close(fd);
        return not_found(r, path);
    }
    r->status = 200;
    r->fd = fd;
    r->fd_size = (size_t)sb.st_size;
    r->content_type = type;
    return 0;
}
