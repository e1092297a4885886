/* SPDX-License-Identifier: MIT */
#include "front/front.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth/auth.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/stats.h"
#include "delivery/fanout.h"
#include "net/conncap.h"
#include "sse/sse_frame.h"

#define ACCEPT_BATCH 64
#define ACCEPT_PAUSE_MS 100 /* out of descriptors: how long accepting rests */

static void accept_ready(struct rp_loop_io *io, uint32_t events);

struct rp_front *
rp_front_new(const struct rp_front_setup *setup)
{
    struct rp_front *f = rp_xcalloc(1, sizeof(*f));
    f->loop = setup->loop;
    f->fanout = setup->fanout;
    f->stats = setup->stats;
    f->handler = setup->handler;
    f->handler_ctx = setup->handler_ctx;
    f->stream_adopted = setup->stream_adopted;
    f->conncap = setup->conncap;
    f->listener.fd = -1;
    rp_list_init(&f->http);
    rp_list_init(&f->streams);
    rp_list_init(&f->closing);
    rp_list_init(&f->expiring);
    rp_waits_init(&f->waits, f->stats);
    rp_front_set_config(f, setup->cfg);
    return f;
}

void
rp_front_free(struct rp_front *f)
{
    if (!f)
        return;
    if (f->listener.fd >= 0) {
        rp_loop_remove(f->loop, &f->listener);
        close(f->listener.fd);
    }
    free(f);
}

void
rp_front_set_config(struct rp_front *f, const struct rp_config *cfg)
{
    const struct rp_config_values *v = &cfg->v;
    f->cfg = cfg;
    /* Live parsers point at these limits: the next request read gets the new ones. */
    f->limits = (struct rp_http_limits){
        .max_request_line = (size_t)v->max_request_line,
        .max_header_bytes = (size_t)v->max_header_bytes,
        .max_headers = (size_t)v->max_headers,
        .max_body = (size_t)v->max_body,
    };
    f->cors = (struct rp_cors){
        .origins = v->cors_origins.items,
        .n_origins = v->cors_origins.n,
        .credentials = v->cors_credentials,
    };
}

struct rp_waits *
rp_front_waits(struct rp_front *f)
{
    return &f->waits;
}

void
rp_front_reap(struct rp_front *f)
{
    while (!rp_list_empty(&f->closing)) {
        struct rp_conn *c = RP_CONTAINER_OF(f->closing.next, struct rp_conn, node);
        rp_list_remove(&c->node);
        if (c->session)
            c->session_end(c->session, rp_stream_last_seq(c->stream));
        rp_stream_free(c->stream);
        if (c->pending)
            c->pending_free(c->pending);
        rp_http_parser_free(c->parser);
        rp_buf_fini(&c->in);
        rp_buf_fini(&c->out);
        if (c->io.fd >= 0)
            close(c->io.fd);
        rp_stat_sub(f->stats, RP_STAT_connections_active, 1);
        free(c);
    }
}

/* ---- accepting ---- */

/*
 * Refuses the connection <fd> that rp_conncap_acquire found over a cap (<err>): a short
 * answer with Connection: close, written only if the socket takes it now (a new socket's
 * buffer is empty, so it does; no retry, nothing kept), then closed. What the client sent
 * already is read first (one read of at most 4 KiB), so that the close sends a FIN rather
 * than a reset that could discard the answer before the client reads it.
 */
static void
refuse_over_cap(struct rp_front *f, int fd, int err)
{
    bool per_addr = err == -EUSERS;
    const char *msg = per_addr ? "this address already has max_connections_per_ip connections open"
                               : "the server holds max_connections connections; retry later";
    int status = per_addr ? 429 : 503;
    char body[160], out[512], in[4096];
    int body_len = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"status\":%d}\n", msg, status);
    int n =
        snprintf(out, sizeof(out),
                 "HTTP/1.1 %s\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
                 "Connection: close\r\nContent-Length: %d\r\n\r\n%s",
                 per_addr ? "429 Too Many Requests" : "503 Service Unavailable", body_len, body);
    rp_stat_add(f->stats, per_addr ? RP_STAT_ratelimit_per_ip : RP_STAT_ratelimit_total, 1);
    (void)!recv(fd, in, sizeof(in), MSG_DONTWAIT);
    if (n > 0 && (size_t)n < sizeof(out))
        (void)!send(fd, out, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
    close(fd);
}

/* Counts the accepted <fd> from <ss> in the caps and serves it, or refuses it when over a
 * cap. A trusted proxy's connection counts in the total only until its first request names
 * the client (api/guard counts that one under its address). */
static void
serve_accepted(struct rp_front *f, int fd, const struct sockaddr_storage *ss)
{
    struct rp_addr_key peer;
    bool keyed = false;
    if (f->conncap) {
        if (rp_addr_key_from_sockaddr((const struct sockaddr *)ss, &peer) != 0)
            memset(&peer, 0, sizeof(peer));
        keyed = !rp_conncap_is_proxy(f->conncap, &peer);
        int err = rp_conncap_acquire(f->conncap, keyed ? &peer : NULL);
        if (err) {
            refuse_over_cap(f, fd, err);
            return;
        }
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct rp_conn *c = rp_conn_new(f, fd, RP_CONN_HTTP, ss);
    if (!f->conncap)
        return;
    if (c->closing) { /* closed at once: it never held the slot */
        rp_conncap_release(f->conncap, keyed ? &peer : NULL);
        return;
    }
    c->cap = f->conncap;
    c->cap_keyed = keyed;
}

static void
accept_ready(struct rp_loop_io *io, uint32_t events)
{
    (void)events;
    struct rp_front *f = RP_CONTAINER_OF(io, struct rp_front, listener);
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(io->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: stop accepting for a moment instead of spinning. */
                RP_LOG(RP_LOG_WARN, "accept",
                       "msg=\"cannot accept: %s; pausing accepts for 100 ms (raise the open "
                       "files limit for more connections)\"",
                       strerror(errno));
                f->accept_paused_until = rp_clock_now_ms() + ACCEPT_PAUSE_MS;
                rp_loop_modify(f->loop, &f->listener, 0);
            }
            return;
        }
        rp_stat_add(f->stats, RP_STAT_connections_total, 1);
        serve_accepted(f, fd, &ss);
    }
}

int
rp_front_listen(struct rp_front *f, int fd)
{
    f->listener.fd = fd;
    f->listener.fn = accept_ready;
    return rp_loop_add(f->loop, &f->listener, RP_LOOP_READ);
}

int64_t
rp_front_resume_accept(struct rp_front *f, int64_t now)
{
    if (!f->accept_paused_until || f->stopping)
        return INT64_MAX;
    if (now < f->accept_paused_until)
        return f->accept_paused_until - now;
    f->accept_paused_until = 0;
    rp_loop_modify(f->loop, &f->listener, RP_LOOP_READ);
    return INT64_MAX;
}

/* Ends the streams whose token has expired, telling the client why. */
static void
expire_streams(struct rp_front *f)
{
    static const char text[] = "event: auth_expired\ndata: {\"reason\":\"the token expired\"}\n\n";
    int64_t wall = rp_clock_wall_ms();
    while (!rp_list_empty(&f->expiring)) {
        struct rp_conn *c = RP_CONTAINER_OF(f->expiring.next, struct rp_conn, expire_node);
        if (c->expires_wall_ms > wall)
            break;
        rp_list_remove(&c->expire_node);
        rp_stat_auth_failure(f->stats, RP_AUTH_EXPIRED);
        rp_stream_finish(c->stream, text, sizeof(text) - 1, "token expired");
    }
}

/* ---- timeouts ---- */

/*
 * Closes HTTP connections past a deadline; returns ms to the next. Every connection is
 * looked at (once a tick): a request's deadline runs from its first byte, whatever trickled
 * in since, so the list's order (by last activity) says nothing about it.
 *   - an answer the client does not read: closed after idle_timeout without progress;
 *   - a request still arriving: 408 handshake_timeout after its first byte;
 *   - an idle keep-alive connection: closed after idle_timeout.
 * A request that waits has its own deadline (front/wait.h).
 */
static int64_t
sweep_http(struct rp_front *f, int64_t now)
{
    const struct rp_config_values *v = &f->cfg->v;
    int64_t next = v->handshake_timeout < v->idle_timeout ? v->handshake_timeout : v->idle_timeout;
    struct rp_list *pos, *tmp;
    RP_LIST_FOREACH_SAFE (pos, tmp, &f->http) {
        struct rp_conn *c = RP_CONTAINER_OF(pos, struct rp_conn, node);
        if (c->waiting)
            continue;
        int64_t due;
        if (c->out.len) {
            due = c->last_active_ms + v->idle_timeout;
            if (now >= due) {
                rp_conn_close(c, "the client did not read its answer within idle_timeout");
                continue;
            }
        } else if (rp_http_parser_in_request(c->parser) || c->in.len) {
            due = c->req_started_ms + v->handshake_timeout;
            if (now >= due) {
                c->close_after_write = true;
                rp_conn_error(c, NULL, 408, "the request did not arrive within handshake_timeout",
                              NULL);
                rp_conn_flush(c);
                continue;
            }
        } else {
            due = c->last_active_ms + v->idle_timeout;
            if (now >= due) {
                rp_conn_close(c, "idle_timeout");
                continue;
            }
        }
        if (due - now < next)
            next = due - now;
    }
    return next;
}

int64_t
rp_front_sweep(struct rp_front *f, int64_t now)
{
    int64_t next = sweep_http(f, now);
    expire_streams(f);
    return next;
}

/* ---- stopping ---- */

void
rp_front_stop(struct rp_front *f)
{
    if (f->stopping)
        return;
    f->stopping = true;
    if (f->listener.fd >= 0) {
        rp_loop_remove(f->loop, &f->listener);
        close(f->listener.fd);
        f->listener.fd = -1;
    }
    /* Tell streams when to come back, then let them drain. */
    char hint[64];
    size_t n = rp_sse_retry_hint(f->cfg->v.retry, hint, sizeof(hint));
    rp_fanout_broadcast(f->fanout, hint, n);
    struct rp_list *pos, *tmp;
    RP_LIST_FOREACH_SAFE (pos, tmp, &f->http) {
        struct rp_conn *c = RP_CONTAINER_OF(pos, struct rp_conn, node);
        bool mid_request = rp_http_parser_in_request(c->parser) || c->in.len;
        if (!c->waiting && !c->out.len && !mid_request)
            rp_conn_close(c, "shutting down");
        else if (!c->waiting && !mid_request)
            c->close_after_write = true; /* its answer is being written: then close */
        /* A request still arriving, or waiting, is answered (with Connection: close, as
         * every answer while stopping) within shutdown_timeout. */
    }
}

bool
rp_front_drained(struct rp_front *f)
{
    return rp_fanout_idle(f->fanout) && rp_list_empty(&f->http);
}

void
rp_front_close_all(struct rp_front *f)
{
    struct rp_list *lists[] = {&f->http, &f->streams};
    for (size_t i = 0; i < 2; i++) {
        while (!rp_list_empty(lists[i])) {
            struct rp_conn *c = RP_CONTAINER_OF(lists[i]->next, struct rp_conn, node);
            rp_conn_close(c, "shut down");
        }
    }
}

/* ---- hand-over (upgrade) ---- */

void
rp_conn_export_fini(struct rp_conn_export *e)
{
    rp_stream_state_fini(&e->st);
    free(e->in);
    free(e->out);
    e->in = e->out = NULL;
    e->in_len = e->out_len = 0;
}

/* Describes <c> into <e> and closes it here without closing its socket (the successor owns
 * it). False when <c> is not worth handing over (closing, or a stream without state). */
static bool
export_conn(struct rp_conn *c, struct rp_conn_export *e)
{
    memset(e, 0, sizeof(*e));
    e->fd = c->io.fd;
    e->kind = c->kind;
    e->client_key = c->client_key;
    if (c->kind == RP_CONN_STREAM) {
        if (!c->stream || !rp_stream_exportable(c->stream))
            return false;           /* closed: its client resumes from the successor */
        rp_stream_flush(c->stream); /* what the socket takes now, it need not carry */
        rp_stream_export(c->stream, &e->st);
        /* Freed now, not at the end of the turn: the fan-out runs after this callback, and
         * a write it made to the socket would reach the client a second time from the
         * successor (which resumes from the place exported above). */
        rp_stream_free(c->stream);
        c->stream = NULL;
    } else {
        /* A publish whose answer waits for the log was carried out: the old side makes the
         * log durable before the hand-over goes on, so the answer goes over as it is and
         * its request is not handled again. */
        if (c->held) {
            rp_buf_consume(&c->in, c->in_fed);
            c->in_fed = 0;
            c->held = false;
        }
        /* Answers first: what the socket takes now is not carried. A request that waits
         * (slow_policy block, the auth webhook) was not carried out: the successor handles
         * its bytes again, as it does a request that arrived only in part. */
        ssize_t sent =
            c->out.len ? send(c->io.fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT) : 0;
        if (sent > 0)
            rp_buf_consume(&c->out, (size_t)sent);
        e->out = rp_xmalloc(c->out.len + 1);
        memcpy(e->out, c->out.data ? c->out.data : "", c->out.len);
        e->out_len = c->out.len;
        e->in = rp_xmalloc(c->in.len + 1);
        memcpy(e->in, c->in.data ? c->in.data : "", c->in.len);
        e->in_len = c->in.len;
        e->close_after_write = c->close_after_write;
    }
    return true;
}

size_t
rp_front_export(struct rp_front *f, struct rp_conn_export **out, int *listener)
{
    f->stopping = true;
    *listener = f->listener.fd;
    if (f->listener.fd >= 0)
        rp_loop_remove(f->loop, &f->listener);
    f->listener.fd = -1;
    size_t n = 0, cap = 0;
    struct rp_list *pos;
    struct rp_list *lists[] = {&f->streams, &f->http};
    for (size_t i = 0; i < 2; i++)
        for (pos = lists[i]->next; pos != lists[i]; pos = pos->next)
            cap++;
    struct rp_conn_export *all = rp_xcalloc(cap + 1, sizeof(*all));
    for (size_t i = 0; i < 2; i++) {
        while (!rp_list_empty(lists[i])) {
            struct rp_conn *c = RP_CONTAINER_OF(lists[i]->next, struct rp_conn, node);
            if (export_conn(c, &all[n])) {
                n++;
                rp_loop_remove(f->loop, &c->io);
                c->io.fd = -1; /* the successor owns the socket now */
                rp_conn_close(c, "handed over to the new process");
            } else {
                rp_conn_export_fini(&all[n]);
                rp_conn_close(c, "closing during the hand-over");
            }
        }
    }
    *out = all;
    return n;
}

int
rp_front_adopt(struct rp_front *f, struct rp_conn_export *e)
{
    struct rp_conn *c = rp_conn_new(f, e->fd, e->kind, NULL);
    e->fd = -1; /* the connection owns it now */
    if (c->closing)
        return -EIO;
    c->admitted = true; /* the previous process admitted it */
    c->client_key = e->client_key;
    if (f->conncap) {
        /* Open already, so never refused: counted past the caps if need be (a successor
         * with lower caps refuses new connections until enough of these close). */
        c->cap = f->conncap;
        c->cap_keyed = !rp_conncap_is_proxy(f->conncap, &c->client_key);
        rp_conncap_adopt(f->conncap, c->cap_keyed ? &c->client_key : NULL);
    }
    if (e->kind == RP_CONN_HTTP) {
        /* Its queued answer and unanswered bytes; the first loop turn writes and reads on
         * (a writable socket runs conn_io's write path, which then parses <in>). */
        rp_buf_append(&c->out, e->out, e->out_len);
        rp_buf_append(&c->in, e->in, e->in_len);
        c->close_after_write = e->close_after_write;
        if (c->in.len)
            c->req_started_ms = c->last_active_ms;
        if (rp_loop_modify(f->loop, &c->io, RP_LOOP_READ | RP_LOOP_WRITE) != 0) {
            rp_conn_close(c, "epoll_ctl failed");
            return -EIO;
        }
        return 0;
    }
    int rc = rp_conn_resume_stream(c, &e->st);
    if (!rc && f->stream_adopted)
        f->stream_adopted(f->handler_ctx, c, &e->st);
    return rc;
}
