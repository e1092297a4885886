/* SPDX-License-Identifier: MIT */
#ifndef RP_CLIENT_HTTP_CLIENT_H
#define RP_CLIENT_HTTP_CLIENT_H
/*
 * Outgoing HTTP POSTs (webhooks) and streaming GETs (upstream event streams) on a worker's loop:
 * one libcurl multi handle per client, driven by socket and timer callbacks, so no call ever blocks
 * the worker and idle keep-alive connections are reused between calls. http and https only, no
 * redirects. Not responsible for retries, circuit breaking or what the answer means. One client per
 * worker thread; every function is only called from that thread.
 *
 * Driving it (each loop turn, outside any loop callback, like the worker's own sweeps):
 *     int64_t now = rp_clock_now_ms();
 *     rp_http_client_tick(c, now);
 *     int t = rp_http_client_timeout_ms(c, now);    (-1: no deadline)
 *     ... sleep in rp_loop_run_once() no longer than t when t >= 0 ...
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rp_loop;
struct rp_http_client;
struct rp_http_call;

/* Initialises libcurl for the process; idempotent and thread-safe (pthread_once). Call it
 * at start-up before any worker starts; 0 or -EIO. rp_http_client_new also calls it. */
int rp_http_client_global_init(void);
/* Releases libcurl's global state, once, at exit, after every client is freed. */
void rp_http_client_global_cleanup(void);

/* A client on <loop> (borrowed; must outlive the client) that runs at most <max_in_flight>
 * (> 0) calls at once and keeps at most that many idle connections. NULL on failure. */
struct rp_http_client *rp_http_client_new(struct rp_loop *loop, size_t max_in_flight);
/* Cancels every call (their callbacks do not run), closes the connections and frees <c>.
 * Accepts NULL. Call it between loop turns, never from inside a loop or done callback. */
void rp_http_client_free(struct rp_http_client *c);

/* The outcome of a call, borrowed by the done callback for its duration only. */
struct rp_http_result {
    int status; /* the HTTP status, or 0 when no answer arrived */
    /*
     * 0 when a whole answer arrived (whatever its status), else:
     * -ETIMEDOUT (connect or total timeout), -ECONNREFUSED (or another connect errno such as
     * -ENETUNREACH, -EHOSTUNREACH), -ENXIO (host name not resolved), -EPROTO (not valid HTTP,
     * or TLS failed), -EMSGSIZE (body over <max_body>), -EIO (any other failure).
     */
    int error;
    const char *body; /* NUL-terminated (NUL not counted); "" when none or on error */
    size_t body_len;
    int64_t elapsed_ms; /* from rp_http_client_post to completion */
    const char *detail; /* libcurl's message when error != 0 (for logs), else "" */
};

typedef void (*rp_http_client_done_fn)(void *ctx, const struct rp_http_result *r);

/* What to POST. Every pointer is borrowed for the rp_http_client_post call only. */
struct rp_http_post {
    const char *url;          /* http:// or https:// */
    const char *content_type; /* NULL: application/json */
    const char *body;         /* <body_len> bytes, copied; may be NULL when body_len is 0 */
    size_t body_len;
    const char *const *extra_headers; /* NULL-terminated "Name: value" lines, or NULL */
    int64_t connect_timeout_ms;       /* > 0, or 0: bounded by total_timeout_ms only */
    int64_t total_timeout_ms;         /* > 0: the whole call, connect included */
    size_t max_body;                  /* longest answer body accepted */
};

/*
 * Starts POSTing <p>. <fn>(<ctx>, result) runs exactly once, on the loop thread, from
 * rp_http_client_tick or a loop callback, never from inside this call; unless the call is
 * cancelled or the client freed first. On success stores the call in *<out> (may be NULL),
 * which stays valid until <fn> starts or rp_http_call_cancel; returns 0. Fails with -EAGAIN
 * when <max_in_flight> calls are running, -EINVAL for a URL that is not http(s) or bad
 * timeouts or headers, -ENOMEM/-EIO when libcurl refuses; <fn> is then never called.
 */
int rp_http_client_post(struct rp_http_client *c, const struct rp_http_post *p,
                        rp_http_client_done_fn fn, void *ctx, struct rp_http_call **out);
/* What to GET as a stream. Every pointer is borrowed for the rp_http_client_get_stream call. */
struct rp_http_get {
    const char *url;                  /* http:// or https:// */
    const char *const *extra_headers; /* NULL-terminated "Name: value" lines, or NULL */
    int64_t connect_timeout_ms;       /* > 0, or 0: libcurl's default (300 s) */
    int64_t idle_timeout_ms;          /* fail when under 1 byte/s for this long; 0: never */
};

/* A streaming GET's head: <status> and <content_type> ("" when none), once, when the final
 * answer's headers are complete. Non-zero stops the call (its done callback then reports
 * -ECANCELED). */
typedef int (*rp_http_head_fn)(void *ctx, int status, const char *content_type);
/* A chunk of the body, borrowed for the call. Non-zero stops the call (-ECANCELED). */
typedef int (*rp_http_data_fn)(void *ctx, const char *data, size_t len);

/*
 * Starts a GET of <g> whose body is handed over as it arrives: <on_head> once when the
 * headers are complete, then <on_data> per chunk, then <fn> exactly once (as for a POST;
 * its body is always ""; no <on_head> when no answer came).
 * No total timeout: the call lasts until the peer ends it, <g>'s idle timeout passes, or it
 * is cancelled. Redirects are not followed (a 3xx is reported as such). 0 and *<out>, or
 * -EAGAIN, -EINVAL, -ENOMEM, -EIO as rp_http_client_post.
 */
int rp_http_client_get_stream(struct rp_http_client *c, const struct rp_http_get *g,
                              rp_http_head_fn on_head, rp_http_data_fn on_data,
                              rp_http_client_done_fn fn, void *ctx, struct rp_http_call **out);
/* Stops (<pause>) or resumes taking bytes of a streaming <call>: the peer is held by TCP flow
 * control meanwhile. Resuming may call <on_data> before it returns. 0, or -EIO. */
int rp_http_call_pause(struct rp_http_call *call, bool pause);
/* Stops <call> and frees it; its callback will not run. Accepts NULL. Not from inside
 * libcurl; from a done callback it may cancel other calls, not the one being reported. */
void rp_http_call_cancel(struct rp_http_call *call);
/* Calls started and not yet reported or cancelled. */
size_t rp_http_client_in_flight(const struct rp_http_client *c);

/* The longest the loop may sleep before rp_http_client_tick has work: ms from <now_ms>
 * (monotonic, rp_clock_now_ms), 0 when due, -1 when nothing is pending. */
int rp_http_client_timeout_ms(const struct rp_http_client *c, int64_t now_ms);
/* Runs libcurl's timers when due at <now_ms> (connect/total timeouts, name resolution, the first
 * step of new calls) and reports the calls that finished; frees what earlier turns
 * released. Call once per loop turn, outside loop callbacks. */
void rp_http_client_tick(struct rp_http_client *c, int64_t now_ms);

#endif
