/* SPDX-License-Identifier: MIT */
#include "app/worker.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/conn.h"
#include "app/server.h"
#include "app/upgrade.h"
#include "auth/gate.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "http/cors.h"
#include "http/response.h"
#include "net/conncap.h"
#include "loop/wakeup.h"

#define ACCEPT_BATCH 64
#define READ_CHUNK 16384
#define OUT_PAUSE_READ (1024 * 1024) /* stop reading pipelined requests past this backlog */
#define PARK_RETRY_MS 1
#define TICK_MS 1000
/* Streams written per loop turn before polling other I/O again (one system call for them
 * all, delivery/stream.c). More per turn lets streams catch up sooner, so each write
 * carries fewer events: 64 halved the delivered events/s of scenarios B and C for 8 %
 * off D5's p99. */
#define FANOUT_BUDGET 16
#define LAG_EVERY_MS 5000 /* how often the subscriber-lag histogram is refreshed */

struct rp_worker {
    struct rp_server *srv;
    unsigned id;
    pthread_t thread;
    bool started;
    struct rp_loop *loop;
    struct rp_loop_io listener;
    int64_t accept_paused_until;
    bool worked; /* the last loop turn handled I/O events */
    /* Publishers parked by slow_policy block are retried at most once per PARK_RETRY_MS:
     * each retry asks every worker for a cursor report, and retrying on every busy loop
     * turn kept the run queues of the other workers from ever draining. */
    int64_t next_park_retry_ms;
    struct rp_fanout *fanout;
    struct rp_stats stats;
    struct rp_wakeup stop_wakeup;
    atomic_bool stop_requested;
    atomic_bool export_requested; /* upgrade: hand everything over instead of stopping */
    int exported_listener;        /* after an export: the listening socket, or -1 */
    struct rp_upgrade_stream *exported;
    size_t n_exported;
    bool stopping;
    int64_t stop_deadline_ms;
    struct rp_list http;    /* HTTP connections, least recently active first */
    struct rp_list streams; /* stream connections */
    struct rp_list closing; /* freed at the end of the loop turn */
    struct rp_list parked;
    struct rp_list auth_waiting;  /* requests waiting for the auth webhook */
    struct rp_list expiring;      /* streams whose token expires, soonest first */
    struct rp_gate *gate;         /* NULL with auth_mode none */
    struct rp_wakeup auth_wakeup; /* another worker's webhook call finished */
    bool auth_retry;              /* re-run the auth_waiting requests this turn */
    int64_t next_lag_ms;          /* when measure_lag runs next */
    struct rp_http_limits limits;
    /* This worker's view of the configuration, taken at loop boundaries (apply_config). */
    const struct rp_config *cfg;
    struct rp_cors cors;
};

static void conn_io(struct rp_loop_io *io, uint32_t events);

struct rp_server *
rp_conn_server(const struct rp_conn *c)
{
    return c->w->srv;
}

struct rp_stats *
rp_conn_stats(const struct rp_conn *c)
{
    return &c->w->stats;
}

struct rp_fanout *
rp_conn_fanout(const struct rp_conn *c)
{
    return c->w->fanout;
}

struct rp_fanout *
rp_worker_fanout(struct rp_worker *w)
{
    return w->fanout;
}

struct rp_stats *
rp_worker_stats(struct rp_worker *w)
{
    return &w->stats;
}

const struct rp_config_values *
rp_conn_config(const struct rp_conn *c)
{
    return &c->w->cfg->v;
}

const struct rp_cors *
rp_conn_cors(const struct rp_conn *c)
{
    return &c->w->cors;
}

/* Takes <cfg> as this worker's configuration: between loop turns, so no request sees two. */
static void
apply_config(struct rp_worker *w, const struct rp_config *cfg)
{
    const struct rp_config_values *v = &cfg->v;
    w->cfg = cfg;
    /* Live parsers point at these limits: the next request read gets the new ones. */
    w->limits = (struct rp_http_limits){
        .max_request_line = (size_t)v->max_request_line,
        .max_header_bytes = (size_t)v->max_header_bytes,
        .max_headers = (size_t)v->max_headers,
        .max_body = (size_t)v->max_body,
    };
    w->cors = (struct rp_cors){
        .origins = v->cors_origins.items,
        .n_origins = v->cors_origins.n,
        .credentials = v->cors_credentials,
    };
}

struct rp_gate *
rp_conn_gate(const struct rp_conn *c)
{
    return c->w->gate;
}

void
rp_worker_auth_wake(struct rp_worker *w)
{
    rp_wakeup_signal(&w->auth_wakeup);
}

/* ---- closing ---- */

/* Copies <text> into <out> with double quotes turned into single ones, so it can stand as
 * a quoted log value. */
static const char *
log_safe(const char *text, char *out, size_t cap)
{
    size_t i = 0;
    for (; text && text[i] && i + 1 < cap; i++)
        out[i] = text[i] == '"' ? '\'' : (text[i] == '\n' ? ' ' : text[i]);
    out[i] = '\0';
    return out;
}

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

static void
conn_close(struct rp_conn *c, const char *why)
{
    if (c->closing)
        return;
    if (c->w->cfg->v.access_log) {
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
               (long long)(rp_clock_now_ms() - c->opened_ms), log_safe(why, safe, sizeof(safe)));
    }
    c->closing = true;
    rp_loop_remove(c->w->loop, &c->io);
    rp_list_remove(&c->node);
    if (c->parked) {
        rp_list_remove(&c->park_node);
        c->parked = false;
        rp_stat_sub(&c->w->stats, RP_STAT_connections_waiting, 1);
    }
    if (rp_list_linked(&c->expire_node))
        rp_list_remove(&c->expire_node);
    if (c->capped) {
        rp_conncap_release(c->w->srv->conncap, &c->client_key);
        c->capped = false;
    }
    rp_list_insert_tail(&c->w->closing, &c->node);
}

/* Frees what conn_close marked, once no callback of this turn can still hold it. */
static void
reap(struct rp_worker *w)
{
    while (!rp_list_empty(&w->closing)) {
        struct rp_conn *c = RP_CONTAINER_OF(w->closing.next, struct rp_conn, node);
        rp_list_remove(&c->node);
        rp_stream_free(c->stream);
        rp_http_parser_free(c->parser);
        rp_buf_fini(&c->in);
        rp_buf_fini(&c->out);
        close(c->io.fd);
        rp_stat_sub(&w->stats, RP_STAT_connections_active, 1);
        free(c);
    }
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
    if (rp_loop_modify(c->w->loop, &c->io, ev) != 0)
        conn_close(c, "epoll_ctl failed");
}

static void
flush_out(struct rp_conn *c)
{
    while (c->out.len) {
        ssize_t n = send(c->io.fd, c->out.data, c->out.len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                watch(c, true);
                return;
            }
            if (errno == EINTR)
                continue;
            conn_close(c, strerror(errno));
            return;
        }
        rp_buf_consume(&c->out, (size_t)n);
    }
    if (c->close_after_write) {
        /* Half-close first so the client reads the whole answer before the RST a close
         * with unread input would cause. */
        shutdown(c->io.fd, SHUT_WR);
        conn_close(c, "response sent with Connection: close");
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
    const struct rp_cors *cors = &c->w->cors;
    const char *origin = req && cors->n_origins ? rp_http_request_header(req, "Origin") : NULL;
    struct rp_buf hdrs;
    rp_buf_init(&hdrs, 8192);
    if (origin && rp_cors_allowed(cors, origin)) {
        if (extra_headers)
            rp_buf_append_str(&hdrs, extra_headers);
        rp_cors_headers(cors, origin, &hdrs);
        extra_headers = rp_buf_cstr(&hdrs);
    }
    bool keep = req && req->keep_alive && !c->w->stopping && !c->close_after_write;
    if (!keep)
        c->close_after_write = true;
    if (status >= 400)
        rp_stat_add(&c->w->stats, RP_STAT_http_errors_total, 1);
    if (rp_http_response_write(&c->out, status, content_type, extra_headers, body, body_len,
                               keep) != 0) {
        /* Only a pipelined backlog past the output cap gets here. */
        c->close_after_write = true;
    }
    rp_buf_fini(&hdrs);
}

void
rp_conn_error(struct rp_conn *c, const struct rp_http_request *req, int status, const char *message,
              const char *extra_headers)
{
    if (c->w->cfg->v.access_log) {
        /* The path only: query strings can carry tokens. */
        char client[RP_ADDR_KEY_STRLEN], path[160], safe[300];
        rp_addr_key_format(&c->client_key, client, sizeof(client));
        RP_LOG(RP_LOG_INFO, "access",
               "event=refused conn=%d client=%s method=%s path=\"%s\" status=%d msg=\"%s\"",
               c->io.fd, client, req ? req->method_name : "-",
               log_safe(req ? req->path : "-", path, sizeof(path)), status,
               log_safe(message, safe, sizeof(safe)));
    }
    struct rp_buf body;
    rp_buf_init(&body, 4096);
    rp_buf_printf(&body, "{\"error\":\"");
    rp_json_escape(&body, message, strlen(message));
    rp_buf_printf(&body, "\",\"status\":%d}\n", status);
    rp_conn_respond(c, req, status, "application/json", extra_headers, body.data, body.len);
    rp_buf_fini(&body);
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
    conn_close(owner, why);
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
    struct rp_worker *w = c->w;
    const struct rp_config_values *v = &w->cfg->v;
    /* Whatever earlier pipelined answers are still queued go first, in the same head. */
    struct rp_buf head;
    rp_buf_init(&head, c->out.len + 16384);
    rp_buf_append(&head, c->out.data, c->out.len);
    rp_buf_append_str(&head, "HTTP/1.1 200 OK\r\n"
                             "Content-Type: text/event-stream; charset=utf-8\r\n"
                             "Cache-Control: no-store\r\n"
                             "X-Accel-Buffering: no\r\n");
    rp_cors_headers(&w->cors, rp_http_request_header(req, "Origin"), &head);
    rp_buf_append_str(&head, "\r\n:ok\n\n");
    int64_t retry = c->retry_ms > 0 ? c->retry_ms : v->retry;
    if (retry > 0)
        rp_buf_printf(&head, "retry: %lld\n\n", (long long)retry);

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
    };
    if (v->stream_sndbuf > 0) {
        int sndbuf = (int)v->stream_sndbuf;
        setsockopt(c->io.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    }
    /* From here the connection is a stream: the stream writes to the socket itself. */
    c->kind = RP_CONN_STREAM;
    rp_list_remove(&c->node);
    rp_list_insert_tail(&w->streams, &c->node);
    const char *why = NULL;
    c->stream = rp_stream_open(w->fanout, &o, &why);
    rp_buf_fini(&head);
    if (!c->stream) {
        c->kind = RP_CONN_HTTP;
        rp_list_remove(&c->node);
        rp_list_insert_tail(&w->http, &c->node);
        rp_conn_error(c, req, 503, why ? why : "cannot open the stream", NULL);
        return false;
    }
    rp_buf_fini(&c->out); /* its bytes went out in the head */
    rp_http_parser_free(c->parser);
    c->parser = NULL;
    rp_buf_fini(&c->in);
    return true;
}

void
rp_conn_wait_auth(struct rp_conn *c, int64_t deadline_ms)
{
    if (!c->parked) {
        c->parked = true;
        rp_stat_add(&c->w->stats, RP_STAT_connections_waiting, 1);
        c->auth_wait = true;
        c->park_deadline_ms = deadline_ms;
        rp_list_insert_tail(&c->w->auth_waiting, &c->park_node);
    }
}

void
rp_conn_stream_expires(struct rp_conn *c, int64_t expires_wall_ms)
{
    c->expires_wall_ms = expires_wall_ms;
    if (!expires_wall_ms || c->closing)
        return;
    /* Tokens mostly live alike, so the new one usually goes last: walk from the tail. */
    struct rp_list *pos = c->w->expiring.prev;
    while (pos != &c->w->expiring) {
        struct rp_conn *o = RP_CONTAINER_OF(pos, struct rp_conn, expire_node);
        if (o->expires_wall_ms <= expires_wall_ms)
            break;
        pos = pos->prev;
    }
    /* Insert after <pos>. */
    c->expire_node.prev = pos;
    c->expire_node.next = pos->next;
    pos->next->prev = &c->expire_node;
    pos->next = &c->expire_node;
}

void
rp_conn_park(struct rp_conn *c, int64_t deadline_ms)
{
    if (!c->parked) {
        c->parked = true;
        rp_stat_add(&c->w->stats, RP_STAT_connections_waiting, 1);
        c->park_deadline_ms = deadline_ms;
        rp_list_insert_tail(&c->w->parked, &c->park_node);
        rp_stat_add(&c->w->stats, RP_STAT_publish_blocked_total, 1);
    }
}

/* ---- reading requests ---- */

static void
touch_http(struct rp_conn *c)
{
    c->last_active_ms = rp_clock_now_ms();
    rp_list_remove(&c->node);
    rp_list_insert_tail(&c->w->http, &c->node);
}

/* Parses and answers every complete request in the input, in order. */
static void
process_input(struct rp_conn *c)
{
    size_t off = 0;
    while (!c->closing && !c->parked && c->kind == RP_CONN_HTTP && !c->close_after_write &&
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
            break;
        }
        const struct rp_http_request *req = rp_http_parser_request(c->parser);
        rp_stat_add(&c->w->stats, RP_STAT_http_requests_total, 1);
        c->n_requests++;
        rp_api_handle(c, req, false);
        if (!c->parked && c->kind == RP_CONN_HTTP)
            rp_http_parser_reset(c->parser);
    }
    if (c->kind == RP_CONN_HTTP)
        rp_buf_consume(&c->in, off);
}

/* Slow-loris guard: a request still incomplete after its first second must have arrived at
 * min_request_rate bytes per second on average. */
static bool
too_slow(const struct rp_conn *c)
{
    int64_t min_rate = c->w->cfg->v.min_request_rate;
    if (min_rate <= 0 || !rp_http_parser_in_request(c->parser))
        return false;
    int64_t elapsed = rp_clock_now_ms() - c->req_started_ms;
    return elapsed > 1000 && (int64_t)c->req_bytes * 1000 < min_rate * elapsed;
}

static void
on_readable(struct rp_conn *c)
{
    for (;;) {
        if (c->kind == RP_CONN_STREAM || c->parked) {
            /* Nothing more is expected; read only to notice the peer leaving. */
            char sink[4096];
            ssize_t n = recv(c->io.fd, sink, sizeof(sink), 0);
            if (n == 0) {
                conn_close(c, "peer closed");
                return;
            }
            if (n < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                    conn_close(c, strerror(errno));
                return;
            }
            if (c->parked)
                return; /* the rest is read after the parked request is answered */
            continue;
        }
        char *dst = rp_buf_reserve(&c->in, READ_CHUNK);
        if (!dst) {
            /* The parser's limits are below the buffer's cap, so this is a flood of
             * pipelined requests: answer what was parsed, then read on. */
            process_input(c);
            dst = rp_buf_reserve(&c->in, READ_CHUNK);
            if (!dst) {
                c->close_after_write = true;
                rp_conn_error(c, NULL, 431, "request too large", NULL);
                flush_out(c);
                return;
            }
        }
        ssize_t n = recv(c->io.fd, dst, READ_CHUNK, 0);
        if (n == 0) {
            process_input(c);
            if (!c->closing && c->kind == RP_CONN_HTTP && !c->parked) {
                if (c->out.len) {
                    c->close_after_write = true;
                    flush_out(c);
                } else {
                    conn_close(c, "peer closed");
                }
            }
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                conn_close(c, strerror(errno));
            break;
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
            flush_out(c);
            return;
        }
        if ((size_t)n < READ_CHUNK)
            break;
    }
    if (c->closing || c->kind != RP_CONN_HTTP)
        return;
    process_input(c);
    if (!c->closing && c->kind == RP_CONN_HTTP)
        flush_out(c);
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
                conn_close(c, "write failed");
        } else {
            flush_out(c);
            if (!c->closing && c->in.len && !c->parked) {
                process_input(c);
                flush_out(c);
            }
        }
    }
    if (c->closing)
        return;
    if (events & (RP_LOOP_READ | RP_LOOP_HUP))
        on_readable(c);
}

/* ---- accepting ---- */

static void
accept_ready(struct rp_loop_io *io, uint32_t events)
{
    (void)events;
    struct rp_worker *w = RP_CONTAINER_OF(io, struct rp_worker, listener);
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
                w->accept_paused_until = rp_clock_now_ms() + 100;
                rp_loop_modify(w->loop, &w->listener, 0);
            }
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct rp_conn *c = rp_xcalloc(1, sizeof(*c));
        c->io.fd = fd;
        c->io.fn = conn_io;
        c->w = w;
        c->parser = rp_http_parser_new(&w->limits);
        rp_buf_init(&c->in, w->limits.max_request_line + w->limits.max_header_bytes +
                                w->limits.max_body + 2 * READ_CHUNK);
        rp_buf_init(&c->out, 64 * 1024 * 1024);
        set_peer(c, &ss);
        c->client_key = c->peer_key;
        c->last_active_ms = c->opened_ms = rp_clock_now_ms();
        rp_list_insert_tail(&w->http, &c->node);
        rp_stat_add(&w->stats, RP_STAT_connections_active, 1);
        rp_stat_add(&w->stats, RP_STAT_connections_total, 1);
        if (rp_loop_add(w->loop, &c->io, RP_LOOP_READ) != 0)
            conn_close(c, "epoll_ctl failed");
    }
}

/* ---- timers ---- */

/* Closes HTTP connections past their handshake or idle timeout; returns ms to the next. */
static int64_t
sweep_http(struct rp_worker *w, int64_t now)
{
    const struct rp_config_values *v = &w->cfg->v;
    int64_t shortest =
        v->handshake_timeout < v->idle_timeout ? v->handshake_timeout : v->idle_timeout;
    struct rp_list *pos, *tmp;
    RP_LIST_FOREACH_SAFE (pos, tmp, &w->http) {
        struct rp_conn *c = RP_CONTAINER_OF(pos, struct rp_conn, node);
        int64_t idle = now - c->last_active_ms;
        if (idle < shortest)
            return shortest - idle;
        if (c->parked || c->out.len)
            continue;
        bool mid_request = rp_http_parser_in_request(c->parser) || c->in.len;
        if (mid_request && idle >= v->handshake_timeout) {
            c->close_after_write = true;
            rp_conn_error(c, NULL, 408, "the request did not arrive within handshake_timeout",
                          NULL);
            flush_out(c);
        } else if (!mid_request && idle >= v->idle_timeout) {
            conn_close(c, "idle_timeout");
        }
    }
    return shortest;
}

/* A parked request is answered when its deadline passes: by why it waited. */
typedef void (*expired_fn)(struct rp_conn *c, const struct rp_http_request *req);

static void
block_expired(struct rp_conn *c, const struct rp_http_request *req)
{
    rp_stat_add(&c->w->stats, RP_STAT_publish_block_timeouts, 1);
    rp_conn_error(c, req, 503,
                  "a slow subscriber blocks this topic (slow_policy block) and did not catch up "
                  "within block_timeout; retry later",
                  "Retry-After: 1\r\n");
}

static void
auth_expired(struct rp_conn *c, const struct rp_http_request *req)
{
    rp_stat_auth_failure(&c->w->stats, RP_AUTH_UNAVAILABLE);
    rp_conn_error(c, req, 503,
                  "the auth webhook did not answer within auth_webhook_timeout; retry later",
                  "Retry-After: 1\r\n");
}

/*
 * Re-runs the requests parked on <list>, answering those past their deadline with
 * <expired>. The list is taken whole first: a request parked again waits for the next pass.
 */
static void
retry_list(struct rp_worker *w, struct rp_list *list, int64_t now, expired_fn expired)
{
    struct rp_list todo;
    rp_list_init(&todo);
    while (!rp_list_empty(list)) {
        struct rp_list *n = list->next;
        rp_list_remove(n);
        rp_list_insert_tail(&todo, n);
    }
    while (!rp_list_empty(&todo)) {
        struct rp_conn *c = RP_CONTAINER_OF(todo.next, struct rp_conn, park_node);
        const struct rp_http_request *req = rp_http_parser_request(c->parser);
        bool was_auth = c->auth_wait;
        rp_list_remove(&c->park_node);
        c->parked = false;
        rp_stat_sub(&c->w->stats, RP_STAT_connections_waiting, 1);
        c->auth_wait = false;
        if (now >= c->park_deadline_ms) {
            expired(c, req);
        } else {
            int64_t deadline = c->park_deadline_ms;
            rp_api_handle(c, req, true);
            if (c->parked) {
                /* Parked again for the same reason: it keeps its original deadline. */
                if (c->auth_wait == was_auth)
                    c->park_deadline_ms = deadline;
                continue;
            }
        }
        if (c->kind != RP_CONN_HTTP || c->closing)
            continue; /* it became a stream, or failed */
        rp_http_parser_reset(c->parser);
        process_input(c);
        if (!c->closing)
            flush_out(c);
    }
}

static void
on_auth_wake(struct rp_loop_io *io, uint32_t events)
{
    (void)events;
    struct rp_worker *w = RP_CONTAINER_OF(io, struct rp_worker, auth_wakeup.io);
    rp_wakeup_drain(&w->auth_wakeup);
    w->auth_retry = true;
}

/* The gate's own webhook call finished (on this thread). */
static void
gate_wake(void *ctx)
{
    struct rp_worker *w = ctx;
    w->auth_retry = true;
}

/* Refreshes this worker's subscriber-lag histogram (metrics). */
static void
measure_lag(struct rp_worker *w)
{
    uint64_t counts[RP_STATS_LAG_BUCKETS + 1];
    rp_fanout_lag_histogram(w->fanout, rp_stats_lag_bounds, RP_STATS_LAG_BUCKETS, counts);
    for (int i = 0; i <= RP_STATS_LAG_BUCKETS; i++)
        atomic_store_explicit(&w->stats.lag[i], counts[i], memory_order_relaxed);
}

/* Ends the streams whose token has expired, telling the client why. */
static void
expire_streams(struct rp_worker *w)
{
    static const char text[] = "event: auth_expired\ndata: {\"reason\":\"the token expired\"}\n\n";
    int64_t wall = rp_clock_wall_ms();
    while (!rp_list_empty(&w->expiring)) {
        struct rp_conn *c = RP_CONTAINER_OF(w->expiring.next, struct rp_conn, expire_node);
        if (c->expires_wall_ms > wall)
            break;
        rp_list_remove(&c->expire_node);
        rp_stat_auth_failure(&w->stats, RP_AUTH_EXPIRED);
        rp_stream_finish(c->stream, text, sizeof(text) - 1, "token expired");
    }
}

/* ---- upgrade ---- */

/*
 * Upgrade, old side: describes every stream (rp_stream_export) and keeps its socket and
 * the listener open for the successor; HTTP connections are closed (their clients retry).
 * The worker then leaves its loop. Sockets leave epoll without being closed here.
 */
static void
export_all(struct rp_worker *w)
{
    w->stopping = true;
    w->stop_deadline_ms = 0; /* leave the loop at once */
    rp_loop_remove(w->loop, &w->listener);
    w->exported_listener = w->listener.fd;
    w->listener.fd = -1;
    size_t n = 0;
    struct rp_list *pos;
    for (pos = w->streams.next; pos != &w->streams; pos = pos->next)
        n++;
    w->exported = rp_xcalloc(n + 1, sizeof(*w->exported));
    while (!rp_list_empty(&w->streams)) {
        struct rp_conn *c = RP_CONTAINER_OF(w->streams.next, struct rp_conn, node);
        if (!c->closing && c->stream) {
            rp_stream_flush(c->stream); /* what the socket takes now, it need not carry */
            struct rp_upgrade_stream *e = &w->exported[w->n_exported++];
            e->fd = c->io.fd;
            rp_stream_export(c->stream, &e->st);
            conn_close(c, "handed over to the new process");
            c->io.fd = -1; /* the successor owns the socket now */
        } else {
            conn_close(c, "closing during the hand-over");
        }
    }
    while (!rp_list_empty(&w->http)) {
        struct rp_conn *c = RP_CONTAINER_OF(w->http.next, struct rp_conn, node);
        flush_out(c);
        if (!c->closing)
            conn_close(c, "server upgrading");
    }
}

void
rp_worker_export(struct rp_worker *w)
{
    atomic_store(&w->export_requested, true);
    rp_wakeup_signal(&w->stop_wakeup);
}

void
rp_worker_take_export(struct rp_worker *w, int *listener, struct rp_upgrade_stream **streams,
                      size_t *n)
{
    *listener = w->exported_listener;
    *streams = w->exported;
    *n = w->n_exported;
    w->exported_listener = -1;
    w->exported = NULL;
    w->n_exported = 0;
}

int
rp_worker_adopt_stream(struct rp_worker *w, struct rp_upgrade_stream *e)
{
    struct rp_conn *c = rp_xcalloc(1, sizeof(*c));
    c->io.fd = e->fd;
    c->io.fn = conn_io;
    c->w = w;
    c->kind = RP_CONN_STREAM;
    c->admitted = true;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getpeername(e->fd, (struct sockaddr *)&ss, &len) == 0)
        set_peer(c, &ss);
    c->client_key = c->peer_key;
    c->last_active_ms = c->opened_ms = rp_clock_now_ms();
    rp_list_insert_tail(&w->streams, &c->node);
    rp_stat_add(&w->stats, RP_STAT_connections_active, 1);
    e->fd = -1; /* the connection owns it now */
    if (rp_loop_add(w->loop, &c->io, RP_LOOP_READ) != 0) {
        conn_close(c, "epoll_ctl failed");
        return -EIO;
    }
    struct rp_stream_open o = {
        .fd = c->io.fd,
        .owner = c,
        .ops = &stream_ops,
        .filters = (const char *const *)e->st.filters,
        .n_filters = e->st.n_filters,
        .head = e->st.pending,
        .head_len = e->st.pending_len,
        .adopted = true,
        .resume_seq = e->st.last_seq,
        .tagged = e->st.tagged,
    };
    const char *why = NULL;
    c->stream = rp_stream_open(w->fanout, &o, &why);
    if (!c->stream) {
        conn_close(c, why ? why : "cannot adopt the stream");
        return -ENOSPC;
    }
    return 0;
}

/* ---- the thread ---- */

static void
on_stop(struct rp_loop_io *io, uint32_t events)
{
    (void)events;
    struct rp_worker *w = RP_CONTAINER_OF(io, struct rp_worker, stop_wakeup.io);
    rp_wakeup_drain(&w->stop_wakeup);
    if (atomic_load(&w->export_requested)) {
        if (!w->stopping)
            export_all(w);
        return;
    }
    if (w->stopping || !atomic_load(&w->stop_requested))
        return;
    w->stopping = true;
    w->stop_deadline_ms = rp_clock_now_ms() + w->cfg->v.shutdown_timeout;
    rp_loop_remove(w->loop, &w->listener);
    close(w->listener.fd);
    w->listener.fd = -1;
    /* Tell streams when to come back, then let them drain. */
    char hint[64];
    int64_t retry = w->cfg->v.retry > 0 ? w->cfg->v.retry : 1000;
    int n = snprintf(hint, sizeof(hint), "retry: %lld\n\n", (long long)retry);
    rp_fanout_broadcast(w->fanout, hint, (size_t)n);
    struct rp_list *pos, *tmp;
    RP_LIST_FOREACH_SAFE (pos, tmp, &w->http) {
        struct rp_conn *c = RP_CONTAINER_OF(pos, struct rp_conn, node);
        if (!c->parked && !c->out.len && !rp_http_parser_in_request(c->parser) && !c->in.len)
            conn_close(c, "shutting down");
        else
            c->close_after_write = true;
    }
}

/* True once a stopping worker has nothing left to deliver. */
static bool
drained(struct rp_worker *w)
{
    if (!rp_fanout_idle(w->fanout))
        return false;
    return rp_list_empty(&w->http);
}

static void *
worker_main(void *arg)
{
    struct rp_worker *w = arg;
    rp_log_set_worker((int)w->id);
    const struct rp_config_values *v = &w->cfg->v;
    int64_t next_tick = 0;
    bool fanout_busy = false;
    for (;;) {
        int64_t now = rp_clock_now_ms();
        const struct rp_config *cfg = atomic_load(&w->srv->cfg);
        if (cfg != w->cfg) {
            apply_config(w, cfg);
            v = &cfg->v;
            next_tick = 0; /* timeouts and heartbeats may have changed */
        }
        if (w->stopping && (drained(w) || now >= w->stop_deadline_ms))
            break;
        int64_t wait = TICK_MS;
        if (now >= next_tick) {
            int64_t hb = rp_fanout_sweep(w->fanout, now, v->heartbeat);
            int64_t to = sweep_http(w, now);
            expire_streams(w);
            if (now >= w->next_lag_ms) {
                measure_lag(w);
                w->next_lag_ms = now + LAG_EVERY_MS;
            }
            if (!rp_list_empty(&w->auth_waiting)) {
                struct rp_conn *first =
                    RP_CONTAINER_OF(w->auth_waiting.next, struct rp_conn, park_node);
                if (now >= first->park_deadline_ms)
                    w->auth_retry = true;
            }
            wait = hb < to ? hb : to;
            if (wait > TICK_MS)
                wait = TICK_MS;
            next_tick = now + wait;
        } else {
            wait = next_tick - now;
        }
        if (w->gate) {
            rp_gate_tick(w->gate, now);
            int t = rp_gate_timeout_ms(w->gate, now);
            if (t >= 0 && wait > t)
                wait = t;
        }
        if (w->auth_retry) {
            w->auth_retry = false;
            retry_list(w, &w->auth_waiting, now, auth_expired);
        }
        if (!rp_list_empty(&w->parked) && now >= w->next_park_retry_ms) {
            w->next_park_retry_ms = now + PARK_RETRY_MS;
            retry_list(w, &w->parked, now, block_expired);
        }
        if (!rp_list_empty(&w->parked) && wait > PARK_RETRY_MS)
            wait = PARK_RETRY_MS;
        if (w->accept_paused_until && !w->stopping) {
            if (now >= w->accept_paused_until) {
                w->accept_paused_until = 0;
                rp_loop_modify(w->loop, &w->listener, RP_LOOP_READ);
            } else if (wait > w->accept_paused_until - now) {
                wait = w->accept_paused_until - now;
            }
        }
        if (w->stopping && wait > 50)
            wait = 50;
        if (fanout_busy)
            wait = 0;
        /* About to sleep after a turn that did work: yield the CPU once first. A client
         * our answers just woke is usually queued on this CPU; it runs now, and its next
         * request is read below without a sleep and a cross-CPU wake-up of this thread
         * (scenario P, 16 publishers: 85k -> 135k acknowledged/s, a quarter of the
         * context switches, less CPU per publish). With nothing else to run it returns
         * at once. */
        if (wait > 0 && w->worked)
            sched_yield();
        int rc = rp_loop_run_once(w->loop, (int)(wait > 0 ? wait : 0));
        w->worked = rc > 0;
        fanout_busy = rp_fanout_run(w->fanout, FANOUT_BUDGET);
        reap(w);
        if (rc < 0) {
            RP_LOG(RP_LOG_ERROR, "worker", "msg=\"event loop failed: %s\"", strerror(-rc));
            break;
        }
    }
    /* Close whatever is left: streams were told when to retry. */
    struct rp_list *lists[] = {&w->http, &w->streams};
    for (size_t i = 0; i < 2; i++) {
        while (!rp_list_empty(lists[i])) {
            struct rp_conn *c = RP_CONTAINER_OF(lists[i]->next, struct rp_conn, node);
            conn_close(c, "shut down");
        }
    }
    reap(w);
    return NULL;
}

struct rp_worker *
rp_worker_new(struct rp_server *srv, unsigned id)
{
    struct rp_worker *w = rp_xcalloc(1, sizeof(*w));
    w->srv = srv;
    w->id = id;
    w->listener.fd = -1;
    w->stop_wakeup.io.fd = -1;
    rp_list_init(&w->http);
    rp_list_init(&w->streams);
    rp_list_init(&w->closing);
    rp_list_init(&w->parked);
    rp_list_init(&w->auth_waiting);
    rp_list_init(&w->expiring);
    w->auth_wakeup.io.fd = -1;
    w->exported_listener = -1;
    atomic_init(&w->stop_requested, false);
    atomic_init(&w->export_requested, false);
    apply_config(w, atomic_load(&srv->cfg));
    w->loop = rp_loop_new();
    if (!w->loop)
        goto fail;
    int uring_err = 0;
    bool want_uring = w->cfg->v.io_uring;
    w->fanout = rp_fanout_new(srv->hub, id, w->loop, &w->stats, want_uring, &uring_err);
    if (!w->fanout)
        goto fail;
    if (want_uring && !rp_fanout_uses_io_uring(w->fanout) && id == 0)
        RP_LOG(RP_LOG_WARN, "worker",
               "msg=\"io_uring unavailable (%s): event streams are written with one sendmsg "
               "each\"",
               strerror(uring_err));
    if (rp_wakeup_init(&w->stop_wakeup, w->loop, on_stop) != 0)
        goto fail;
    if (rp_wakeup_init(&w->auth_wakeup, w->loop, on_auth_wake) != 0)
        goto fail;
    if (srv->gate)
        w->gate = rp_gate_new(srv->gate, w->loop, &w->stats, gate_wake, w);
    /* After an upgrade, the listening sockets come from the previous process (connections
     * waiting in their backlogs are kept). */
    int fd;
    if (srv->inherit && id < srv->inherit->n_listeners) {
        fd = srv->inherit->listeners[id];
        srv->inherit->listeners[id] = -1;
    } else {
        fd = rp_listener_open(&srv->addr, 4096);
    }
    if (fd < 0) {
        char where[80];
        rp_addr_format(&srv->addr, where, sizeof(where));
        RP_LOG(RP_LOG_ERROR, "listen", "addr=%s msg=\"cannot listen: %s\"", where, strerror(-fd));
        goto fail;
    }
    w->listener.fd = fd;
    w->listener.fn = accept_ready;
    if (rp_loop_add(w->loop, &w->listener, RP_LOOP_READ) != 0)
        goto fail;
    return w;
fail:
    rp_worker_free(w);
    return NULL;
}

int
rp_worker_start(struct rp_worker *w)
{
    int err = pthread_create(&w->thread, NULL, worker_main, w);
    if (err)
        return -err;
    w->started = true;
    return 0;
}

void
rp_worker_stop(struct rp_worker *w)
{
    atomic_store(&w->stop_requested, true);
    rp_wakeup_signal(&w->stop_wakeup);
}

void
rp_worker_join(struct rp_worker *w)
{
    if (w->started)
        pthread_join(w->thread, NULL);
    w->started = false;
}

void
rp_worker_free(struct rp_worker *w)
{
    if (!w)
        return;
    if (w->listener.fd >= 0) {
        rp_loop_remove(w->loop, &w->listener);
        close(w->listener.fd);
    }
    for (size_t i = 0; i < w->n_exported; i++) {
        close(w->exported[i].fd);
        rp_stream_state_fini(&w->exported[i].st);
    }
    free(w->exported);
    if (w->exported_listener >= 0)
        close(w->exported_listener);
    rp_gate_free(w->gate);
    if (w->loop) {
        rp_wakeup_fini(&w->stop_wakeup, w->loop);
        if (w->auth_wakeup.io.fd >= 0)
            rp_wakeup_fini(&w->auth_wakeup, w->loop);
    }
    rp_fanout_free(w->fanout);
    rp_loop_free(w->loop);
    free(w);
}
