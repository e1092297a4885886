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
 *     \--token sent to the auth webhook--> parked (re-run when the answer arrives)
 *   any --error / timeout / close--> closing (freed at the end of the loop turn)
 */
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/list.h"
#include "delivery/stream.h"
#include "http/http_parser.h"
#include "loop/loop.h"
#include "net/addr_key.h"

struct rp_worker;
struct rp_server;
struct rp_cors;
struct rp_config_values;

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
    /* The current request waits: for slow subscribers (slow_policy block: retried each
     * millisecond, in worker.parked) or for the auth webhook (auth_wait: re-run when a
     * verification finishes, in worker.auth_waiting). */
    bool parked;
    bool auth_wait;
    struct rp_list park_node;
    int64_t park_deadline_ms;
    struct rp_addr_key peer_key; /* the TCP peer */
    struct rp_addr_key
        client_key;             /* the client: the peer, or X-Forwarded-For from a trusted proxy */
    bool admitted;              /* the first request passed the per-client checks */
    bool capped;                /* counted in the server's conncap (released at close) */
    int64_t req_started_ms;     /* first byte of the request being received */
    size_t req_bytes;           /* bytes of it received so far */
    int64_t expires_wall_ms;    /* a stream whose token expires: when (0 = never) */
    int64_t retry_ms;           /* the stream's `retry:` when not the configured one (storms) */
    uint64_t auth_mark;         /* the gate's mark while the request waits (rp_gate_ask) */
    struct rp_list expire_node; /* in worker.expiring, by expires_wall_ms */
    struct rp_http_parser *parser;
    struct rp_buf in;  /* bytes received and not yet parsed */
    struct rp_buf out; /* response bytes not yet written */
    struct rp_stream *stream;
    int64_t last_active_ms;
    int64_t opened_ms;   /* accepted (for the access log) */
    uint32_t n_requests; /* requests read on this connection */
    uint16_t peer_port;  /* with peer_key, the TCP peer (formatted only for the access log) */
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
/* Parks the current request until the worker's gate reports a finished webhook call (the
 * request is then handled again, <retry> true) or until <deadline_ms> (503). */
void rp_conn_wait_auth(struct rp_conn *c, int64_t deadline_ms);
/* Closes the stream at wall-clock <expires_wall_ms> (its token's expiry), after telling the
 * client with an `event: auth_expired`; 0 = never. */
void rp_conn_stream_expires(struct rp_conn *c, int64_t expires_wall_ms);
struct rp_gate *rp_conn_gate(const struct rp_conn *c);
/* The settings in force on the connection's worker for this loop turn (a reload takes
 * effect at the next turn), and the CORS rules made from them. */
const struct rp_config_values *rp_conn_config(const struct rp_conn *c);
const struct rp_cors *rp_conn_cors(const struct rp_conn *c);
struct rp_server *rp_conn_server(const struct rp_conn *c);
struct rp_stats *rp_conn_stats(const struct rp_conn *c);
struct rp_fanout *rp_conn_fanout(const struct rp_conn *c);

/* The request handler (api.c): routes <req> and queues the answer. When the connection
 * is parked, it is called again with the same request on each retry, <retry> true. */
void rp_api_handle(struct rp_conn *c, const struct rp_http_request *req, bool retry);

#endif
