/* SPDX-License-Identifier: MIT */
#include "core/hub.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/hashmap.h"
#include "base/qsbr.h"
#include "core/eventlog.h"
#include "core/hub_private.h"
#include "core/session.h"

/* Reclamation: topics leave the table and are retired to the QSBR domain once nothing can
 * reach them (the rules are in core/hub_private.h), and the gap floors they leave. */

static void
topic_free_retired(void *ptr)
{
    topic_free(ptr);
}

void
rp_hub_foreach_floor(struct rp_hub *hub, rp_hub_floor_fn fn, void *ctx)
{
    hub_lock(hub);
    for (uint32_t i = 0; hub->floor && i < FLOOR_SLOTS; i++)
        if (hub->floor[i])
            fn(ctx, i, hub->floor[i]);
    pthread_mutex_unlock(&hub->lock);
}

void
rp_hub_raise_floor(struct rp_hub *hub, uint32_t slot, uint64_t seq)
{
    hub_lock(hub);
    if (hub->floor && slot < FLOOR_SLOTS && seq > hub->floor[slot])
        hub->floor[slot] = seq;
    pthread_mutex_unlock(&hub->lock);
}

void
rp_hub_forget(struct rp_hub *hub, const char *name, size_t len, uint64_t seq)
{
    hub_lock(hub);
    struct rp_topic *t = rp_hashmap_get(&hub->topics, name, len);
    if (t) {
        pthread_mutex_lock(&t->lock);
        rp_eventlog_forget(&t->log, seq);
        pthread_mutex_unlock(&t->lock);
    } else if (hub->floor && !rp_session_is_topic(name, len)) {
        uint64_t *floor = &hub->floor[floor_slot(name, len)];
        if (seq > *floor)
            *floor = seq;
    }
    pthread_mutex_unlock(&hub->lock);
}

void
rp_hub_forget_origin(struct rp_hub *hub, const char *name, size_t len, uint64_t seq,
                     uint32_t origin, uint64_t upto)
{
    hub_lock(hub);
    struct rp_topic *t = rp_hashmap_get(&hub->topics, name, len);
    if (t) {
        pthread_mutex_lock(&t->lock);
        rp_eventlog_forget_origin(&t->log, seq, origin, upto);
        pthread_mutex_unlock(&t->lock);
    }
    pthread_mutex_unlock(&hub->lock);
    if (!t && seq)
        rp_hub_forget(hub, name, len, seq);
}

void
rp_hub_drop(struct rp_hub *hub, const char *name, size_t len)
{
    hub_lock(hub);
    struct rp_topic *t = rp_hashmap_get(&hub->topics, name, len);
    if (t) {
        pthread_mutex_lock(&t->lock);
        rp_eventlog_drop_all(&t->log);
        pthread_mutex_unlock(&t->lock);
    }
    pthread_mutex_unlock(&hub->lock);
}

/* Which stamps have passed, remembered for one scan: the stamps in a table are a few
 * distinct epochs, and each question reads every thread's slot. */
struct passed_memo {
    uint64_t yes; /* stamps up to this one have passed */
    uint64_t no;  /* stamps from this one on have not */
};

static bool
stamp_passed(struct rp_hub *hub, struct passed_memo *m, uint64_t stamp)
{
    if (stamp <= m->yes)
        return true;
    if (stamp >= m->no)
        return false;
    if (rp_qsbr_passed(hub->qsbr, stamp)) {
        m->yes = stamp;
        return true;
    }
    m->no = stamp;
    return false;
}

/*
 * Called with hub->lock held. The guards a worker drops (hold, pending mark) are read
 * before the worker mask: a worker attaches before it drops them, so once a dropped guard
 * is seen, its bit is seen too (all sequentially consistent).
 */
static bool
reclaimable(struct rp_hub *hub, struct rp_topic *t, struct passed_memo *m)
{
    if (atomic_load(&t->holds) || atomic_load(&t->pending))
        return false;
    if (atomic_load(&t->workers) || atomic_load(&t->n_subscribers))
        return false;
    /* Appends and expiry hold hub->lock: the count cannot change meanwhile. A topic
     * handed out by the critical section running now is still in use by it. */
    if (t->log.count || t->gen == hub->gen)
        return false;
    return stamp_passed(hub, m, t->handed_out);
}

/* Called with hub->lock held: takes <t> out of the table and keeps its gap floor. */
static void
unlink_topic(struct rp_hub *hub, struct rp_topic *t)
{
    rp_hashmap_remove(&hub->topics, t->name, t->name_len);
    uint64_t newest = t->log.last_seq > t->log.evicted_seq ? t->log.last_seq : t->log.evicted_seq;
    uint64_t *floor = &hub->floor[floor_slot(t->name, t->name_len)];
    /* A session's private topic leaves no floor and takes none (hub.c): the session table
     * says whether its events are still owed (an expired session is announced), and the
     * floors of 100,000 sessions would hand spurious resyncs to colliding names. */
    if (newest > *floor && !rp_session_is_topic(t->name, t->name_len))
        *floor = newest;
    atomic_fetch_add_explicit(&hub->n_reclaimed, 1, memory_order_relaxed);
}

struct topic_list {
    struct rp_topic **v;
    size_t n, cap;
};

size_t
rp_hub_reclaim_scan(struct rp_hub *hub, size_t budget, struct topic_list *later)
{
    if (!hub->qsbr)
        return 0;
    struct passed_memo memo = {0, UINT64_MAX};
    size_t n = 0;
    bool wrapped = false;
    int64_t now = rp_clock_now_ms();
    while (budget > 0) {
        /* Removing leaves a tombstone, so the position stays valid while scanning. */
        struct rp_topic *t = rp_hashmap_next(&hub->topics, &hub->scan_pos);
        if (!t) {
            if (wrapped)
                break;
            wrapped = true;
            hub->scan_pos = 0;
            continue;
        }
        budget--;
        /* Events past their age go now rather than at the next expiry pass: at the cap,
         * a topic whose history has run out is not a live one. */
        if (t->log.count && t->log.limits.max_age_ms > 0) {
            pthread_mutex_lock(&t->lock);
            rp_eventlog_expire(&t->log, now);
            pthread_mutex_unlock(&t->lock);
        }
        if (!reclaimable(hub, t, &memo))
            continue;
        unlink_topic(hub, t);
        n++;
        if (!later) {
            rp_qsbr_retire(hub->qsbr, t, topic_free_retired);
            continue;
        }
        if (later->n == later->cap) {
            later->cap = later->cap ? later->cap * 2 : 64;
            later->v = rp_xrealloc(later->v, later->cap * sizeof(*later->v));
        }
        later->v[later->n++] = t;
    }
    return n;
}

size_t
rp_hub_reclaim(struct rp_hub *hub)
{
    if (!hub->qsbr)
        return 0;
    struct topic_list later = {NULL, 0, 0};
    hub_lock(hub);
    /* Topics handed out until now pass once every thread has moved past this epoch: on
     * this pass if they already have, or on a later one. */
    rp_qsbr_advance(hub->qsbr);
    hub->scan_pos = 0;
    size_t n = rp_hub_reclaim_scan(hub, hub->topics.count, &later);
    pthread_mutex_unlock(&hub->lock);
    /* Retired after the lock (each retire takes the domain's lock): publishers wait for
     * the scan only. Unlinked first, so no thread finds them again meanwhile. */
    for (size_t i = 0; i < later.n; i++)
        rp_qsbr_retire(hub->qsbr, later.v[i], topic_free_retired);
    free(later.v);
    return n;
}

uint64_t
rp_hub_topics_reclaimed(const struct rp_hub *hub)
{
    return atomic_load_explicit(&hub->n_reclaimed, memory_order_relaxed);
}
