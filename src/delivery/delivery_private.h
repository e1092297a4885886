/* SPDX-License-Identifier: MIT */
#ifndef RP_DELIVERY_DELIVERY_PRIVATE_H
#define RP_DELIVERY_DELIVERY_PRIVATE_H
/*
 * Delivery's insides, shared by delivery/fanout.c and delivery/stream.c: the fanout, stream,
 * link and local topic structs, a few small helpers both files use, and the calls between
 * the two. NOT part of the API: only the .c files of delivery/ include it; every other
 * module sees delivery/fanout.h and delivery/stream.h, where the structs stay opaque.
 *
 * Where the line between the files runs: everything done per stream per write (the run
 * queue's batches, gather, plan and settle, the slow-consumer policies) is in stream.c, so
 * those calls stay within one translation unit and inlinable (the build has no LTO). The
 * fanout calls into it once per loop turn (rp_stream_run_queue) and once per advanced topic
 * (rp_stream_topic_advanced), never per stream per write; its sweep and broadcast write a
 * stream through rp_stream_flush, as any owner of a stream does.
 *
 * Threads: as delivery/fanout.h (the mailbox fields are the only ones other threads touch).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/hashmap.h"
#include "base/list.h"
#include "base/stats.h"
#include "core/hub.h"
#include "delivery/fanout.h"
#include "delivery/stream.h"
#include "loop/wakeup.h"
#include "net/sendbatch.h"

struct rp_frame;

#define READ_BATCH 64       /* frames read from one log per pass */
#define IOV_BATCH 256       /* iovecs per sendmsg (well under IOV_MAX) */
#define BATCH_IOV 4096      /* iovecs of all the writes of one batch */
#define CTL_CAP (64 * 1024) /* control text (head, resync, heartbeats) a stream may queue */
#define CURSOR_UNSET UINT64_MAX

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
    struct rp_list in_behind; /* in rp_stream.behind while it may have unread events */
    struct rp_stream *stream;
    struct local_topic *lt;
    uint64_t cursor; /* last sequence of this topic handed to the socket (or skipped) */
    /* drop_newest: once the cursor reaches skip_from, delivery jumps to skip_to. */
    uint64_t skip_from, skip_to;
    bool replaying; /* first read after a resume or a late attach: a gap means "expired" */
    bool plain;     /* a session's private topic: its events are never tagged */
};

struct rp_stream {
    struct rp_fanout *f;
    uint64_t last_group; /* the frame group written last (rp_frame.group), 0 for none */
    int fd;
    void *owner;
    const struct rp_stream_owner_ops *ops;
    struct rp_list links;
    size_t n_links;
    /* The links that may have events to read: a link joins when its topic advances (or
     * when it is attached) and leaves when a read finds it caught up, so a write costs
     * the links that moved, not every topic a pattern matched. */
    struct rp_list behind;
    size_t n_behind;
    char **patterns;
    size_t n_patterns;
    struct rp_list pattern_node; /* in fanout.pattern_streams when n_patterns > 0 */
    /* Which topics a pattern matched are linked (rp_stream_open's accept); owned. */
    bool (*accept)(void *ctx, const char *topic, size_t len);
    void *accept_ctx;
    void (*accept_free)(void *ctx);
    struct rp_list write_node; /* in fanout.by_write, least recently written first */
    struct rp_list dirty_node; /* in fanout.dirty: has something new to write */
    int64_t last_write_ms;
    uint64_t base; /* where it started (the cursor of the topics it had then) */
    /* A mesh stream that resumed from an id another node framed (or opened live while one
     * of its topics was filling): per origin, the newest sequence its client has; events at
     * or before their origin's part are skipped (docs/internals/ids.md). NULL otherwise. */
    struct rp_event_vector *floor;
    bool tagged;  /* several topics or a pattern: events carry their topic */
    bool shared;  /* in a cluster (Redis or the mesh): topics may be filling */
    bool stalled; /* the socket refused bytes; waiting for writability */
    /* Opened with a Last-Event-ID and not yet caught up once: its replay is not "lag", so
     * slow_policy waits until it has caught up (it can still fall off the log). */
    bool catching_up;
    bool closing;
    bool finishing;      /* rp_stream_finish: no more events; close once ctl is written */
    bool partial_tagged; /* how <partial> was being written */
    /* (The bools share one word: a stream of 264 bytes fits the malloc chunk its connection's
     * freed opening text leaves; 8 bytes more showed as about 50 per idle connection.) */
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
    bool dup; /* another frame of a group the stream writes (or wrote) already: skipped */
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
    atomic_size_t created_pending, advanced_pending;
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

/* ---- calls between the two files ---- */

/* fanout.c: the local topic of <t>, or NULL when no stream of this worker reads it. */
struct local_topic *rp_fanout_topic_find(struct rp_fanout *f, struct rp_topic *t);
/* fanout.c: the local topic of <t>, created (and the worker attached to <t>) if missing. */
struct local_topic *rp_fanout_topic_get(struct rp_fanout *f, struct rp_topic *t);
/* fanout.c: frees <lt> once it has no link left (and drops its report still due). */
void rp_fanout_topic_release(struct rp_fanout *f, struct local_topic *lt);
/* fanout.c: takes the "topic created" notes and links the pattern streams they match;
 * called through sync_created only when notes are pending. */
void rp_fanout_take_created(struct rp_fanout *f);
/* fanout.c: takes the "topic advanced" notes; called through sync_advanced only when
 * notes are pending. */
void rp_fanout_take_advanced(struct rp_fanout *f);

/* stream.c: true when <s> links <t>, which one of its patterns matched (its accept). */
bool rp_stream_accepts(const struct rp_stream *s, struct rp_topic *t);
/* stream.c: links <s> to <t> unless it already is (NULL then); the cursor is <cursor>. */
struct link *rp_stream_attach(struct rp_stream *s, struct rp_topic *t, uint64_t cursor);
/* stream.c: <lt>'s topic advanced: queues its streams that are behind, checks the lag of
 * its stalled ones. */
void rp_stream_topic_advanced(struct rp_fanout *f, struct local_topic *lt);
/* stream.c: writes up to <budget> streams of the run queue in batches; returns true while
 * streams remain queued. */
bool rp_stream_run_queue(struct rp_fanout *f, size_t budget);

/* ---- small helpers both files use ---- */

/* Marks <l> as possibly having events to read (see rp_stream.behind). */
static inline void
mark_behind(struct link *l)
{
    if (rp_list_linked(&l->in_behind))
        return;
    rp_list_insert_tail(&l->stream->behind, &l->in_behind);
    l->stream->n_behind++;
}

/* Puts <s> on the run queue unless it is there already. */
static inline void
enqueue(struct rp_fanout *f, struct rp_stream *s)
{
    if (rp_list_linked(&s->dirty_node))
        return;
    rp_list_insert_tail(&f->dirty, &s->dirty_node);
    f->enqueued++;
}

static inline void
touch(struct rp_stream *s)
{
    s->last_write_ms = rp_clock_now_ms();
    rp_list_remove(&s->write_node);
    rp_list_insert_tail(&s->f->by_write, &s->write_node);
}

static inline void
stream_close(struct rp_stream *s, const char *why)
{
    if (s->closing)
        return;
    s->closing = true;
    s->ops->close(s->owner, why);
}

/*
 * Closes a stream for being too slow, abortively (SO_LINGER 0: a reset, not a FIN): the
 * megabytes its socket still queues are dropped now instead of lingering in the kernel as
 * an orphan, which many stalled readers would otherwise pile up against the host's TCP
 * memory. The client resumes from the last event it read whole, as after any drop.
 */
static inline void
stream_close_slow(struct rp_stream *s, const char *why)
{
    struct linger abort_close = {.l_onoff = 1, .l_linger = 0};
    if (!s->closing)
        setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &abort_close, sizeof(abort_close));
    stream_close(s, why);
}

static inline void
flush_or_close(struct rp_stream *s)
{
    int err = rp_stream_flush(s);
    if (err && err != -EAGAIN)
        stream_close(s, err == -EPIPE ? "peer closed" : strerror(-err));
}

/* Topics created since the last call (rp_fanout_take_created); inline so that the check,
 * made before every write, costs no call when there is nothing to take. */
static inline void
sync_created(struct rp_fanout *f)
{
    if (atomic_load_explicit(&f->created_pending, memory_order_acquire) != 0)
        rp_fanout_take_created(f);
}

/* Notes of topics advanced since the last call (rp_fanout_take_advanced). */
static inline void
sync_advanced(struct rp_fanout *f)
{
    if (atomic_load_explicit(&f->advanced_pending, memory_order_acquire) != 0)
        rp_fanout_take_advanced(f);
}

#endif
