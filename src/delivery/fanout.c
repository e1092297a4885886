/* SPDX-License-Identifier: MIT */
#include "delivery/fanout.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/hashmap.h"
#include "base/list.h"
#include "core/pattern.h"
#include "delivery/delivery_private.h"
#include "loop/wakeup.h"
#include "net/sendbatch.h"

static const char HEARTBEAT[] = ":\n\n";

/* ---- local topic index ---- */

struct local_topic *
rp_fanout_topic_find(struct rp_fanout *f, struct rp_topic *t)
{
    size_t len;
    const char *name = rp_topic_name(t, &len);
    struct local_topic *lt = rp_hashmap_get(&f->topics, name, len);
    /* A topic of this name is reclaimed (and made again) only once no worker has it
     * attached or queued, so the index never holds another topic of the same name. */
    RP_ASSERT(!lt || lt->topic == t);
    return lt;
}

struct local_topic *
rp_fanout_topic_get(struct rp_fanout *f, struct rp_topic *t)
{
    struct local_topic *lt = rp_fanout_topic_find(f, t);
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

void
rp_fanout_topic_release(struct rp_fanout *f, struct local_topic *lt)
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

/* Topics created since the last call: link them to the pattern streams they match. A
 * topic created after a pattern was registered holds only events published after the
 * stream started, so its links start where the stream did: at the beginning of its log,
 * or, for a topic created again after one of its name was reclaimed, before the gap floor
 * only if the stream resumes from before it (then the gap is announced). Each note held
 * its topic; the hold is dropped once the topic is linked (or matched nobody). */
void
rp_fanout_take_created(struct rp_fanout *f)
{
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
                    if (!rp_stream_accepts(s, created[i]))
                        break; /* its accept filter decides for every pattern at once */
                    /* The publish that created the topic saw no subscriber on this worker,
                     * so no note follows: flush on the next wake-up. */
                    struct link *l = rp_stream_attach(s, created[i], s->base);
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
rp_fanout_note_advanced(struct rp_fanout *f, struct rp_topic *t)
{
    /* One note per topic until the worker takes it: a burst of publishes costs one wake-up. */
    if (!rp_topic_mark_pending(t, f->worker))
        return;
    pthread_mutex_lock(&f->lock);
    push(&f->advanced, &f->n_advanced, &f->cap_advanced, t);
    atomic_store_explicit(&f->advanced_pending, f->n_advanced, memory_order_release);
    pthread_mutex_unlock(&f->lock);
}

void
rp_fanout_wake(struct rp_fanout *f)
{
    rp_wakeup_signal(&f->wakeup);
}

void
rp_fanout_notify_advanced(struct rp_fanout *f, struct rp_topic *t)
{
    rp_fanout_note_advanced(f, t);
    rp_fanout_wake(f);
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

/* Takes the "topic advanced" notes: marks the links behind, queues their streams, and
 * keeps the block-policy topics to report. Through sync_advanced, when notes are pending. */
void
rp_fanout_take_advanced(struct rp_fanout *f)
{
    pthread_mutex_lock(&f->lock);
    struct rp_topic **work = f->advanced;
    size_t n = f->n_advanced, cap = f->cap_advanced;
    f->advanced = f->work;
    f->cap_advanced = f->cap_work;
    f->n_advanced = 0;
    atomic_store_explicit(&f->advanced_pending, 0, memory_order_relaxed);
    pthread_mutex_unlock(&f->lock);
    f->work = work;
    f->cap_work = cap;

    for (size_t i = 0; i < n; i++) {
        struct rp_topic *t = work[i];
        rp_topic_clear_pending(t, f->worker);
        struct local_topic *lt = rp_fanout_topic_find(f, t);
        if (!lt)
            continue; /* its last stream went away after the note was queued */
        rp_stream_topic_advanced(f, lt);
        if (rp_topic_policy(t)->slow == RP_SLOW_POLICY_BLOCK) {
            if (f->n_to_report == f->cap_to_report) {
                f->cap_to_report = f->cap_to_report ? f->cap_to_report * 2 : 16;
                f->to_report = rp_xrealloc(f->to_report, f->cap_to_report * sizeof(*f->to_report));
            }
            f->to_report[f->n_to_report++] = (struct report){t, f->enqueued};
        }
    }
}

static void
on_wakeup(struct rp_loop_io *io, uint32_t events)
{
    (void)events;
    struct rp_fanout *f = RP_CONTAINER_OF(io, struct rp_fanout, wakeup.io);
    rp_wakeup_drain(&f->wakeup);
    sync_created(f);
    sync_advanced(f);
}

/* Reports the block-policy topics whose queued streams have all been written (all of them
 * when the run queue is empty), so a publisher waits for the slowest stream, not for this
 * worker to run out of work. */
static void
report_due(struct rp_fanout *f, bool all)
{
    size_t done = 0;
    while (done < f->n_to_report && (all || f->to_report[done].ticket <= f->dequeued)) {
        struct local_topic *lt = rp_fanout_topic_find(f, f->to_report[done].topic);
        if (lt)
            report_cursors(f, lt);
        done++;
    }
    if (done == 0)
        return;
    f->n_to_report -= done;
    memmove(f->to_report, f->to_report + done, f->n_to_report * sizeof(*f->to_report));
}

bool
rp_fanout_run(struct rp_fanout *f, size_t budget)
{
    bool busy = rp_stream_run_queue(f, budget);
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
    atomic_init(&f->advanced_pending, 0);
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
