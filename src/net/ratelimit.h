/* SPDX-License-Identifier: MIT */
#ifndef RP_NET_RATELIMIT_H
#define RP_NET_RATELIMIT_H
/*
 * Per-client-address token buckets (rate + burst) for connects and publishes, shared by all
 * workers. Not responsible for choosing the address (net/addr_key) or answering 429 (the
 * caller turns the wait into Retry-After). Time is passed in (monotonic ms).
 * Any thread: the table is split into stripes, each behind its own mutex.
 *
 * Memory is bounded by <max_keys>. A bucket that has refilled completely is the same as no
 * bucket, so at the cap those are dropped first; only when none is full is the least
 * recently used bucket evicted (its client then starts again with a full burst).
 * LRU order is exact for max_keys < 128 (one stripe), per stripe above that.
 */
#include <stddef.h>
#include <stdint.h>

struct rp_addr_key;
struct rp_ratelimit;

struct rp_ratelimit_stats {
    uint64_t allowed;      /* takes that got a token (unlimited ones included) */
    uint64_t limited;      /* takes refused */
    uint64_t evicted_full; /* full (idle) buckets dropped to make room */
    uint64_t evicted_lru;  /* buckets with debt evicted at the cap: the limit was forgotten */
    size_t n_keys;         /* buckets held now */
};

/* A limiter allowing <rate_per_s> takes per second per address on average, and <burst>
 * in a row after idling (values below 1 count as 1). <rate_per_s> 0 means unlimited: no
 * table is kept. <max_keys> (>= 1 unless unlimited) caps the buckets held. Never fails. */
struct rp_ratelimit *rp_ratelimit_new(double rate_per_s, double burst, size_t max_keys);
/* Frees <rl> and every bucket; accepts NULL. No other thread may still use it. */
void rp_ratelimit_free(struct rp_ratelimit *rl);
/* Takes one token from <k>'s bucket at monotonic time <now_ms>. Returns 0 when a token was
 * taken, else the milliseconds (>= 1) until one is available; Retry-After is that rounded up
 * to whole seconds. A refused take consumes nothing but counts as use for the LRU. */
int64_t rp_ratelimit_take(struct rp_ratelimit *rl, const struct rp_addr_key *k, int64_t now_ms);
/* Buckets held now (<= max_keys). */
size_t rp_ratelimit_count(struct rp_ratelimit *rl);
/* A snapshot of the counters into <out>. */
void rp_ratelimit_stats(struct rp_ratelimit *rl, struct rp_ratelimit_stats *out);

#endif
