/* SPDX-License-Identifier: MIT */
#ifndef RP_APP_CONN_H
#define RP_APP_CONN_H
/*
 * One client connection, owned by its worker. Shared by worker.c (I/O, timeouts, close)
 * and api.c (the handlers). State machine:
 *
 *   HTTP --request--> HTTP (response queued; keep-alive reads the next request)
 *     |  \--GET /events--> STREAM (until the peer goes, a policy closes it, or shutdown)
 *     \--publish refused by slow_policy block--> parked (retried, then answered)
 *   any --error / timeout / close--> closing (freed at the end of the loop turn)
 */
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/list.h"
#include "delivery/stream.h"
#include "http/http_parser.h"
#include "loop/loop.h"

struct rp_worker;
struct rp_server;

enum rp_conn_kind {
    RP_CONN_HTTP = 0,
    RP_CONN_STREAM,
};

struct rp_conn {
    struct rp_loop_io io;
    struct rp_worker *w;
    struct rp_list node; /* in the worker's http list (by activity), or its closing list */
    enum rp_conn_kind kind;
    bool closing;
    bool close_after_write; /* the last response said Connection: close */
    bool parked;            /* a publish waits for slow subscribers (slow_policy block) */
    struct rp_list park_node;
    int64_t park_deadline_ms;
    struct rp_http_parser *parser;
    struct rp_buf in;  /* bytes received and not yet parsed */
    struct rp_buf out; /* response bytes not yet written */
    struct rp_stream *stream;
    int64_t last_active_ms;
    char peer[64];
};

/* Queues a response; adds CORS headers for the request's Origin. */
void rp_conn_respond(struct rp_conn *c, const struct rp_http_request *req, int status,
                     const char *content_type, const char *extra_headers, const char *body,
                     size_t body_len);
/* Queues a JSON error response {"error": <message>, "status": <status>}; <extra_headers>
 * ("Name: value\r\n" lines) may be NULL. */
void rp_conn_error(struct rp_conn *c, const struct rp_http_request *req, int status,
                   const char *message, const char *extra_headers);
/* Turns the connection into an event stream (see api.c); false when it was refused and an
 * error response was queued instead. */
bool rp_conn_start_stream(struct rp_conn *c, const struct rp_http_request *req,
                          const char *const *filters, size_t n_filters, const char *last_id,
                          size_t last_id_len);
/* Parks the connection's current request until rp_conn_unpark or the deadline. */
void rp_conn_park(struct rp_conn *c, int64_t deadline_ms);
struct rp_server *rp_conn_server(const struct rp_conn *c);
struct rp_stats *rp_conn_stats(const struct rp_conn *c);
struct rp_fanout *rp_conn_fanout(const struct rp_conn *c);

/* The request handler (api.c): routes <req> and queues the answer. When the connection
 * is parked, it is called again with the same request on each retry, <retry> true. */
void rp_api_handle(struct rp_conn *c, const struct rp_http_request *req, bool retry);

#endif
