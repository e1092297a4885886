/* SPDX-License-Identifier: MIT */
#ifndef RP_BASE_BACKOFF_H
#define RP_BASE_BACKOFF_H
/*
 * Jittered delays: a random delay in a range, so that clients told to wait do not all come
 * back at once, and exponential backoff with full jitter for retries. Not a timer: the
 * caller waits however it waits. The random numbers come from a generator per thread,
 * seeded from getrandom(2): spread, not secrets. Any thread; a struct rp_backoff belongs
 * to one owner.
 */
#include <stdint.h>

/* A uniformly random delay in [<lo_ms>, <hi_ms>] (both included); <lo_ms> when <hi_ms> is
 * not above it. */
int64_t rp_backoff_jitter_ms(int64_t lo_ms, int64_t hi_ms);

/*
 * Retry delays that double per attempt, with full jitter: attempt n (from 0) waits a
 * uniformly random time in [base_ms, min(max_ms, base_ms * 2^(n+1))]. The whole window is
 * drawn from, so peers that failed together spread over it, and the window starts at
 * base_ms rather than 0, so no retry comes at once. Zeroed, it waits 1 ms each time.
 */
struct rp_backoff {
    int64_t base_ms;  /* the shortest wait; below 1 counts as 1 */
    int64_t max_ms;   /* the longest wait; below base_ms counts as base_ms */
    unsigned attempt; /* delays drawn since the last reset */
};

/* Sets up <b> to wait between <base_ms> and <max_ms>, at attempt 0. */
void rp_backoff_init(struct rp_backoff *b, int64_t base_ms, int64_t max_ms);
/* The delay before the next retry, in ms, and one more attempt counted in <b>. */
int64_t rp_backoff_next(struct rp_backoff *b);
/* Back to attempt 0, after a success: the next delay is at most 2 * base_ms again. */
void rp_backoff_reset(struct rp_backoff *b);

#endif
