/* SPDX-License-Identifier: MIT */
/*
 * The hub's side of the log engine (core/logengine.h): what a publish hands over, in which
 * order, and when publishing must stop because the engine cannot keep up or cannot write.
 *
 * A publish copies its events into an engine batch before it takes the hub lock (the copy
 * is the costly part), fills in the sequences under the lock and queues the batch on the
 * hub's pending list there, so the list is in sequence order. After the lock, the thread
 * drains the list into the engine while holding append_lock: one drainer at a time, each
 * taking the whole list, so the engine receives batches in the order they were sequenced
 * and is never called with the hub lock held. A batch the engine refuses (its queue is
 * full) goes back to the head of the list; publishes are then refused (503) until a drain,
 * which the engine's durable_advanced hook triggers, empties it again.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "core/hub_private.h"
#include "core/logengine.h"

static bool drain_locked(struct rp_hub *hub);

void
rp_hub_engine_init(struct rp_hub *hub)
{
    pthread_mutex_init(&hub->append_lock, NULL);
    pthread_mutex_init(&hub->pend_lock, NULL);
    pthread_rwlock_init(&hub->engine_use, NULL);
    hub->pend_tail = &hub->pend_head;
    atomic_init(&hub->engine_err, 0);
    atomic_init(&hub->engine_full, false);
}

void
rp_hub_engine_fini(struct rp_hub *hub)
{
    for (struct rp_logengine_batch *b = hub->pend_head, *next; b; b = next) {
        next = b->link;
        rp_logengine_batch_free(b);
    }
    pthread_mutex_destroy(&hub->append_lock);
    pthread_mutex_destroy(&hub->pend_lock);
    pthread_rwlock_destroy(&hub->engine_use);
}

void
rp_hub_set_engine(struct rp_hub *hub, struct rp_logengine *engine)
{
    pthread_rwlock_wrlock(&hub->engine_use); /* no history read still uses the old one */
    pthread_mutex_lock(&hub->append_lock);
    drain_locked(hub); /* what is pending goes to the engine it was sequenced for */
    hub->engine = engine;
    atomic_store(&hub->engine_err, 0);
    atomic_store(&hub->engine_full, false);
    pthread_mutex_unlock(&hub->append_lock);
    pthread_rwlock_unlock(&hub->engine_use);
}

int
rp_hub_engine_read(struct rp_hub *hub, const char *topic, size_t len, uint64_t after, size_t max,
                   rp_logengine_event_fn fn, void *ctx)
{
    pthread_rwlock_rdlock(&hub->engine_use);
    int rc =
        hub->engine ? rp_logengine_read(hub->engine, topic, len, after, max, fn, ctx) : -ENOENT;
    pthread_rwlock_unlock(&hub->engine_use);
    return rc;
}

uint64_t
rp_hub_lost_seq(struct rp_hub *hub)
{
    hub_lock(hub);
    uint64_t seq = hub->lost_seq;
    pthread_mutex_unlock(&hub->lock);
    return seq;
}

struct rp_logengine *
rp_hub_engine(const struct rp_hub *hub)
{
    return hub->engine;
}

void
rp_hub_engine_state(struct rp_hub *hub, int err)
{
    atomic_store(&hub->engine_err, err);
    if (err == 0)
        rp_hub_engine_drain(hub);
}

void
rp_hub_engine_progress(struct rp_hub *hub)
{
    if (atomic_load_explicit(&hub->engine_full, memory_order_relaxed))
        rp_hub_engine_drain(hub);
}

struct rp_logengine_batch *
rp_hub_engine_batch(struct rp_hub *hub, const struct rp_publish_item *items, size_t n,
                    int64_t wall_ms)
{
    if (!hub->engine)
        return NULL;
    struct rp_ingest_event small[16] = {0};
    struct rp_ingest_event *evs = n <= 16 ? small : rp_xmalloc(n * sizeof(*evs));
    for (size_t i = 0; i < n; i++)
        evs[i] = (struct rp_ingest_event){.item = items[i], .seq = 0, .wall_ms = wall_ms};
    struct rp_logengine_batch *b = rp_logengine_batch_new(hub->config.epoch, evs, n);
    if (evs != small)
        free(evs);
    return b;
}

int
rp_hub_engine_refuses(struct rp_hub *hub, size_t n, struct rp_hub_error *err)
{
    if (!hub->engine)
        return 0;
    int e = atomic_load(&hub->engine_err);
    if (e) {
        err->status = e == -ENOSPC ? 507 : 503;
        err->index = 0;
        snprintf(err->message, sizeof(err->message),
                 "the event log cannot be written (%s): nothing was published; publishing "
                 "resumes by itself once the disk takes writes again",
                 strerror(-e));
        return -EIO;
    }
    const char *why = NULL;
    if (atomic_load(&hub->engine_full))
        why = "the event log is behind (its write queue is full): nothing was published; "
              "retry shortly";
    else if (hub->next_seq + n - 1 > rp_logengine_reserved_seq(hub->engine))
        why = "the event log has not reserved sequence numbers yet: nothing was published; "
              "retry shortly";
    if (!why)
        return 0;
    err->status = 503;
    err->index = 0;
    snprintf(err->message, sizeof(err->message), "%s", why);
    return -EBUSY;
}

void
rp_hub_engine_queue(struct rp_hub *hub, struct rp_logengine_batch *b)
{
    /* Duplicates (a publisher id already in the log) were given seq 0: not appended. */
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->evs[i].seq)
            b->evs[k++] = b->evs[i];
    if (k == 0) {
        rp_logengine_batch_free(b);
        return;
    }
    b->n = k;
    b->link = NULL;
    pthread_mutex_lock(&hub->pend_lock);
    *hub->pend_tail = b;
    hub->pend_tail = &b->link;
    pthread_mutex_unlock(&hub->pend_lock);
}

/*
 * Sequences the hub gives to events it takes in (a mesh peer's, say) are never appended, yet
 * their ids reach clients just the same: the engine's reservation has to run ahead of them,
 * or a node that mostly takes events in would find its reservation behind its own sequence
 * (and refuse every local publish), and a restart would hand the same ids out again. The
 * read lock keeps an engine that rp_hub_set_engine is replacing alive for the call.
 */
void
rp_hub_engine_handed_out(struct rp_hub *hub, uint64_t seq)
{
    pthread_rwlock_rdlock(&hub->engine_use);
    if (hub->engine)
        rp_logengine_handed_out(hub->engine, hub->config.epoch, seq);
    pthread_rwlock_unlock(&hub->engine_use);
}

/* Puts <list> (a chain) back in front of what was queued since it was taken. */
static void
requeue_front(struct rp_hub *hub, struct rp_logengine_batch *list)
{
    struct rp_logengine_batch *last = list;
    while (last->link)
        last = last->link;
    pthread_mutex_lock(&hub->pend_lock);
    last->link = hub->pend_head;
    if (!hub->pend_head)
        hub->pend_tail = &last->link;
    hub->pend_head = list;
    pthread_mutex_unlock(&hub->pend_lock);
}

/* Called with append_lock held: hands the pending list to the engine; false when the
 * engine refused a batch (it and those after it wait at the head of the list). */
static bool
drain_locked(struct rp_hub *hub)
{
    if (!hub->engine)
        return true;
    pthread_mutex_lock(&hub->pend_lock);
    struct rp_logengine_batch *list = hub->pend_head;
    hub->pend_head = NULL;
    hub->pend_tail = &hub->pend_head;
    pthread_mutex_unlock(&hub->pend_lock);
    bool full = false;
    while (list) {
        struct rp_logengine_batch *next = list->link;
        list->link = NULL;
        int rc = rp_logengine_append(hub->engine, list);
        if (rc == -EAGAIN) {
            list->link = next;
            requeue_front(hub, list);
            full = true;
            break;
        }
        if (rc) {
            /* Out of order or closing: a bug or a shutdown race; never silent. */
            RP_LOG(RP_LOG_ERROR, "store",
                   "msg=\"the event log refused a batch; its events are in memory only\" "
                   "first_seq=%llu events=%zu err=%d",
                   (unsigned long long)list->evs[0].seq, list->n, rc);
            rp_logengine_batch_free(list);
        }
        list = next;
    }
    atomic_store(&hub->engine_full, full);
    return !full;
}

/*
 * A publisher that finds another thread draining does not wait for it: that thread looks
 * at the list again after it lets go, and a batch queued before the failed trylock was
 * queued before that look.
 */
void
rp_hub_engine_drain(struct rp_hub *hub)
{
    for (;;) {
        if (pthread_mutex_trylock(&hub->append_lock) != 0)
            return;
        bool went = drain_locked(hub);
        pthread_mutex_unlock(&hub->append_lock);
        if (!went)
            return; /* the engine's durable hook drains again */
        pthread_mutex_lock(&hub->pend_lock);
        bool more = hub->pend_head != NULL;
        pthread_mutex_unlock(&hub->pend_lock);
        if (!more)
            return;
    }
}

/* Raises <floor> (of the hub) to <seq> and every topic's evicted sequence with it. */
static void
raise_floor(struct rp_hub *hub, uint64_t *floor, uint64_t seq)
{
    hub_lock(hub);
    if (seq > *floor)
        *floor = seq;
    size_t pos = 0;
    struct rp_topic *t;
    while ((t = rp_hashmap_next(&hub->topics, &pos)) != NULL) {
        pthread_mutex_lock(&t->lock);
        rp_eventlog_forget(&t->log, seq);
        pthread_mutex_unlock(&t->lock);
    }
    pthread_mutex_unlock(&hub->lock);
}

void
rp_hub_forget_all(struct rp_hub *hub, uint64_t seq)
{
    raise_floor(hub, &hub->lost_seq, seq);
}

void
rp_hub_memory_floor(struct rp_hub *hub, uint64_t seq)
{
    raise_floor(hub, &hub->memory_floor, seq);
}

int
rp_hub_engine_error(const struct rp_hub *hub)
{
    return hub->engine ? atomic_load(&hub->engine_err) : 0;
}
