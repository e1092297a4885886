/* SPDX-License-Identifier: MIT */
#include "net/ratelimit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/hashmap.h"
#include "base/list.h"
#include "net/addr_key.h"

/*
 * Each bucket is kept as GCRA's "theoretical arrival time" (tat) in nanoseconds rather
 * than a token count: one integer per bucket, refill needs no float arithmetic, and
 * "the bucket is full" is simply tat <= now. A take at <now> is allowed when
 * tat - now <= tau, where tau = (burst - 1) * T and T = 1 s / rate; it then adds T.
 */
#define NS_PER_MS INT64_C(1000000)
#define MAX_STRIPES 16
#define MIN_KEYS_PER_STRIPE 64
#define TIME_CLAMP (INT64_MAX / 4)

struct bucket {
    struct rp_list lru; /* in stripe->lru; head side is least recently used */
    struct rp_addr_key key;
    int64_t tat_ns;
};

struct stripe {
    pthread_mutex_t mu;
    struct rp_hashmap map; /* key bytes -> struct bucket (owns its key) */
    struct rp_list lru;
    size_t cap;
    /* A lower bound on every bucket's tat: before it no bucket can be full, so making room
     * skips the sweep. Takes only raise a tat, so the bound stays valid between sweeps. */
    int64_t next_full_ns;
    uint64_t allowed, limited, evicted_full, evicted_lru;
};

struct rp_ratelimit {
    bool unlimited;
    int64_t t_ns;     /* emission interval: one token per t_ns */
    int64_t tau_ns;   /* burst tolerance */
    size_t n_stripes; /* power of two */
    struct stripe *stripes;
    _Atomic uint64_t unlimited_allowed;
};

static int64_t
clamp_ns(double v)
{
    if (v < 1.0)
        return v < 0.5 ? 0 : 1;
    if (v > (double)TIME_CLAMP)
        return TIME_CLAMP;
    return (int64_t)(v + 0.5);
}

struct rp_ratelimit *
rp_ratelimit_new(double rate_per_s, double burst, size_t max_keys)
{
    struct rp_ratelimit *rl = rp_xcalloc(1, sizeof(*rl));
    RP_ASSERT(rate_per_s >= 0.0);
    atomic_init(&rl->unlimited_allowed, 0);
    if (rate_per_s == 0.0) {
        rl->unlimited = true;
        return rl;
    }
    RP_ASSERT(max_keys >= 1);
    if (!(burst >= 1.0))
        burst = 1.0;
    rl->t_ns = clamp_ns(1e9 / rate_per_s);
    if (rl->t_ns < 1)
        rl->t_ns = 1;
    rl->tau_ns = clamp_ns((burst - 1.0) * (double)rl->t_ns);

    size_t n = 1;
    while (n < MAX_STRIPES && max_keys / (n * 2) >= MIN_KEYS_PER_STRIPE)
        n *= 2;
    rl->n_stripes = n;
    rl->stripes = rp_xcalloc(n, sizeof(*rl->stripes));
    for (size_t i = 0; i < n; i++) {
        struct stripe *s = &rl->stripes[i];
        pthread_mutex_init(&s->mu, NULL);
        rp_hashmap_init(&s->map);
        rp_list_init(&s->lru);
        /* The stripes' caps add up to exactly max_keys. */
        s->cap = max_keys / n + (i < max_keys % n ? 1 : 0);
        s->next_full_ns = INT64_MAX;
    }
    return rl;
}

static void
drop_bucket(struct stripe *s, struct bucket *b)
{
    rp_hashmap_remove(&s->map, (const char *)b->key.b, sizeof(b->key.b));
    rp_list_remove(&b->lru);
    free(b);
}

void
rp_ratelimit_free(struct rp_ratelimit *rl)
{
    if (!rl)
        return;
    for (size_t i = 0; i < rl->n_stripes; i++) {
        struct stripe *s = &rl->stripes[i];
        struct rp_list *pos, *tmp;
        RP_LIST_FOREACH_SAFE (pos, tmp, &s->lru) {
            free(RP_CONTAINER_OF(pos, struct bucket, lru));
        }
        rp_hashmap_fini(&s->map);
        pthread_mutex_destroy(&s->mu);
    }
    free(rl->stripes);
    free(rl);
}

/* Called with s->mu held and the stripe at its cap: frees at least one slot. */
static void
make_room(struct stripe *s, int64_t now_ns)
{
    if (now_ns >= s->next_full_ns) {
        int64_t next = INT64_MAX;
        struct rp_list *pos, *tmp;
        RP_LIST_FOREACH_SAFE (pos, tmp, &s->lru) {
            struct bucket *b = RP_CONTAINER_OF(pos, struct bucket, lru);
            if (b->tat_ns <= now_ns) {
                drop_bucket(s, b);
                s->evicted_full++;
            } else if (b->tat_ns < next) {
                next = b->tat_ns;
            }
        }
        s->next_full_ns = next;
    }
    if (s->map.count >= s->cap) {
        RP_ASSERT(!rp_list_empty(&s->lru));
        drop_bucket(s, RP_CONTAINER_OF(s->lru.next, struct bucket, lru));
        s->evicted_lru++;
    }
}

static struct stripe *
stripe_of(struct rp_ratelimit *rl, const struct rp_addr_key *k)
{
    uint64_t h = rp_hash_bytes(k->b, sizeof(k->b));
    /* The hashmap uses the low bits for its slots; pick the stripe from the high ones. */
    return &rl->stripes[(h >> 32) & (rl->n_stripes - 1)];
}

int64_t
rp_ratelimit_take(struct rp_ratelimit *rl, const struct rp_addr_key *k, int64_t now_ms)
{
    if (rl->unlimited) {
        atomic_fetch_add_explicit(&rl->unlimited_allowed, 1, memory_order_relaxed);
        return 0;
    }
    int64_t now_ns = now_ms * NS_PER_MS;
    struct stripe *s = stripe_of(rl, k);

    pthread_mutex_lock(&s->mu);
    struct bucket *b = rp_hashmap_get(&s->map, (const char *)k->b, sizeof(k->b));
    if (b) {
        rp_list_remove(&b->lru);
    } else {
        if (s->map.count >= s->cap)
            make_room(s, now_ns);
        b = rp_xmalloc(sizeof(*b));
        memset(&b->lru, 0, sizeof(b->lru));
        b->key = *k;
        b->tat_ns = now_ns; /* absent = full */
        rp_hashmap_put(&s->map, (const char *)b->key.b, sizeof(b->key.b), b);
    }
    rp_list_insert_tail(&s->lru, &b->lru);

    /* Workers read the clock independently, so <now_ms> may be slightly older than the
     * last take's; max() keeps the arithmetic right without moving tat backwards. */
    int64_t tat = b->tat_ns > now_ns ? b->tat_ns : now_ns;
    int64_t wait_ns = tat - rl->tau_ns - now_ns;
    if (wait_ns > 0) {
        s->limited++;
        pthread_mutex_unlock(&s->mu);
        return (wait_ns + NS_PER_MS - 1) / NS_PER_MS;
    }
    b->tat_ns = tat + rl->t_ns;
    if (b->tat_ns < s->next_full_ns)
        s->next_full_ns = b->tat_ns;
    s->allowed++;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

size_t
rp_ratelimit_count(struct rp_ratelimit *rl)
{
    size_t n = 0;
    for (size_t i = 0; i < rl->n_stripes; i++) {
        struct stripe *s = &rl->stripes[i];
        pthread_mutex_lock(&s->mu);
        n += s->map.count;
        pthread_mutex_unlock(&s->mu);
    }
    return n;
}

void
rp_ratelimit_stats(struct rp_ratelimit *rl, struct rp_ratelimit_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->allowed = atomic_load_explicit(&rl->unlimited_allowed, memory_order_relaxed);
    for (size_t i = 0; i < rl->n_stripes; i++) {
        struct stripe *s = &rl->stripes[i];
        pthread_mutex_lock(&s->mu);
        out->allowed += s->allowed;
        out->limited += s->limited;
        out->evicted_full += s->evicted_full;
        out->evicted_lru += s->evicted_lru;
        out->n_keys += s->map.count;
        pthread_mutex_unlock(&s->mu);
    }
}
