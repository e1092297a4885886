/* SPDX-License-Identifier: MIT */
#include "core/eventlog.h"

#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "sse/sse_frame.h"

#define INITIAL_RING 16

void
rp_eventlog_init(struct rp_eventlog *log, const struct rp_eventlog_limits *limits)
{
    memset(log, 0, sizeof(*log));
    log->limits = *limits;
}

static struct rp_eventlog_entry *
entry(const struct rp_eventlog *log, uint64_t i)
{
    return &log->ring[(log->head + i) & (log->ring_cap - 1)];
}

/* The marks, made when first needed: a gap from before them has no known origins. */
static struct rp_eventlog_origins *
origins_of(struct rp_eventlog *log)
{
    if (!log->origins) {
        log->origins = rp_xcalloc(1, sizeof(*log->origins));
        log->origins->forgot = log->evicted_seq != 0;
    }
    return log->origins;
}

/* A mesh node's log evicts <f> (<seq> here): its origin's mark moves. */
static void
evicted_from(struct rp_eventlog *log, const struct rp_frame *f, uint64_t seq)
{
    struct rp_eventlog_origins *o = origins_of(log);
    if (!f->origin) {
        o->own_evicted = seq;
        return;
    }
    /* Full (16 origins): the loss cannot be named, so such a resume is told of a gap. */
    if (f->origin_seq > rp_event_vector_get(&o->evicted, f->origin) &&
        rp_event_vector_set(&o->evicted, f->origin, f->origin_seq) != 0)
        o->forgot = true;
}

static void
evict_oldest(struct rp_eventlog *log)
{
    struct rp_eventlog_entry *e = entry(log, 0);
    log->bytes -= rp_frame_size(e->frame);
    if (log->origins || rp_frame_has_vector_id(e->frame))
        evicted_from(log, e->frame, e->seq);
    log->evicted_seq = e->seq;
    rp_frame_unref(e->frame);
    e->frame = NULL;
    log->head = (log->head + 1) & (log->ring_cap - 1);
    log->count--;
}

static void
evict_over_bounds(struct rp_eventlog *log)
{
    while (log->count > log->limits.max_count)
        evict_oldest(log);
    /* The newest entry stays even alone over max_bytes: a publish that was acknowledged
     * is readable at least until the next one. */
    while (log->count > 1 && log->bytes > log->limits.max_bytes)
        evict_oldest(log);
}

void
rp_eventlog_fini(struct rp_eventlog *log)
{
    while (log->count)
        evict_oldest(log);
    RP_FREE(log->ring);
    RP_FREE(log->origins);
    log->ring_cap = 0;
}

void
rp_eventlog_set_limits(struct rp_eventlog *log, const struct rp_eventlog_limits *limits,
                       int64_t now_ms)
{
    log->limits = *limits;
    evict_over_bounds(log);
    rp_eventlog_expire(log, now_ms);
}

static void
grow(struct rp_eventlog *log)
{
    uint64_t cap = log->ring_cap ? log->ring_cap * 2 : INITIAL_RING;
    struct rp_eventlog_entry *ring = rp_xcalloc(cap, sizeof(*ring));
    for (uint64_t i = 0; i < log->count; i++)
        ring[i] = *entry(log, i);
    free(log->ring);
    log->ring = ring;
    log->ring_cap = cap;
    log->head = 0;
}

void
rp_eventlog_append(struct rp_eventlog *log, struct rp_frame *frame, uint64_t seq, int64_t now_ms,
                   int64_t wall_ms)
{
    RP_ASSERT(seq > log->last_seq);
    /* Grow before evicting only while the ring is smaller than the count bound, so the
     * ring never holds more slots than max_count needs (rounded up to a power of two). */
    if (log->count == log->ring_cap) {
        if (log->ring_cap < log->limits.max_count)
            grow(log);
        else
            evict_oldest(log);
    }
    size_t size = rp_frame_size(frame);
    log->appended_bytes += size;
    log->n_appended++;
    log->last_seq = seq;
    *entry(log, log->count) = (struct rp_eventlog_entry){
        .seq = seq,
        .end_bytes = log->appended_bytes,
        .time_ms = now_ms,
        .wall_ms = wall_ms,
        .frame = frame,
    };
    log->count++;
    log->bytes += size;
    evict_over_bounds(log);
}

uint64_t
rp_eventlog_expire(struct rp_eventlog *log, int64_t now_ms)
{
    uint64_t n = 0;
    while (log->count && now_ms - entry(log, 0)->time_ms > log->limits.max_age_ms) {
        evict_oldest(log);
        n++;
    }
    return n;
}

uint64_t
rp_eventlog_find_after(const struct rp_eventlog *log, uint64_t after)
{
    uint64_t lo = 0, hi = log->count;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (entry(log, mid)->seq <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const struct rp_eventlog_entry *
rp_eventlog_at(const struct rp_eventlog *log, uint64_t i)
{
    RP_ASSERT(i < log->count);
    return entry(log, i);
}

uint64_t
rp_eventlog_bytes_before(const struct rp_eventlog *log, uint64_t idx)
{
    RP_ASSERT(idx <= log->count);
    /* Evicted entries are the bytes appended but no longer kept. */
    return idx ? entry(log, idx - 1)->end_bytes : log->appended_bytes - log->bytes;
}

uint64_t
rp_eventlog_drop_all(struct rp_eventlog *log)
{
    uint64_t n = log->count;
    while (log->count)
        evict_oldest(log);
    return n;
}

void
rp_eventlog_forget(struct rp_eventlog *log, uint64_t seq)
{
    if (seq > log->evicted_seq) {
        log->evicted_seq = seq;
        if (log->origins)
            log->origins->forgot = true; /* else the gap check finds no marks: a gap too */
    }
}

void
rp_eventlog_forget_origin(struct rp_eventlog *log, uint64_t seq, uint32_t origin, uint64_t upto)
{
    struct rp_eventlog_origins *o = origins_of(log);
    if (seq > log->evicted_seq)
        log->evicted_seq = seq;
    if (upto > rp_event_vector_get(&o->evicted, origin) &&
        rp_event_vector_set(&o->evicted, origin, upto) != 0)
        o->forgot = true;
}

bool
rp_eventlog_vector_gap(const struct rp_eventlog *log, uint32_t self,
                       const struct rp_event_vector *floor)
{
    const struct rp_eventlog_origins *o = log->origins;
    if (!o)
        return log->evicted_seq != 0; /* gone before any mark: origins not known */
    if (o->forgot || o->own_evicted > rp_event_vector_get(floor, self))
        return true;
    for (size_t i = 0; i < o->evicted.n; i++) {
        const struct rp_event_id *p = &o->evicted.part[i];
        if (p->seq > rp_event_vector_get(floor, p->epoch))
            return true;
    }
    return false;
}
