/* server: libmicrohttpd glue, routing, authentication and limits (include/illgan/server.h).
 *
 * Order of checks for a request, so that each failure gets the most useful status:
 * oversized body (413, decided from Content-Length before reading it, or while reading a
 * chunked body), unknown path (404), wrong method (405 with Allow), missing or wrong token
 * (401), then the handler's own validation (400) and work. A handler always leaves a
 * complete reply; nothing here exits or prints except through the logger. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "illgan/config.h"
#include "server/internal.h"

/* A chunked upload over the limit is read and dropped up to this much, then the
 * connection is cut: a client cannot keep a thread busy forever. */
#define DISCARD_LIMIT (64L << 20)

enum { AUTH_NONE, AUTH_READ, AUTH_WRITE };

typedef int (*handler_fn)(server *, const http_request *, http_reply *);

typedef struct {
    const char *path;
    const char *method;
    handler_fn fn;
    int auth;
} route;

static const route routes[] = {
    {"/healthz", "GET", api_healthz, AUTH_NONE},
    {"/api/status", "GET", api_status, AUTH_READ},
    {"/api/pause", "POST", api_pause, AUTH_WRITE},
    {"/api/resume", "POST", api_resume, AUTH_WRITE},
    {"/api/checkpoint", "POST", api_checkpoint, AUTH_WRITE},
    {"/api/stop", "POST", api_stop, AUTH_WRITE},
    {"/api/hparams", "GET", api_hparams_get, AUTH_READ},
    {"/api/hparams", "PATCH", api_hparams_patch, AUTH_WRITE},
    {"/sample", "GET", img_sample_get, AUTH_READ},
    {"/sample", "POST", img_sample_post, AUTH_READ},
    {"/api/neighbors", "GET", img_neighbors_json, AUTH_READ},
    {"/neighbors.png", "GET", img_neighbors_png, AUTH_READ},
    {"/api/metrics", "GET", api_metrics, AUTH_READ},
    {"/api/samples", "GET", api_samples, AUTH_READ},
    {"/api/events", "GET", api_events, AUTH_READ},
    {"/metrics", "GET", prom_metrics, AUTH_READ},
};

#define SAMPLE_PREFIX "/api/samples/"

typedef struct {
    char *body;
    size_t len;
    size_t discarded;
    int too_large;
} conn_ctx;

/* ---- helpers shared by handlers -------------------------------------------------- */

store *pool_acquire(server *s)
{
    pthread_mutex_lock(&s->pool_mu);
    for (;;) {
        for (int i = 0; i < STORE_POOL; i++)
            if (s->pool_free[i]) {
                s->pool_free[i] = 0;
                pthread_mutex_unlock(&s->pool_mu);
                return s->pool[i];
            }
        pthread_cond_wait(&s->pool_cv, &s->pool_mu);
    }
}

void pool_release(server *s, store *st)
{
    pthread_mutex_lock(&s->pool_mu);
    for (int i = 0; i < STORE_POOL; i++)
        if (s->pool[i] == st)
            s->pool_free[i] = 1;
    pthread_cond_signal(&s->pool_cv);
    pthread_mutex_unlock(&s->pool_mu);
}

int server_token_equal(const char *presented, const char *expected)
{
    size_t lp = strlen(presented), le = strlen(expected);
    unsigned char diff = lp != le;
    /* Every byte of the expected token is looked at whatever the input: the time taken
     * depends only on lengths, never on where the first difference is. */
    for (size_t i = 0; i < le; i++)
        diff |= (unsigned char)(expected[i] ^ (i < lp ? presented[i] : 0));
    return diff == 0;
}

static int addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

static int resolve(const char *listen, struct addrinfo **res, char *err, size_t errlen)
{
    char host[256], port[16];
    int p;
    if (config_split_listen(listen, host, sizeof host, &p, err, errlen))
        return -1;
    snprintf(port, sizeof port, "%d", p);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host, port, &hints, res);
    if (rc) {
        snprintf(err, errlen, "listen address '%s': %s", listen, gai_strerror(rc));
        return -1;
    }
    return 0;
}

int server_listen_is_loopback(const char *listen)
{
    struct addrinfo *res;
    char err[256];
    if (resolve(listen, &res, err, sizeof err))
        return 0;
    int all = 1;
    for (struct addrinfo *a = res; a; a = a->ai_next)
        all &= addr_is_loopback(a->ai_addr);
    freeaddrinfo(res);
    return all;
}

/* ---- dispatch ---------------------------------------------------------------------- */

static int authorized(server *s, struct MHD_Connection *conn)
{
    pthread_mutex_lock(&s->token_mu);
    int ok = 1;
    if (s->token) {
        const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        ok = 0;
        if (h && !strncasecmp(h, "Bearer ", 7)) {
            const char *tok = h + 7;
            while (*tok == ' ')
                tok++;
            ok = server_token_equal(tok, s->token);
        }
    }
    pthread_mutex_unlock(&s->token_mu);
    return ok;
}

static int needs_token(server *s, int auth)
{
    pthread_mutex_lock(&s->token_mu);
    int have = s->token != NULL;
    pthread_mutex_unlock(&s->token_mu);
    return have && (auth == AUTH_WRITE || (auth == AUTH_READ && s->o.auth_reads));
}

static void route_request(server *s, struct MHD_Connection *conn, const http_request *q,
                          http_reply *r)
{
    const route *match = NULL;
    char allow[64] = "";
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(routes[i].path, q->path))
            continue;
        if (!strcmp(routes[i].method, q->method))
            match = &routes[i];
        size_t n = strlen(allow);
        snprintf(allow + n, sizeof allow - n, "%s%s%s", n ? ", " : "", routes[i].method,
                 !strcmp(routes[i].method, "GET") ? ", HEAD" : "");
    }
    int is_sample_png = !allow[0] && !strncmp(q->path, SAMPLE_PREFIX, strlen(SAMPLE_PREFIX));
    if (is_sample_png) {
        snprintf(allow, sizeof allow, "GET, HEAD");
        if (!strcmp(q->method, "GET")) {
            if (needs_token(s, AUTH_READ) && !authorized(s, conn))
                goto unauthorized;
            api_sample_png(s, q, r, q->path + strlen(SAMPLE_PREFIX));
            return;
        }
    }
    if (match) {
        if (needs_token(s, match->auth) && !authorized(s, conn))
            goto unauthorized;
        match->fn(s, q, r);
        return;
    }
    if (allow[0]) {
        reply_header(r, "Allow", allow);
        reply_error(r, 405, "method_not_allowed", NULL, "%s is not allowed on %s (allowed: %s)",
                    q->method, q->path, allow);
        return;
    }
    if (!strncmp(q->path, "/api/", 5) || !strcmp(q->path, "/api")) {
        reply_error(r, 404, "not_found", NULL, "no such endpoint: %s", q->path);
        return;
    }
    if (strcmp(q->method, "GET")) {
        reply_header(r, "Allow", "GET, HEAD");
        reply_error(r, 405, "method_not_allowed", NULL,
                    "%s is not allowed on %s (allowed: GET, HEAD)", q->method, q->path);
        return;
    }
    if (!s->web_root) {
        reply_error(r, 404, "not_found", NULL, "no dashboard files (web_dir is missing)");
        return;
    }
    static_file(s->web_root, q->path, r);
    r->cacheable = r->status == 200;
    return;
unauthorized:
    reply_header(r, "WWW-Authenticate", "Bearer realm=\"illgan\"");
    reply_error(r, 401, "unauthorized", "Authorization",
                "this request needs 'Authorization: Bearer <token>' with the daemon's token");
}

static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    http_request *q = cls;
    if (q->nparams == HTTP_MAX_PARAMS) {
        q->too_many_params = 1;
        return MHD_NO;
    }
    q->params[q->nparams].name = key ? key : "";
    q->params[q->nparams].value = value;
    q->nparams++;
    return MHD_YES;
}

static enum MHD_Result send_reply(server *s, struct MHD_Connection *conn, const char *method,
                                  const char *url, http_reply *r)
{
    struct MHD_Response *resp;
    if (r->fd >= 0) {
        resp = MHD_create_response_from_fd(r->fd_size, r->fd);
        if (resp)
            r->fd = -1; /* MHD closes it */
    } else {
        resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
        if (resp)
            r->body = NULL;
    }
    if (!resp) {
        reply_free(r);
        return MHD_NO;
    }
    if (r->content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                            r->cacheable ? "no-cache" : "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    for (int i = 0; i < r->nheaders; i++)
        MHD_add_response_header(resp, r->headers[i][0], r->headers[i][1]);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    if (r->status >= 100 && r->status < 600)
        atomic_fetch_add(&s->replies[r->status], 1);
    if (r->status >= 500)
        log_msg(s->o.log, LOGLV_WARN, "http", "%d %s %s (%s)", r->status, method, url,
                r->error_code ? r->error_code : "");
    else if (r->status >= 400)
        log_msg(s->o.log, LOGLV_INFO, "http", "%d %s %s (%s)", r->status, method, url,
                r->error_code ? r->error_code : "");
    else
        log_msg(s->o.log, LOGLV_DEBUG, "http", "%d %s %s", r->status, method, url);
    reply_free(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    (void)version;
    server *s = cls;
    conn_ctx *c = *con_cls;
    http_reply r;
    reply_init(&r);
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c)
            return MHD_NO;
        *con_cls = c;
        atomic_fetch_add(&s->requests_open, 1);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(cl, &end, 10);
            if (errno || *end || v > (unsigned long long)s->o.max_body_bytes) {
                reply_error(&r, 413, "too_large", NULL, "request body over %ld bytes",
                            s->o.max_body_bytes);
                return send_reply(s, conn, method, url, &r);
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!c->too_large && c->len + n > (size_t)s->o.max_body_bytes) {
            c->too_large = 1;
            free(c->body);
            c->body = NULL;
        }
        if (c->too_large) {
            c->discarded += n;
            return c->discarded > (size_t)DISCARD_LIMIT ? MHD_NO : MHD_YES;
        }
        char *nb = realloc(c->body, c->len + n + 1);
        if (!nb)
            return MHD_NO;
        memcpy(nb + c->len, upload_data, n);
        c->body = nb;
        c->len += n;
        c->body[c->len] = 0;
        return MHD_YES;
    }
    if (c->too_large) {
        reply_error(&r, 413, "too_large", NULL, "request body over %ld bytes",
                    s->o.max_body_bytes);
        return send_reply(s, conn, method, url, &r);
    }
    http_request q;
    memset(&q, 0, sizeof q);
    q.is_head = !strcmp(method, "HEAD");
    q.method = q.is_head ? "GET" : method;
    q.path = url;
    q.body = c->body ? c->body : "";
    q.body_len = c->len;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_param, &q);
    route_request(s, conn, &q, &r);
    if (!r.status)
        reply_error(&r, 500, "internal", NULL, "the handler gave no reply");
    return send_reply(s, conn, method, url, &r);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    server *s = cls;
    (void)conn;
    (void)toe;
    conn_ctx *c = *con_cls;
    if (c) {
        free(c->body);
        free(c);
        *con_cls = NULL;
        atomic_fetch_sub(&s->requests_open, 1);
    }
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes %HH in paths and query values, except %00: a NUL would cut the string short
 * (so "/index.html%00.png" would quietly mean "/index.html"); left encoded it matches no
 * file and is no valid number. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    char *w = s;
    for (const char *r = s; *r;) {
        int hi = r[0] == '%' ? hexval(r[1]) : -1, lo = hi >= 0 ? hexval(r[2]) : -1;
        if (lo >= 0 && (hi | lo)) {
            *w++ = (char)(hi * 16 + lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    server *s = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = 0;
    log_msg(s->o.log, LOGLV_WARN, "http", "libmicrohttpd: %s", msg);
}

/* ---- lifecycle ------------------------------------------------------------------- */

static int open_listen(server *s, char *err, size_t errlen)
{
    struct addrinfo *res;
    if (resolve(s->listen, &res, err, errlen))
        return -1;
    int fd = -1, e = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (a->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) || listen(fd, 128)) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", s->listen, strerror(e));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl)) {
        snprintf(err, errlen, "getsockname: %s", strerror(errno));
        close(fd);
        return -1;
    }
    s->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                       : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    s->loopback = addr_is_loopback((struct sockaddr *)&ss);
    s->listen_fd = fd;
    return ss.ss_family;
}

int server_set_token(server *s, const char *token, char *err, size_t errlen)
{
    if ((!token || !*token) && !s->loopback) {
        snprintf(err, errlen,
                 "refusing to serve %s, which is reachable from other machines, without a "
                 "token: set auth_token_file, or listen on 127.0.0.1",
                 s->listen);
        return -1;
    }
    char *copy = token && *token ? strdup(token) : NULL;
    if (token && *token && !copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_lock(&s->token_mu);
    free(s->token);
    s->token = copy;
    pthread_mutex_unlock(&s->token_mu);
    return 0;
}

int server_start(server **out, const server_options *o, char *err, size_t errlen)
{
    *out = NULL;
    server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->o = *o;
    s->listen_fd = -1;
    pthread_mutex_init(&s->token_mu, NULL);
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_cond_init(&s->pool_cv, NULL);
    s->listen = strdup(o->listen);
    if (!s->listen) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (o->web_dir && o->web_dir[0]) {
        s->web_root = realpath(o->web_dir, NULL);
        if (!s->web_root)
            log_msg(o->log, LOGLV_WARN, "http", "web_dir %s: %s; the dashboard is not served",
                    o->web_dir, strerror(errno));
    }
    for (int i = 0; i < STORE_POOL; i++) {
        if (store_open(&s->pool[i], o->db_path, err, errlen))
            goto fail;
        s->pool_free[i] = 1;
    }
    int family = open_listen(s, err, errlen);
    if (family < 0)
        goto fail;
    if (server_set_token(s, o->token, err, errlen))
        goto fail;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, s,
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
                              MHD_OPTION_LISTEN_SOCKET, s->listen_fd,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_connections,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->connection_timeout,
                              MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                              MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
                              MHD_OPTION_END);
    if (!s->mhd) {
        snprintf(err, errlen, "cannot start the HTTP server on %s", s->listen);
        goto fail;
    }
    *out = s;
    return 0;
fail:
    server_free(s);
    return -1;
}

int server_port(const server *s)
{
    return s->port;
}

int server_check_alive(server *s, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (s->listen_fd < 0 || getsockname(s->listen_fd, (struct sockaddr *)&ss, &sl)) {
        snprintf(err, errlen, "the server has no listening socket");
        return -1;
    }
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        if (in->sin_addr.s_addr == htonl(INADDR_ANY))
            in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
            in6->sin6_addr = in6addr_loopback;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    static const char req[] = "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n";
    char buf[64] = "";
    ssize_t got = -1;
    if (!connect(fd, (struct sockaddr *)&ss, sl) &&
        send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof req - 1))
        got = recv(fd, buf, sizeof buf - 1, MSG_WAITALL);
    int e = errno;
    close(fd);
    if (got <= 0) {
        snprintf(err, errlen, "no answer from our own socket: %s",
                 got < 0 ? strerror(e) : "closed");
        return -1;
    }
    buf[got] = 0;
    if (strncmp(buf, "HTTP/1.", 7) || strncmp(buf + 8, " 200", 4)) {
        snprintf(err, errlen, "unexpected answer to /healthz: %.20s", buf);
        return -1;
    }
    return 0;
}

void server_stop(server *s)
{
    if (!s || !s->mhd)
        return;
    MHD_socket fd = MHD_quiesce_daemon(s->mhd);
    /* Requests under way (the answer to /api/stop among them) may finish for up to three
     * seconds; idle keep-alive connections, such as an open dashboard's, are not waited
     * for. */
    for (int i = 0; i < 300; i++) {
        if (atomic_load(&s->requests_open) == 0)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    s->listen_fd = -1;
}

void server_free(server *s)
{
    if (!s)
        return;
    server_stop(s);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    for (int i = 0; i < STORE_POOL; i++)
        store_close(s->pool[i]);
    free(s->web_root);
    free(s->listen);
    free(s->token);
    pthread_cond_destroy(&s->pool_cv);
    pthread_mutex_destroy(&s->token_mu);
    pthread_mutex_destroy(&s->pool_mu);
    free(s);
}
