/* SPDX-License-Identifier: MIT */
#include "front/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "auth/auth.h"
#include "base/stats.h"
#include "front/front.h"
#include "http/response.h"
#include "net/conncap.h"
#include "sse/sse_frame.h"

#define READ_CHUNK 16384
#define OUT_PAUSE_READ (1024 * 1024) /* stop reading pipelined requests past this backlog */
#define STREAM_INPUT_CAP (64 * 1024) /* bytes a client may send on its event stream */

static void conn_io(struct rp_loop_io *io, uint32_t events);

const struct rp_config_values *
rp_conn_config(const struct rp_conn *c)
{
    return &c->f->cfg->v;
}

const struct rp_cors *
rp_conn_cors(const struct rp_conn *c)
{
    return &c->f->cors;
}

struct rp_stats *
rp_conn_stats(const struct rp_conn *c)
{
    return c->f->stats;
}

/* ---- closing ---- */

void
rp_conn_close(struct rp_conn *c, const char *why)
{
    if (c->closing)
        return;
    if (c->f->cfg->v.access_log) {
        char client[RP_ADDR_KEY_STRLEN], host[RP_ADDR_KEY_STRLEN], peer[RP_ADDR_KEY_STRLEN + 8];
        char safe[200];
        rp_addr_key_format(&c->client_key, client, sizeof(client));
        rp_addr_key_format(&c->peer_key, host, sizeof(host));
        snprintf(peer, sizeof(peer), rp_addr_key_is_v4(&c->peer_key) ? "%s:%u" : "[%s]:%u", host,
                 (unsigned)c->peer_port);
        RP_LOG(RP_LOG_INFO, "access",
               "event=close conn=%d peer=%s client=%s kind=%s requests=%u duration_ms=%lld "
               "why=\"%s\"",
               c->io.fd, peer, client, c->kind == RP_CONN_STREAM ? "stream" : "http", c->n_requests,
               (long long)(rp_clock_now_ms() - c->opened_ms),
               rp_log_escape(why, safe, sizeof(safe)));
    }
    c->closing = true;
    rp_stat_conn_duration(c->f->stats, rp_clock_now_ms() - c->opened_ms);
    if (c->io.fd >= 0)
        rp_loop_remove(c->f->loop, &c->io);
    rp_list_remove(&c->node);
    rp_conn_unwait(c);
    rp_list_remove(&c->expire_node);
    if (c->cap) {
        rp_conncap_release(c->cap, c->cap_keyed ? &c->client_key : NULL);
        c->cap = NULL;
    }
    rp_list_insert_tail(&c->f->closing, &c->node);
}

/* ---- writing responses ---- */

static void
watch(struct rp_conn *c, bool want_write)
{
    uint32_t ev = RP_LOOP_READ;
    if (want_write)
        ev |= RP_LOOP_WRITE;
    if (c->kind == RP_CONN_HTTP && c->out.len > OUT_PAUSE_READ)
        ev &= ~(uint32_t)RP_LOOP_READ;
    if (rp_loop_modify(c->f->loop, &c->io, ev) != 0)
        rp_conn_close(c, "epoll_ctl failed");
}

void
rp_conn_flush(struct rp_conn *c)
{
    bool progress = false;
    while (c->held ? c->held_at : c->out.len) {
        size_t len = c->held ? c->held_at : c->out.len;
        ssize_t n = send(c->io.fd, c->out.data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                /* A reader that takes some of its answer is not idle (the sweep closes one
                 * that takes none for idle_timeout). */
                if (progress)
                    c->last_active_ms = rp_clock_now_ms();
                watch(c, true);
                return;
            }
            if (errno == EINTR)
                continue;
            rp_conn_close(c, strerror(errno));
            return;
        }
        rp_buf_consume(&c->out, (size_t)n);
        if (c->held)
            c->held_at -= (size_t)n;
        progress = true;
    }
    if (c->held) {
        watch(c, false);
        return;
    }
    if (c->close_after_write) {
        /* Half-close first so the client reads the whole answer before the RST a close
         * with unread input would cause. */
        shutdown(c->io.fd, SHUT_WR);
        rp_conn_close(c, "response sent with Connection: close");
        return;
    }
    watch(c, false);
}

void
rp_conn_respond(struct rp_conn *c, const struct rp_http_request *req, int status,
                const char *content_type, const char *extra_headers, const char *body,
                size_t body_len)
{
    /* Most answers (every publish ack) carry no CORS headers: no buffer for them. */
    const struct rp_cors *cors = &c->f->cors;
    const char *origin = req && cors->n_origins ? rp_http_request_header(req, "Origin") : NULL;
    struct rp_buf hdrs;
    rp_buf_init(&hdrs, 8192);
    if (origin && rp_cors_allowed(cors, origin)) {
        if (extra_headers)
            rp_buf_append_str(&hdrs, extra_headers);
        rp_cors_headers(cors, origin, &hdrs);
        extra_headers = rp_buf_cstr(&hdrs);
    }
    bool keep = req && req->keep_alive && !c->f->stopping && !c->close_after_write;
    if (!keep)
        c->close_after_write = true;
    if (status >= 400)
        rp_stat_add(c->f->stats, RP_STAT_http_errors_total, 1);
    size_t before = c->out.len;
    c->answer_at = before;
    if (rp_http_response_write(&c->out, status, content_type, extra_headers, body, body_len,
                               keep) != 0) {
        /* Only a pipelined backlog past the output cap gets here. */
        c->close_after_write = true;
    } else if (req && req->method == RP_HTTP_METHOD_HEAD && c->out.len - before >= body_len) {
        c->out.len -= body_len; /* HEAD: the headers a GET would get (its length too), no body */
    }
    rp_buf_fini(&hdrs);
}

void
rp_conn_error(struct rp_conn *c, const struct rp_http_request *req, int status, const char *message,
              const char *extra_headers)
{
    if (c->f->cfg->v.access_log) {
        /* The path only: query strings can carry tokens. */
        char client[RP_ADDR_KEY_STRLEN], path[160], safe[300];
        rp_addr_key_format(&c->client_key, client, sizeof(client));
        RP_LOG(RP_LOG_INFO, "access",
               "event=refused conn=%d client=%s method=%s path=\"%s\" status=%d msg=\"%s\"",
               c->io.fd, client, req ? req->method_name : "-",
               rp_log_escape(req ? req->path : "-", path, sizeof(path)), status,
               rp_log_escape(message, safe, sizeof(safe)));
    }
    struct rp_buf body;
    rp_buf_init(&body, 4096);
    rp_buf_printf(&body, "{\"error\":\"");
    rp_json_escape(&body, message, strlen(message));
    rp_buf_printf(&body, "\",\"status\":%d}\n", status);
    rp_conn_respond(c, req, status, "application/json", extra_headers, body.data, body.len);
    rp_buf_fini(&body);
}

void
rp_conn_hold_answer(struct rp_conn *c, uint64_t seq, int64_t deadline_ms)
{
    c->held = true;
    c->held_at = c->answer_at;
    c->held_seq = seq;
    rp_conn_wait(c, RP_WAIT_DURABLE, deadline_ms);
}

void
rp_conn_release_answer(struct rp_conn *c)
{
    c->held = false;
}

void
rp_conn_drop_answer(struct rp_conn *c)
{
    if (c->held)
        c->out.len = c->held_at;
    c->held = false;
}

/* ---- streams ---- */

static void
stream_want_write(void *owner, bool on)
{
    struct rp_conn *c = owner;
    if (!c->closing)
        watch(c, on);
}

static void
stream_close(void *owner, const char *why)
{
    rp_conn_close(owner, why);
}

static const struct rp_stream_owner_ops stream_ops = {
    .want_write = stream_want_write,
    .close = stream_close,
};

bool
rp_conn_start_stream(struct rp_conn *c, const struct rp_http_request *req,
                     const char *const *filters, size_t n_filters, const char *last_id,
                     size_t last_id_len)
{
    return rp_conn_start_stream_with(c, req, filters, n_filters, last_id, last_id_len, NULL, 0);
}

bool
rp_conn_start_stream_with(struct rp_conn *c, const struct rp_http_request *req,
                          const char *const *filters, size_t n_filters, const char *last_id,
                          size_t last_id_len, const char *replay, size_t replay_len)
{
    const struct rp_conn_stream_opts opts = {0};
    return rp_conn_start_stream_opts(c, req, filters, n_filters, last_id, last_id_len, replay,
                                     replay_len, &opts);
}

bool
rp_conn_start_stream_headers(struct rp_conn *c, const struct rp_http_request *req,
                             const char *const *filters, size_t n_filters, const char *last_id,
                             size_t last_id_len, const char *extra_headers, const char *replay,
                             size_t replay_len)
{
    const struct rp_conn_stream_opts opts = {.extra_headers = extra_headers};
    return rp_conn_start_stream_opts(c, req, filters, n_filters, last_id, last_id_len, replay,
                                     replay_len, &opts);
}

bool
rp_conn_start_stream_opts(struct rp_conn *c, const struct rp_http_request *req,
                          const char *const *filters, size_t n_filters, const char *last_id,
                          size_t last_id_len, const char *replay, size_t replay_len,
                          const struct rp_conn_stream_opts *opts)
{
    struct rp_front *f = c->f;
    const struct rp_config_values *v = &f->cfg->v;
    /* Whatever earlier pipelined answers are still queued go first, in the same head. */
    struct rp_buf head;
    rp_buf_init(&head, c->out.len + 16384 + replay_len);
    rp_buf_append(&head, c->out.data, c->out.len);
    rp_buf_append_str(&head, "HTTP/1.1 200 OK\r\n"
                             "Content-Type: text/event-stream; charset=utf-8\r\n"
                             "Cache-Control: no-store\r\n"
                             "X-Accel-Buffering: no\r\n");
    rp_cors_headers(&f->cors, rp_http_request_header(req, "Origin"), &head);
    if (opts->extra_headers)
        rp_buf_append_str(&head, opts->extra_headers);
    rp_buf_append_str(&head, "\r\n:ok\n\n");
    int64_t retry = c->retry_ms > 0 ? c->retry_ms : v->retry;
    if (retry > 0)
        rp_buf_printf(&head, "retry: %lld\n\n", (long long)retry);
    if (replay_len)
        rp_buf_append(&head, replay, replay_len);

    struct rp_stream_open o = {
        .fd = c->io.fd,
        .owner = c,
        .ops = &stream_ops,
        .filters = filters,
        .n_filters = n_filters,
        .last_event_id = last_id,
        .last_event_id_len = last_id_len,
        .head = head.data,
        .head_len = head.len,
        .untagged = opts->untagged,
        .from_start = opts->from_start,
        .accept = opts->accept,
        .accept_ctx = opts->accept_ctx,
        .accept_free = opts->accept_free,
    };
    if (v->stream_sndbuf > 0) {
        int sndbuf = (int)v->stream_sndbuf;
        setsockopt(c->io.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    }
    /* From here the connection is a stream: the stream writes to the socket itself. */
    c->kind = RP_CONN_STREAM;
    rp_list_remove(&c->node);
    rp_list_insert_tail(&f->streams, &c->node);
    const char *why = NULL;
    c->stream = rp_stream_open(f->fanout, &o, &why);
    rp_buf_fini(&head);
    if (!c->stream) {
        c->kind = RP_CONN_HTTP;
        rp_list_remove(&c->node);
        rp_list_insert_tail(&f->http, &c->node);
        rp_conn_error(c, req, 503, why ? why : "cannot open the stream", NULL);
        return false;
    }
    rp_buf_fini(&c->out); /* its bytes went out in the head */
    c->req_bytes = 0;     /* from now on: what the client sends on its stream */
    rp_http_parser_free(c->parser);
    c->parser = NULL;
    rp_buf_fini(&c->in);
    return true;
}

void
rp_conn_schedule_expiry(struct rp_conn *c, int64_t expires_wall_ms)
{
    c->expires_wall_ms = expires_wall_ms;
    if (!expires_wall_ms || c->closing)
        return;
    /* Tokens mostly live alike, so the new one usually goes last: walk from the tail. */
    struct rp_list *pos = c->f->expiring.prev;
    while (pos != &c->f->expiring) {
        struct rp_conn *o = RP_CONTAINER_OF(pos, struct rp_conn, expire_node);
        if (o->expires_wall_ms <= expires_wall_ms)
            break;
        pos = pos->prev;
    }
    rp_list_insert_after(pos, &c->expire_node);
}

/* ---- reading requests ---- */

static void
touch_http(struct rp_conn *c)
{
    c->last_active_ms = rp_clock_now_ms();
    rp_list_remove(&c->node);
    rp_list_insert_tail(&c->f->http, &c->node);
}

/*
 * Parses and answers every complete request in the input, in order. The bytes of a request
 * stay in <in> until it is answered (<in_fed> of them were given to the parser), so a
 * request that waits, or arrives only in part, can be handed to the next process whole.
 */
static void
process_input(struct rp_conn *c)
{
    size_t start = 0, off = c->in_fed;
    while (!c->closing && !c->waiting && c->kind == RP_CONN_HTTP && !c->close_after_write &&
           off < c->in.len && c->out.len <= OUT_PAUSE_READ) {
        size_t used = 0;
        enum rp_parse_result r =
            rp_http_parser_feed(c->parser, c->in.data + off, c->in.len - off, &used);
        off += used;
        if (r == RP_PARSE_MORE) {
            if (rp_http_parser_take_continue(c->parser))
                rp_buf_append_str(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
            break;
        }
        if (r == RP_PARSE_ERROR) {
            struct rp_http_error e = rp_http_parser_error(c->parser);
            c->close_after_write = true;
            rp_conn_error(c, NULL, e.status, e.reason, NULL);
            start = off;
            break;
        }
        const struct rp_http_request *req = rp_http_parser_request(c->parser);
        rp_stat_add(c->f->stats, RP_STAT_http_requests_total, 1);
        c->n_requests++;
        c->f->handler(c->f->handler_ctx, c, req, RP_CONN_CALL_NEW);
        if (c->waiting || c->kind != RP_CONN_HTTP)
            break;
        rp_http_parser_reset(c->parser);
        start = off;
    }
    if (c->kind == RP_CONN_HTTP) {
        rp_buf_consume(&c->in, start);
        c->in_fed = off - start;
    }
}

/* Slow-loris guard: a request still incomplete after its first second must have arrived at
 * min_request_rate bytes per second on average. */
static bool
too_slow(const struct rp_conn *c)
{
    int64_t min_rate = c->f->cfg->v.min_request_rate;
    if (min_rate <= 0 || !rp_http_parser_in_request(c->parser))
        return false;
    int64_t elapsed = rp_clock_now_ms() - c->req_started_ms;
    return elapsed > 1000 && (int64_t)c->req_bytes * 1000 < min_rate * elapsed;
}

static void
on_readable(struct rp_conn *c)
{
    for (;;) {
        if (c->kind == RP_CONN_STREAM) {
            /* Nothing is expected on an event stream: read to notice the peer leaving, one
             * buffer a turn (a flood cannot hold the loop), and close a client that keeps
             * sending (req_bytes counts what it sent since the stream began). */
            char sink[4096];
            ssize_t n = recv(c->io.fd, sink, sizeof(sink), 0);
            if (n == 0) {
                rp_conn_close(c, "peer closed");
            } else if (n < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                    rp_conn_close(c, strerror(errno));
            } else if ((c->req_bytes += (size_t)n) > STREAM_INPUT_CAP) {
                rp_conn_close(c, "the client keeps sending on an event stream");
            }
            return;
        }
        char *dst = rp_buf_reserve(&c->in, READ_CHUNK);
        if (!dst && c->waiting) {
            /* Pipelined requests behind one that waits: read on once it is answered
             * (flush_out watches for reading again). */
            if (rp_loop_modify(c->f->loop, &c->io, c->io.events & ~(uint32_t)RP_LOOP_READ))
                rp_conn_close(c, "epoll_ctl failed");
            return;
        }
        if (!dst) {
            /* The parser's limits are below the buffer's cap, so this is a flood of
             * pipelined requests: answer what was parsed, then read on. */
            process_input(c);
            dst = rp_buf_reserve(&c->in, READ_CHUNK);
            if (!dst) {
                c->close_after_write = true;
                rp_conn_error(c, NULL, 431, "request too large", NULL);
                rp_conn_flush(c);
                return;
            }
        }
        ssize_t n = recv(c->io.fd, dst, READ_CHUNK, 0);
        if (n == 0) {
            if (c->waiting) {
                rp_conn_close(c, "peer closed");
                return;
            }
            process_input(c);
            if (!c->closing && c->kind == RP_CONN_HTTP && !c->waiting) {
                if (c->out.len) {
                    c->close_after_write = true;
                    rp_conn_flush(c);
                } else {
                    rp_conn_close(c, "peer closed");
                }
            }
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                rp_conn_close(c, strerror(errno));
            break;
        }
        if (c->waiting) {
            /* Kept for after the waiting request (the request's own timers stopped). */
            c->in.len += (size_t)n;
            continue;
        }
        if (c->in.len == 0 && !rp_http_parser_in_request(c->parser)) {
            c->req_started_ms = rp_clock_now_ms();
            c->req_bytes = 0;
        }
        c->in.len += (size_t)n;
        c->req_bytes += (size_t)n;
        touch_http(c);
        if (too_slow(c)) {
            c->close_after_write = true;
            rp_conn_error(c, NULL, 408, "the request arrives slower than min_request_rate", NULL);
            rp_conn_flush(c);
            return;
        }
        if ((size_t)n < READ_CHUNK)
            break;
    }
    if (c->closing || c->kind != RP_CONN_HTTP || c->waiting)
        return;
    process_input(c);
    if (!c->closing && c->kind == RP_CONN_HTTP)
        rp_conn_flush(c);
}

static void
conn_io(struct rp_loop_io *io, uint32_t events)
{
    struct rp_conn *c = RP_CONTAINER_OF(io, struct rp_conn, io);
    if (c->closing)
        return;
    if (events & RP_LOOP_WRITE) {
        if (c->kind == RP_CONN_STREAM) {
            int err = rp_stream_flush(c->stream);
            if (err && err != -EAGAIN)
                rp_conn_close(c, "write failed");
        } else {
            rp_conn_flush(c);
            if (!c->closing && c->in.len && !c->waiting) {
                process_input(c);
                rp_conn_flush(c);
            }
        }
    }
    if (c->closing)
        return;
    if (events & (RP_LOOP_READ | RP_LOOP_HUP))
        on_readable(c);
}

void
rp_conn_rerun(struct rp_conn *c, enum rp_conn_call call)
{
    const struct rp_http_request *req = rp_http_parser_request(c->parser);
    c->f->handler(c->f->handler_ctx, c, req, call);
    if (c->waiting || c->kind != RP_CONN_HTTP || c->closing)
        return; /* waits again, became a stream, or failed */
    rp_http_parser_reset(c->parser);
    rp_buf_consume(&c->in, c->in_fed); /* the answered request's bytes */
    c->in_fed = 0;
    process_input(c);
    if (!c->closing)
        rp_conn_flush(c);
}

/* ---- new connections ---- */

/* Remembers the peer's address and port (a key and a number, not text: formatting costs
 * time at accept and 64 bytes per connection, and only the access log shows it). */
static void
set_peer(struct rp_conn *c, const struct sockaddr_storage *ss)
{
    rp_addr_key_from_sockaddr((const struct sockaddr *)ss, &c->peer_key);
    if (ss->ss_family == AF_INET)
        c->peer_port = ntohs(((const struct sockaddr_in *)ss)->sin_port);
    else if (ss->ss_family == AF_INET6)
        c->peer_port = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* A connection on socket <fd> (owned from now on), registered for reading. */
struct rp_conn *
rp_conn_new(struct rp_front *f, int fd, enum rp_conn_kind kind, const struct sockaddr_storage *peer)
{
    struct rp_conn *c = rp_xcalloc(1, sizeof(*c));
    c->io.fd = fd;
    c->io.fn = conn_io;
    c->f = f;
    c->kind = kind;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (peer)
        set_peer(c, peer);
    else if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
        set_peer(c, &ss);
    c->client_key = c->peer_key;
    c->last_active_ms = c->opened_ms = rp_clock_now_ms();
    if (kind == RP_CONN_HTTP) {
        c->parser = rp_http_parser_new(&f->limits);
        rp_buf_init(&c->in, f->limits.max_request_line + f->limits.max_header_bytes +
                                f->limits.max_body + 2 * READ_CHUNK);
        rp_buf_init(&c->out, 64 * 1024 * 1024);
    }
    rp_list_insert_tail(kind == RP_CONN_HTTP ? &f->http : &f->streams, &c->node);
    rp_stat_add(f->stats, RP_STAT_connections_active, 1);
    if (rp_loop_add(f->loop, &c->io, RP_LOOP_READ) != 0)
        rp_conn_close(c, "epoll_ctl failed");
    return c;
}

int
rp_conn_resume_stream(struct rp_conn *c, const struct rp_stream_state *st)
{
    struct rp_stream_open o = {
        .fd = c->io.fd,
        .owner = c,
        .ops = &stream_ops,
        .filters = (const char *const *)st->filters,
        .n_filters = st->n_filters,
        .head = st->pending,
        .head_len = st->pending_len,
        .adopted = true,
        .resume_seq = st->last_seq,
        .tagged = st->tagged,
        .untagged = !st->tagged, /* as it was: an untagged stream over many topics stays so */
        .cursors = st->cursors,
        .n_cursors = st->n_cursors,
    };
    const char *why = NULL;
    c->stream = rp_stream_open(c->f->fanout, &o, &why);
    if (!c->stream) {
        rp_conn_close(c, why ? why : "cannot adopt the stream");
        return -ENOSPC;
    }
    return 0;
}
