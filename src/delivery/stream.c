/* SPDX-License-Identifier: MIT */
#include "delivery/stream.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/hashmap.h"
#include "base/list.h"
#include "core/event_id.h"
#include "core/pattern.h"
#include "loop/wakeup.h"
#include "net/sendbatch.h"
#include "sse/sse_frame.h"

#define READ_BATCH 64       /* frames read from one log per pass */
#define IOV_BATCH 256       /* iovecs per sendmsg (well under IOV_MAX) */
#define BATCH_IOV 4096      /* iovecs of all the writes of one batch */
#define CTL_CAP (64 * 1024) /* control text (head, resync, heartbeats) a stream may queue */
#define CURSOR_UNSET UINT64_MAX

static const char HEARTBEAT[] = ":\n\n";

/* A topic this worker has streams for. Owned by the fanout's topic index. */
struct local_topic {
    struct rp_topic *topic;
    struct rp_list links;
    size_t n_links;
};

/* One topic of one stream. Owned by the stream. */
struct link {
    struct rp_list in_topic;  /* in local_topic.links */
    struct rp_list in_stream; /* in rp_stream.links */
    struct rp_stream *stream;
    struct local_topic *lt;
    uint64_t cursor; /* last sequence of this topic handed to the socket (or skipped) */
    /* drop_newest: once the cursor reaches skip_from, delivery jumps to skip_to. */
    uint64_t skip_from, skip_to;
    bool replaying; /* first read after a resume or a late attach: a gap means "expired" */
};

struct rp_stream {
    struct rp_fanout *f;
    int fd;
    void *owner;
    const struct rp_stream_owner_ops *ops;
    struct rp_list links;
    size_t n_links;
    char **patterns;
    size_t n_patterns;
    struct rp_list pattern_node; /* in fanout.pattern_streams when n_patterns > 0 */
    struct rp_list write_node;   /* in fanout.by_write, least recently written first */
    struct rp_list dirty_node;   /* in fanout.dirty: has something new to write */
    int64_t last_write_ms;
    uint64_t base; /* where it started (the cursor of the topics it had then) */
    bool tagged;   /* several topics or a pattern: events carry their topic */
    bool stalled;  /* the socket refused bytes; waiting for writability */
    /* Opened with a Last-Event-ID and not yet caught up once: its replay is not "lag", so
     * slow_policy waits until it has caught up (it can still fall off the log). */
    bool catching_up;
    bool closing;
    bool finishing; /* rp_stream_finish: no more events; close once ctl is written */
    const char *finish_why;
    struct rp_frame *partial; /* a frame the socket took only part of (a reference) */
    size_t partial_off;
    struct rp_buf ctl; /* whole SSE lines to send before the next frame */
};

/* A frame chosen for the next write. */
struct item {
    struct rp_frame *frame;
    uint64_t seq;
    struct link *link;
};

/* One stream's next sendmsg: its iovecs are in fanout.iov, the frames it carries in
 * fanout.items[first_item ..]. Built by plan_write, settled by plan_done. */
struct plan {
    struct rp_stream *s;
    struct msghdr msg;
    size_t first_item, n_items;
    size_t partial_len, ctl_len;
    bool more; /* the stream has more to write than this */
};

/* A block-policy topic whose cursors this worker reports once <ticket> streams have been
 * taken from the run queue. */
struct report {
    struct rp_topic *topic;
    uint64_t ticket;
};

struct rp_fanout {
    struct rp_hub *hub;
    unsigned worker;
    struct rp_loop *loop;
    struct rp_stats *stats;
    struct rp_hashmap topics; /* topic name -> struct local_topic */
    struct rp_list pattern_streams;
    struct rp_list by_write;
    struct rp_list dirty; /* the run queue: streams with something new to write */
    struct rp_wakeup wakeup;
    /* Mailbox, filled by publishing threads. */
    pthread_mutex_t lock;
    struct rp_topic **advanced, **created;
    size_t n_advanced, cap_advanced, n_created, cap_created;
    atomic_size_t created_pending;
    /* Run queue counters: streams queued and taken since the start. A note's report is due
     * once `dequeued` reaches the `enqueued` it saw (the queue is first in, first out). */
    uint64_t enqueued, dequeued;
    /* Owner thread: block-policy topics whose cursors to report, oldest note first, each
     * due once the streams queued for its note are written; and scratch. */
    struct report *to_report;
    size_t n_to_report, cap_to_report;
    struct rp_topic **work;
    size_t cap_work;
    /* The writes of one batch (rp_fanout_run) or of one rp_stream_flush. Everything a
     * plan points to stays put until it is settled: iovecs in a fixed array, frames by
     * reference, control text in a buffer only its own stream appends to. */
    struct rp_sendbatch *sender;
    bool io_uring_counted; /* in the workers_io_uring gauge */
    struct plan plans[RP_SENDBATCH_MAX];
    struct rp_send sends[RP_SENDBATCH_MAX];
    struct iovec *iov; /* BATCH_IOV */
    size_t n_iov;
    struct item *items;
    size_t n_items, cap_items;
    bool in_batch;
};

static void stream_close(struct rp_stream *s, const char *why);
static void check_lag(struct rp_stream *s, struct link *l);
static void report_cursors(struct rp_fanout *f, struct local_topic *lt);

/* ---- local topic index ---- */

static struct local_topic *
local_topic_find(struct rp_fanout *f, struct rp_topic *t)
{
    size_t len;
    const char *name = rp_topic_name(t, &len);
    struct local_topic *lt = rp_hashmap_get(&f->topics, name, len);
    /* A topic of this name is reclaimed (and made again) only once no worker has it
     * attached or queued, so the index never holds another topic of the same name. */
    RP_ASSERT(!lt || lt->topic == t);
    return lt;
}

static struct local_topic *
local_topic_get(struct rp_fanout *f, struct rp_topic *t)
{
    struct local_topic *lt = local_topic_find(f, t);
    if (lt)
        return lt;
    lt = rp_xcalloc(1, sizeof(*lt));
    lt->topic = t;
    rp_list_init(&lt->links);
    size_t len;
    const char *name = rp_topic_name(t, &len);
    rp_hashmap_put(&f->topics, name, len, lt);
    rp_topic_attach(t, f->worker);
    return lt;
}

static void
local_topic_release(struct rp_fanout *f, struct local_topic *lt)
{
    if (lt->n_links)
        return;
    /* A report still due would outlive the attach that keeps the topic from being
     * reclaimed: drop it (there is no cursor left to report). */
    size_t kept = 0;
    for (size_t i = 0; i < f->n_to_report; i++)
        if (f->to_report[i].topic != lt->topic)
            f->to_report[kept++] = f->to_report[i];
    f->n_to_report = kept;
    rp_topic_detach(lt->topic, f->worker);
    size_t len;
    const char *name = rp_topic_name(lt->topic, &len);
    rp_hashmap_remove(&f->topics, name, len);
    free(lt);
}

/* Puts <s> on the run queue unless it is there already. */
static void
enqueue(struct rp_fanout *f, struct rp_stream *s)
{
    if (rp_list_linked(&s->dirty_node))
        return;
    rp_list_insert_tail(&f->dirty, &s->dirty_node);
    f->enqueued++;
}

/* Links <s> to <t> unless it already is; the cursor is set by the caller or stays unset. */
static struct link *
stream_attach(struct rp_stream *s, struct rp_topic *t, uint64_t cursor)
{
    struct rp_list *pos, *tmp;
    RP_LIST_FOREACH_SAFE (pos, tmp, &s->links) {
        struct link *l = RP_CONTAINER_OF(pos, struct link, in_stream);
        if (l->lt->topic == t)
            return NULL;
    }
    struct link *l = rp_xcalloc(1, sizeof(*l));
    l->stream = s;
    l->lt = local_topic_get(s->f, t);
    l->cursor = cursor;
    rp_list_insert_tail(&l->lt->links, &l->in_topic);
    l->lt->n_links++;
    rp_list_insert_tail(&s->links, &l->in_stream);
    s->n_links++;
    rp_topic_count_subscribers(t, 1);
    return l;
}

static void
pattern_attach_cb(void *ctx, struct rp_topic *t)
{
    stream_attach(ctx, t, CURSOR_UNSET);
}

/* Topics created since the last call: link them to the pattern streams they match. A
 * topic created after a pattern was registered holds only events published after the
 * stream started, so its links start where the stream did: at the beginning of its log,
 * or, for a topic created again after one of its name was reclaimed, before the gap floor
 * only if the stream resumes from before it (then the gap is announced). Each note held
 * its topic; the hold is dropped once the topic is linked (or matched nobody). */
static void
sync_created(struct rp_fanout *f)
{
    if (atomic_load_explicit(&f->created_pending, memory_order_acquire) == 0)
        return;
    pthread_mutex_lock(&f->lock);
    struct rp_topic **created = f->created;
    size_t n = f->n_created;
    f->created = NULL;
    f->n_created = f->cap_created = 0;
    atomic_store_explicit(&f->created_pending, 0, memory_order_relaxed);
    pthread_mutex_unlock(&f->lock);

    for (size_t i = 0; i < n; i++) {
        size_t tlen;
        const char *tname = rp_topic_name(created[i], &tlen);
        struct rp_list *pos, *tmp;
        RP_LIST_FOREACH_SAFE (pos, tmp, &f->pattern_streams) {
            struct rp_stream *s = RP_CONTAINER_OF(pos, struct rp_stream, pattern_node);
            for (size_t k = 0; k < s->n_patterns; k++) {
                if (rp_pattern_matches(s->patterns[k], strlen(s->patterns[k]), tname, tlen)) {
                    /* The publish that created the topic saw no subscriber on this worker,
                     * so no note follows: flush on the next wake-up. */
                    struct link *l = stream_attach(s, created[i], s->base);
                    if (l) {
                        /* A gap on its first read is history gone before the link
                         * started, never lag. */
                        l->replaying = true;
                        enqueue(f, s);
                    }
                    break;
                }
            }
        }
        rp_topic_release(created[i]);
    }
    free(created);
}

/* ---- announcements ---- */

static void
format_id(struct rp_fanout *f, uint64_t seq, char *out)
{
    rp_hub_format_id(f->hub, seq, out);
}

/* The sequence of the first event of <t> after <after>, or 0 if none is kept. */
static uint64_t
next_seq(struct rp_topic *t, uint64_t after)
{
    uint64_t s = rp_topic_seq_within(t, after, 1, UINT64_MAX);
    return s > after ? s : 0;
}

/*
 * Queues an `event: resync` whose data tells the client what it missed and where delivery
 * continues. It carries no id, so the client's last event id stays the last event it got.
 * A stream that cannot even queue the announcement is closed: a gap is never silent.
 */
static void
announce(struct rp_stream *s, const char *reason, const char *policy, struct rp_topic *t,
         uint64_t dropped, uint64_t after, uint64_t from)
{
    struct rp_buf *b = &s->ctl;
    char id[RP_EVENT_ID_MAX + 1];
    int err = rp_buf_printf(b, "event: resync\ndata: {\"reason\":\"%s\"", reason);
    if (!err && policy)
        err = rp_buf_printf(b, ",\"policy\":\"%s\"", policy);
    if (!err && t) {
        size_t len;
        const char *name = rp_topic_name(t, &len);
        err = rp_buf_printf(b, ",\"topic\":\"%.*s\"", (int)len, name);
    }
    if (!err && dropped)
        err = rp_buf_printf(b, ",\"dropped\":%llu", (unsigned long long)dropped);
    if (!err && after) {
        format_id(s->f, after, id);
        err = rp_buf_printf(b, ",\"after\":\"%s\"", id);
    }
    if (!err && from) {
        format_id(s->f, from, id);
        err = rp_buf_printf(b, ",\"from\":\"%s\"", id);
    } else if (!err) {
        err = rp_buf_append_str(b, ",\"from\":null");
    }
    if (!err)
        err = rp_buf_append_str(b, "}\n\n");
    if (err)
        stream_close(s, "too many announcements queued for a stalled stream");
}

static uint64_t
lag_events(struct rp_topic *t, uint64_t after)
{
    struct rp_topic_lag lag;
    rp_topic_lag(t, after, &lag);
    return lag.events;
}

/* ---- writing ---- */

static void
touch(struct rp_stream *s)
{
    s->last_write_ms = rp_clock_now_ms();
    rp_list_remove(&s->write_node);
    rp_list_insert_tail(&s->f->by_write, &s->write_node);
}

static void
set_stalled(struct rp_stream *s, bool stalled)
{
    if (s->stalled == stalled)
        return;
    s->stalled = stalled;
    if (stalled)
        rp_stat_add(s->f->stats, RP_STAT_streams_stalled, 1);
    else
        rp_stat_sub(s->f->stats, RP_STAT_streams_stalled, 1);
    s->ops->want_write(s->owner, stalled);
}

/*
 * Reads up to a batch of frames after each link's cursor, up to <upto>, merged in
 * sequence order into f->items after the f->n_items in use. Returns how many; *<more> when
 * some log had more.
 */
static size_t
gather(struct rp_stream *s, uint64_t upto, bool *more)
{
    struct rp_fanout *f = s->f;
    size_t per_link = s->n_links <= 1 ? READ_BATCH : READ_BATCH / s->n_links;
    if (per_link < 4)
        per_link = 4;
    size_t need = f->n_items + per_link * s->n_links;
    if (need > f->cap_items) {
        f->items = rp_xrealloc(f->items, need * sizeof(*f->items));
        f->cap_items = need;
    }
    struct item *items = f->items + f->n_items;
    struct rp_frame *frames[READ_BATCH];
    uint64_t seqs[READ_BATCH];
    uint64_t limit = upto;
    size_t n = 0;
    *more = false;

    struct rp_list *pos, *tmp;
    RP_LIST_FOREACH_SAFE (pos, tmp, &s->links) {
        struct link *l = RP_CONTAINER_OF(pos, struct link, in_stream);
        struct rp_topic *t = l->lt->topic;
        /* Lag is lag whether the socket or this worker is behind: a publisher outrunning
         * the fan-out meets the policy too (block holds it, drops are announced). */
        check_lag(s, l);
        if (s->closing) {
            while (n > 0)
                rp_frame_unref(items[--n].frame);
            return 0;
        }
        if (l->skip_from && l->cursor >= l->skip_from) {
            uint64_t dropped = lag_events(t, l->cursor) - lag_events(t, l->skip_to);
            if (dropped) {
                rp_stat_add(f->stats, RP_STAT_drops_newest, dropped);
                announce(s, "lagged", "drop_newest", t, dropped, l->skip_to,
                         next_seq(t, l->skip_to));
            }
            l->cursor = l->skip_to;
            l->skip_from = l->skip_to = 0;
        }
        uint64_t lim = upto;
        if (l->skip_from && l->skip_from < lim)
            lim = l->skip_from;
        struct rp_topic_lag lag;
        size_t got = rp_topic_read(t, l->cursor, lim, frames, seqs, per_link, &lag);
        if (l->skip_from && got)
            *more = true; /* come back to apply the skip once the cursor reaches it */
        if (lag.gap) {
            rp_stat_add(f->stats, RP_STAT_drops_expired, 1);
            uint64_t from = got ? seqs[0] : lag.first_seq;
            announce(s, l->replaying ? "expired" : "lagged", NULL, t, 0, 0, from);
            /* Nothing kept: past everything gone, which for a topic created again is its
             * gap floor, beyond its own last event. */
            uint64_t gone = lag.last_seq > lag.evicted_seq ? lag.last_seq : lag.evicted_seq;
            l->cursor = from ? from - 1 : gone;
        }
        l->replaying = false;
        if (got == per_link && seqs[got - 1] < limit) {
            limit = seqs[got - 1];
            *more = true;
        }
        for (size_t i = 0; i < got; i++)
            items[n++] = (struct item){frames[i], seqs[i], l};
    }
    if (s->n_links > 1) {
        /* Insertion sort: each link's run is already sorted and batches are small. */
        for (size_t i = 1; i < n; i++) {
            struct item it = items[i];
            size_t j = i;
            while (j > 0 && items[j - 1].seq > it.seq) {
                items[j] = items[j - 1];
                j--;
            }
            items[j] = it;
        }
        while (n > 0 && items[n - 1].seq > limit) {
            rp_frame_unref(items[--n].frame);
            *more = true;
        }
    }
    return n;
}

/*
 * The sequence up to which the next writes read: read the snapshot first, then take new
 * topics (which may queue pattern streams), so a topic whose events are in the snapshot
 * was announced before the snapshot was published.
 */
static uint64_t
snapshot(struct rp_fanout *f)
{
    uint64_t upto = rp_hub_last_seq(f->hub);
    sync_created(f);
    return upto;
}

/*
 * Builds <s>'s next write into <p>: the rest of a frame the socket took part of, then
 * queued control text, then the frames after its cursors up to <upto> (snapshot()).
 * Returns 1 when <p> holds a write, 0 when the stream has nothing to write (a finishing
 * stream is closed then), or -EPIPE when it is closing.
 */
static int
plan_write(struct rp_fanout *f, struct rp_stream *s, uint64_t upto, struct plan *p)
{
    if (s->closing)
        return -EPIPE;
    size_t first = f->n_items, n_items = 0;
    bool more = s->partial != NULL; /* the log was not read on this pass */
    if (!s->partial && !s->finishing)
        n_items = gather(s, upto, &more);
    struct item *items = f->items + first;
    struct iovec *iov = f->iov + f->n_iov;
    int niov = 0;
    size_t partial_len = 0, ctl_len = s->ctl.len;
    if (s->partial) {
        struct iovec piece[2];
        int np = rp_frame_iov(s->partial, s->tagged, piece);
        size_t skip = s->partial_off;
        for (int i = 0; i < np; i++) {
            if (skip >= piece[i].iov_len) {
                skip -= piece[i].iov_len;
                continue;
            }
            iov[niov].iov_base = (char *)piece[i].iov_base + skip;
            iov[niov++].iov_len = piece[i].iov_len - skip;
            partial_len += piece[i].iov_len - skip;
            skip = 0;
        }
    }
    if (ctl_len) {
        iov[niov].iov_base = s->ctl.data;
        iov[niov++].iov_len = ctl_len;
    }
    size_t used = 0;
    while (used < n_items && niov + 2 <= IOV_BATCH) {
        niov += rp_frame_iov(items[used].frame, s->tagged, &iov[niov]);
        used++;
    }
    for (size_t i = used; i < n_items; i++) {
        rp_frame_unref(items[i].frame);
        more = true;
    }
    if (niov == 0) {
        set_stalled(s, false);
        if (s->finishing)
            stream_close(s, s->finish_why);
        return 0;
    }
    f->n_iov += (size_t)niov;
    f->n_items = first + used;
    *p = (struct plan){.s = s,
                       .msg = {.msg_iov = iov, .msg_iovlen = (size_t)niov},
                       .first_item = first,
                       .n_items = used,
                       .partial_len = partial_len,
                       .ctl_len = ctl_len,
                       .more = more};
    return 1;
}

/*
 * Settles <p> after its sendmsg returned <res> (bytes or -errno): cursors move past what
 * the socket took, a frame it took part of is kept. Returns 1 when the stream has more
 * to write, 0 when it is caught up, -EAGAIN when its socket is full (it is then watched
 * for writability), or the write's error.
 */
static int
plan_done(struct rp_fanout *f, const struct plan *p, ssize_t res)
{
    struct rp_stream *s = p->s;
    struct item *items = f->items + p->first_item;
    if (res < 0) {
        if (res != -EAGAIN && res != -EWOULDBLOCK && res != -EINTR) {
            for (size_t i = 0; i < p->n_items; i++)
                rp_frame_unref(items[i].frame);
            return (int)res;
        }
        res = 0;
    }
    size_t left = (size_t)res, total = p->partial_len + p->ctl_len;
    if (res > 0)
        touch(s);
    if (s->partial) {
        if (left >= p->partial_len) {
            left -= p->partial_len;
            rp_frame_unref(s->partial);
            s->partial = NULL;
        } else {
            s->partial_off += left;
            left = 0;
        }
    }
    size_t c = left < p->ctl_len ? left : p->ctl_len;
    rp_buf_consume(&s->ctl, c);
    if (s->ctl.len == 0)
        rp_buf_fini(&s->ctl); /* an idle stream keeps no buffer (it keeps its cap) */
    left -= c;
    uint64_t sent = 0, sent_bytes = 0;
    for (size_t i = 0; i < p->n_items; i++) {
        struct item *it = &items[i];
        size_t len = rp_frame_wire_len(it->frame, s->tagged);
        total += len;
        if (left >= len) {
            left -= len;
            it->link->cursor = it->seq;
            sent++;
            sent_bytes += len;
            rp_frame_unref(it->frame);
        } else if (left > 0) {
            /* The socket took part of this frame: it is handed over; keep the rest. */
            s->partial = it->frame;
            s->partial_off = left;
            it->link->cursor = it->seq;
            sent++;
            sent_bytes += len;
            left = 0;
        } else {
            rp_frame_unref(it->frame);
        }
    }
    rp_stat_add(f->stats, RP_STAT_messages_sent, sent);
    if (s->catching_up)
        rp_stat_add(f->stats, RP_STAT_events_replayed, sent);
    rp_stat_add(f->stats, RP_STAT_bytes_sent, sent_bytes);
    if ((size_t)res < total) {
        set_stalled(s, true);
        return -EAGAIN;
    }
    if (p->more || s->partial || s->ctl.len)
        return 1;
    /* Anything published meanwhile comes with its own note from the hub. */
    s->catching_up = false;
    set_stalled(s, false);
    if (s->finishing)
        stream_close(s, s->finish_why);
    return 0;
}

int
rp_stream_flush(struct rp_stream *s)
{
    struct rp_fanout *f = s->f;
    RP_ASSERT(!f->in_batch);
    for (;;) {
        f->n_iov = f->n_items = 0;
        struct plan p;
        int r = plan_write(f, s, snapshot(f), &p);
        if (r <= 0)
            return r;
        /* sendmsg, not writev: it skips the file layer (D5: ~8 % less server CPU). */
        ssize_t w = sendmsg(s->fd, &p.msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        r = plan_done(f, &p, w < 0 ? -errno : w);
        if (r != 1)
            return r;
    }
}

/* Applies the topic's slow_policy to a link past its lag limit: on every read, and on each
 * note for a stalled stream (which is not read until its socket drains). */
static void
check_lag(struct rp_stream *s, struct link *l)
{
    struct rp_fanout *f = s->f;
    struct rp_topic *t = l->lt->topic;
    const struct rp_topic_policy *pol = rp_topic_policy(t);
    struct rp_topic_lag lag;
    /* Block is enforced by the hub from reported cursors (report_cursors); a replaying
     * stream is exempt. Neither needs the log's lock here, which a blocked publisher's
     * retries would otherwise take once per stream per retry. */
    if (s->catching_up || pol->slow == RP_SLOW_POLICY_BLOCK)
        return;
    rp_topic_lag(t, l->cursor, &lag);
    if (lag.events <= pol->lag_events && lag.bytes <= pol->lag_bytes)
        return;
    switch (pol->slow) {
    case RP_SLOW_POLICY_DISCONNECT:
        rp_stat_add(f->stats, RP_STAT_disconnects_slow, 1);
        stream_close(s, "subscriber over its lag limit (slow_policy disconnect)");
        break;
    case RP_SLOW_POLICY_DROP_OLDEST: {
        /* Keep the newest half of the limit, so the next drop is not one event away. */
        uint64_t ev = pol->lag_events / 2 ? pol->lag_events / 2 : 1;
        uint64_t by = pol->lag_bytes / 2 ? pol->lag_bytes / 2 : 1;
        uint64_t keep = rp_topic_seq_keeping(t, ev, by);
        if (keep <= l->cursor)
            break;
        uint64_t dropped = lag.events - lag_events(t, keep);
        l->cursor = keep;
        rp_stat_add(f->stats, RP_STAT_drops_oldest, dropped);
        announce(s, "lagged", "drop_oldest", t, dropped, keep, next_seq(t, keep));
        break;
    }
    case RP_SLOW_POLICY_DROP_NEWEST:
        if (!l->skip_from)
            l->skip_from = rp_topic_seq_within(t, l->cursor, pol->lag_events, pol->lag_bytes);
        l->skip_to = lag.last_seq;
        break;
    case RP_SLOW_POLICY_BLOCK:
        /* The hub holds publishers back from the cursors workers report (report_cursors):
         * nothing to do per stream. */
        break;
    }
}

static void
stream_close(struct rp_stream *s, const char *why)
{
    if (s->closing)
        return;
    s->closing = true;
    s->ops->close(s->owner, why);
}

static void
flush_or_close(struct rp_stream *s)
{
    int err = rp_stream_flush(s);
    if (err && err != -EAGAIN)
        stream_close(s, err == -EPIPE ? "peer closed" : strerror(-err));
}

/*
 * slow_policy block: tells the hub the lowest cursor of this worker's live streams of
 * <lt>'s topic, so publishers wait for the slowest instead of outrunning it. Streams that
 * are replaying do not hold publishers back (they may fall off the log: announced).
 */
static void
report_cursors(struct rp_fanout *f, struct local_topic *lt)
{
    if (rp_topic_policy(lt->topic)->slow != RP_SLOW_POLICY_BLOCK)
        return;
    uint64_t min = UINT64_MAX;
    struct rp_list *pos;
    for (pos = lt->links.next; pos != &lt->links; pos = pos->next) {
        struct link *l = RP_CONTAINER_OF(pos, struct link, in_topic);
        if (!l->stream->closing && !l->stream->catching_up && l->cursor < min)
            min = l->cursor;
    }
    rp_topic_report_cursor(lt->topic, f->worker, min);
}

/* ---- mailbox ---- */

static void
push(struct rp_topic ***arr, size_t *n, size_t *cap, struct rp_topic *t)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *arr = rp_xrealloc(*arr, *cap * sizeof(**arr));
    }
    (*arr)[(*n)++] = t;
}

void
rp_fanout_notify_advanced(struct rp_fanout *f, struct rp_topic *t)
{
    /* One note per topic until the worker takes it: a burst of publishes costs one wake-up. */
    if (!rp_topic_mark_pending(t, f->worker))
        return;
    pthread_mutex_lock(&f->lock);
    push(&f->advanced, &f->n_advanced, &f->cap_advanced, t);
    pthread_mutex_unlock(&f->lock);
    rp_wakeup_signal(&f->wakeup);
}

void
rp_fanout_notify_created(struct rp_fanout *f, struct rp_topic *t)
{
    /* Under the hub lock: the topic cannot be reclaimed before this hold, which lasts
     * until sync_created has linked it (a note may wait across the worker's sleeps). */
    rp_topic_hold(t);
    pthread_mutex_lock(&f->lock);
    push(&f->created, &f->n_created, &f->cap_created, t);
    atomic_store_explicit(&f->created_pending, f->n_created, memory_order_release);
    pthread_mutex_unlock(&f->lock);
    rp_wakeup_signal(&f->wakeup);
}

static void
on_wakeup(struct rp_loop_io *io, uint32_t events)
{
    (void)events;
    struct rp_fanout *f = RP_CONTAINER_OF(io, struct rp_fanout, wakeup.io);
    rp_wakeup_drain(&f->wakeup);
    sync_created(f);

    pthread_mutex_lock(&f->lock);
    struct rp_topic **work = f->advanced;
    size_t n = f->n_advanced, cap = f->cap_advanced;
    f->advanced = f->work;
    f->cap_advanced = f->cap_work;
    f->n_advanced = 0;
    pthread_mutex_unlock(&f->lock);
    f->work = work;
    f->cap_work = cap;

    for (size_t i = 0; i < n; i++) {
        struct rp_topic *t = work[i];
        rp_topic_clear_pending(t, f->worker);
        struct local_topic *lt = local_topic_find(f, t);
        if (!lt)
            continue; /* its last stream went away after the note was queued */
        /* Only links behind the topic's last event have anything to write: a note that
         * asks for a report (a refused publish) or repeats one already served queues no
         * one, so the run queue drains and the report is not held back. */
        uint64_t last = rp_topic_last_seq(t);
        struct rp_list *pos, *tmp;
        RP_LIST_FOREACH_SAFE (pos, tmp, &lt->links) {
            struct link *l = RP_CONTAINER_OF(pos, struct link, in_topic);
            struct rp_stream *s = l->stream;
            if (s->closing)
                continue;
            if (s->stalled)
                check_lag(s, l);
            else if (l->cursor == CURSOR_UNSET || l->cursor < last || l->skip_from)
                enqueue(f, s);
        }
        if (rp_topic_policy(t)->slow == RP_SLOW_POLICY_BLOCK) {
            if (f->n_to_report == f->cap_to_report) {
                f->cap_to_report = f->cap_to_report ? f->cap_to_report * 2 : 16;
                f->to_report = rp_xrealloc(f->to_report, f->cap_to_report * sizeof(*f->to_report));
            }
            f->to_report[f->n_to_report++] = (struct report){t, f->enqueued};
        }
    }
}

/* Reports the block-policy topics whose queued streams have all been written (all of them
 * when the run queue is empty), so a publisher waits for the slowest stream, not for this
 * worker to run out of work. */
static void
report_due(struct rp_fanout *f, bool all)
{
    size_t done = 0;
    while (done < f->n_to_report && (all || f->to_report[done].ticket <= f->dequeued)) {
        struct local_topic *lt = local_topic_find(f, f->to_report[done].topic);
        if (lt)
            report_cursors(f, lt);
        done++;
    }
    if (done == 0)
        return;
    f->n_to_report -= done;
    memmove(f->to_report, f->to_report + done, f->n_to_report * sizeof(*f->to_report));
}

/* Puts <s>, taken from the run queue for a write that left more to write, back at its
 * head: it is not counted as taken until it is caught up, so a report stays due after it. */
static void
requeue_front(struct rp_fanout *f, struct rp_stream *s)
{
    RP_ASSERT(!rp_list_linked(&s->dirty_node)); /* nothing queues streams during a batch */
    rp_list_insert_head(&f->dirty, &s->dirty_node);
    f->dequeued--;
}

/*
 * Takes up to <budget> streams from the run queue and writes them in batches: each batch
 * plans one sendmsg per stream, makes them all with one system call (net/sendbatch), then
 * settles them. A stream with more to write goes back to the head of the queue. New
 * topics are taken once, before planning, so no stream is queued while a batch is built
 * (it would be planned twice, from the same cursors).
 */
static size_t
run_batch(struct rp_fanout *f, size_t budget)
{
    size_t n = 0, taken = 0;
    uint64_t upto = snapshot(f);
    f->n_iov = f->n_items = 0;
    f->in_batch = true;
    while (n < RP_SENDBATCH_MAX && taken < budget && !rp_list_empty(&f->dirty) &&
           BATCH_IOV - f->n_iov >= IOV_BATCH) {
        struct rp_stream *s = RP_CONTAINER_OF(f->dirty.next, struct rp_stream, dirty_node);
        rp_list_remove(&s->dirty_node);
        f->dequeued++;
        taken++;
        if (s->closing || s->stalled)
            continue;
        struct plan *p = &f->plans[n];
        if (plan_write(f, s, upto, p) != 1)
            continue;
        f->sends[n] = (struct rp_send){.fd = s->fd, .msg = &p->msg};
        n++;
    }
    rp_sendbatch_run(f->sender, f->sends, n);
    f->in_batch = false;
    if (f->io_uring_counted && !rp_sendbatch_uses_io_uring(f->sender)) {
        rp_stat_sub(f->stats, RP_STAT_workers_io_uring, 1); /* the ring broke and was dropped */
        f->io_uring_counted = false;
    }
    /* Settle in order, then put back those with more in reverse, so they keep their order
     * at the head of the queue. */
    bool more[RP_SENDBATCH_MAX];
    for (size_t i = 0; i < n; i++) {
        struct rp_stream *s = f->plans[i].s;
        int r = plan_done(f, &f->plans[i], f->sends[i].res);
        if (r < 0 && r != -EAGAIN)
            stream_close(s, r == -EPIPE ? "peer closed" : strerror(-r));
        more[i] = r == 1;
    }
    for (size_t i = n; i-- > 0;) {
        if (more[i])
            requeue_front(f, f->plans[i].s);
    }
    return taken;
}

bool
rp_fanout_run(struct rp_fanout *f, size_t budget)
{
    while (budget > 0 && !rp_list_empty(&f->dirty))
        budget -= run_batch(f, budget);
    bool busy = !rp_list_empty(&f->dirty);
    report_due(f, !busy);
    return busy;
}

bool
rp_fanout_uses_io_uring(const struct rp_fanout *f)
{
    return rp_sendbatch_uses_io_uring(f->sender);
}

/* ---- fanout ---- */

struct rp_fanout *
rp_fanout_new(struct rp_hub *hub, unsigned worker, struct rp_loop *loop, struct rp_stats *stats,
              bool use_io_uring, int *io_uring_why)
{
    struct rp_fanout *f = rp_xcalloc(1, sizeof(*f));
    f->hub = hub;
    f->worker = worker;
    f->loop = loop;
    f->stats = stats;
    rp_hashmap_init(&f->topics);
    rp_list_init(&f->pattern_streams);
    rp_list_init(&f->by_write);
    rp_list_init(&f->dirty);
    pthread_mutex_init(&f->lock, NULL);
    atomic_init(&f->created_pending, 0);
    if (rp_wakeup_init(&f->wakeup, loop, on_wakeup) != 0) {
        rp_hashmap_fini(&f->topics);
        pthread_mutex_destroy(&f->lock);
        free(f);
        return NULL;
    }
    f->sender = rp_sendbatch_new(use_io_uring, io_uring_why);
    f->io_uring_counted = rp_sendbatch_uses_io_uring(f->sender);
    if (f->io_uring_counted)
        rp_stat_add(stats, RP_STAT_workers_io_uring, 1);
    f->iov = rp_xcalloc(BATCH_IOV, sizeof(*f->iov));
    f->cap_items = READ_BATCH; /* never NULL, even for a stream with no topic yet */
    f->items = rp_xcalloc(f->cap_items, sizeof(*f->items));
    return f;
}

void
rp_fanout_free(struct rp_fanout *f)
{
    if (!f)
        return;
    RP_ASSERT(rp_list_empty(&f->by_write));
    rp_wakeup_fini(&f->wakeup, f->loop);
    /* Notes never taken keep their topics from being reclaimed: let them go. */
    for (size_t i = 0; i < f->n_created; i++)
        rp_topic_release(f->created[i]);
    for (size_t i = 0; i < f->n_advanced; i++)
        rp_topic_clear_pending(f->advanced[i], f->worker);
    size_t pos = 0;
    struct local_topic *lt;
    while ((lt = rp_hashmap_next(&f->topics, &pos)) != NULL)
        free(lt);
    rp_hashmap_fini(&f->topics);
    pthread_mutex_destroy(&f->lock);
    free(f->advanced);
    free(f->created);
    free(f->work);
    free(f->to_report);
    free(f->items);
    free(f->iov);
    if (f->io_uring_counted)
        rp_stat_sub(f->stats, RP_STAT_workers_io_uring, 1);
    rp_sendbatch_free(f->sender);
    free(f);
}

int64_t
rp_fanout_sweep(struct rp_fanout *f, int64_t now_ms, int64_t heartbeat_ms)
{
    while (!rp_list_empty(&f->by_write)) {
        struct rp_stream *s = RP_CONTAINER_OF(f->by_write.next, struct rp_stream, write_node);
        int64_t idle = now_ms - s->last_write_ms;
        if (idle < heartbeat_ms)
            return heartbeat_ms - idle;
        /* Moving it to the tail first keeps a stalled or closing stream from being
         * looked at again in this sweep. */
        touch(s);
        if (s->closing || s->stalled || s->partial || s->ctl.len)
            continue;
        if (rp_buf_append(&s->ctl, HEARTBEAT, sizeof(HEARTBEAT) - 1) == 0) {
            rp_stat_add(f->stats, RP_STAT_heartbeats_sent, 1);
            flush_or_close(s);
        }
    }
    return heartbeat_ms;
}

void
rp_fanout_broadcast(struct rp_fanout *f, const char *text, size_t len)
{
    /* Writing moves a stream to the tail of by_write, so walk a counted number of heads,
     * moving each to the tail first: every stream is visited exactly once. */
    size_t n = 0;
    for (struct rp_list *pos = f->by_write.next; pos != &f->by_write; pos = pos->next)
        n++;
    while (n--) {
        struct rp_stream *s = RP_CONTAINER_OF(f->by_write.next, struct rp_stream, write_node);
        rp_list_remove(&s->write_node);
        rp_list_insert_tail(&f->by_write, &s->write_node);
        if (s->closing)
            continue;
        if (rp_buf_append(&s->ctl, text, len) != 0)
            stream_close(s, "shutting down");
        else
            flush_or_close(s);
    }
}

void
rp_stream_finish(struct rp_stream *s, const char *text, size_t len, const char *why)
{
    if (s->closing || s->finishing)
        return;
    s->finishing = true;
    s->finish_why = why;
    if (rp_buf_append(&s->ctl, text, len) != 0)
        stream_close(s, why);
    else
        flush_or_close(s);
}

void
rp_fanout_lag_histogram(struct rp_fanout *f, const uint64_t *bounds, size_t n_bounds,
                        uint64_t *counts)
{
    memset(counts, 0, (n_bounds + 1) * sizeof(*counts));
    struct rp_list *pos;
    for (pos = f->by_write.next; pos != &f->by_write; pos = pos->next) {
        struct rp_stream *s = RP_CONTAINER_OF(pos, struct rp_stream, write_node);
        if (s->closing)
            continue;
        uint64_t behind = 0;
        struct rp_list *lp;
        for (lp = s->links.next; lp != &s->links; lp = lp->next) {
            struct link *l = RP_CONTAINER_OF(lp, struct link, in_stream);
            struct rp_topic_lag lag;
            rp_topic_lag(l->lt->topic, l->cursor, &lag);
            behind += lag.events;
        }
        size_t b = 0;
        while (b < n_bounds && behind > bounds[b])
            b++;
        counts[b]++;
    }
}

bool
rp_fanout_idle(struct rp_fanout *f)
{
    struct rp_list *pos;
    for (pos = f->by_write.next; pos != &f->by_write; pos = pos->next) {
        struct rp_stream *s = RP_CONTAINER_OF(pos, struct rp_stream, write_node);
        if (!s->closing && (s->partial || s->ctl.len))
            return false;
    }
    return true;
}

/* ---- streams ---- */

struct rp_stream *
rp_stream_open(struct rp_fanout *f, const struct rp_stream_open *o, const char **why)
{
    struct rp_stream *s = rp_xcalloc(1, sizeof(*s));
    s->f = f;
    s->fd = o->fd;
    s->owner = o->owner;
    s->ops = o->ops;
    rp_list_init(&s->links);
    rp_buf_init(&s->ctl, CTL_CAP + o->head_len);
    rp_buf_append(&s->ctl, o->head, o->head_len);
    s->tagged = o->n_filters > 1 || o->tagged;

    /* Where delivery resumes. */
    enum { LIVE, RESUME, EVERYTHING } from = LIVE;
    const char *reason = NULL;
    uint64_t resume = 0;
    if (o->adopted) {
        from = RESUME;
        resume = o->resume_seq;
    } else if (o->last_event_id) {
        struct rp_event_id id;
        if (rp_event_id_parse(o->last_event_id, o->last_event_id_len, &id) != 0) {
            reason = "unknown_id";
        } else if (id.epoch != rp_hub_epoch(f->hub)) {
            from = EVERYTHING; /* another incarnation of the log: all it keeps is new */
            reason = "epoch";
        } else if (id.seq > rp_hub_last_seq(f->hub)) {
            reason = "unknown_id";
        } else {
            from = RESUME;
            resume = id.seq;
        }
    }

    /* Register every link before reading where "now" is: whatever is published after
     * this point either finds this worker in the topic's mask or is in the snapshot. */
    for (size_t i = 0; i < o->n_filters; i++) {
        const char *flt = o->filters[i];
        size_t len = strlen(flt);
        if (rp_pattern_has_wildcard(flt, len)) {
            s->tagged = true;
            s->patterns = rp_xrealloc(s->patterns, (s->n_patterns + 1) * sizeof(char *));
            s->patterns[s->n_patterns++] = rp_xstrndup(flt, len);
            if (s->n_patterns == 1)
                rp_list_insert_tail(&f->pattern_streams, &s->pattern_node);
            rp_hub_pattern_add(f->hub, flt, len, f->worker, pattern_attach_cb, s);
        } else {
            struct rp_topic *t = rp_hub_topic(f->hub, flt, len, why);
            if (!t) {
                rp_stream_free(s);
                return NULL;
            }
            stream_attach(s, t, CURSOR_UNSET);
        }
    }
    uint64_t base = from == LIVE ? rp_hub_last_seq(f->hub) : from == RESUME ? resume : 0;
    s->base = base;
    struct rp_list *pos, *tmp;
    RP_LIST_FOREACH_SAFE (pos, tmp, &s->links) {
        struct link *l = RP_CONTAINER_OF(pos, struct link, in_stream);
        if (l->cursor == CURSOR_UNSET)
            l->cursor = base;
        l->replaying = from == RESUME;
    }
    if (reason) {
        char id[RP_EVENT_ID_MAX + 1];
        int err = rp_buf_printf(&s->ctl, "event: resync\ndata: {\"reason\":\"%s\",\"requested\":\"",
                                reason);
        for (size_t i = 0; !err && i < o->last_event_id_len && i < 128; i++) {
            char c = o->last_event_id[i];
            err = rp_buf_printf(&s->ctl,
                                c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? "%c" : "\\u%04x",
                                (unsigned char)c);
        }
        if (!err && from == LIVE && base) {
            format_id(f, base, id);
            err = rp_buf_printf(&s->ctl, "\",\"after\":\"%s\"}\n\n", id);
        } else if (!err) {
            err = rp_buf_append_str(&s->ctl, "\",\"after\":null}\n\n");
        }
    }
    s->catching_up = from != LIVE;
    /* O(1) per link: a live stream lowers this worker's report only if it is the first
     * (a walk recomputes it exactly later); a replaying one is not counted. */
    RP_LIST_FOREACH_SAFE (pos, tmp, &s->links) {
        struct link *l = RP_CONTAINER_OF(pos, struct link, in_stream);
        if (!s->catching_up)
            rp_topic_lower_cursor(l->lt->topic, f->worker, l->cursor);
    }
    rp_list_insert_tail(&f->by_write, &s->write_node);
    s->last_write_ms = rp_clock_now_ms();
    rp_stat_add(f->stats, RP_STAT_streams_active, 1);
    rp_stat_add(f->stats, RP_STAT_streams_total, 1);
    flush_or_close(s);
    return s;
}

void
rp_stream_export(const struct rp_stream *s, struct rp_stream_state *out)
{
    memset(out, 0, sizeof(*out));
    out->tagged = s->tagged;
    out->filters = rp_xcalloc(s->n_patterns + s->n_links + 1, sizeof(char *));
    for (size_t i = 0; i < s->n_patterns; i++)
        out->filters[out->n_filters++] = rp_xstrdup(s->patterns[i]);
    /* Delivery is in sequence order across the links, so the highest cursor says where
     * the stream is: everything up to it was handed over (or skipped by a policy). */
    struct rp_list *pos;
    for (pos = s->links.next; pos != &s->links; pos = pos->next) {
        const struct link *l = RP_CONTAINER_OF(pos, struct link, in_stream);
        size_t len;
        const char *name = rp_topic_name(l->lt->topic, &len);
        out->filters[out->n_filters++] = rp_xstrndup(name, len);
        if (l->cursor != CURSOR_UNSET && l->cursor > out->last_seq)
            out->last_seq = l->cursor;
    }
    size_t cap = s->ctl.len;
    struct iovec piece[2];
    int np = 0;
    if (s->partial) {
        np = rp_frame_iov(s->partial, s->tagged, piece);
        for (int i = 0; i < np; i++)
            cap += piece[i].iov_len;
    }
    out->pending = rp_xmalloc(cap + 1);
    size_t skip = s->partial_off;
    for (int i = 0; i < np; i++) {
        if (skip >= piece[i].iov_len) {
            skip -= piece[i].iov_len;
            continue;
        }
        memcpy(out->pending + out->pending_len, (const char *)piece[i].iov_base + skip,
               piece[i].iov_len - skip);
        out->pending_len += piece[i].iov_len - skip;
        skip = 0;
    }
    if (s->ctl.len)
        memcpy(out->pending + out->pending_len, s->ctl.data, s->ctl.len);
    out->pending_len += s->ctl.len;
}

void
rp_stream_state_fini(struct rp_stream_state *st)
{
    for (size_t i = 0; i < st->n_filters; i++)
        free(st->filters[i]);
    free(st->filters);
    free(st->pending);
    memset(st, 0, sizeof(*st));
}

void
rp_stream_free(struct rp_stream *s)
{
    if (!s)
        return;
    struct rp_fanout *f = s->f;
    if (s->stalled)
        rp_stat_sub(f->stats, RP_STAT_streams_stalled, 1);
    struct rp_list *pos, *tmp;
    RP_LIST_FOREACH_SAFE (pos, tmp, &s->links) {
        struct link *l = RP_CONTAINER_OF(pos, struct link, in_stream);
        rp_topic_count_subscribers(l->lt->topic, -1);
        rp_list_remove(&l->in_topic);
        l->lt->n_links--;
        /* A stream leaving can only raise this worker's lowest cursor; the stale, lower
         * report only holds publishers back until the next walk reports again. */
        if (l->lt->n_links == 0)
            rp_topic_report_cursor(l->lt->topic, f->worker, UINT64_MAX);
        local_topic_release(f, l->lt);
        free(l);
    }
    for (size_t i = 0; i < s->n_patterns; i++) {
        rp_hub_pattern_remove(f->hub, s->patterns[i], strlen(s->patterns[i]), f->worker);
        free(s->patterns[i]);
    }
    free(s->patterns);
    if (s->n_patterns)
        rp_list_remove(&s->pattern_node);
    if (rp_list_linked(&s->dirty_node)) {
        rp_list_remove(&s->dirty_node);
        f->dequeued++; /* keeps the report tickets of the notes queued after it due */
    }
    if (rp_list_linked(&s->write_node)) {
        rp_list_remove(&s->write_node);
        rp_stat_sub(f->stats, RP_STAT_streams_active, 1);
    }
    rp_frame_unref(s->partial);
    rp_buf_fini(&s->ctl);
    free(s);
}
