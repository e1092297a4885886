/* SPDX-License-Identifier: MIT */
#include "gen/bench_hist.h"

#include <string.h>

void
bench_hist_init(struct bench_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min_ns = UINT64_MAX;
}

/*
 * Values below 2 * SUB microseconds have a bucket each. Above, the power of two <e> of the
 * value is split into SUB buckets by the SUB_BITS bits below its leading one.
 */
static uint32_t
bucket_of(uint64_t us)
{
    if (us < 2 * BENCH_HIST_SUB)
        return (uint32_t)us;
    uint32_t e = 63u - (uint32_t)__builtin_clzll(us);
    if (e >= BENCH_HIST_MAX_EXP)
        return BENCH_HIST_N - 1;
    uint32_t sub = (uint32_t)(us >> (e - BENCH_HIST_SUB_BITS)) - BENCH_HIST_SUB;
    return 2 * BENCH_HIST_SUB + (e - BENCH_HIST_SUB_BITS - 1) * BENCH_HIST_SUB + sub;
}

/* The middle of bucket <i>, in nanoseconds. */
static uint64_t
bucket_mid_ns(uint32_t i)
{
    if (i < 2 * BENCH_HIST_SUB)
        return (uint64_t)i * 1000 + 500;
    uint32_t k = i - 2 * BENCH_HIST_SUB;
    uint32_t e = BENCH_HIST_SUB_BITS + 1 + k / BENCH_HIST_SUB;
    uint64_t width = 1ull << (e - BENCH_HIST_SUB_BITS);
    uint64_t low = (uint64_t)(BENCH_HIST_SUB + k % BENCH_HIST_SUB) * width;
    return low * 1000 + width * 500;
}

void
bench_hist_record(struct bench_hist *h, uint64_t ns)
{
    h->buckets[bucket_of(ns / 1000)]++;
    h->count++;
    h->sum_ns += ns;
    if (ns < h->min_ns)
        h->min_ns = ns;
    if (ns > h->max_ns)
        h->max_ns = ns;
}

void
bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
    for (uint32_t i = 0; i < BENCH_HIST_N; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->sum_ns += src->sum_ns;
    if (src->min_ns < dst->min_ns)
        dst->min_ns = src->min_ns;
    if (src->max_ns > dst->max_ns)
        dst->max_ns = src->max_ns;
}

uint64_t
bench_hist_percentile_ns(const struct bench_hist *h, double pct)
{
    if (h->count == 0)
        return 0;
    if (pct >= 100.0)
        return h->max_ns;
    /* The rank of the value: the smallest one with at least pct% of values at or below it. */
    uint64_t rank = (uint64_t)(pct / 100.0 * (double)h->count + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < BENCH_HIST_N; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t v = bucket_mid_ns(i);
            if (v > h->max_ns)
                v = h->max_ns;
            if (v < h->min_ns)
                v = h->min_ns;
            return v;
        }
    }
    return h->max_ns;
}
