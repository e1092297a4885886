/* SPDX-License-Identifier: MIT */
#include "auth/token_cache.h"

#include <pthread.h>
#include <string.h>

#include <openssl/sha.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/hashmap.h"
#include "base/list.h"

#define TIME_CLAMP (INT64_MAX / 4)

struct entry {
    struct rp_list lru; /* in cache->lru while READY; PENDING entries are not evictable */
    unsigned char key[SHA256_DIGEST_LENGTH];
    bool pending;
    bool waited;     /* a lookup answered PENDING since the entry became PENDING */
    bool has_answer; /* READY; or PENDING over the stale positive answer it replaced */
    enum rp_auth_result result;
    struct rp_grant grant;   /* when result is RP_AUTH_OK */
    int64_t expires_ms;      /* monotonic; after it, a lookup is a MISS */
    int64_t hard_expires_ms; /* monotonic; the grant's own expiry: the end of stale use */
    int64_t pending_since_ms;
};

struct rp_token_cache {
    pthread_mutex_t mu;
    struct rp_hashmap map; /* key -> struct entry (owns its key) */
    struct rp_list lru;    /* head side is least recently used */
    size_t max_entries;
    int64_t max_ttl_ms, negative_ttl_ms;
    rp_token_cache_resolved_fn resolved_fn;
    void *ctx;
    struct rp_token_cache_stats stats; /* n_entries filled on read */
};

struct rp_token_cache *
rp_token_cache_new(size_t max_entries, int64_t max_ttl_ms, int64_t negative_ttl_ms,
                   rp_token_cache_resolved_fn resolved_fn, void *ctx)
{
    RP_ASSERT(max_entries >= 1);
    struct rp_token_cache *c = rp_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    rp_hashmap_init(&c->map);
    rp_list_init(&c->lru);
    c->max_entries = max_entries;
    c->max_ttl_ms = max_ttl_ms < TIME_CLAMP ? max_ttl_ms : TIME_CLAMP;
    c->negative_ttl_ms = negative_ttl_ms < TIME_CLAMP ? negative_ttl_ms : TIME_CLAMP;
    c->resolved_fn = resolved_fn;
    c->ctx = ctx;
    return c;
}

static void
drop_answer(struct entry *e)
{
    rp_grant_fini(&e->grant);
    e->has_answer = false;
}

static void
drop_entry(struct rp_token_cache *c, struct entry *e)
{
    rp_hashmap_remove(&c->map, (const char *)e->key, sizeof(e->key));
    rp_list_remove(&e->lru);
    rp_grant_fini(&e->grant);
    free(e);
}

void
rp_token_cache_free(struct rp_token_cache *cache)
{
    if (!cache)
        return;
    size_t pos = 0;
    struct entry *e;
    while ((e = rp_hashmap_next(&cache->map, &pos))) {
        rp_grant_fini(&e->grant);
        free(e);
    }
    rp_hashmap_fini(&cache->map);
    pthread_mutex_destroy(&cache->mu);
    free(cache);
}

static void
token_key(const char *token, size_t len, unsigned char key[SHA256_DIGEST_LENGTH])
{
    SHA256((const unsigned char *)(len ? token : ""), len, key);
}

/* Makes room for one more entry; false when every entry is PENDING. */
static bool
make_room(struct rp_token_cache *c)
{
    if (c->map.count < c->max_entries)
        return true;
    if (rp_list_empty(&c->lru))
        return false;
    drop_entry(c, RP_CONTAINER_OF(c->lru.next, struct entry, lru));
    c->stats.evictions++;
    return true;
}

static struct entry *
insert_entry(struct rp_token_cache *c, const unsigned char key[SHA256_DIGEST_LENGTH])
{
    struct entry *e = rp_xcalloc(1, sizeof(*e));
    memcpy(e->key, key, sizeof(e->key));
    rp_hashmap_put(&c->map, (const char *)e->key, sizeof(e->key), e);
    return e;
}

static void
touch(struct rp_token_cache *c, struct entry *e)
{
    rp_list_remove(&e->lru);
    rp_list_insert_tail(&c->lru, &e->lru);
}

static bool
stale_usable(const struct entry *e, int64_t now_ms)
{
    return e->has_answer && e->result == RP_AUTH_OK && now_ms < e->hard_expires_ms;
}

static enum rp_token_cache_lookup
hit(struct rp_token_cache *c, const struct entry *e, bool stale, enum rp_auth_result *result,
    struct rp_grant *grant)
{
    *result = e->result;
    if (grant && e->result == RP_AUTH_OK)
        rp_grant_copy(grant, &e->grant);
    c->stats.hits++;
    if (stale)
        c->stats.stale_hits++;
    return RP_TOKEN_CACHE_HIT;
}

static void
become_pending(struct entry *e, int64_t now_ms)
{
    rp_list_remove(&e->lru);
    /* Keep a positive answer whose grant is still valid: if this verification cannot be
     * done, abandon restores it for allow_stale lookups. */
    if (!stale_usable(e, now_ms))
        drop_answer(e);
    e->pending = true;
    e->waited = false;
    e->pending_since_ms = now_ms;
}

/* With c->mu held: whether <e> holds an answer a lookup may use now (a fresh one, or with
 * <allow_stale> an expired grant whose own expiry has not passed); if so, hands it out. */
static bool
answered(struct rp_token_cache *c, struct entry *e, int64_t now_ms, bool allow_stale,
         enum rp_auth_result *result, struct rp_grant *grant)
{
    if (!e->pending && now_ms < e->expires_ms) {
        touch(c, e);
        hit(c, e, false, result, grant);
        return true;
    }
    if (allow_stale && stale_usable(e, now_ms)) {
        if (!e->pending)
            touch(c, e);
        hit(c, e, true, result, grant);
        return true;
    }
    return false;
}

enum rp_token_cache_lookup
rp_token_cache_lookup(struct rp_token_cache *cache, const char *token, size_t len, int64_t now_ms,
                      bool allow_stale, enum rp_auth_result *result, struct rp_grant *grant)
{
    struct rp_token_cache *c = cache;
    unsigned char key[SHA256_DIGEST_LENGTH];
    enum rp_token_cache_lookup ret = RP_TOKEN_CACHE_MISS;
    token_key(token, len, key);

    pthread_mutex_lock(&c->mu);
    struct entry *e = rp_hashmap_get(&c->map, (const char *)key, sizeof(key));
    if (e && answered(c, e, now_ms, allow_stale, result, grant)) {
        ret = RP_TOKEN_CACHE_HIT;
    } else if (e && e->pending) {
        if (now_ms - e->pending_since_ms >= RP_TOKEN_CACHE_PENDING_MAX_MS) {
            /* Its verifier never came back: this caller takes over. */
            e->pending_since_ms = now_ms;
            c->stats.misses++;
        } else {
            e->waited = true;
            c->stats.pending++;
            ret = RP_TOKEN_CACHE_PENDING;
        }
    } else if (e) {
        become_pending(e, now_ms);
        c->stats.misses++;
    } else {
        c->stats.misses++;
        if (make_room(c))
            become_pending(insert_entry(c, key), now_ms);
        else
            c->stats.refused++;
    }
    pthread_mutex_unlock(&c->mu);
    return ret;
}

enum rp_token_cache_lookup
rp_token_cache_peek(struct rp_token_cache *cache, const char *token, size_t len, int64_t now_ms,
                    bool allow_stale, enum rp_auth_result *result, struct rp_grant *grant)
{
    struct rp_token_cache *c = cache;
    unsigned char key[SHA256_DIGEST_LENGTH];
    token_key(token, len, key);
    pthread_mutex_lock(&c->mu);
    struct entry *e = rp_hashmap_get(&c->map, (const char *)key, sizeof(key));
    bool got = e && answered(c, e, now_ms, allow_stale, result, grant);
    pthread_mutex_unlock(&c->mu);
    return got ? RP_TOKEN_CACHE_HIT : RP_TOKEN_CACHE_MISS;
}

/* With c->mu held: ends <e>'s PENDING state without an answer. Returns whether waiters
 * must be woken. */
static bool
abandon_locked(struct rp_token_cache *c, struct entry *e)
{
    bool waited = e->waited;
    if (e->has_answer) {
        e->pending = false;
        e->waited = false;
        touch(c, e);
    } else {
        drop_entry(c, e);
    }
    return waited;
}

void
rp_token_cache_resolve(struct rp_token_cache *cache, const char *token, size_t len, int64_t now_ms,
                       int64_t now_wall_ms, enum rp_auth_result result,
                       const struct rp_grant *grant, int64_t ttl_ms)
{
    struct rp_token_cache *c = cache;
    unsigned char key[SHA256_DIGEST_LENGTH];
    bool cacheable = true;
    bool wake = false;
    int64_t expires = 0, hard = INT64_MAX;
    token_key(token, len, key);

    if (result == RP_AUTH_OK) {
        RP_ASSERT(grant);
        cacheable = c->max_ttl_ms > 0;
        int64_t ttl = ttl_ms <= 0 || ttl_ms > c->max_ttl_ms ? c->max_ttl_ms : ttl_ms;
        expires = now_ms + ttl;
        if (grant->expires_ms) {
            /* The grant's expiry is wall-clock; the cache runs on monotonic time. */
            int64_t left = grant->expires_ms - now_wall_ms;
            if (left <= 0)
                cacheable = false;
            else if (left < TIME_CLAMP)
                hard = now_ms + left;
            if (hard < expires)
                expires = hard;
        }
    } else {
        cacheable = cacheable && c->negative_ttl_ms > 0;
        expires = hard = now_ms + c->negative_ttl_ms;
    }

    pthread_mutex_lock(&c->mu);
    struct entry *e = rp_hashmap_get(&c->map, (const char *)key, sizeof(key));
    if (result == RP_AUTH_UNAVAILABLE) {
        /* No answer: what was cached (a stale grant included) still stands. */
        if (e && e->pending)
            wake = abandon_locked(c, e);
        goto out;
    }
    if (!cacheable) {
        /* A definite answer that is not kept; whatever was cached no longer holds. */
        if (e) {
            wake = e->pending && e->waited;
            drop_entry(c, e);
        }
        goto out;
    }
    if (!e) {
        if (!make_room(c))
            goto out;
        e = insert_entry(c, key);
    }
    wake = e->pending && e->waited;
    drop_answer(e);
    e->pending = false;
    e->waited = false;
    e->has_answer = true;
    e->result = result;
    if (result == RP_AUTH_OK)
        rp_grant_copy(&e->grant, grant);
    e->expires_ms = expires;
    e->hard_expires_ms = hard;
    touch(c, e);
out:
    pthread_mutex_unlock(&c->mu);
    if (wake && c->resolved_fn)
        c->resolved_fn(c->ctx);
}

void
rp_token_cache_abandon(struct rp_token_cache *cache, const char *token, size_t len)
{
    struct rp_token_cache *c = cache;
    unsigned char key[SHA256_DIGEST_LENGTH];
    bool wake = false;
    token_key(token, len, key);

    pthread_mutex_lock(&c->mu);
    struct entry *e = rp_hashmap_get(&c->map, (const char *)key, sizeof(key));
    if (e && e->pending)
        wake = abandon_locked(c, e);
    pthread_mutex_unlock(&c->mu);
    if (wake && c->resolved_fn)
        c->resolved_fn(c->ctx);
}

size_t
rp_token_cache_count(struct rp_token_cache *cache)
{
    pthread_mutex_lock(&cache->mu);
    size_t n = cache->map.count;
    pthread_mutex_unlock(&cache->mu);
    return n;
}

void
rp_token_cache_stats(struct rp_token_cache *cache, struct rp_token_cache_stats *out)
{
    pthread_mutex_lock(&cache->mu);
    *out = cache->stats;
    out->n_entries = cache->map.count;
    pthread_mutex_unlock(&cache->mu);
}
