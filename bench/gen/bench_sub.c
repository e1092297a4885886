/* SPDX-License-Identifier: MIT */
#include "gen/bench_sub.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "gen/bench_clock.h"
#include "gen/bench_http.h"
#include "gen/bench_ipc.h"
#include "gen/bench_payload.h"
#include "gen/bench_sse.h"

#define READ_BUF (256 * 1024)
#define MAX_EVENTS 1024
#define PROGRESS_NS (50 * 1000000ull)
/* Handshakes in flight per process when connecting without a rate: keeps the server's
 * accept queues from overflowing, which would cost a 1 s SYN retransmit. */
#define INFLIGHT_MAX 2000
#define CTL_TAG UINT64_MAX

/*
 * A connection: IDLE (not tried) -> CONNECTING (until writable and the request is sent) ->
 * HEAD (until the response head is complete) -> OPEN (200; the body streams as SSE) -> DONE.
 * Any failure before OPEN, or the end of the connect phase, goes straight to DONE.
 */
enum conn_state {
    CONN_IDLE = 0,
    CONN_CONNECTING,
    CONN_HEAD,
    CONN_OPEN,
    CONN_DONE,
};

struct sub_conn {
    int fd;
    uint32_t topic;
    uint32_t gidx; /* global connection index */
    uint8_t state;
    uint8_t pub_known;
    uint16_t req_sent;
    uint32_t pub;      /* the publisher whose sequence this stream follows */
    uint64_t last_seq; /* the highest sequence number seen */
    char *head;        /* an incomplete response head (BENCH_HTTP_HEAD_MAX bytes), else NULL */
    uint32_t head_len;
    struct bench_http_body body;
    struct bench_sse sse;
};

struct sub_proc {
    const struct bench_sub_config *cfg;
    const struct bench_opts *o;
    int epfd;
    struct sub_conn *conns;
    uint32_t n_conns;
    uint32_t next; /* the next IDLE connection to start */
    uint32_t n_inflight;
    uint64_t n_opened; /* ever answered 200 */
    uint64_t n_open;   /* open now */
    double rate;       /* connections/s for this process; 0 = no limit */
    uint64_t connect_start_ns;
    uint64_t now_ns; /* when the bytes being parsed were read */
    bool frozen;
    bool stop;
    struct bench_sub_stats st;
    struct bench_hist hist;
    char *rbuf;
};

/* What the SSE callback needs: the process and the stream the event came on. */
struct feed_ctx {
    struct sub_proc *sp;
    struct sub_conn *c;
};

static void
on_event(void *ctx, const struct bench_sse_event *ev)
{
    struct feed_ctx *f = ctx;
    struct sub_proc *sp = f->sp;
    struct sub_conn *c = f->c;
    struct bench_payload pl;
    if (!bench_payload_parse(ev->data, ev->data_kept, &pl)) {
        sp->st.other++;
        return;
    }
    if (pl.t_ns < sp->cfg->run_start_ns) {
        sp->st.other++;
        sp->st.stale++;
        return;
    }
    if (!c->pub_known) {
        c->pub_known = 1;
        c->pub = pl.pub;
        if (!sp->cfg->strict_start)
            c->last_seq = pl.seq - 1;
    } else if (pl.pub != c->pub) {
        /* Another publisher on this topic: not a sequence this stream follows. */
        sp->st.other++;
        return;
    }
    sp->st.events++;
    if (pl.seq == c->last_seq) {
        sp->st.duplicates++;
        return;
    }
    if (pl.seq > c->last_seq) {
        sp->st.seq_gaps += pl.seq - c->last_seq - 1;
        c->last_seq = pl.seq;
    } else {
        sp->st.reordered++;
    }
    sp->st.delivered++;
    if (sp->st.first_event_ns == 0)
        sp->st.first_event_ns = sp->now_ns;
    sp->st.last_event_ns = sp->now_ns;
    bench_hist_record(&sp->hist, sp->now_ns > pl.t_ns ? sp->now_ns - pl.t_ns : 0);
}

static void
conn_close(struct sub_proc *sp, struct sub_conn *c)
{
    if (c->state == CONN_CONNECTING || c->state == CONN_HEAD)
        sp->n_inflight--;
    if (c->state == CONN_OPEN)
        sp->n_open--;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    RP_FREE(c->head);
    c->state = CONN_DONE;
}

static void
conn_fail(struct sub_proc *sp, struct sub_conn *c, uint64_t *reason)
{
    (*reason)++;
    sp->st.n_failed++;
    conn_close(sp, c);
}

static void
conn_start(struct sub_proc *sp, struct sub_conn *c)
{
    const struct bench_opts *o = sp->o;
    c->state = CONN_CONNECTING;
    sp->n_inflight++;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        conn_fail(sp, c, &sp->st.fail_connect);
        return;
    }
    if (o->n_src_ips) {
        /* Without a port, bind only picks the address; connect() then picks a port that is
         * free for this exact 4-tuple, so each source address brings its own port range. */
        int one = 1;
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = o->src_ips[c->gidx % o->n_src_ips];
        if (setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
            setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) != 0 ||
            bind(c->fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
            conn_fail(sp, c, &sp->st.fail_connect);
            return;
        }
    }
    const struct sockaddr_in *dst = &o->sub_urls[c->gidx % o->n_sub_urls].addr;
    if (connect(c->fd, (const struct sockaddr *)dst, sizeof(*dst)) != 0 && errno != EINPROGRESS) {
        conn_fail(sp, c, &sp->st.fail_connect);
        return;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)(c - sp->conns)};
    if (epoll_ctl(sp->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        conn_fail(sp, c, &sp->st.fail_connect);
}

/* Writable while CONNECTING: the connect finished; send (the rest of) the request. */
static void
conn_writable(struct sub_proc *sp, struct sub_conn *c)
{
    if (c->req_sent == 0) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            conn_fail(sp, c, &sp->st.fail_connect);
            return;
        }
    }
    char req[1400], path[1100];
    const struct bench_url *url = &sp->o->sub_urls[c->gidx % sp->o->n_sub_urls];
    bench_url_path(url, c->topic, path, sizeof(path));
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n"
                     "User-Agent: revenprox-bench\r\n\r\n",
                     path, url->host);
    if (n < 0 || (size_t)n >= sizeof(req) || c->req_sent >= n) {
        conn_fail(sp, c, &sp->st.fail_connect);
        return;
    }
    ssize_t w = send(c->fd, req + c->req_sent, (size_t)n - c->req_sent, MSG_NOSIGNAL);
    if (w < 0) {
        if (errno != EAGAIN && errno != EINTR)
            conn_fail(sp, c, &sp->st.fail_closed);
        return;
    }
    c->req_sent = (uint16_t)(c->req_sent + w);
    if (c->req_sent < n)
        return;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)(c - sp->conns)};
    if (epoll_ctl(sp->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        conn_fail(sp, c, &sp->st.fail_connect);
        return;
    }
    c->state = CONN_HEAD;
}

/* A stream ended or broke after its 200. */
static void
conn_lost(struct sub_proc *sp, struct sub_conn *c)
{
    if (!sp->stop)
        sp->st.disconnects++;
    conn_close(sp, c);
}

/* Feeds stream bytes through the HTTP body framing to the SSE parser. False when the stream
 * is over (its body ended or its framing broke); the caller closes it. */
static bool
conn_feed(struct sub_proc *sp, struct sub_conn *c, const char *p, size_t n)
{
    struct feed_ctx f = {sp, c};
    sp->st.bytes += n;
    while (n > 0) {
        const char *data;
        size_t data_len;
        long k = bench_http_body_take(&c->body, p, n, &data, &data_len);
        if (k < 0) {
            sp->st.parse_errors++;
            return false;
        }
        if (data_len)
            bench_sse_feed(&c->sse, data, data_len, on_event, &f);
        if (c->body.done)
            return false;
        p += k;
        n -= (size_t)k;
        if (k == 0)
            break;
    }
    return true;
}

/* The response head at <p> is complete and <hl> bytes long; <n> bytes follow it. */
static void
conn_answered(struct sub_proc *sp, struct sub_conn *c, const struct bench_http_head *h,
              const char *rest, size_t n)
{
    if (h->status != 200) {
        conn_fail(sp, c, &sp->st.fail_status);
        return;
    }
    sp->n_inflight--;
    sp->n_opened++;
    sp->n_open++;
    sp->st.last_open_ns = bench_clock_ns();
    c->state = CONN_OPEN;
    bench_http_body_init(&c->body, h);
    bench_sse_init(&c->sse);
    if (c->body.done || (n > 0 && !conn_feed(sp, c, rest, n)))
        conn_lost(sp, c);
}

static void
conn_read_head(struct sub_proc *sp, struct sub_conn *c)
{
    struct bench_http_head h;
    long hl;
    if (!c->head) {
        ssize_t r = read(c->fd, sp->rbuf, READ_BUF);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r <= 0) {
            conn_fail(sp, c, &sp->st.fail_closed);
            return;
        }
        sp->now_ns = bench_clock_ns();
        hl = bench_http_head_parse(sp->rbuf, (size_t)r, &h);
        if (hl > 0) {
            conn_answered(sp, c, &h, sp->rbuf + hl, (size_t)(r - hl));
            return;
        }
        if (hl < 0) {
            conn_fail(sp, c, &sp->st.fail_closed);
            return;
        }
        /* Slow path: the head came in pieces; keep them until it is whole. */
        c->head = rp_xmalloc(BENCH_HTTP_HEAD_MAX);
        memcpy(c->head, sp->rbuf, (size_t)r);
        c->head_len = (uint32_t)r;
        return;
    }
    ssize_t r = read(c->fd, c->head + c->head_len, BENCH_HTTP_HEAD_MAX - c->head_len);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0) {
        conn_fail(sp, c, &sp->st.fail_closed);
        return;
    }
    sp->now_ns = bench_clock_ns();
    c->head_len += (uint32_t)r;
    hl = bench_http_head_parse(c->head, c->head_len, &h);
    if (hl == 0 && c->head_len < BENCH_HTTP_HEAD_MAX)
        return;
    if (hl <= 0) {
        conn_fail(sp, c, &sp->st.fail_closed);
        return;
    }
    /* The body bytes move to the shared buffer so the head can go before they are parsed. */
    size_t n = c->head_len - (size_t)hl;
    memcpy(sp->rbuf, c->head + hl, n);
    RP_FREE(c->head);
    conn_answered(sp, c, &h, sp->rbuf, n);
}

static void
conn_read(struct sub_proc *sp, struct sub_conn *c)
{
    /* A few reads at most, so one busy stream cannot starve the others. */
    for (int i = 0; i < 4; i++) {
        ssize_t r = read(c->fd, sp->rbuf, READ_BUF);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            conn_lost(sp, c);
            return;
        }
        if (r == 0) {
            conn_lost(sp, c);
            return;
        }
        sp->now_ns = bench_clock_ns();
        if (!conn_feed(sp, c, sp->rbuf, (size_t)r)) {
            conn_lost(sp, c);
            return;
        }
        if (r < READ_BUF)
            return;
    }
}

static void
fill_progress(const struct sub_proc *sp, struct bench_sub_progress *pr)
{
    pr->n_open = sp->n_open;
    pr->n_failed = sp->st.n_failed;
    pr->n_pending = sp->n_conns - sp->n_opened - sp->st.n_failed;
    pr->delivered = sp->st.delivered;
    pr->last_open_ns = sp->st.last_open_ns;
    pr->last_event_ns = sp->st.last_event_ns;
}

static int
send_progress(const struct sub_proc *sp)
{
    struct bench_sub_progress pr;
    fill_progress(sp, &pr);
    return bench_ipc_send(sp->cfg->report_fd, BENCH_IPC_PROGRESS, &pr, sizeof(pr), NULL, 0);
}

/* The connect phase is over: drop what is not open yet and tell the parent who listens to
 * which topic, so it knows how many deliveries to expect. */
static int
freeze(struct sub_proc *sp)
{
    sp->frozen = true;
    for (uint32_t i = 0; i < sp->n_conns; i++) {
        struct sub_conn *c = &sp->conns[i];
        if (c->state == CONN_IDLE) {
            c->state = CONN_DONE;
            sp->st.fail_pending++;
            sp->st.n_failed++;
        } else if (c->state == CONN_CONNECTING || c->state == CONN_HEAD) {
            conn_fail(sp, c, &sp->st.fail_pending);
        }
    }
    sp->next = sp->n_conns;
    sp->st.n_open = sp->n_open;
    /* One entry per open stream; the parent adds them up per topic. */
    struct bench_sub_topic_count *tc = rp_xcalloc(sp->n_open + 1, sizeof(*tc));
    size_t n_tc = 0;
    for (uint32_t i = 0; i < sp->n_conns; i++) {
        if (sp->conns[i].state == CONN_OPEN)
            tc[n_tc++] = (struct bench_sub_topic_count){sp->conns[i].topic, 1};
    }
    struct bench_sub_progress pr;
    fill_progress(sp, &pr);
    int err = bench_ipc_send(sp->cfg->report_fd, BENCH_IPC_READY, &pr, sizeof(pr), tc,
                             n_tc * sizeof(*tc));
    free(tc);
    return err;
}

static void
on_control(struct sub_proc *sp)
{
    char cmd[16];
    ssize_t r = read(sp->cfg->ctl_fd, cmd, sizeof(cmd));
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0) {
        /* The parent is gone: nobody is left to report to. */
        sp->stop = true;
        return;
    }
    for (ssize_t i = 0; i < r; i++) {
        if (cmd[i] == BENCH_IPC_CMD_FREEZE && !sp->frozen && freeze(sp) != 0)
            sp->stop = true;
        else if (cmd[i] == BENCH_IPC_CMD_STOP)
            sp->stop = true;
    }
}

/* Starts as many connections as the rate and the in-flight cap allow now. */
static void
start_connections(struct sub_proc *sp, uint64_t now)
{
    uint64_t allowed = sp->n_conns;
    if (sp->rate > 0) {
        double due = (double)(now - sp->connect_start_ns) / 1e9 * sp->rate + 1;
        if (due < (double)allowed)
            allowed = (uint64_t)due;
    }
    while (sp->next < sp->n_conns && sp->next < allowed &&
           (sp->rate > 0 || sp->n_inflight < INFLIGHT_MAX))
        conn_start(sp, &sp->conns[sp->next++]);
}

static void
setup(struct sub_proc *sp, const struct bench_sub_config *cfg)
{
    const struct bench_opts *o = cfg->opts;
    memset(sp, 0, sizeof(*sp));
    sp->cfg = cfg;
    sp->o = o;
    /* Global connection j belongs to process j % procs. */
    sp->n_conns = o->conns / o->procs + (cfg->proc < o->conns % o->procs ? 1 : 0);
    sp->conns = rp_xcalloc(sp->n_conns ? sp->n_conns : 1, sizeof(*sp->conns));
    for (uint32_t i = 0; i < sp->n_conns; i++) {
        struct sub_conn *c = &sp->conns[i];
        c->fd = -1;
        c->gidx = cfg->proc + i * o->procs;
        c->topic = c->gidx % o->topics;
    }
    sp->rate = o->connect_rate / o->procs;
    sp->st.n_target = sp->n_conns;
    bench_hist_init(&sp->hist);
    sp->rbuf = rp_xmalloc(READ_BUF);
}

int
bench_sub_main(const struct bench_sub_config *cfg)
{
    struct sub_proc *sp = rp_xmalloc(sizeof(*sp));
    setup(sp, cfg);
    sp->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (sp->epfd < 0) {
        perror("revenprox-bench: epoll_create1");
        free(sp->conns);
        free(sp->rbuf);
        free(sp);
        return 1;
    }
    struct epoll_event cev = {.events = EPOLLIN, .data.u64 = CTL_TAG};
    epoll_ctl(sp->epfd, EPOLL_CTL_ADD, cfg->ctl_fd, &cev);
    struct epoll_event *evs = rp_xcalloc(MAX_EVENTS, sizeof(*evs));

    sp->connect_start_ns = bench_clock_ns();
    uint64_t next_progress = sp->connect_start_ns + PROGRESS_NS;
    bool resolved_sent = false;
    while (!sp->stop) {
        uint64_t now = bench_clock_ns();
        if (now >= cfg->deadline_ns)
            break;
        if (!sp->frozen)
            start_connections(sp, now);
        bool resolved = sp->n_opened + sp->st.n_failed == sp->n_conns;
        if (now >= next_progress || (resolved && !resolved_sent)) {
            if (send_progress(sp) != 0)
                break;
            resolved_sent = resolved;
            next_progress = now + PROGRESS_NS;
        }
        int timeout = (int)((next_progress - now) / 1000000) + 1;
        if (!sp->frozen && sp->next < sp->n_conns)
            timeout = 1;
        int n = epoll_wait(sp->epfd, evs, MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u64 == CTL_TAG) {
                on_control(sp);
                continue;
            }
            struct sub_conn *c = &sp->conns[evs[i].data.u64];
            switch (c->state) {
            case CONN_CONNECTING:
                conn_writable(sp, c);
                break;
            case CONN_HEAD:
                conn_read_head(sp, c);
                break;
            case CONN_OPEN:
                conn_read(sp, c);
                break;
            default:
                break;
            }
        }
    }
    /* Stopping is not a disconnect: close quietly, then report. */
    sp->stop = true;
    if (!sp->frozen)
        sp->st.n_open = sp->n_open;
    for (uint32_t i = 0; i < sp->n_conns; i++) {
        if (sp->conns[i].fd >= 0)
            close(sp->conns[i].fd);
    }
    int err = bench_ipc_send(cfg->report_fd, BENCH_IPC_RESULT, &sp->st, sizeof(sp->st), &sp->hist,
                             sizeof(sp->hist));
    for (uint32_t i = 0; i < sp->n_conns; i++)
        free(sp->conns[i].head);
    free(evs);
    free(sp->conns);
    free(sp->rbuf);
    close(sp->epfd);
    free(sp);
    return err ? 1 : 0;
}
