/* SPDX-License-Identifier: MIT */
#include "core/hub.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/assert.h"
#include "core/eventlog.h"
#include "core/hub_private.h"
#include "sse/sse_frame.h"

/* One topic from the outside: the guards workers set on it (attach, pending marks, holds,
 * cursors) and the read side, which takes only the topic's own lock (core/hub_private.h). */

void
rp_topic_attach(struct rp_topic *t, unsigned worker)
{
    RP_ASSERT(worker < RP_HUB_MAX_WORKERS);
    /* The value before the change says who made the transition: exactly one caller sees
     * 0, however many workers attach at once. */
    uint64_t before = atomic_fetch_or(&t->workers, (uint64_t)1 << worker);
    const struct rp_hub_hooks *h = &t->hub->hooks;
    if (before == 0 && h->topic_interest)
        h->topic_interest(h->ctx, t, true);
}

bool
rp_topic_interested(const struct rp_topic *t)
{
    return atomic_load(&t->workers) != 0;
}

bool
rp_topic_mark_pending(struct rp_topic *t, unsigned worker)
{
    uint64_t bit = (uint64_t)1 << worker;
    return !(atomic_fetch_or(&t->pending, bit) & bit);
}

void
rp_topic_clear_pending(struct rp_topic *t, unsigned worker)
{
    atomic_fetch_and(&t->pending, ~((uint64_t)1 << worker));
}

void
rp_topic_detach(struct rp_topic *t, unsigned worker)
{
    uint64_t bit = (uint64_t)1 << worker;
    uint64_t before = atomic_fetch_and_explicit(&t->workers, ~bit, memory_order_acq_rel);
    const struct rp_hub_hooks *h = &t->hub->hooks;
    if (before == bit && h->topic_interest)
        h->topic_interest(h->ctx, t, false);
}

void
rp_topic_count_subscribers(struct rp_topic *t, int64_t delta)
{
    atomic_fetch_add_explicit(&t->n_subscribers, delta, memory_order_relaxed);
}

void
rp_topic_lower_cursor(struct rp_topic *t, unsigned worker, uint64_t cursor)
{
    if (!t->worker_cursor)
        return;
    _Atomic uint64_t *slot = &t->worker_cursor->c[worker];
    uint64_t cur = atomic_load(slot);
    while (cursor < cur && !atomic_compare_exchange_weak(slot, &cur, cursor))
        ;
}

void
rp_topic_report_cursor(struct rp_topic *t, unsigned worker, uint64_t cursor)
{
    if (t->worker_cursor)
        atomic_store(&t->worker_cursor->c[worker], cursor);
}

void
rp_topic_hold(struct rp_topic *t)
{
    atomic_fetch_add(&t->holds, 1);
}

void
rp_topic_release(struct rp_topic *t)
{
    uint32_t before = atomic_fetch_sub(&t->holds, 1);
    RP_ASSERT(before > 0);
}

const char *
rp_topic_name(const struct rp_topic *t, size_t *len)
{
    if (len)
        *len = t->name_len;
    return t->name;
}

const uint8_t *
rp_topic_uuid_bytes(const struct rp_topic *t)
{
    return t->uuid;
}

const struct rp_topic_policy *
rp_topic_policy(const struct rp_topic *t)
{
    return &t->policy;
}

uint64_t
rp_topic_last_seq(const struct rp_topic *t)
{
    return atomic_load_explicit(&t->last_seq, memory_order_acquire);
}

int64_t
rp_topic_subscribers(const struct rp_topic *t)
{
    return atomic_load_explicit(&t->n_subscribers, memory_order_relaxed);
}

/* Called with t->lock held. */
static void
fill_lag(const struct rp_eventlog *log, uint64_t after, uint64_t idx, struct rp_topic_lag *lag)
{
    lag->events = log->count - idx;
    lag->bytes = log->appended_bytes - rp_eventlog_bytes_before(log, idx);
    lag->gap = rp_eventlog_has_gap(log, after);
    lag->first_seq = log->count ? rp_eventlog_at(log, 0)->seq : 0;
    lag->last_seq = log->last_seq;
    lag->evicted_seq = log->evicted_seq;
}

size_t
rp_topic_read(struct rp_topic *t, uint64_t after, uint64_t upto, struct rp_frame **frames,
              uint64_t *seqs, size_t max, struct rp_topic_lag *lag)
{
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    uint64_t idx = rp_eventlog_find_after(&t->log, after);
    if (lag)
        fill_lag(&t->log, after, idx, lag);
    for (uint64_t i = idx; i < t->log.count && n < max; i++) {
        const struct rp_eventlog_entry *e = rp_eventlog_at(&t->log, i);
        if (e->seq > upto)
            break;
        frames[n] = rp_frame_ref(e->frame);
        seqs[n] = e->seq;
        n++;
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

bool
rp_topic_vector_gap(struct rp_topic *t, const struct rp_event_vector *floor, uint64_t *evicted)
{
    pthread_mutex_lock(&t->lock);
    bool gap = rp_eventlog_vector_gap(&t->log, t->hub->config.epoch, floor);
    *evicted = t->log.evicted_seq;
    pthread_mutex_unlock(&t->lock);
    return gap;
}

/* Under t->lock. */
static void
origins_newest(const struct rp_eventlog *log, struct rp_event_vector *out)
{
    out->n = 0;
    for (uint64_t i = log->count; i-- > 0;) {
        const struct rp_frame *f = rp_eventlog_at(log, i)->frame;
        if (f->origin && !rp_event_vector_get(out, f->origin) &&
            rp_event_vector_set(out, f->origin, f->origin_seq) != 0)
            break;
    }
}

void
rp_topic_origins_newest(struct rp_topic *t, struct rp_event_vector *out)
{
    pthread_mutex_lock(&t->lock);
    origins_newest(&t->log, out);
    pthread_mutex_unlock(&t->lock);
}

void
rp_hub_origins_newest(struct rp_hub *hub, const char *name, size_t len, struct rp_event_vector *out)
{
    out->n = 0;
    pthread_mutex_lock(&hub->lock);
    struct rp_topic *t = rp_hashmap_get(&hub->topics, name, len);
    if (t)
        rp_topic_origins_newest(t, out);
    pthread_mutex_unlock(&hub->lock);
}

void
rp_topic_lag(struct rp_topic *t, uint64_t after, struct rp_topic_lag *out)
{
    pthread_mutex_lock(&t->lock);
    fill_lag(&t->log, after, rp_eventlog_find_after(&t->log, after), out);
    pthread_mutex_unlock(&t->lock);
}

uint64_t
rp_topic_seq_keeping(struct rp_topic *t, uint64_t events, uint64_t bytes)
{
    pthread_mutex_lock(&t->lock);
    const struct rp_eventlog *log = &t->log;
    uint64_t seq = log->last_seq;
    /* Walk back from the newest while both budgets allow: O(kept), only on a drop. */
    for (uint64_t i = log->count; i-- > 0;) {
        const struct rp_eventlog_entry *e = rp_eventlog_at(log, i);
        uint64_t kept_events = log->count - i;
        if (kept_events > events || log->appended_bytes - rp_eventlog_bytes_before(log, i) > bytes)
            break;
        seq = i ? rp_eventlog_at(log, i - 1)->seq : (e->seq - 1);
    }
    pthread_mutex_unlock(&t->lock);
    return seq;
}

uint64_t
rp_topic_seq_within(struct rp_topic *t, uint64_t after, uint64_t events, uint64_t bytes)
{
    pthread_mutex_lock(&t->lock);
    const struct rp_eventlog *log = &t->log;
    uint64_t first = rp_eventlog_find_after(log, after);
    uint64_t seq = after;
    if (first < log->count) {
        uint64_t base = rp_eventlog_bytes_before(log, first);
        /* Binary search for the last index within both budgets. */
        uint64_t lo = first, hi = log->count; /* answer in [lo, hi) */
        while (hi - lo > 1) {
            uint64_t mid = lo + (hi - lo) / 2;
            if (mid - first + 1 <= events && rp_eventlog_bytes_before(log, mid + 1) - base <= bytes)
                lo = mid;
            else
                hi = mid;
        }
        seq = rp_eventlog_at(log, lo)->seq;
    }
    pthread_mutex_unlock(&t->lock);
    return seq;
}

void
rp_topic_stats(struct rp_topic *t, struct rp_topic_stats *out)
{
    pthread_mutex_lock(&t->lock);
    out->count = t->log.count;
    out->bytes = t->log.bytes;
    out->first_seq = t->log.count ? rp_eventlog_at(&t->log, 0)->seq : 0;
    out->last_seq = t->log.last_seq;
    out->n_appended = t->log.n_appended;
    out->evicted_seq = t->log.evicted_seq;
    pthread_mutex_unlock(&t->lock);
}

size_t
rp_topic_entries(struct rp_topic *t, uint64_t after, struct rp_topic_entry *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    for (uint64_t i = rp_eventlog_find_after(&t->log, after); i < t->log.count && n < max; i++) {
        const struct rp_eventlog_entry *e = rp_eventlog_at(&t->log, i);
        out[n++] = (struct rp_topic_entry){e->seq, e->wall_ms, rp_frame_ref(e->frame)};
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}
