/* SPDX-License-Identifier: MIT */
#ifndef RP_AUTH_TOKEN_CACHE_H
#define RP_AUTH_TOKEN_CACHE_H
/*
 * Verified-token cache shared by all workers: SHA-256 of the token -> the verifier's answer
 * (a grant, or a failure reason) until a TTL, so each token is verified once per TTL and a
 * token being verified is verified once, however many connections present it at the same
 * time (the others see PENDING and wait for <resolved_fn>). Tokens themselves are never
 * stored. Not responsible for verifying, nor for waking connections (the server's
 * <resolved_fn> does). Time is passed in. Any thread: one mutex.
 *
 * Entry life:
 *
 *   (absent) --lookup: MISS--> PENDING --resolve--> READY --expires--> expired
 *                                 |  ^                 ^                  |
 *                          abandon|  +--lookup: MISS---|------------------+
 *                                 v                    |
 *          (absent, or back to the stale READY entry it replaced)
 *
 * Memory: at most <max_entries> entries. The least recently used READY entry is evicted to
 * make room; PENDING entries are never evicted. When every entry is PENDING, a lookup of a
 * new token returns MISS without inserting anything (that token's verification is then not
 * shared) and its resolve is dropped.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"

struct rp_token_cache;

/* Called (outside the cache's lock, on the resolving thread) after a resolve or abandon of
 * an entry that some lookup saw PENDING; once per resolve/abandon. */
typedef void (*rp_token_cache_resolved_fn)(void *ctx);

enum rp_token_cache_lookup {
    RP_TOKEN_CACHE_MISS = 0, /* the caller verifies, then calls resolve or abandon */
    RP_TOKEN_CACHE_PENDING,  /* another caller is verifying it: wait for resolved_fn */
    RP_TOKEN_CACHE_HIT,      /* *result (and *grant) filled from the cache */
};

struct rp_token_cache_stats {
    uint64_t hits;       /* HIT answers, stale ones included */
    uint64_t stale_hits; /* HIT answers for expired positive entries under allow_stale */
    uint64_t misses;     /* MISS answers */
    uint64_t pending;    /* PENDING answers */
    uint64_t evictions;  /* READY entries evicted at the cap */
    uint64_t refused;    /* MISS answers left uncached because every entry was PENDING */
    size_t n_entries;
};

/* A PENDING entry older than this counts as abandoned (its verifier never came back, a
 * bug): the next lookup gets MISS and verifies. Longer than any webhook timeout (120 s). */
#define RP_TOKEN_CACHE_PENDING_MAX_MS 300000

/* A cache of at most <max_entries> (>= 1) entries. Positive answers live at most
 * <max_ttl_ms>, negative ones <negative_ttl_ms>; <= 0 caches none of that kind (concurrent
 * lookups of one token still share its verification). <resolved_fn> (may be NULL) is
 * called with <ctx> as described above. Never fails. */
struct rp_token_cache *rp_token_cache_new(size_t max_entries, int64_t max_ttl_ms,
                                          int64_t negative_ttl_ms,
                                          rp_token_cache_resolved_fn resolved_fn, void *ctx);
/* Frees <cache> and its entries; accepts NULL. No other thread may still use it. */
void rp_token_cache_free(struct rp_token_cache *cache);

/*
 * Looks up the <len> bytes of <token> at monotonic <now_ms>. HIT: sets *<result> and, when
 * it is RP_AUTH_OK and <grant> is not NULL, deep-copies the grant into the zeroed *<grant>
 * (the caller owns it: rp_grant_fini); the entry becomes the most recently used.
 * MISS: absent or expired; a PENDING entry now stands for the token, and the caller must
 * verify it and call resolve, or abandon. PENDING: someone else is verifying it.
 * With <allow_stale> (the verifier is unreachable: its breaker is open), an expired positive
 * entry is a HIT, even while PENDING, as long as the grant's own expiry has not passed.
 * A PENDING entry older than RP_TOKEN_CACHE_PENDING_MAX_MS: the next lookup gets MISS.
 */
enum rp_token_cache_lookup rp_token_cache_lookup(struct rp_token_cache *cache, const char *token,
                                                 size_t len, int64_t now_ms, bool allow_stale,
                                                 enum rp_auth_result *result,
                                                 struct rp_grant *grant);
/* As rp_token_cache_lookup, but only HIT or MISS, and a MISS marks nothing PENDING: for an
 * answer someone may have stored under <token> without ever verifying it by that key. */
enum rp_token_cache_lookup rp_token_cache_peek(struct rp_token_cache *cache, const char *token,
                                               size_t len, int64_t now_ms, bool allow_stale,
                                               enum rp_auth_result *result, struct rp_grant *grant);
/*
 * Stores the verifier's answer <result> for <token> at monotonic <now_ms> and wall-clock
 * <now_wall_ms> (which only serves to turn grant->expires_ms into monotonic time).
 * <grant> (NULL unless RP_AUTH_OK) is copied. A positive answer lives <ttl_ms> (<= 0: max_ttl),
 * capped at max_ttl and at the grant's expires_ms; a negative one lives negative_ttl.
 * RP_AUTH_UNAVAILABLE is no answer: it acts as abandon. A grant already expired, or an
 * answer whose kind has a TTL <= 0, is not cached and removes the entry. Wakes
 * waiters (resolved_fn) if there were any.
 */
void rp_token_cache_resolve(struct rp_token_cache *cache, const char *token, size_t len,
                            int64_t now_ms, int64_t now_wall_ms, enum rp_auth_result result,
                            const struct rp_grant *grant, int64_t ttl_ms);
/* The verification of <token> could not be done: drops its PENDING entry (restoring the
 * expired positive entry it replaced, for allow_stale lookups) and wakes waiters, who look
 * up again; one of them gets MISS. No-op when <token> is not PENDING. */
void rp_token_cache_abandon(struct rp_token_cache *cache, const char *token, size_t len);
/* Entries held now, PENDING ones included (<= max_entries). */
size_t rp_token_cache_count(struct rp_token_cache *cache);
/* A snapshot of the counters into <out>. */
void rp_token_cache_stats(struct rp_token_cache *cache, struct rp_token_cache_stats *out);

#endif
