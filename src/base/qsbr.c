/* SPDX-License-Identifier: MIT */
#include "base/qsbr.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"

/*
 * Epochs: the domain's epoch starts at 1 and moves on with each retire (or advance). A
 * slot holds 0 while offline, else the epoch it saw when it last went online (or passed a
 * quiescent state). An object retired during epoch r is unreachable for a thread that
 * went online after the retire, so it is freed once every slot is offline or holds an
 * epoch after r. Going online is a sequentially consistent store, so the reclaimer either
 * sees it or the thread's later lookups see the unlink that came before the retire.
 */
#define OFFLINE 0
#define CACHE_LINE 64

/* One per registered thread, alone on its cache line: it is written every loop turn. */
struct rp_qsbr_slot {
    _Alignas(CACHE_LINE) _Atomic uint64_t epoch;
    struct rp_qsbr *q;
    bool used; /* under q->lock */
};

struct retired {
    void *ptr;
    rp_qsbr_free_fn free_fn;
    uint64_t epoch;
};

struct rp_qsbr {
    _Alignas(CACHE_LINE) _Atomic uint64_t epoch; /* read by every thread each turn */
    _Alignas(CACHE_LINE) pthread_mutex_t lock;   /* slot registration, the retired queue */
    struct rp_qsbr_slot *slots;
    size_t n_slots;
    struct retired *retired; /* oldest first, so in epoch order */
    size_t n_retired, cap_retired;
    _Atomic size_t pending;
};

static void *
aligned_xcalloc(size_t n, size_t size)
{
    size_t bytes = (n ? n : 1) * size;
    void *p = aligned_alloc(CACHE_LINE, (bytes + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE);
    RP_ASSERT(p);
    memset(p, 0, bytes);
    return p;
}

struct rp_qsbr *
rp_qsbr_new(size_t max_slots)
{
    struct rp_qsbr *q = aligned_xcalloc(1, sizeof(*q));
    atomic_init(&q->epoch, 1);
    pthread_mutex_init(&q->lock, NULL);
    q->slots = aligned_xcalloc(max_slots, sizeof(*q->slots));
    q->n_slots = max_slots;
    for (size_t i = 0; i < max_slots; i++) {
        atomic_init(&q->slots[i].epoch, OFFLINE);
        q->slots[i].q = q;
    }
    atomic_init(&q->pending, 0);
    return q;
}

void
rp_qsbr_free(struct rp_qsbr *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n_slots; i++)
        RP_ASSERT(atomic_load(&q->slots[i].epoch) == OFFLINE);
    for (size_t i = 0; i < q->n_retired; i++)
        q->retired[i].free_fn(q->retired[i].ptr);
    free(q->retired);
    free(q->slots);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

struct rp_qsbr_slot *
rp_qsbr_register(struct rp_qsbr *q)
{
    struct rp_qsbr_slot *s = NULL;
    pthread_mutex_lock(&q->lock);
    for (size_t i = 0; i < q->n_slots && !s; i++) {
        if (!q->slots[i].used) {
            s = &q->slots[i];
            s->used = true;
        }
    }
    pthread_mutex_unlock(&q->lock);
    return s;
}

void
rp_qsbr_unregister(struct rp_qsbr_slot *s)
{
    if (!s)
        return;
    RP_ASSERT(atomic_load(&s->epoch) == OFFLINE);
    pthread_mutex_lock(&s->q->lock);
    s->used = false;
    pthread_mutex_unlock(&s->q->lock);
}

void
rp_qsbr_online(struct rp_qsbr_slot *s)
{
    uint64_t e = atomic_load(&s->q->epoch);
    /* Unchanged: nothing was retired since the last store, so there is nothing to release
     * and the store (a full barrier) can be skipped. Only this thread writes its slot. */
    if (atomic_load_explicit(&s->epoch, memory_order_relaxed) != e)
        atomic_store(&s->epoch, e);
}

void
rp_qsbr_quiescent(struct rp_qsbr_slot *s)
{
    rp_qsbr_online(s);
}

void
rp_qsbr_offline(struct rp_qsbr_slot *s)
{
    atomic_store_explicit(&s->epoch, OFFLINE, memory_order_release);
}

void
rp_qsbr_retire(struct rp_qsbr *q, void *ptr, rp_qsbr_free_fn free_fn)
{
    pthread_mutex_lock(&q->lock);
    if (q->n_retired == q->cap_retired) {
        q->cap_retired = q->cap_retired ? q->cap_retired * 2 : 64;
        q->retired = rp_xrealloc(q->retired, q->cap_retired * sizeof(*q->retired));
    }
    /* Taken under the lock, so the queue stays in epoch order. */
    uint64_t r = atomic_fetch_add(&q->epoch, 1);
    q->retired[q->n_retired++] = (struct retired){ptr, free_fn, r};
    atomic_fetch_add_explicit(&q->pending, 1, memory_order_relaxed);
    pthread_mutex_unlock(&q->lock);
}

/* The oldest epoch a thread may still hold pointers from: the current one (for objects
 * retired after this call), or the oldest any online slot saw. */
static uint64_t
oldest_online(struct rp_qsbr *q)
{
    uint64_t min = atomic_load(&q->epoch);
    for (size_t i = 0; i < q->n_slots; i++) {
        uint64_t v = atomic_load(&q->slots[i].epoch);
        if (v != OFFLINE && v < min)
            min = v;
    }
    return min;
}

size_t
rp_qsbr_reclaim(struct rp_qsbr *q)
{
    uint64_t safe = oldest_online(q);
    pthread_mutex_lock(&q->lock);
    size_t k = 0;
    while (k < q->n_retired && q->retired[k].epoch < safe)
        k++;
    struct retired *done = NULL;
    if (k) {
        done = rp_xmalloc(k * sizeof(*done));
        memcpy(done, q->retired, k * sizeof(*done));
        q->n_retired -= k;
        memmove(q->retired, q->retired + k, q->n_retired * sizeof(*q->retired));
    }
    pthread_mutex_unlock(&q->lock);
    /* Outside the lock: a free function may retire something else. */
    for (size_t i = 0; i < k; i++)
        done[i].free_fn(done[i].ptr);
    free(done);
    atomic_fetch_sub_explicit(&q->pending, k, memory_order_relaxed);
    return k;
}

size_t
rp_qsbr_pending(struct rp_qsbr *q)
{
    return atomic_load_explicit(&q->pending, memory_order_relaxed);
}

uint64_t
rp_qsbr_epoch(struct rp_qsbr *q)
{
    return atomic_load(&q->epoch);
}

uint64_t
rp_qsbr_advance(struct rp_qsbr *q)
{
    return atomic_fetch_add(&q->epoch, 1);
}

bool
rp_qsbr_passed(struct rp_qsbr *q, uint64_t stamp)
{
    for (size_t i = 0; i < q->n_slots; i++) {
        uint64_t v = atomic_load(&q->slots[i].epoch);
        if (v != OFFLINE && v <= stamp)
            return false;
    }
    return true;
}
