/* SPDX-License-Identifier: MIT */
#ifndef RP_CORE_HUB_PRIVATE_H
#define RP_CORE_HUB_PRIVATE_H
/*
 * The hub from the inside: the layout of the hub and its topics, and the few helpers that
 * the files implementing core/hub.h share (hub.c: the topic table, publish, ingest and
 * patterns; topic.c: one topic's guards and read side; reclaim.c: reclamation and gap
 * floors). Not part of the API: only the .c files of src/core include it; everyone else
 * uses core/hub.h, where both structs stay opaque. Threading as in core/hub.h.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/hashmap.h"
#include "core/eventlog.h"
#include "core/hub.h"

/*
 * Locks: hub->lock guards the topic table, the pattern registry and the order of
 * appends (one critical section per batch, so sequence order is append order across all
 * topics). topic->lock guards one log; it is taken inside hub->lock by writers and alone
 * by readers, so a reader never waits on a whole batch, only on one append.
 *
 * Reclamation (docs/internals/hub.md): a topic leaves the table, under hub->lock, only
 * when nothing can reach it any more: no worker has it attached, none has a note for it
 * queued, nobody holds it, its log is empty, and every thread that looked it up since has
 * passed a quiescent state (its handed_out stamp). It is then retired to the QSBR domain,
 * which frees it once every thread that might still be using it has moved on.
 */

/* Gap floors of reclaimed topics, by a hash of the name: 512 KiB. */
#define FLOOR_SLOTS 65536

struct worker_cursors {
    _Atomic uint64_t c[RP_HUB_MAX_WORKERS];
};

struct rp_topic {
    struct rp_hub *hub;
    char *name;
    size_t name_len;
    uint8_t uuid[16];
    pthread_mutex_t lock;
    struct rp_eventlog log;
    struct rp_topic_policy policy;
    _Atomic uint64_t workers; /* bit w: worker w has subscribers */
    _Atomic uint64_t pending; /* bit w: worker w has this topic in its mailbox */
    _Atomic uint64_t last_seq;
    _Atomic int64_t n_subscribers;
    _Atomic uint32_t holds; /* rp_topic_hold: kept past quiescent states (queued notes) */
    /* A shared sequence only: the cluster engine is filling the topic's log (its first
     * reader came); streams that read it wait, so they write in sequence order. */
    atomic_bool filling;
    /* Under hub->lock: the QSBR epoch in which the hub last handed the topic out, and the
     * critical section (hub->gen) that did, so it is not reclaimed while still in use. */
    uint64_t handed_out, gen;
    /* slow_policy block only: per worker, the lowest cursor of its live subscribers
     * (UINT64_MAX: none); publishing waits rather than evict or outrun past the slowest. */
    struct worker_cursors *worker_cursor;
};

struct pattern_reg;
struct rp_logengine;
struct rp_logengine_batch;

struct rp_hub {
    pthread_mutex_t lock;
    struct rp_hub_config config;
    struct rp_hub_hooks hooks;
    struct rp_hashmap topics;
    struct pattern_reg *patterns;
    size_t n_patterns, patterns_cap;
    uint64_t next_seq;
    _Atomic uint64_t last_seq;
    /* Reclamation (NULL qsbr: off). floor[h]: the newest seq of any reclaimed topic whose
     * name hashed to h, the gap floor of a topic created later with such a name. */
    struct rp_qsbr *qsbr;
    uint64_t *floor;
    uint64_t gen;    /* critical sections that hand out topics and use them after */
    size_t scan_pos; /* where the next scan for a full table resumes */
    _Atomic uint64_t n_reclaimed;
    /* Under lock: events up to it are gone for every topic, old and new (rp_hub_forget_all);
     * or, up to memory_floor, not in memory but maybe in the engine (rp_hub_memory_floor). */
    uint64_t lost_seq, memory_floor;
    /* Under lock, with vector_ids: the newest sequence of each other origin taken in, and
     * those parts formatted (".<epoch>-<seq>" each), which every id this node frames ends
     * with (docs/internals/ids.md). */
    struct rp_event_vector origins;
    char origins_text[RP_EVENT_VECTOR_MAX + 1];
    size_t origins_len;
    /* Under lock: how far each origin said it was (rp_hub_origin_heard). */
    struct rp_event_vector heard;
    /* The log engine (hub_engine.c); NULL: memory only. Committed batches wait on the
     * pending list (pend_lock; in sequence order) until a thread holding append_lock hands
     * them over. */
    struct rp_logengine *engine;
    pthread_mutex_t append_lock, pend_lock;
    pthread_rwlock_t engine_use; /* readers of old history (read side) vs. set_engine */
    struct rp_logengine_batch *pend_head, **pend_tail;
    _Atomic int engine_err;   /* the engine's failed state: a negative errno, or 0 */
    _Atomic bool engine_full; /* it refused a batch: publishes are refused until a drain */
};

/* Every critical section is a new generation: the topics it hands out are not reclaimed
 * before it ends (a batch uses them after looking up the next, which may reclaim). */
static inline void
hub_lock(struct rp_hub *hub)
{
    pthread_mutex_lock(&hub->lock);
    hub->gen++;
}

/*
 * FNV-1a, not the keyed table hash: an upgrade hands the floors over by slot, so the
 * successor must find a name in the same slot. Colliding names on purpose gains an
 * attacker only an announced resync of its own topics; the table is a fixed array.
 */
static inline size_t
floor_slot(const char *name, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 0x100000001b3ULL;
    return (size_t)(h & (FLOOR_SLOTS - 1));
}

static inline void
topic_free(struct rp_topic *t)
{
    rp_eventlog_fini(&t->log);
    free(t->worker_cursor);
    pthread_mutex_destroy(&t->lock);
    free(t->name);
    free(t);
}

/* Topics unlinked by a scan, for the caller to retire after the lock (reclaim.c). */
struct topic_list;
/*
 * Called with hub->lock held: looks at up to <budget> topics from where the last scan
 * stopped (wrapping once) and unlinks those that can go; returns how many. Each is retired
 * at once, or put on <later> (not NULL) for the caller to retire after the lock.
 */
size_t rp_hub_reclaim_scan(struct rp_hub *hub, size_t budget, struct topic_list *later);

/* The engine side of a publish (hub_engine.c). */
void rp_hub_engine_init(struct rp_hub *hub);
void rp_hub_engine_fini(struct rp_hub *hub);
/* A copy of <items> for the engine, sequences to fill under the lock; NULL without one. */
struct rp_logengine_batch *rp_hub_engine_batch(struct rp_hub *hub,
                                               const struct rp_publish_item *items, size_t n,
                                               int64_t wall_ms);
/* Called with hub->lock held before sequencing <n> events: 0, or -EIO (the engine failed:
 * 507 on a full disk, else 503) or -EBUSY (503: its queue is full or its reservation is
 * behind) with <err> filled. */
int rp_hub_engine_refuses(struct rp_hub *hub, size_t n, struct rp_hub_error *err);
/* Called with hub->lock held: queues <b> (owned; its events with seq 0 are left out). */
void rp_hub_engine_queue(struct rp_hub *hub, struct rp_logengine_batch *b);
/* The hub handed out sequences up to <seq> without appending them (rp_hub_ingest,
 * rp_hub_advance_seq): tells the engine, whose reservation must cover them too. Called with
 * no hub lock held; never blocks on the engine. */
void rp_hub_engine_handed_out(struct rp_hub *hub, uint64_t seq);

#endif
