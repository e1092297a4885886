/* SPDX-License-Identifier: MIT */
#include "server/handover_wire.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/hashmap.h"
#include "core/hub.h"
#include "sse/sse_frame.h"

/* Version 1 carried streams only; this version carries HTTP connections too, and still
 * takes version 1 from an older process. */
#define MAGIC_V1 "RPUPGRADE1\n"
#define MAGIC "RPUPGRADE2\n"
#define FDS_PER_MSG 250        /* under SCM_MAX_FD (253) */
#define STATE_CAP (1ULL << 40) /* the buffer's cap: bounded by the logs' own limits */

/* ---- encoding into a buffer, decoding from one ---- */

static void
put_u32(struct rp_buf *b, uint32_t v)
{
    rp_buf_append(b, (const char *)&v, sizeof(v));
}

static void
put_u64(struct rp_buf *b, uint64_t v)
{
    rp_buf_append(b, (const char *)&v, sizeof(v));
}

static void
put_str(struct rp_buf *b, const char *s, size_t len)
{
    put_u32(b, (uint32_t)len);
    rp_buf_append(b, s ? s : "", len);
}

struct reader {
    const char *p, *end;
    bool bad;
};

static bool
take(struct reader *r, void *out, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return false;
    }
    memcpy(out, r->p, n);
    r->p += n;
    return true;
}

static uint32_t
get_u32(struct reader *r)
{
    uint32_t v = 0;
    take(r, &v, sizeof(v));
    return v;
}

static uint64_t
get_u64(struct reader *r)
{
    uint64_t v = 0;
    take(r, &v, sizeof(v));
    return v;
}

/* A string in place (not NUL-terminated); *<len> its length. */
static const char *
get_str(struct reader *r, uint32_t *len)
{
    *len = get_u32(r);
    if (r->bad || (size_t)(r->end - r->p) < *len) {
        r->bad = true;
        *len = 0;
        return "";
    }
    const char *s = r->p;
    r->p += *len;
    return s;
}

/* ---- the hub's logs ---- */

struct collect {
    struct rp_topic **topics;
    size_t n, cap;
};

static void
collect_topic(void *ctx, struct rp_topic *t)
{
    struct collect *c = ctx;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->topics = rp_xrealloc(c->topics, c->cap * sizeof(*c->topics));
    }
    c->topics[c->n++] = t;
}

struct entry_ref {
    uint64_t seq;
    int64_t wall_ms;
    struct rp_frame *frame;
    struct rp_topic *topic;
};

static int
by_seq(const void *a, const void *b)
{
    const struct entry_ref *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Every event of every log, in sequence order (the order rp_hub_ingest needs). */
static void
encode_logs(struct rp_hub *hub, struct rp_buf *b)
{
    struct collect c = {0};
    rp_hub_foreach_topic(hub, NULL, 0, collect_topic, &c);
    struct entry_ref *all = NULL;
    size_t n_all = 0, cap = 0;
    for (size_t i = 0; i < c.n; i++) {
        struct rp_topic_stats st;
        rp_topic_stats(c.topics[i], &st);
        if (!st.count)
            continue;
        struct rp_topic_entry *e = rp_xcalloc(st.count + 1, sizeof(*e));
        size_t n = rp_topic_entries(c.topics[i], 0, e, st.count + 1);
        if (n_all + n > cap) {
            cap = 2 * (n_all + n);
            all = rp_xrealloc(all, cap * sizeof(*all));
        }
        for (size_t k = 0; k < n; k++)
            all[n_all++] = (struct entry_ref){e[k].seq, e[k].wall_ms, e[k].frame, c.topics[i]};
        free(e);
    }
    if (n_all) /* qsort's pointer must not be NULL, even for no element */
        qsort(all, n_all, sizeof(*all), by_seq);
    put_u64(b, n_all);
    struct rp_buf data;
    rp_buf_init(&data, STATE_CAP);
    for (size_t i = 0; i < n_all; i++) {
        const struct rp_frame *f = all[i].frame;
        size_t tlen;
        const char *topic = rp_topic_name(all[i].topic, &tlen);
        put_str(b, topic, tlen);
        put_u64(b, all[i].seq);
        put_u64(b, (uint64_t)all[i].wall_ms);
        put_u32(b, f->event_len ? 1 : 0);
        put_str(b, f->buf + f->event_off, f->event_len);
        data.len = 0;
        rp_frame_decode_data(f, &data);
        put_str(b, data.data, data.len);
        put_u32(b, f->pub_id_len ? 1 : 0);
        put_str(b, f->buf + f->pub_id_off, f->pub_id_len);
        rp_frame_unref(all[i].frame);
    }
    rp_buf_fini(&data);
    free(all);
    free(c.topics);
}

struct gaps {
    struct rp_buf *b;
    uint64_t n;
};

static void
put_gap(void *ctx, struct rp_topic *t)
{
    struct gaps *g = ctx;
    struct rp_topic_stats st;
    rp_topic_stats(t, &st);
    if (!st.evicted_seq)
        return;
    size_t len;
    const char *name = rp_topic_name(t, &len);
    put_str(g->b, name, len);
    put_u64(g->b, st.evicted_seq);
    g->n++;
}

static void
put_floor(void *ctx, uint32_t slot, uint64_t seq)
{
    struct gaps *g = ctx;
    put_u32(g->b, slot);
    put_u64(g->b, seq);
    g->n++;
}

/* What is no longer kept: each topic's evicted sequence and the gap floors of reclaimed
 * topics, so that a resume from before them is still told of the gap after the upgrade.
 * Each list is its count, then its entries. */
static void
encode_gaps(struct rp_hub *hub, struct rp_buf *b)
{
    struct rp_buf list;
    rp_buf_init(&list, STATE_CAP);
    struct gaps g = {&list, 0};
    rp_hub_foreach_topic(hub, NULL, 0, put_gap, &g);
    put_u64(b, g.n);
    rp_buf_append(b, list.data ? list.data : "", list.len);
    list.len = 0;
    g.n = 0;
    rp_hub_foreach_floor(hub, put_floor, &g);
    put_u64(b, g.n);
    rp_buf_append(b, list.data ? list.data : "", list.len);
    rp_buf_fini(&list);
}

static void
encode_conn(struct rp_buf *b, const struct rp_conn_export *e)
{
    put_u32(b, (uint32_t)e->kind);
    rp_buf_append(b, (const char *)e->client_key.b, sizeof(e->client_key.b));
    if (e->kind == RP_CONN_STREAM) {
        const struct rp_stream_state *st = &e->st;
        put_u64(b, st->last_seq);
        put_u32(b, st->tagged);
        put_u32(b, (uint32_t)st->n_filters);
        for (size_t k = 0; k < st->n_filters; k++)
            put_str(b, st->filters[k], strlen(st->filters[k]));
        put_str(b, st->pending, st->pending_len);
        put_u32(b, (uint32_t)st->n_cursors);
        for (size_t k = 0; k < st->n_cursors; k++) {
            put_str(b, st->cursors[k].topic, strlen(st->cursors[k].topic));
            put_u64(b, st->cursors[k].cursor);
            put_u64(b, st->cursors[k].skip_from);
            put_u64(b, st->cursors[k].skip_to);
        }
        return;
    }
    put_u32(b, e->close_after_write);
    put_str(b, e->in, e->in_len);
    put_str(b, e->out, e->out_len);
}

/* ---- descriptors ---- */

static int
send_fds(int sock, char tag, const int *fds, size_t n)
{
    char cbuf[CMSG_SPACE(sizeof(int) * FDS_PER_MSG)];
    memset(cbuf, 0, sizeof(cbuf));
    struct iovec iov = {.iov_base = &tag, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (n) {
        msg.msg_control = cbuf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        if (!cm)
            return -EINVAL;
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
    }
    for (;;) {
        if (sendmsg(sock, &msg, MSG_NOSIGNAL) >= 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

/* Receives one message: its tag, and up to FDS_PER_MSG descriptors into <fds>. */
static int
recv_fds(int sock, char *tag, int *fds, size_t *n)
{
    char cbuf[CMSG_SPACE(sizeof(int) * FDS_PER_MSG)];
    struct iovec iov = {.iov_base = tag, .iov_len = 1};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    ssize_t r;
    do {
        r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    if (r == 0)
        return -EPIPE;
    *n = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        memcpy(fds + *n, CMSG_DATA(cm), k * sizeof(int));
        *n += k;
    }
    return (msg.msg_flags & MSG_CTRUNC) ? -EMSGSIZE : 0;
}

int
rp_handover_send(int sock, struct rp_hub *hub, const int *listeners, size_t n_listeners,
                 const struct rp_conn_export *conns, size_t n_conns, struct rp_diag *diag)
{
    struct rp_buf b;
    rp_buf_init(&b, STATE_CAP);
    rp_buf_append_str(&b, MAGIC);
    put_u32(&b, rp_hub_epoch(hub));
    put_u64(&b, rp_hub_last_seq(hub));
    put_u64(&b, n_listeners);
    encode_logs(hub, &b);
    encode_gaps(hub, &b);
    put_u64(&b, n_conns);
    for (size_t i = 0; i < n_conns; i++)
        encode_conn(&b, &conns[i]);
    int rc = 0;
    int mfd = memfd_create("revenprox-upgrade", MFD_CLOEXEC);
    if (mfd < 0) {
        rc = -errno;
        rp_diag_set(diag, "memfd_create: %s", strerror(errno));
        goto out;
    }
    for (size_t off = 0; off < b.len;) {
        ssize_t w = write(mfd, b.data + off, b.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = -errno;
            rp_diag_set(diag, "writing the state: %s", strerror(errno));
            goto out;
        }
        off += (size_t)w;
    }
    rc = send_fds(sock, 'S', &mfd, 1);
    /* Then every socket, listeners first, in the order the state lists them. */
    int batch[FDS_PER_MSG];
    size_t n_batch = 0;
    size_t total = n_listeners + n_conns;
    for (size_t i = 0; !rc && i < total; i++) {
        batch[n_batch++] = i < n_listeners ? listeners[i] : conns[i - n_listeners].fd;
        if (n_batch == FDS_PER_MSG || i + 1 == total) {
            rc = send_fds(sock, 'F', batch, n_batch);
            n_batch = 0;
        }
    }
    if (rc)
        rp_diag_set(diag, "sending descriptors: %s", strerror(-rc));
out:
    if (mfd >= 0)
        close(mfd);
    rp_buf_fini(&b);
    return rc;
}

/* A stream's place: its filters, last sequence and bytes owed. */
static void
decode_stream(struct reader *r, struct rp_stream_state *st, bool v1, size_t max)
{
    st->last_seq = get_u64(r);
    st->tagged = get_u32(r) != 0;
    uint32_t n = get_u32(r);
    if (r->bad || n > max) {
        r->bad = true;
        return;
    }
    st->filters = rp_xcalloc(n + 1, sizeof(char *));
    for (uint32_t k = 0; k < n && !r->bad; k++) {
        uint32_t len;
        const char *f = get_str(r, &len);
        st->filters[st->n_filters++] = rp_xstrndup(f, len);
    }
    uint32_t plen;
    const char *p = get_str(r, &plen);
    st->pending = rp_xmalloc(plen + 1);
    if (plen)
        memcpy(st->pending, p, plen);
    st->pending_len = plen;
    if (v1)
        return; /* version 1 carried the highest cursor only */
    n = get_u32(r);
    if (r->bad || n > max) {
        r->bad = true;
        return;
    }
    st->cursors = rp_xcalloc(n + 1, sizeof(*st->cursors));
    for (uint32_t k = 0; k < n && !r->bad; k++) {
        uint32_t len;
        const char *topic = get_str(r, &len);
        struct rp_stream_cursor *c = &st->cursors[st->n_cursors++];
        c->topic = rp_xstrndup(topic, len);
        c->cursor = get_u64(r);
        c->skip_from = get_u64(r);
        c->skip_to = get_u64(r);
    }
}

/* A malloc'd copy of a length-prefixed byte string. */
static char *
get_bytes(struct reader *r, size_t *len)
{
    uint32_t n;
    const char *p = get_str(r, &n);
    char *copy = rp_xmalloc((size_t)n + 1);
    if (n)
        memcpy(copy, p, n);
    *len = n;
    return copy;
}

static void
decode_conn(struct reader *r, struct rp_conn_export *e, bool v1, size_t max)
{
    e->fd = -1;
    uint32_t kind = v1 ? RP_CONN_STREAM : get_u32(r);
    if (kind != RP_CONN_STREAM && kind != RP_CONN_HTTP) {
        r->bad = true;
        return;
    }
    e->kind = (enum rp_conn_kind)kind;
    if (!v1)
        take(r, e->client_key.b, sizeof(e->client_key.b));
    if (e->kind == RP_CONN_STREAM) {
        decode_stream(r, &e->st, v1, max);
        return;
    }
    e->close_after_write = get_u32(r) != 0;
    e->in = get_bytes(r, &e->in_len);
    e->out = get_bytes(r, &e->out_len);
}

static int
decode_gaps(struct reader *r, struct rp_handover_state *out)
{
    uint64_t n = get_u64(r);
    if (r->bad || n > out->buf_len)
        return -EPROTO;
    out->gaps = rp_xcalloc(n + 1, sizeof(*out->gaps));
    for (uint64_t i = 0; i < n && !r->bad; i++) {
        struct rp_handover_gap *g = &out->gaps[i];
        g->topic = get_str(r, &g->topic_len);
        g->seq = get_u64(r);
        out->n_gaps += !r->bad;
    }
    n = get_u64(r);
    if (r->bad || n > out->buf_len)
        return -EPROTO;
    out->floors = rp_xcalloc(n + 1, sizeof(*out->floors));
    for (uint64_t i = 0; i < n && !r->bad; i++) {
        out->floors[i].slot = get_u32(r);
        out->floors[i].seq = get_u64(r);
        out->n_floors += !r->bad;
    }
    return r->bad ? -EPROTO : 0;
}

int
rp_handover_parse(struct rp_handover_state *out, struct rp_diag *diag)
{
    struct reader r = {out->buf, out->buf + out->buf_len, false};
    char magic[sizeof(MAGIC) - 1];
    bool v1 = false;
    if (!take(&r, magic, sizeof(magic)) || (memcmp(magic, MAGIC, sizeof(magic)) != 0 &&
                                            !(v1 = memcmp(magic, MAGIC_V1, sizeof(magic)) == 0))) {
        rp_diag_set(diag, "the old process speaks another upgrade format");
        return -EPROTO;
    }
    out->epoch = get_u32(&r);
    out->last_seq = get_u64(&r);
    out->n_listeners = get_u64(&r);
    uint64_t n_events = get_u64(&r);
    if (r.bad || n_events > out->buf_len || out->n_listeners > 4096)
        goto bad;
    out->events = rp_xcalloc(n_events + 1, sizeof(*out->events));
    for (uint64_t i = 0; i < n_events && !r.bad; i++) {
        struct rp_handover_event *e = &out->events[i];
        e->topic = get_str(&r, &e->topic_len);
        e->seq = get_u64(&r);
        e->wall_ms = (int64_t)get_u64(&r);
        uint32_t has_event = get_u32(&r);
        e->event = get_str(&r, &e->event_len);
        if (!has_event)
            e->event = NULL;
        e->data = get_str(&r, &e->data_len);
        uint32_t has_pub = get_u32(&r);
        e->pub_id = get_str(&r, &e->pub_id_len);
        if (!has_pub)
            e->pub_id = NULL;
        if (!r.bad)
            out->n_events++;
    }
    if (!v1 && decode_gaps(&r, out) != 0)
        goto bad;
    uint64_t n_conns = get_u64(&r);
    if (r.bad || n_conns > out->buf_len)
        goto bad;
    out->conns = rp_xcalloc(n_conns + 1, sizeof(*out->conns));
    for (uint64_t i = 0; i < n_conns && !r.bad; i++) {
        decode_conn(&r, &out->conns[i], v1, out->buf_len);
        out->n_conns++; /* counted even when bad: its parts are freed by fini */
    }
    if (!r.bad)
        return 0;
bad:
    rp_diag_set(diag, "the upgrade state is truncated or malformed");
    return -EPROTO;
}

int
rp_handover_receive(int sock, struct rp_handover_state *out, struct rp_diag *diag)
{
    memset(out, 0, sizeof(*out));
    out->peer = -1;
    int fds[FDS_PER_MSG];
    size_t n = 0;
    char tag = 0;
    int rc = recv_fds(sock, &tag, fds, &n);
    if (rc || tag != 'S' || n != 1) {
        for (size_t i = 0; i < n; i++)
            close(fds[i]);
        rp_diag_set(diag, "no upgrade state arrived (%s)", rc ? strerror(-rc) : "bad message");
        return rc ? rc : -EPROTO;
    }
    int mfd = fds[0];
    off_t size = lseek(mfd, 0, SEEK_END);
    if (size <= 0) {
        close(mfd);
        rp_diag_set(diag, "the upgrade state is empty");
        return -EPROTO;
    }
    out->buf_len = (size_t)size;
    out->buf = rp_xmalloc(out->buf_len);
    for (size_t off = 0; off < out->buf_len;) {
        ssize_t r = pread(mfd, out->buf + off, out->buf_len - off, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            close(mfd);
            rp_diag_set(diag, "reading the upgrade state: %s", strerror(errno));
            return -EIO;
        }
        off += (size_t)r;
    }
    close(mfd);
    rc = rp_handover_parse(out, diag);
    if (rc)
        return rc;
    out->listeners = rp_xcalloc(out->n_listeners + 1, sizeof(int));
    for (size_t i = 0; i < out->n_listeners; i++)
        out->listeners[i] = -1;
    size_t total = out->n_listeners + out->n_conns, got = 0;
    while (got < total) {
        rc = recv_fds(sock, &tag, fds, &n);
        if (rc || tag != 'F' || got + n > total) {
            for (size_t i = 0; i < n; i++)
                close(fds[i]);
            rp_diag_set(diag, "descriptors missing after %zu of %zu", got, total);
            return rc ? rc : -EPROTO;
        }
        for (size_t i = 0; i < n; i++, got++) {
            if (got < out->n_listeners)
                out->listeners[got] = fds[i];
            else
                out->conns[got - out->n_listeners].fd = fds[i];
        }
    }
    return 0;
}

/*
 * Where each topic's restored log starts: per topic with an event over <max_data>, the
 * index (+ 1, never NULL) of its newest such event, in <cuts> by topic name (keys point
 * into the state's buffer). Events are in sequence order, so the last one seen is the
 * newest.
 */
static void
find_cuts(const struct rp_handover_state *st, uint64_t max_data, struct rp_hashmap *cuts)
{
    for (size_t i = 0; i < st->n_events; i++) {
        const struct rp_handover_event *e = &st->events[i];
        if (e->data_len > max_data)
            rp_hashmap_put(cuts, e->topic, e->topic_len, (void *)(uintptr_t)(i + 1));
    }
}

static int
ingest_one(struct rp_hub *hub, const struct rp_handover_event *e)
{
    struct rp_ingest_event ev = {
        .item =
            {
                .topic = e->topic,
                .topic_len = e->topic_len,
                .event = e->event,
                .event_len = e->event_len,
                .data = e->data,
                .data_len = e->data_len,
                .pub_id = e->pub_id,
                .pub_id_len = e->pub_id_len,
            },
        .seq = e->seq,
        .wall_ms = e->wall_ms,
    };
    return rp_hub_ingest(hub, &ev, 1, NULL);
}

int
rp_handover_restore_hub(const struct rp_handover_state *st, struct rp_hub *hub, uint64_t max_data,
                        struct rp_handover_trim *trim)
{
    struct rp_handover_trim scratch;
    if (!trim)
        trim = &scratch;
    *trim = (struct rp_handover_trim){0};
    struct rp_hashmap cuts;
    rp_hashmap_init(&cuts);
    find_cuts(st, max_data, &cuts);
    int rc = 0;
    for (size_t i = 0; i < st->n_events && !rc; i++) {
        const struct rp_handover_event *e = &st->events[i];
        uintptr_t cut = cuts.count ? (uintptr_t)rp_hashmap_get(&cuts, e->topic, e->topic_len) : 0;
        if (cut && e->seq <= st->events[cut - 1].seq)
            trim->events++;
        else
            rc = ingest_one(hub, e);
    }
    if (!rc) {
        rp_hub_advance_seq(hub, st->last_seq);
        for (size_t i = 0; i < st->n_floors; i++)
            rp_hub_raise_floor(hub, st->floors[i].slot, st->floors[i].seq);
        for (size_t i = 0; i < st->n_gaps; i++)
            rp_hub_forget(hub, st->gaps[i].topic, st->gaps[i].topic_len, st->gaps[i].seq);
        /* The cut is recorded like an eviction (or, for a topic left with nothing, as the
         * floor it starts from when created again). */
        size_t pos = 0;
        void *v;
        while ((v = rp_hashmap_next(&cuts, &pos)) != NULL) {
            const struct rp_handover_event *e = &st->events[(uintptr_t)v - 1];
            rp_hub_forget(hub, e->topic, e->topic_len, e->seq);
            trim->topics++;
        }
    }
    rp_hashmap_fini(&cuts);
    return rc;
}

void
rp_handover_state_fini(struct rp_handover_state *st)
{
    for (size_t i = 0; i < st->n_listeners; i++)
        if (st->listeners && st->listeners[i] >= 0)
            close(st->listeners[i]);
    for (size_t i = 0; i < st->n_conns; i++) {
        if (st->conns[i].fd >= 0)
            close(st->conns[i].fd);
        rp_conn_export_fini(&st->conns[i]);
    }
    free(st->listeners);
    free(st->conns);
    free(st->events);
    free(st->gaps);
    free(st->floors);
    free(st->buf);
    memset(st, 0, sizeof(*st));
    st->peer = -1;
}

int
rp_handover_send_byte(int sock, char c)
{
    return send_fds(sock, c, NULL, 0);
}

int
rp_handover_wait_byte(int sock, int timeout_ms)
{
    struct pollfd p = {.fd = sock, .events = POLLIN};
    int r;
    do {
        r = poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        return -ETIMEDOUT;
    char c;
    ssize_t n;
    do {
        n = recv(sock, &c, 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0)
        return n == 0 ? -EPIPE : -errno;
    return (unsigned char)c;
}
