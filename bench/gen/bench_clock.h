/* SPDX-License-Identifier: MIT */
#ifndef BENCH_GEN_BENCH_CLOCK_H
#define BENCH_GEN_BENCH_CLOCK_H
/*
 * CLOCK_MONOTONIC in nanoseconds: one clock for every process of a run, so a time taken by
 * a publisher can be subtracted from one taken by a subscriber process. Any thread.
 * Inline because subscribers read it once per socket read on the hot path.
 */
#include <stdint.h>
#include <time.h>

static inline uint64_t
bench_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
