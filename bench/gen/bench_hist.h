/* SPDX-License-Identifier: MIT */
#ifndef BENCH_GEN_BENCH_HIST_H
#define BENCH_GEN_BENCH_HIST_H
/*
 * A log-linear (HDR-style) latency histogram: 1 us resolution below 256 us, then 128
 * sub-buckets per power of two (at most 0.8% relative error) up to about 9 hours; larger
 * values land in the last bucket. Fixed size and plain data, so it is sent over a pipe as is
 * and merged by adding. Not thread-safe; one per process.
 */
#include <stdint.h>

#define BENCH_HIST_SUB_BITS 7
#define BENCH_HIST_SUB (1u << BENCH_HIST_SUB_BITS)
#define BENCH_HIST_MAX_EXP 35
#define BENCH_HIST_N                                                                               \
    (2 * BENCH_HIST_SUB + (BENCH_HIST_MAX_EXP - BENCH_HIST_SUB_BITS - 1) * BENCH_HIST_SUB)

struct bench_hist {
    uint64_t count;
    uint64_t sum_ns;
    uint64_t min_ns;
    uint64_t max_ns;
    uint64_t buckets[BENCH_HIST_N];
};

void bench_hist_init(struct bench_hist *h);
/* Records one value of <ns> nanoseconds. */
void bench_hist_record(struct bench_hist *h, uint64_t ns);
/* Adds every value of <src> to <dst>. */
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);
/*
 * The value at percentile <pct> (0 to 100) in nanoseconds: the middle of its bucket, never
 * above the largest value recorded. 0 when the histogram is empty.
 */
uint64_t bench_hist_percentile_ns(const struct bench_hist *h, double pct);

#endif
