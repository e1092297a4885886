/* SPDX-License-Identifier: MIT */
#include "gen/bench_pub.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "gen/bench_clock.h"
#include "gen/bench_http.h"
#include "gen/bench_payload.h"

#define RECONNECT_NS (200 * 1000000ull)
#define IN_CAP (8u << 20)
#define READ_CHUNK 65536

/*
 * A publisher connection: DOWN -> CONNECTING -> UP -> DOWN. A failure goes to DOWN with the
 * requests in flight counted failed, and reconnects after RECONNECT_NS; a graceful close (the
 * server said Connection: close, or closed an idle connection) reconnects at once. A new
 * connection sends one request and opens its --pipeline window only once an answer shows
 * the server keeps it alive: servers that close after every answer (Pushpin's publish API)
 * read pipelined bytes as a body overflow and refuse even the first request.
 */
enum pub_state {
    PUB_DOWN = 0,
    PUB_CONNECTING,
    PUB_UP,
};

struct pub_conn {
    int fd;
    uint32_t idx;
    uint8_t state;
    bool in_body;       /* the head of the current answer is parsed; its body is being read */
    bool want_out;      /* EPOLLOUT is registered */
    bool keep_alive;    /* an answer on this connection came without Connection: close */
    uint32_t n_out;     /* requests outstanding */
    uint32_t ring_head; /* the oldest outstanding request in <ring> */
    uint32_t *ring;     /* the topic of each outstanding request, --pipeline slots */
    uint32_t n_topics;  /* topics owned: idx, idx + C, idx + 2C, ... */
    uint32_t next_k;    /* the next of them to publish to */
    uint64_t retry_ns;
    size_t out_off; /* bytes of <out> already sent */
    struct rp_buf in;
    struct rp_buf out;
    struct bench_http_head head;
    struct bench_http_body body;
};

struct bench_pub {
    const struct bench_opts *o;
    int epfd;
    uint64_t tag;
    struct pub_conn *conns;
    uint32_t n;
    uint64_t *seq;   /* the last sequence number published, per topic */
    uint64_t *acked; /* per topic */
    struct bench_pub_totals t;
    double tokens;
    double burst;
    uint64_t refill_ns;
    uint32_t rr; /* where the next round-robin pass starts */
    uint64_t end_ns;
    bool running;
    char *data; /* room for one event's data */
};

struct bench_pub *
bench_pub_new(const struct bench_opts *o, int epfd, uint64_t tag)
{
    struct bench_pub *p = rp_xcalloc(1, sizeof(*p));
    p->o = o;
    p->epfd = epfd;
    p->tag = tag;
    p->n = o->publishers;
    p->conns = rp_xcalloc(p->n, sizeof(*p->conns));
    p->seq = rp_xcalloc(o->topics, sizeof(*p->seq));
    p->acked = rp_xcalloc(o->topics, sizeof(*p->acked));
    p->data = rp_xmalloc(o->size + BENCH_PAYLOAD_HEAD_MAX);
    size_t req_max = o->size + BENCH_PAYLOAD_HEAD_MAX + 2 * sizeof(o->pub_url.path) + 512;
    for (uint32_t i = 0; i < p->n; i++) {
        struct pub_conn *pc = &p->conns[i];
        pc->fd = -1;
        pc->idx = i;
        pc->ring = rp_xcalloc(o->pipeline, sizeof(*pc->ring));
        pc->n_topics = i < o->topics ? (o->topics - i + p->n - 1) / p->n : 0;
        rp_buf_init(&pc->in, IN_CAP);
        rp_buf_init(&pc->out, req_max * o->pipeline + 65536);
    }
    /* Twenty milliseconds of tokens (at least two) at most: an even spread that still
     * absorbs timer jitter; tokens are only lost while every window is full. */
    p->burst = o->pub_rate / 50 > 2 ? o->pub_rate / 50 : 2;
    return p;
}

void
bench_pub_free(struct bench_pub *p)
{
    if (!p)
        return;
    for (uint32_t i = 0; i < p->n; i++) {
        struct pub_conn *pc = &p->conns[i];
        if (pc->fd >= 0)
            close(pc->fd);
        free(pc->ring);
        rp_buf_fini(&pc->in);
        rp_buf_fini(&pc->out);
    }
    free(p->conns);
    free(p->seq);
    free(p->acked);
    free(p->data);
    free(p);
}

static void
update_events(struct bench_pub *p, struct pub_conn *pc, bool want_out)
{
    if (pc->want_out == want_out)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0),
                             .data.u64 = p->tag | pc->idx};
    epoll_ctl(p->epfd, EPOLL_CTL_MOD, pc->fd, &ev);
    pc->want_out = want_out;
}

static void conn_connect(struct bench_pub *p, struct pub_conn *pc, uint64_t now);

/* The connection is gone. When it <broke>, what was in flight is lost and the reconnect
 * waits a little; a graceful close reconnects at once while publishing goes on. */
static void
conn_down(struct bench_pub *p, struct pub_conn *pc, uint64_t now, bool broke)
{
    if (pc->fd >= 0)
        close(pc->fd);
    pc->fd = -1;
    pc->state = PUB_DOWN;
    p->t.failed += pc->n_out;
    if (broke)
        p->t.conn_errors++;
    pc->n_out = 0;
    pc->ring_head = 0;
    pc->in_body = false;
    pc->want_out = false;
    pc->keep_alive = false;
    pc->in.len = 0;
    pc->out.len = 0;
    pc->out_off = 0;
    pc->retry_ns = broke ? now + RECONNECT_NS : now;
    if (!broke && p->running)
        conn_connect(p, pc, now);
}

static void
conn_connect(struct bench_pub *p, struct pub_conn *pc, uint64_t now)
{
    pc->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (pc->fd < 0) {
        conn_down(p, pc, now, true);
        return;
    }
    int one = 1;
    setsockopt(pc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const struct sockaddr_in *dst = &p->o->pub_url.addr;
    if (connect(pc->fd, (const struct sockaddr *)dst, sizeof(*dst)) != 0 && errno != EINPROGRESS) {
        conn_down(p, pc, now, true);
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = p->tag | pc->idx};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, pc->fd, &ev) != 0) {
        conn_down(p, pc, now, true);
        return;
    }
    pc->want_out = true;
    pc->state = PUB_CONNECTING;
}

/* Appends the next request of <pc> to its output. */
static void
queue_one(struct bench_pub *p, struct pub_conn *pc, uint64_t now)
{
    const struct bench_opts *o = p->o;
    uint32_t topic = pc->idx + pc->next_k * p->n;
    pc->next_k = pc->next_k + 1 < pc->n_topics ? pc->next_k + 1 : 0;
    struct bench_payload pl = {.pub = pc->idx, .seq = ++p->seq[topic], .t_ns = now};
    size_t dlen = bench_payload_format(p->data, &pl, o->size);
    char path[sizeof(o->pub_url.path) + 16];
    bench_url_path(&o->pub_url, topic, path, sizeof(path));
    int err;
    if (o->pub_format == BENCH_PUB_FORMAT_PUSHPIN) {
        static const char pre[] = "\",\"formats\":{\"http-stream\":{\"content\":"
                                  "\"event: message\\ndata: ";
        static const char post[] = "\\n\\n\"}}}]}";
        char chan[16];
        size_t clen = bench_payload_u64(chan, topic);
        size_t blen = strlen("{\"items\":[{\"channel\":\"t") + clen + (sizeof(pre) - 1) + dlen +
                      (sizeof(post) - 1);
        err = rp_buf_printf(&pc->out,
                            "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                            "Content-Length: %zu\r\n\r\n{\"items\":[{\"channel\":\"t%.*s%s",
                            path, o->pub_url.host, blen, (int)clen, chan, pre);
        if (!err)
            err = rp_buf_append(&pc->out, p->data, dlen);
        if (!err)
            err = rp_buf_append(&pc->out, post, sizeof(post) - 1);
    } else if (o->pub_format == BENCH_PUB_FORMAT_MERCURE) {
        /* The payload is digits, spaces and 'x': form-encoded, a space is '+'. */
        for (size_t i = 0; i < dlen; i++)
            if (p->data[i] == ' ')
                p->data[i] = '+';
        static const char pre[] = "topic=https%3A%2F%2Fbench.example%2Ft";
        char num[24];
        size_t nlen = bench_payload_u64(num, topic);
        size_t blen = (sizeof(pre) - 1) + nlen + strlen("&data=") + dlen;
        err = rp_buf_printf(&pc->out,
                            "POST %s HTTP/1.1\r\nHost: %s\r\n"
                            "Content-Type: application/x-www-form-urlencoded\r\n"
                            "Content-Length: %zu\r\n\r\n%s%.*s&data=",
                            path, o->pub_url.host, blen, pre, (int)nlen, num);
        if (!err)
            err = rp_buf_append(&pc->out, p->data, dlen);
    } else {
        err = rp_buf_printf(&pc->out,
                            "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\n"
                            "Content-Length: %zu\r\n\r\n",
                            path, o->pub_url.host, dlen);
        if (!err)
            err = rp_buf_append(&pc->out, p->data, dlen);
    }
    /* The output holds a whole window of the largest requests, so this cannot fail. */
    if (err)
        abort();
    pc->ring[(pc->ring_head + pc->n_out) % o->pipeline] = topic;
    pc->n_out++;
    p->t.published++;
    if (p->t.first_send_ns == 0)
        p->t.first_send_ns = now;
}

static void
flush(struct bench_pub *p, struct pub_conn *pc, uint64_t now)
{
    while (pc->out_off < pc->out.len) {
        ssize_t w =
            send(pc->fd, pc->out.data + pc->out_off, pc->out.len - pc->out_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                update_events(p, pc, true);
                return;
            }
            conn_down(p, pc, now, true);
            return;
        }
        pc->out_off += (size_t)w;
    }
    pc->out.len = 0;
    pc->out_off = 0;
    update_events(p, pc, false);
}

/* --count publishes are sent. */
static bool
count_reached(const struct bench_pub *p)
{
    return p->o->count > 0 && p->t.published >= p->o->count;
}

static bool
can_send(const struct bench_pub *p, const struct pub_conn *pc)
{
    if (count_reached(p))
        return false;
    uint32_t window = pc->keep_alive ? p->o->pipeline : 1;
    return pc->state == PUB_UP && pc->n_topics > 0 && pc->n_out < window;
}

/* Rate 0: keep the window of <pc> full. */
static void
fill_window(struct bench_pub *p, struct pub_conn *pc, uint64_t now)
{
    if (!p->running || p->o->pub_rate > 0 || !can_send(p, pc))
        return;
    while (can_send(p, pc))
        queue_one(p, pc, now);
    flush(p, pc, now);
}

/* One whole answer arrived on <pc>. False when it answers no request (a protocol error). */
static bool
answered(struct bench_pub *p, struct pub_conn *pc, int status, uint64_t now)
{
    if (pc->n_out == 0)
        return false;
    uint32_t topic = pc->ring[pc->ring_head];
    pc->ring_head = (pc->ring_head + 1) % p->o->pipeline;
    pc->n_out--;
    if (status >= 200 && status < 300) {
        p->acked[topic]++;
        p->t.acked++;
        p->t.last_ack_ns = now;
    } else {
        p->t.failed++;
    }
    return true;
}

enum answers {
    ANSWERS_OK = 0,
    ANSWERS_CLOSE, /* the server closes after this answer */
    ANSWERS_ERROR,
};

/* Parses every whole answer in the input of <pc>. */
static enum answers
parse_answers(struct bench_pub *p, struct pub_conn *pc, uint64_t now)
{
    size_t pos = 0;
    bool ok = true;
    enum answers res = ANSWERS_OK;
    while (ok) {
        if (!pc->in_body) {
            long hl = bench_http_head_parse(pc->in.data + pos, pc->in.len - pos, &pc->head);
            if (hl == 0)
                break;
            if (hl < 0) {
                ok = false;
                break;
            }
            pos += (size_t)hl;
            if (pc->head.status < 200)
                continue; /* 100 Continue and friends: the real answer follows */
            bench_http_body_init(&pc->body, &pc->head);
            pc->in_body = true;
        }
        while (!pc->body.done && pos < pc->in.len) {
            const char *d;
            size_t dl;
            long k = bench_http_body_take(&pc->body, pc->in.data + pos, pc->in.len - pos, &d, &dl);
            if (k <= 0) {
                ok = k == 0 && pc->body.done;
                break;
            }
            pos += (size_t)k;
        }
        if (!ok || !pc->body.done)
            break;
        pc->in_body = false;
        if (!answered(p, pc, pc->head.status, now)) {
            ok = false;
        } else if (pc->head.close) {
            res = ANSWERS_CLOSE;
            break;
        } else {
            pc->keep_alive = true;
        }
    }
    rp_buf_consume(&pc->in, pos);
    return ok ? res : ANSWERS_ERROR;
}

static void
on_readable(struct bench_pub *p, struct pub_conn *pc, uint64_t now)
{
    for (;;) {
        char *dst = rp_buf_reserve(&pc->in, READ_CHUNK);
        if (!dst) {
            conn_down(p, pc, now, true);
            return;
        }
        ssize_t r = read(pc->fd, dst, READ_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            break;
        if (r <= 0) {
            /* An answer that runs until the close is complete now. */
            if (r == 0 && pc->in_body && pc->body.mode == BENCH_HTTP_BODY_UNTIL_CLOSE) {
                pc->in_body = false;
                answered(p, pc, pc->head.status, now);
            }
            /* A close with nothing in flight is the server ending an idle connection. */
            conn_down(p, pc, now, !(r == 0 && pc->n_out == 0 && !pc->in_body));
            return;
        }
        pc->in.len += (size_t)r;
        enum answers res = parse_answers(p, pc, now);
        if (res != ANSWERS_OK) {
            conn_down(p, pc, now, res == ANSWERS_ERROR || pc->n_out > 0);
            return;
        }
        if (r < READ_CHUNK)
            break;
    }
    fill_window(p, pc, now);
}

void
bench_pub_on_ready(struct bench_pub *p, uint32_t idx, uint32_t events)
{
    if (idx >= p->n)
        return;
    struct pub_conn *pc = &p->conns[idx];
    uint64_t now = bench_clock_ns();
    if (pc->state == PUB_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(pc->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            conn_down(p, pc, now, true);
            return;
        }
        if (!(events & (EPOLLOUT | EPOLLIN)))
            return;
        pc->state = PUB_UP;
        update_events(p, pc, false);
        fill_window(p, pc, now);
        return;
    }
    if (pc->state != PUB_UP)
        return;
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable(p, pc, now);
    if (pc->state == PUB_UP && (events & EPOLLOUT))
        flush(p, pc, now);
}

void
bench_pub_start(struct bench_pub *p, uint64_t now_ns, uint64_t end_ns)
{
    p->running = true;
    p->end_ns = end_ns;
    p->tokens = 1;
    p->refill_ns = now_ns;
    for (uint32_t i = 0; i < p->n; i++) {
        if (p->conns[i].n_topics > 0)
            conn_connect(p, &p->conns[i], now_ns);
    }
}

/* Spends the tokens one request at a time, round-robin over the publishers that can send. */
static void
spend_tokens(struct bench_pub *p, uint64_t now)
{
    p->tokens += (double)(now - p->refill_ns) / 1e9 * p->o->pub_rate;
    p->refill_ns = now;
    if (p->tokens > p->burst)
        p->tokens = p->burst;
    uint32_t idle = 0;
    while (p->tokens >= 1 && idle < p->n) {
        struct pub_conn *pc = &p->conns[p->rr];
        p->rr = p->rr + 1 < p->n ? p->rr + 1 : 0;
        if (!can_send(p, pc)) {
            idle++;
            continue;
        }
        idle = 0;
        queue_one(p, pc, now);
        p->tokens -= 1;
    }
    for (uint32_t i = 0; i < p->n; i++) {
        struct pub_conn *pc = &p->conns[i];
        if (pc->state == PUB_UP && pc->out.len > pc->out_off && !pc->want_out)
            flush(p, pc, now);
    }
}

int
bench_pub_tick(struct bench_pub *p, uint64_t now_ns)
{
    if (p->running && (now_ns >= p->end_ns || count_reached(p)))
        p->running = false;
    if (!p->running)
        return 50;
    for (uint32_t i = 0; i < p->n; i++) {
        struct pub_conn *pc = &p->conns[i];
        if (pc->state == PUB_DOWN && pc->n_topics > 0 && now_ns >= pc->retry_ns)
            conn_connect(p, pc, now_ns);
        else if (pc->state == PUB_UP && p->o->pub_rate == 0)
            fill_window(p, pc, now_ns);
    }
    if (p->o->pub_rate > 0) {
        spend_tokens(p, now_ns);
        return 1;
    }
    uint64_t left_ms = (p->end_ns - now_ns) / 1000000 + 1;
    return left_ms < 50 ? (int)left_ms : 50;
}

bool
bench_pub_count_reached(const struct bench_pub *p)
{
    return count_reached(p);
}

bool
bench_pub_idle(const struct bench_pub *p)
{
    if (p->running)
        return false;
    for (uint32_t i = 0; i < p->n; i++) {
        if (p->conns[i].n_out > 0)
            return false;
    }
    return true;
}

void
bench_pub_stop(struct bench_pub *p)
{
    p->running = false;
    for (uint32_t i = 0; i < p->n; i++) {
        struct pub_conn *pc = &p->conns[i];
        p->t.unacked += pc->n_out;
        pc->n_out = 0;
        if (pc->fd >= 0)
            close(pc->fd);
        pc->fd = -1;
        pc->state = PUB_DOWN;
    }
}

const uint64_t *
bench_pub_acked_by_topic(const struct bench_pub *p)
{
    return p->acked;
}

void
bench_pub_get_totals(const struct bench_pub *p, struct bench_pub_totals *t)
{
    *t = p->t;
}
