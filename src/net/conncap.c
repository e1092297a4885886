/* SPDX-License-Identifier: MIT */
#include "net/conncap.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/hashmap.h"
#include "net/addr_key.h"

#define N_STRIPES 16

struct entry {
    struct rp_addr_key key;
    size_t count; /* >= 1 while in the map */
};

struct stripe {
    pthread_mutex_t mu;
    struct rp_hashmap map; /* key bytes -> struct entry (owns its key) */
};

struct rp_conncap {
    size_t max_per_addr, max_total, max_keys; /* 0 = unlimited */
    /* The totals are reserved with compare-and-swap while the address's stripe is locked,
     * so neither ever exceeds its cap, not even for a moment. */
    _Atomic size_t total;
    _Atomic size_t n_keys;
    struct rp_addr_key *proxies; /* counted in the total only when accepted */
    size_t n_proxies;
    struct stripe stripes[N_STRIPES];
};

struct rp_conncap *
rp_conncap_new(size_t max_per_addr, size_t max_total, size_t max_keys)
{
    struct rp_conncap *cap = rp_xcalloc(1, sizeof(*cap));
    cap->max_per_addr = max_per_addr;
    cap->max_total = max_total;
    cap->max_keys = max_keys;
    atomic_init(&cap->total, 0);
    atomic_init(&cap->n_keys, 0);
    for (size_t i = 0; i < N_STRIPES; i++) {
        pthread_mutex_init(&cap->stripes[i].mu, NULL);
        rp_hashmap_init(&cap->stripes[i].map);
    }
    return cap;
}

void
rp_conncap_free(struct rp_conncap *cap)
{
    if (!cap)
        return;
    for (size_t i = 0; i < N_STRIPES; i++) {
        struct stripe *s = &cap->stripes[i];
        size_t pos = 0;
        struct entry *e;
        while ((e = rp_hashmap_next(&s->map, &pos)))
            free(e);
        rp_hashmap_fini(&s->map);
        pthread_mutex_destroy(&s->mu);
    }
    free(cap->proxies);
    free(cap);
}

static struct stripe *
stripe_of(struct rp_conncap *cap, const struct rp_addr_key *key)
{
    uint64_t h = rp_hash_bytes(key->b, sizeof(key->b));
    return &cap->stripes[(h >> 32) % N_STRIPES];
}

/* Adds one to <v> unless that would pass <max> (0 = no cap). */
static bool
reserve(_Atomic size_t *v, size_t max)
{
    size_t cur = atomic_load_explicit(v, memory_order_relaxed);
    do {
        if (max && cur >= max)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(v, &cur, cur + 1, memory_order_relaxed,
                                                    memory_order_relaxed));
    return true;
}

void
rp_conncap_set_proxies(struct rp_conncap *cap, const struct rp_addr_key *keys, size_t n)
{
    free(cap->proxies);
    cap->proxies = n ? rp_xmalloc(n * sizeof(*keys)) : NULL;
    if (n)
        memcpy(cap->proxies, keys, n * sizeof(*keys));
    cap->n_proxies = n;
}

bool
rp_conncap_is_proxy(const struct rp_conncap *cap, const struct rp_addr_key *key)
{
    for (size_t i = 0; i < cap->n_proxies; i++)
        if (rp_addr_key_equal(&cap->proxies[i], key))
            return true;
    return false;
}

/* Counts one connection: in the total when <total>, under <key> when not NULL; <force>
 * passes every cap (a connection that is open already). */
static int
acquire(struct rp_conncap *cap, const struct rp_addr_key *key, bool total, bool force)
{
    if (!key) {
        if (force)
            atomic_fetch_add_explicit(&cap->total, 1, memory_order_relaxed);
        else if (total && !reserve(&cap->total, cap->max_total))
            return -EMFILE;
        return 0;
    }
    struct stripe *s = stripe_of(cap, key);
    int err = 0;

    pthread_mutex_lock(&s->mu);
    struct entry *e = rp_hashmap_get(&s->map, (const char *)key->b, sizeof(key->b));
    if (!force && e && cap->max_per_addr && e->count >= cap->max_per_addr) {
        err = -EUSERS;
        goto out;
    }
    if (total && !reserve(&cap->total, force ? 0 : cap->max_total)) {
        err = -EMFILE;
        goto out;
    }
    if (e) {
        e->count++;
        goto out;
    }
    if (!reserve(&cap->n_keys, force ? 0 : cap->max_keys)) {
        if (total)
            atomic_fetch_sub_explicit(&cap->total, 1, memory_order_relaxed);
        err = -ENOSPC;
        goto out;
    }
    e = rp_xmalloc(sizeof(*e));
    e->key = *key;
    e->count = 1;
    rp_hashmap_put(&s->map, (const char *)e->key.b, sizeof(e->key.b), e);
out:
    pthread_mutex_unlock(&s->mu);
    return err;
}

int
rp_conncap_acquire(struct rp_conncap *cap, const struct rp_addr_key *key)
{
    return acquire(cap, key, true, false);
}

int
rp_conncap_acquire_key(struct rp_conncap *cap, const struct rp_addr_key *key)
{
    return acquire(cap, key, false, false);
}

void
rp_conncap_adopt(struct rp_conncap *cap, const struct rp_addr_key *key)
{
    int err = acquire(cap, key, true, true);
    RP_ASSERT(err == 0);
}

void
rp_conncap_release(struct rp_conncap *cap, const struct rp_addr_key *key)
{
    if (!key) {
        size_t was = atomic_fetch_sub_explicit(&cap->total, 1, memory_order_relaxed);
        RP_ASSERT(was > 0);
        return;
    }
    struct stripe *s = stripe_of(cap, key);

    pthread_mutex_lock(&s->mu);
    struct entry *e = rp_hashmap_get(&s->map, (const char *)key->b, sizeof(key->b));
    RP_ASSERT(e && e->count > 0);
    if (--e->count == 0) {
        rp_hashmap_remove(&s->map, (const char *)e->key.b, sizeof(e->key.b));
        free(e);
        atomic_fetch_sub_explicit(&cap->n_keys, 1, memory_order_relaxed);
    }
    atomic_fetch_sub_explicit(&cap->total, 1, memory_order_relaxed);
    pthread_mutex_unlock(&s->mu);
}

size_t
rp_conncap_count(struct rp_conncap *cap, const struct rp_addr_key *key)
{
    struct stripe *s = stripe_of(cap, key);
    pthread_mutex_lock(&s->mu);
    const struct entry *e = rp_hashmap_get(&s->map, (const char *)key->b, sizeof(key->b));
    size_t n = e ? e->count : 0;
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t
rp_conncap_total(struct rp_conncap *cap)
{
    return atomic_load_explicit(&cap->total, memory_order_relaxed);
}

size_t
rp_conncap_n_keys(struct rp_conncap *cap)
{
    return atomic_load_explicit(&cap->n_keys, memory_order_relaxed);
}
