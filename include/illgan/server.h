/* server: the HTTP API and dashboard (docs/API.md), on libmicrohttpd.
 *
 * One thread per connection (bounded by max_connections), each idle connection closed after
 * connection_timeout seconds. Handlers never touch the model: they read the trainer's
 * status, render images from its snapshots, post commands and read SQLite through a small
 * pool of connections, one thread per connection at a time. Image generation is bounded to
 * max_generate at once (more get 429), so sampling cannot starve training or control calls.
 * Every error is a JSON body {"error": {"code", "message", "field"}} with a 4xx/5xx status.
 *
 * The server binds its own socket (so port 0 can be read back before anyone connects) and
 * refuses a non-loopback address without a token. Functions that can fail return 0, or -1
 * with a message in err. */
#ifndef ILLGAN_SERVER_H
#define ILLGAN_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "illgan/data.h"
#include "illgan/gan.h"
#include "illgan/log.h"
#include "illgan/neighbors.h"
#include "illgan/trainer.h"

typedef struct {
    const char *listen;          /* "ADDR:PORT" or "[V6]:PORT" */
    const char *web_dir;
    const char *token;           /* NULL or "": no token */
    int auth_reads;
    long max_body_bytes;
    int max_connections;
    int connection_timeout;      /* seconds */
    int max_generate;
    const char *db_path;
    const dataset *ds;           /* must outlive the server */
    const char *dataset_label;   /* shown as dataset.dir */
    const neighbors_index *nn;
    trainer *tr;
    gan_config model;
    size_t params_g, params_z, params_d;
    long run_id;
    int sample_n;                /* the trainer's stored grids, for /api/samples */
    uint64_t sample_seed;
    double started_at;           /* Unix seconds */
    logger *log;
} server_options;

typedef struct server server;

int server_start(server **out, const server_options *o, char *err, size_t errlen);
/* The port actually bound (the chosen one when listen asked for port 0). */
int server_port(const server *s);
/* Asks the running server GET /healthz over its own socket (the wildcard address replaced
 * by loopback) and checks for 200: readiness means "answers", not "started". */
int server_check_alive(server *s, char *err, size_t errlen);
/* Replaces the token (SIGHUP); NULL or "" removes it, which a non-loopback server refuses. */
int server_set_token(server *s, const char *token, char *err, size_t errlen);
/* Stops accepting, lets requests in flight finish (up to a few seconds), stops. */
void server_stop(server *s);
void server_free(server *s);

/* Whether a listen address is loopback only (127.0.0.0/8, ::1, "localhost"). */
int server_listen_is_loopback(const char *listen);
/* Constant-time comparison of a presented token with the expected one. */
int server_token_equal(const char *presented, const char *expected);

#endif
