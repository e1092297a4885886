/* SPDX-License-Identifier: MIT */
#ifndef RP_FRONT_CONN_H
#define RP_FRONT_CONN_H
/*
 * The server side of one HTTP/1.1 connection: read, parse, respond, keep-alive, the
 * slow-loris guard, turning into an event stream, and close. It knows no endpoint: every
 * parsed request goes to the handler the composition root installs (api/), and the
 * connection belongs to one worker's front (front/front.h). Everything here runs on the
 * owning worker's thread. State of one connection:
 *
 *   HTTP --request--> HTTP (response queued; keep-alive reads the next request)
 *     |  \--rp_conn_start_stream--> STREAM (until the peer goes, a policy closes it, or stop)
 *     \--rp_conn_wait--> waiting (front/wait.h: re-run by kind, or answered at its deadline)
 *   any --error / timeout / close--> closing (freed at the end of the loop turn: rp_front_reap)
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "base/list.h"
#include "config/config.h"
#include "delivery/stream.h"
#include "front/wait.h"
#include "http/cors.h"
#include "http/http_parser.h"
#include "loop/loop.h"
#include "net/addr_key.h"

struct rp_front;
struct rp_conncap;
struct rp_stats;

enum rp_conn_kind {
    RP_CONN_HTTP = 0,
    RP_CONN_STREAM,
};

struct rp_conn {
    struct rp_loop_io io;
    struct rp_front *f;
    struct rp_list node; /* in the front's http list (by activity), streams, or closing list */
    enum rp_conn_kind kind;
    bool closing;
    bool close_after_write; /* the last response said Connection: close */
    /* The current request waits (front/wait.h): in the front's list for <wait_kind>. */
    bool waiting;
    enum rp_wait_kind wait_kind;
    struct rp_list wait_node;
    int64_t wait_deadline_ms;
    struct rp_addr_key peer_key; /* the TCP peer */
    struct rp_addr_key
        client_key;             /* the client: the peer, or X-Forwarded-For from a trusted proxy */
    bool admitted;              /* the first request passed the per-client checks */
    struct rp_conncap *cap;     /* counted in this conncap (released at close), or NULL */
    bool cap_keyed;             /* counted there under client_key too, not the total alone */
    int64_t req_started_ms;     /* first byte of the request being received */
    size_t req_bytes;           /* bytes of it received so far */
    int64_t expires_wall_ms;    /* a stream whose token expires: when (0 = never) */
    int64_t retry_ms;           /* the stream's `retry:` when not the configured one (storms) */
    uint64_t auth_mark;         /* the gate's mark while the request waits (rp_gate_ask) */
    struct rp_list expire_node; /* in the front's expiring list, by expires_wall_ms */
    struct rp_http_parser *parser;
    struct rp_buf in;  /* bytes received of requests not yet answered */
    size_t in_fed;     /* bytes of <in> already given to the parser */
    struct rp_buf out; /* response bytes not yet written */
    size_t answer_at;  /* where in <out> the last answer queued starts */
    /* An answer held back until the log engine makes <held_seq> durable (fsync always):
     * nothing from <held_at> on is written meanwhile. */
    bool held;
    size_t held_at;
    uint64_t held_seq;
    struct rp_stream *stream;
    /* What the handler keeps for a request that waits (a history read), freed with the
     * connection by <pending_free> unless the handler took it back first. */
    void *pending;
    void (*pending_free)(void *pending);
    /* The session a stream belongs to (api/sessions.c), told when the connection is freed
     * where its stream stopped (rp_stream_last_seq; 0 without a stream). */
    void *session;
    void (*session_end)(void *session, uint64_t last_seq);
    int64_t last_active_ms;
    int64_t opened_ms;   /* accepted (for the access log) */
    uint32_t n_requests; /* requests read on this connection */
    uint16_t peer_port;  /* with peer_key, the TCP peer (formatted only for the access log) */
};

/* Why the handler is called: a new request, a waiting one re-run after a wake-up, or a
 * waiting one whose deadline passed (the handler answers why it gave up, by wait_kind). */
enum rp_conn_call {
    RP_CONN_CALL_NEW = 0,
    RP_CONN_CALL_RETRY,
    RP_CONN_CALL_EXPIRED,
};

/* Routes <req> and queues its answer, or makes the connection wait (rp_conn_wait) or a
 * stream (rp_conn_start_stream). */
typedef void (*rp_conn_handler_fn)(void *ctx, struct rp_conn *c, const struct rp_http_request *req,
                                   enum rp_conn_call call);

/* ---- hand-over (upgrade) ---- */

struct rp_stream_state;
/* A stream adopted from the previous process (<st>) runs again on <c>: the handler's context
 * may attach what it keeps per stream (a session). */
typedef void (*rp_conn_adopted_fn)(void *ctx, struct rp_conn *c, const struct rp_stream_state *st);

/* One connection handed to the next process. */
struct rp_conn_export {
    int fd;
    enum rp_conn_kind kind;
    struct rp_addr_key client_key;
    struct rp_stream_state st; /* a stream's place */
    char *in;                  /* HTTP: bytes of requests not yet answered */
    size_t in_len;
    char *out; /* HTTP: answers not yet written */
    size_t out_len;
    bool close_after_write;
};
void rp_conn_export_fini(struct rp_conn_export *e);
/* ---- for the handlers ---- */

/* Queues a response; adds CORS headers for the request's Origin. */
void rp_conn_respond(struct rp_conn *c, const struct rp_http_request *req, int status,
                     const char *content_type, const char *extra_headers, const char *body,
                     size_t body_len);
/* Queues a JSON error response {"error": <message>, "status": <status>}; <extra_headers>
 * ("Name: value\r\n" lines) may be NULL. */
void rp_conn_error(struct rp_conn *c, const struct rp_http_request *req, int status,
                   const char *message, const char *extra_headers);
/*
 * Holds the answer just queued (by the last rp_conn_respond) until the handler releases it:
 * the request waits (RP_WAIT_DURABLE, until <deadline_ms>) and nothing from that answer on
 * is written. <seq> is what it waits for, for the handler to check when it is re-run. An
 * upgrade hands the answer over as written: the old side makes the log durable first.
 */
void rp_conn_hold_answer(struct rp_conn *c, uint64_t seq, int64_t deadline_ms);
/* The held answer goes out (release) or is taken back, for the handler to answer instead
 * (drop). */
void rp_conn_release_answer(struct rp_conn *c);
void rp_conn_drop_answer(struct rp_conn *c);
/* Turns the connection into an event stream; false when it was refused and an error
 * response was queued instead. */
bool rp_conn_start_stream(struct rp_conn *c, const struct rp_http_request *req,
                          const char *const *filters, size_t n_filters, const char *last_id,
                          size_t last_id_len);
/* rp_conn_start_stream with <replay> (whole SSE frames, <replay_len> bytes) sent right after
 * the opening lines, before any event the stream reads after <last_id>. */
bool rp_conn_start_stream_with(struct rp_conn *c, const struct rp_http_request *req,
                               const char *const *filters, size_t n_filters, const char *last_id,
                               size_t last_id_len, const char *replay, size_t replay_len);
/* How a stream differs from the own API's (all zero: the same). */
struct rp_conn_stream_opts {
    const char *extra_headers; /* whole "Name: value\r\n" lines added to the head, or NULL */
    bool untagged;             /* never tag events with their topic (rp_stream_open) */
    bool from_start;           /* from the oldest kept event (rp_stream_open) */
    /* Which pattern-matched topics are linked (rp_stream_open: ownership of <accept_ctx>
     * passes to the stream, also when the start fails). */
    bool (*accept)(void *ctx, const char *topic, size_t len);
    void *accept_ctx;
    void (*accept_free)(void *ctx);
};
/* rp_conn_start_stream_with, with <opts>. */
bool rp_conn_start_stream_opts(struct rp_conn *c, const struct rp_http_request *req,
                               const char *const *filters, size_t n_filters, const char *last_id,
                               size_t last_id_len, const char *replay, size_t replay_len,
                               const struct rp_conn_stream_opts *opts);
/* rp_conn_start_stream_with that also sends <extra_headers> ("Name: value\r\n" lines; may
 * be NULL) in the response head (a session's cookie). */
bool rp_conn_start_stream_headers(struct rp_conn *c, const struct rp_http_request *req,
                                  const char *const *filters, size_t n_filters, const char *last_id,
                                  size_t last_id_len, const char *extra_headers, const char *replay,
                                  size_t replay_len);
/* Schedules the end of the stream at wall-clock <expires_wall_ms> (its token's expiry),
 * after an `event: auth_expired`; 0 = never. */
void rp_conn_schedule_expiry(struct rp_conn *c, int64_t expires_wall_ms);
/* The settings in force on the connection's worker for this loop turn (a reload takes
 * effect at the next turn), and the CORS rules made from them. */
const struct rp_config_values *rp_conn_config(const struct rp_conn *c);
const struct rp_cors *rp_conn_cors(const struct rp_conn *c);
struct rp_stats *rp_conn_stats(const struct rp_conn *c);

/* ---- for the rest of front/ ---- */

/* A connection on socket <fd> (owned from now on), registered for reading; <peer> is its
 * address when known (else it is asked for). Closed at once when it cannot be watched. */
struct rp_conn *rp_conn_new(struct rp_front *f, int fd, enum rp_conn_kind kind,
                            const struct sockaddr_storage *peer);
/* Closes <c>: unregistered now, freed by rp_front_reap at the end of the loop turn. */
void rp_conn_close(struct rp_conn *c, const char *why);
/* Writes the queued answers; watches for writability when the socket is full. */
void rp_conn_flush(struct rp_conn *c);
/* Serves <c> (just adopted from the previous process) as the stream <st> describes. 0, or
 * -errno when it was closed instead. */
int rp_conn_resume_stream(struct rp_conn *c, const struct rp_stream_state *st);

/* Calls the handler again for the waiting request (<call> RETRY or EXPIRED); once it is
 * answered, reads on (the next pipelined request) and writes. */
void rp_conn_rerun(struct rp_conn *c, enum rp_conn_call call);

#endif
