/* SPDX-License-Identifier: MIT */
#include "delivery/stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "base/alloc.h"
#include "base/hashmap.h"
#include "base/assert.h"
#include "base/buf.h"
#include "base/list.h"
#include "core/event_id.h"
#include "core/pattern.h"
#include "core/session.h"
#include "delivery/delivery_private.h"
#include "net/sendbatch.h"
#include "sse/sse_frame.h"

static void check_lag(struct rp_stream *s, struct link *l);

/* ---- links ---- */

static bool
is_session_topic(const char *name, size_t len)
{
    size_t sp = sizeof(RP_SESSION_TOPIC_PREFIX) - 1;
    return len > sp && memcmp(name, RP_SESSION_TOPIC_PREFIX, sp) == 0;
}

struct link *
rp_stream_attach(struct rp_stream *s, struct rp_topic *t, uint64_t cursor)
{
    /* Already linked? Walk the shorter of the stream's links and the topic's: a pattern
     * stream over 100,000 topics, or a topic with 10,000 streams, then costs O(1) per
     * link instead of O(n) (O(n^2) for the whole attach, under which publishing stalled). */
    struct local_topic *lt = rp_fanout_topic_find(s->f, t);
    if (lt && lt->n_links < s->n_links) {
        struct rp_list *pos;
        for (pos = lt->links.next; pos != &lt->links; pos = pos->next)
            if (RP_CONTAINER_OF(pos, struct link, in_topic)->stream == s)
                return NULL;
    } else if (lt) {
        struct rp_list *pos;
        for (pos = s->links.next; pos != &s->links; pos = pos->next)
            if (RP_CONTAINER_OF(pos, struct link, in_stream)->lt == lt)
                return NULL;
    }
    struct link *l = rp_xcalloc(1, sizeof(*l));
    l->stream = s;
    l->lt = rp_fanout_topic_get(s->f, t);
    l->cursor = cursor;
    size_t name_len;
    const char *name = rp_topic_name(t, &name_len);
    l->plain = is_session_topic(name, name_len);
    rp_list_insert_tail(&l->lt->links, &l->in_topic);
    l->lt->n_links++;
    rp_list_insert_tail(&s->links, &l->in_stream);
    s->n_links++;
    mark_behind(l); /* its first read finds out whether it has anything */
    rp_topic_count_subscribers(t, 1);
    return l;
}

bool
rp_stream_accepts(const struct rp_stream *s, struct rp_topic *t)
{
    if (!s->accept)
        return true;
    size_t len;
    const char *name = rp_topic_name(t, &len);
    return s->accept(s->accept_ctx, name, len);
}

static void
pattern_attach_cb(void *ctx, struct rp_topic *t)
{
    if (rp_stream_accepts(ctx, t))
        rp_stream_attach(ctx, t, CURSOR_UNSET);
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
        stream_close_slow(s, "too many announcements queued for a stalled stream");
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

/* Takes <l> off its stream's behind list when a read found nothing after its cursor and
 * its topic has nothing newer: an event published later comes with a note that marks it
 * again (the topic's last_seq is stored before the note is sent). */
static void
settle_behind(struct link *l)
{
    if (l->skip_from || l->cursor < rp_topic_last_seq(l->lt->topic))
        return;
    rp_list_remove(&l->in_behind);
    l->stream->n_behind--;
}

/*
 * Reads up to a batch of frames after the cursor of each link that may be behind, up to
 * <upto>, merged in sequence order into f->items after the f->n_items in use. Returns how
 * many; *<more> when some log had more.
 */
/* A shared sequence: some topic of <s> is being filled, so none of its events may be
 * written yet (one of the fill's could come before them); its fill's note brings the
 * stream back. */
static bool
waits_for_fill(struct rp_stream *s)
{
    for (struct rp_list *pos = s->links.next; pos != &s->links; pos = pos->next) {
        const struct link *l = RP_CONTAINER_OF(pos, struct link, in_stream);
        if (rp_topic_filling(l->lt->topic))
            return true;
    }
    return false;
}

/* The client of a mesh stream with a floor has <it> already: its origin's part covers it. */
static bool
floor_has(const struct rp_stream *s, const struct item *it)
{
    const struct rp_frame *fr = it->frame;
    if (!fr->origin)
        return it->seq <= rp_event_vector_get(s->floor, rp_hub_epoch(s->f->hub));
    return fr->origin_seq <= rp_event_vector_get(s->floor, fr->origin);
}

static size_t
gather(struct rp_stream *s, uint64_t upto, bool *more)
{
    struct rp_fanout *f = s->f;
    *more = false;
    if (s->shared && waits_for_fill(s))
        return 0;
    size_t per_link = s->n_behind <= 1 ? READ_BATCH : READ_BATCH / s->n_behind;
    if (per_link < 4)
        per_link = 4;
    size_t need = f->n_items + per_link * s->n_behind;
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
    RP_LIST_FOREACH_SAFE (pos, tmp, &s->behind) {
        struct link *l = RP_CONTAINER_OF(pos, struct link, in_behind);
        struct rp_topic *t = l->lt->topic;
        /* Only a stream whose socket refused bytes meets its policy: a reader that keeps
         * up is not charged for a worker busy with others (a publisher outrunning the
         * fan-out meets the log's bounds instead: the gap is announced). */
        if (s->stalled)
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
        if (s->floor && l->replaying) {
            /* From an id another mesh node framed: per origin, so the cursor starts past
             * what was evicted, and the gap is told when the client lacks some of it. */
            uint64_t evicted;
            if (rp_topic_vector_gap(t, s->floor, &evicted)) {
                rp_stat_add(f->stats, RP_STAT_drops_expired, 1);
                announce(s, "expired", NULL, t, 0, 0, next_seq(t, evicted));
            }
            if (evicted > l->cursor)
                l->cursor = evicted;
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
            /* The first event after the gap; never one at or before the cursor: a gap
             * floor (a topic created again, a range lost in an unclean stop) can lie past
             * events the log still keeps and the reader already has. */
            uint64_t from = got ? seqs[0] : lag.first_seq > l->cursor ? lag.first_seq : 0;
            announce(s, l->replaying ? "expired" : "lagged", NULL, t, 0, 0, from);
            /* Nothing kept after the cursor: past everything gone, which for a topic
             * created again is its gap floor, beyond its own last event. */
            uint64_t gone = lag.last_seq > lag.evicted_seq ? lag.last_seq : lag.evicted_seq;
            l->cursor = from ? from - 1 : gone;
        }
        l->replaying = false;
        if (got == 0 && !lag.gap)
            settle_behind(l);
        /* A note can arrive before the hub's sequence covers its event (notes are queued
         * first, see snapshot()): come back with a newer snapshot rather than wait for a
         * note that was already taken. */
        if (rp_topic_last_seq(t) > upto)
            *more = true;
        if (got == per_link && seqs[got - 1] < limit) {
            limit = seqs[got - 1];
            *more = true;
        }
        for (size_t i = 0; i < got; i++)
            items[n++] = (struct item){frames[i], seqs[i], l, false};
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
        /* One update on several of the stream's topics is written once: its frames have
         * consecutive sequences, so they are adjacent here or follow the one written last. */
        uint64_t last = s->last_group;
        for (size_t i = 0; i < n; i++) {
            uint64_t g = items[i].frame->group;
            items[i].dup = g && g == last;
            if (g)
                last = g;
        }
    }
    for (size_t i = 0; s->floor && i < n; i++)
        if (floor_has(s, &items[i]))
            items[i].dup = true; /* the client has it: skipped like a copy */
    return n;
}

/*
 * The sequence up to which the next writes read: read the snapshot first, then take new
 * topics (which may queue pattern streams) and the notes of advanced topics (which mark
 * links behind). The hub queues both before it publishes the sequence, so every link
 * with an event in the snapshot is on its stream's behind list: a stream over many
 * topics reads only those and still writes in sequence order.
 */
static uint64_t
snapshot(struct rp_fanout *f)
{
    uint64_t upto = rp_hub_last_seq(f->hub);
    sync_created(f);
    sync_advanced(f);
    return upto;
}

/* A frame that ends the stream was written whole (rp_frame.ends_stream): the stream takes
 * no further event and closes once its control text is out. */
static void
finish_after_frame(struct rp_stream *s)
{
    s->finishing = true;
    s->finish_why = "its upstream failed";
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
        int np = rp_frame_iov(s->partial, s->partial_tagged, piece);
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
    bool ends = false; /* a frame that ends the stream: nothing after it */
    while (used < n_items && niov + 2 <= IOV_BATCH && !ends) {
        if (!items[used].dup) {
            niov +=
                rp_frame_iov(items[used].frame, s->tagged && !items[used].link->plain, &iov[niov]);
            ends = items[used].frame->ends_stream;
        }
        used++;
    }
    for (size_t i = used; i < n_items; i++) {
        rp_frame_unref(items[i].frame);
        more = true;
    }
    if (ends)
        more = false;
    if (niov == 0) {
        /* Only copies of an update written before (in a cluster an update's topics arrive
         * one by one): nothing to send, but their cursors move and their frames go. */
        for (size_t i = 0; i < used; i++) {
            items[i].link->cursor = items[i].seq;
            rp_frame_unref(items[i].frame);
        }
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
    if (res > 0) {
        touch(s);
        /* One sample a write (its oldest event), for live streams: a replay's wait is the
         * client's absence, not delivery latency. */
        if (p->n_items && !s->catching_up)
            rp_stat_delivery_latency(f->stats, s->last_write_ms - items[0].frame->appended_ms);
    }
    if (s->partial) {
        if (left >= p->partial_len) {
            left -= p->partial_len;
            if (s->partial->ends_stream)
                finish_after_frame(s);
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
        /* A skipped copy costs no bytes; its cursor moves with the others, and the copy
         * that carries the update is written before or after it, never not at all. */
        bool tagged = s->tagged && !it->link->plain;
        size_t len = it->dup ? 0 : rp_frame_wire_len(it->frame, tagged);
        total += len;
        if (left >= len) {
            left -= len;
            it->link->cursor = it->seq;
            sent += !it->dup;
            sent_bytes += len;
            if (!it->dup && it->frame->group)
                s->last_group = it->frame->group;
            if (!it->dup && it->frame->ends_stream)
                finish_after_frame(s);
            rp_frame_unref(it->frame);
        } else if (left > 0) {
            /* The socket took part of this frame: it is handed over; keep the rest. */
            s->partial = it->frame;
            s->partial_tagged = tagged;
            s->partial_off = left;
            it->link->cursor = it->seq;
            sent++;
            sent_bytes += len;
            if (it->frame->group)
                s->last_group = it->frame->group;
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
        stream_close_slow(s, "subscriber over its lag limit (slow_policy disconnect)");
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

/* ---- the run queue ---- */

void
rp_stream_topic_advanced(struct rp_fanout *f, struct local_topic *lt)
{
    struct rp_topic *t = lt->topic;
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
        if (l->cursor == CURSOR_UNSET || l->cursor < last || l->skip_from)
            mark_behind(l);
        if (s->stalled)
            check_lag(s, l);
        else if (l->cursor == CURSOR_UNSET || l->cursor < last || l->skip_from)
            enqueue(f, s);
    }
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
rp_stream_run_queue(struct rp_fanout *f, size_t budget)
{
    while (budget > 0 && !rp_list_empty(&f->dirty))
        budget -= run_batch(f, budget);
    return !rp_list_empty(&f->dirty);
}

/* ---- streams ---- */

/* An adopted stream's links take the places the previous process handed over, by topic
 * name (a map, so a pattern stream over many topics stays linear). */
static void
place_cursors(struct rp_stream *s, const struct rp_stream_cursor *cursors, size_t n)
{
    struct rp_hashmap by_topic;
    rp_hashmap_init(&by_topic);
    for (size_t i = 0; i < n; i++)
        rp_hashmap_put(&by_topic, cursors[i].topic, strlen(cursors[i].topic),
                       (void *)(uintptr_t)(i + 1)); /* its index, + 1 (never NULL) */
    struct rp_list *pos;
    for (pos = s->links.next; pos != &s->links; pos = pos->next) {
        struct link *l = RP_CONTAINER_OF(pos, struct link, in_stream);
        size_t len;
        const char *name = rp_topic_name(l->lt->topic, &len);
        uintptr_t at = (uintptr_t)rp_hashmap_get(&by_topic, name, len);
        if (!at)
            continue;
        const struct rp_stream_cursor *c = &cursors[at - 1];
        l->cursor = c->cursor;
        l->skip_from = c->skip_from;
        l->skip_to = c->skip_to;
    }
    rp_hashmap_fini(&by_topic);
}

struct rp_stream *
rp_stream_open(struct rp_fanout *f, const struct rp_stream_open *o, const char **why)
{
    struct rp_stream *s = rp_xcalloc(1, sizeof(*s));
    s->f = f;
    s->fd = o->fd;
    s->owner = o->owner;
    s->ops = o->ops;
    rp_list_init(&s->links);
    rp_list_init(&s->behind);
    rp_buf_init(&s->ctl, CTL_CAP + o->head_len);
    rp_buf_append(&s->ctl, o->head, o->head_len);
    /* A session's private topic does not make a stream multi-topic: its events go out
     * untagged, and the session's one topic stays as a plain stream of it shows it. */
    size_t n_public = 0;
    for (size_t i = 0; i < o->n_filters; i++)
        n_public += !is_session_topic(o->filters[i], strlen(o->filters[i]));
    s->tagged = !o->untagged && (n_public > 1 || o->tagged);
    s->shared = rp_hub_shared_sequence(f->hub) || rp_hub_vector_ids(f->hub);
    s->accept = o->accept;
    s->accept_ctx = o->accept_ctx;
    s->accept_free = o->accept_free;

    /* Where delivery resumes. */
    enum { LIVE, RESUME, EVERYTHING } from = LIVE;
    const char *reason = NULL;
    uint64_t resume = 0;
    if (o->adopted) {
        from = RESUME;
        resume = o->resume_seq;
    } else if (o->from_start) {
        from = EVERYTHING;
    } else if (o->last_event_id) {
        /* A mesh id's first part is the node that framed it (docs/internals/ids.md). */
        struct rp_event_vector v;
        bool mesh = rp_hub_vector_ids(f->hub);
        struct rp_event_id id = {0, 0};
        int bad = rp_event_vector_parse(o->last_event_id, o->last_event_id_len, &v);
        if (!bad)
            id = v.part[0];
        if (bad || (v.n > 1 && !mesh)) {
            reason = "unknown_id";
        } else if (id.epoch != rp_hub_epoch(f->hub) && mesh) {
            /* Framed by another node of the mesh: per origin, whatever is after its part. */
            from = RESUME;
            s->floor = rp_xmalloc(sizeof(*s->floor));
            *s->floor = v;
        } else if (id.epoch != rp_hub_epoch(f->hub)) {
            from = EVERYTHING; /* another incarnation of the log: all it keeps is new */
            reason = "epoch";
        } else if (id.seq > rp_hub_last_seq(f->hub) && !rp_hub_shared_sequence(f->hub)) {
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
            s->tagged = !o->untagged;
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
            rp_stream_attach(s, t, CURSOR_UNSET);
        }
    }
    uint64_t base = from == LIVE ? rp_hub_last_seq(f->hub) : from == RESUME ? resume : 0;
    char mesh_id[RP_EVENT_VECTOR_MAX + 1] = "";
    if (from == LIVE && rp_hub_vector_ids(f->hub)) {
        /* A mesh node: the opening id names every origin, read with <base>. A topic being
         * filled takes its history in under new sequences: a live stream skips, per origin,
         * what was in before it started. */
        if (waits_for_fill(s))
            s->floor = rp_xmalloc(sizeof(*s->floor));
        rp_hub_position(f->hub, &base, s->floor, mesh_id);
    }
    s->base = base;
    /* A client resuming right after the first frame of an update written to several of
     * its topics got that update: its other frames are skipped. */
    s->last_group = from == RESUME ? resume : 0;
    struct rp_list *pos, *tmp;
    if (o->n_cursors)
        place_cursors(s, o->cursors, o->n_cursors);
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
    /*
     * The opening id. A live start (also after an `unknown_id` resync, whose `after` it
     * repeats) writes `id: <base>` and a blank line: an EventSource takes it as its last
     * event id and dispatches nothing (empty data). Without it a connection dropped before
     * the first event reconnects without Last-Event-ID, starts live again and silently
     * misses everything published in between. <base> is exactly where the cursors start, so
     * a resume from it skips nothing. Before this epoch's first event it is `<epoch>-0`,
     * the epoch's origin: a resume from it replays the whole epoch.
     * No id for the other starts: a resume leaves the client's own id in place (sent in the
     * header, or in the URL it reconnects with); a start from the oldest event has no id
     * before it, and the client reconnects with what brought it there (`earliest`, an id of
     * another epoch); an adopted stream goes on from one whose opening is already out.
     */
    if (from == LIVE) {
        char id[RP_EVENT_ID_MAX + 1];
        if (!mesh_id[0])
            format_id(f, base, id);
        int err = rp_buf_printf(&s->ctl, "id: %s\n\n", mesh_id[0] ? mesh_id : id);
        RP_ASSERT(err == 0); /* CTL_CAP leaves room beyond the head and one resync */
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

bool
rp_stream_exportable(const struct rp_stream *s)
{
    return s->accept == NULL;
}

uint64_t
rp_stream_last_seq(const struct rp_stream *s)
{
    uint64_t last = 0;
    if (!s)
        return 0;
    struct rp_list *pos;
    for (pos = s->links.next; pos != &s->links; pos = pos->next) {
        const struct link *l = RP_CONTAINER_OF(pos, struct link, in_stream);
        if (l->cursor != CURSOR_UNSET && l->cursor > last)
            last = l->cursor;
    }
    return last;
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
    out->cursors = rp_xcalloc(s->n_links + 1, sizeof(*out->cursors));
    struct rp_list *pos;
    for (pos = s->links.next; pos != &s->links; pos = pos->next) {
        const struct link *l = RP_CONTAINER_OF(pos, struct link, in_stream);
        size_t len;
        const char *name = rp_topic_name(l->lt->topic, &len);
        out->filters[out->n_filters++] = rp_xstrndup(name, len);
        if (l->cursor != CURSOR_UNSET && l->cursor > out->last_seq)
            out->last_seq = l->cursor;
        if (l->cursor != CURSOR_UNSET)
            out->cursors[out->n_cursors++] = (struct rp_stream_cursor){
                rp_xstrndup(name, len), l->cursor, l->skip_from, l->skip_to};
    }
    size_t cap = s->ctl.len;
    struct iovec piece[2];
    int np = 0;
    if (s->partial) {
        np = rp_frame_iov(s->partial, s->partial_tagged, piece);
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
    for (size_t i = 0; i < st->n_cursors; i++)
        free(st->cursors[i].topic);
    free(st->cursors);
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
        rp_list_remove(&l->in_behind);
        l->lt->n_links--;
        /* A stream leaving can only raise this worker's lowest cursor; the stale, lower
         * report only holds publishers back until the next walk reports again. */
        if (l->lt->n_links == 0)
            rp_topic_report_cursor(l->lt->topic, f->worker, UINT64_MAX);
        rp_fanout_topic_release(f, l->lt);
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
    if (s->accept_free)
        s->accept_free(s->accept_ctx);
    free(s->floor);
    free(s);
}
