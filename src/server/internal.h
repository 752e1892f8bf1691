/* server/internal.h: what the server's files share: the server record, a request as
 * handlers see it (independent of libmicrohttpd, so parsing can be tested without a
 * socket), replies, and the strict parameter parsers that produce API errors. */
#ifndef ILLGAN_SERVER_INTERNAL_H
#define ILLGAN_SERVER_INTERNAL_H

#include <cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "illgan/server.h"
#include "illgan/store.h"

#define HTTP_MAX_PARAMS 16
#define HTTP_MAX_HEADERS 6
#define STORE_POOL 4

typedef struct {
    const char *name;
    const char *value;  /* NULL for "?flag" with no '=' */
} http_param;

typedef struct {
    const char *method;   /* "GET" for HEAD too */
    int is_head;
    const char *path;     /* decoded, without the query */
    http_param params[HTTP_MAX_PARAMS];
    int nparams;
    int too_many_params;
    const char *body;
    size_t body_len;
} http_request;

typedef struct {
    int status;
    char *body;                 /* malloc'd; NULL with fd >= 0 */
    size_t len;
    const char *content_type;
    int fd;                     /* a static file to send, or -1 */
    size_t fd_size;
    char headers[HTTP_MAX_HEADERS][2][96];
    int nheaders;
    int cacheable;              /* static files: no Cache-Control: no-store */
    const char *error_code;     /* for the log */
} http_reply;

struct server {
    server_options o;
    char *listen;
    char *web_root;             /* realpath of web_dir, or NULL when missing */
    int loopback;
    int port;
    int listen_fd;
    struct MHD_Daemon *mhd;
    pthread_mutex_t token_mu;
    char *token;                /* NULL: none */
    /* store pool */
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    store *pool[STORE_POOL];
    int pool_free[STORE_POOL];
    /* counters */
    atomic_int generating;
    atomic_int requests_open;       /* requests received and not yet completed */
    atomic_long generate_rejected;
    atomic_long replies[600];
};

/* ---- replies (reply.c) ----------------------------------------------------------- */
void reply_init(http_reply *r);
void reply_free(http_reply *r);
void reply_header(http_reply *r, const char *name, const char *value);
/* Error reply: status, code (docs/API.md), field (may be NULL), message. Returns -1 so a
 * handler can `return reply_error(...)`. */
int reply_error(http_reply *r, int status, const char *code, const char *field,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* JSON reply with status 200; consumes obj. Returns 0 (or a 500 error when printing fails). */
int reply_json(http_reply *r, cJSON *obj);
/* Takes ownership of a malloc'd buffer. */
void reply_bytes(http_reply *r, int status, const char *type, void *data, size_t len);
/* Adds v, or null when v is NaN/infinite. */
void json_add_number(cJSON *o, const char *key, double v);

/* ---- request parameters (params.c) ------------------------------------------------ */
/* Every parameter must be in allowed (NULL-terminated) and appear once. */
int param_check(const http_request *q, const char *const *allowed, http_reply *r);
/* A decimal integer in [lo, hi]; def when absent. Errors name the parameter. */
int param_int(const http_request *q, const char *name, int64_t lo, int64_t hi, int64_t def,
              int64_t *out, http_reply *r);
int param_present(const http_request *q, const char *name);
/* The request body as a JSON object (*out owned by the caller); an empty body is {}. */
int body_object(const http_request *q, cJSON **out, http_reply *r);

/* ---- handlers ------------------------------------------------------------------------ */
int api_healthz(server *s, const http_request *q, http_reply *r);
int api_status(server *s, const http_request *q, http_reply *r);
int api_pause(server *s, const http_request *q, http_reply *r);
int api_resume(server *s, const http_request *q, http_reply *r);
int api_checkpoint(server *s, const http_request *q, http_reply *r);
int api_stop(server *s, const http_request *q, http_reply *r);
int api_hparams_get(server *s, const http_request *q, http_reply *r);
int api_hparams_patch(server *s, const http_request *q, http_reply *r);
int api_metrics(server *s, const http_request *q, http_reply *r);
int api_events(server *s, const http_request *q, http_reply *r);
int api_samples(server *s, const http_request *q, http_reply *r);
int api_sample_png(server *s, const http_request *q, http_reply *r, const char *rest);
int img_sample_get(server *s, const http_request *q, http_reply *r);
int img_sample_post(server *s, const http_request *q, http_reply *r);
int img_neighbors_json(server *s, const http_request *q, http_reply *r);
int img_neighbors_png(server *s, const http_request *q, http_reply *r);
int prom_metrics(server *s, const http_request *q, http_reply *r);
/* Static file under root for path; 404 for anything outside it or not a regular file. */
int static_file(const char *root, const char *path, http_reply *r);
/* Whether a decoded URL path is acceptable before touching the file system: starts with
 * '/', no NUL, backslash, empty or dot-led segment ("..", ".", ".git"). */
int static_path_ok(const char *path);

/* ---- shared helpers ------------------------------------------------------------------- */
store *pool_acquire(server *s);
void pool_release(server *s, store *st);
double server_wall_now(void);

#endif
