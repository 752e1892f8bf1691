/* server/reply: building replies, JSON and errors in the one shape docs/API.md promises:
 * {"error": {"code": ..., "message": ..., "field": ...}}, field null when none. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/internal.h"

void reply_init(http_reply *r)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
}

void reply_free(http_reply *r)
{
    free(r->body);
    r->body = NULL;
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

void reply_header(http_reply *r, const char *name, const char *value)
{
    if (r->nheaders >= HTTP_MAX_HEADERS)
        return;
    snprintf(r->headers[r->nheaders][0], sizeof r->headers[0][0], "%s", name);
    snprintf(r->headers[r->nheaders][1], sizeof r->headers[0][1], "%s", value);
    r->nheaders++;
}

void reply_bytes(http_reply *r, int status, const char *type, void *data, size_t len)
{
    free(r->body);
    r->status = status;
    r->content_type = type;
    r->body = data;
    r->len = len;
}

/* A fixed body for when even building the error fails (out of memory). */
static void reply_oom(http_reply *r)
{
    static const char msg[] =
        "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\",\"field\":null}}";
    char *b = malloc(sizeof msg);
    if (b)
        memcpy(b, msg, sizeof msg);
    reply_bytes(r, 500, "application/json", b, b ? sizeof msg - 1 : 0);
    r->error_code = "internal";
}

int reply_error(http_reply *r, int status, const char *code, const char *field,
                const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *root = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(root, "error");
    if (!e || !cJSON_AddStringToObject(e, "code", code) ||
        !cJSON_AddStringToObject(e, "message", msg) ||
        !(field ? cJSON_AddStringToObject(e, "field", field) : cJSON_AddNullToObject(e, "field"))) {
        cJSON_Delete(root);
        reply_oom(r);
        return -1;
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) {
        reply_oom(r);
        return -1;
    }
    reply_bytes(r, status, "application/json", text, strlen(text));
    r->error_code = code;
    return -1;
}

int reply_json(http_reply *r, cJSON *obj)
{
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!text) {
        reply_oom(r);
        return -1;
    }
    reply_bytes(r, 200, "application/json", text, strlen(text));
    return 0;
}

void json_add_number(cJSON *o, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

double server_wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
