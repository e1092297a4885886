/* SPDX-License-Identifier: MIT */
#include "base/backoff.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>

/*
 * splitmix64, one state per thread: no lock and no shared cache line, and a thread's
 * sequence does not depend on what other threads draw. Seeded once per thread from
 * getrandom(2); if that fails (no entropy yet at early boot), from the clock and the
 * state's address, which still differ between threads and processes.
 */
static _Thread_local uint64_t state;
static _Thread_local bool seeded;

static void
seed(void)
{
    uint64_t s;
    if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        s ^= (uint64_t)(uintptr_t)&state << 16;
    }
    state = s;
    seeded = true;
}

static uint64_t
next_u64(void)
{
    if (!seeded)
        seed();
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int64_t
rp_backoff_jitter_ms(int64_t lo_ms, int64_t hi_ms)
{
    if (hi_ms <= lo_ms)
        return lo_ms;
    uint64_t span = (uint64_t)hi_ms - (uint64_t)lo_ms + 1; /* 0: the whole 64-bit range */
    uint64_t r = next_u64();
    if (span) {
        /* Rejection keeps every value equally likely: drop the few lowest draws that would
         * make the low values one more chance than the others. */
        uint64_t reject = -span % span;
        while (r < reject)
            r = next_u64();
        r %= span;
    }
    return (int64_t)((uint64_t)lo_ms + r);
}

void
rp_backoff_init(struct rp_backoff *b, int64_t base_ms, int64_t max_ms)
{
    b->base_ms = base_ms;
    b->max_ms = max_ms;
    b->attempt = 0;
}

int64_t
rp_backoff_next(struct rp_backoff *b)
{
    int64_t base = b->base_ms > 1 ? b->base_ms : 1;
    int64_t max = b->max_ms > base ? b->max_ms : base;
    /* base * 2^(attempt+1), capped at max without overflowing: at most 63 doublings. */
    int64_t hi = base;
    for (unsigned i = 0; i <= b->attempt && hi < max; i++)
        hi = hi > max / 2 ? max : hi * 2;
    if (b->attempt < UINT_MAX)
        b->attempt++;
    return rp_backoff_jitter_ms(base, hi);
}

void
rp_backoff_reset(struct rp_backoff *b)
{
    b->attempt = 0;
}
