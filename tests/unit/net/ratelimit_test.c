/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of net/ratelimit: burst then refusal with the exact wait, refill over time,
 * no saving beyond the burst, unlimited rate, independent addresses, memory bounded by
 * max_keys with full buckets dropped before the least recently used one, and exact token
 * accounting with several threads hammering one table (run under TSan in build-tsan).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <pthread.h>

#include <cmocka.h>

#include "net/addr_key.h"
#include "net/ratelimit.h"

static struct rp_addr_key
key(unsigned n)
{
    struct rp_addr_key k;
    char text[32];
    snprintf(text, sizeof(text), "10.%u.%u.%u", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
    assert_int_equal(rp_addr_key_parse(text, strlen(text), &k), 0);
    return k;
}

static int64_t
take(struct rp_ratelimit *rl, unsigned n, int64_t now_ms)
{
    struct rp_addr_key k = key(n);
    return rp_ratelimit_take(rl, &k, now_ms);
}

/* What a caller puts in Retry-After. */
static int64_t
retry_after_s(int64_t wait_ms)
{
    return (wait_ms + 999) / 1000;
}

static void
test_burst_then_refill(void **state)
{
    struct rp_ratelimit *rl = rp_ratelimit_new(10, 5, 16); /* one token per 100 ms */
    int64_t t = 50000;
    for (int i = 0; i < 5; i++)
        assert_int_equal(take(rl, 1, t), 0);
    assert_int_equal(take(rl, 1, t), 100);
    assert_int_equal(take(rl, 1, t + 1), 99);
    assert_int_equal(take(rl, 1, t + 99), 1);
    assert_int_equal(take(rl, 1, t + 100), 0);
    assert_int_equal(take(rl, 1, t + 100), 100);
    /* 150 ms later one and a half tokens have come back: one take, then a 50 ms wait. */
    assert_int_equal(take(rl, 1, t + 250), 0);
    assert_int_equal(take(rl, 1, t + 250), 50);
    /* A steady client at the rate is never refused. */
    for (int64_t now = t + 300; now < t + 5000; now += 100)
        assert_int_equal(take(rl, 1, now), 0);

    struct rp_ratelimit_stats st;
    rp_ratelimit_stats(rl, &st);
    assert_int_equal(st.limited, 5);
    assert_int_equal(st.n_keys, 1);
    rp_ratelimit_free(rl);
}

static void
test_idle_saves_no_more_than_burst(void **state)
{
    struct rp_ratelimit *rl = rp_ratelimit_new(2, 3, 16);
    assert_int_equal(take(rl, 1, 1000), 0);
    int64_t t = 1000 + 3600 * 1000;
    for (int i = 0; i < 3; i++)
        assert_int_equal(take(rl, 1, t), 0);
    assert_int_equal(take(rl, 1, t), 500);
    rp_ratelimit_free(rl);
}

static void
test_retry_after_rounds_up(void **state)
{
    /* One token every 2.5 s, burst 1. */
    struct rp_ratelimit *rl = rp_ratelimit_new(0.4, 1, 16);
    assert_int_equal(take(rl, 7, 0), 0);
    int64_t w = take(rl, 7, 0);
    assert_int_equal(w, 2500);
    assert_int_equal(retry_after_s(w), 3);
    w = take(rl, 7, 1600);
    assert_int_equal(w, 900);
    assert_int_equal(retry_after_s(w), 1);
    w = take(rl, 7, 2499);
    assert_int_equal(w, 1);
    assert_int_equal(retry_after_s(w), 1);
    assert_int_equal(take(rl, 7, 2500), 0);
    /* Burst below 1 counts as 1. */
    struct rp_ratelimit *rl2 = rp_ratelimit_new(1, 0.2, 4);
    assert_int_equal(take(rl2, 1, 0), 0);
    assert_int_equal(take(rl2, 1, 0), 1000);
    rp_ratelimit_free(rl2);
    rp_ratelimit_free(rl);
}

static void
test_unlimited(void **state)
{
    struct rp_ratelimit *rl = rp_ratelimit_new(0, 1, 0);
    for (unsigned i = 0; i < 10000; i++)
        assert_int_equal(take(rl, i % 3, 0), 0);
    assert_int_equal(rp_ratelimit_count(rl), 0);
    struct rp_ratelimit_stats st;
    rp_ratelimit_stats(rl, &st);
    assert_int_equal(st.allowed, 10000);
    assert_int_equal(st.limited, 0);
    rp_ratelimit_free(rl);
}

static void
test_addresses_are_independent(void **state)
{
    struct rp_ratelimit *rl = rp_ratelimit_new(1, 2, 16);
    assert_int_equal(take(rl, 1, 0), 0);
    assert_int_equal(take(rl, 1, 0), 0);
    assert_int_equal(take(rl, 1, 0), 1000);
    assert_int_equal(take(rl, 2, 0), 0);
    assert_int_equal(take(rl, 2, 0), 0);
    assert_int_equal(take(rl, 2, 0), 1000);

    /* A v4 peer and its mapped form in X-Forwarded-For share one bucket. */
    struct rp_addr_key a, b;
    assert_int_equal(rp_addr_key_parse("192.0.2.1", 9, &a), 0);
    assert_int_equal(rp_addr_key_parse("::ffff:192.0.2.1", 16, &b), 0);
    assert_int_equal(rp_ratelimit_take(rl, &a, 0), 0);
    assert_int_equal(rp_ratelimit_take(rl, &b, 0), 0);
    assert_int_equal(rp_ratelimit_take(rl, &a, 0), 1000);
    assert_int_equal(rp_ratelimit_count(rl), 3);
    rp_ratelimit_free(rl);
}

static void
test_memory_bounded_by_max_keys(void **state)
{
    struct rp_ratelimit *rl = rp_ratelimit_new(1, 5, 8);
    for (unsigned i = 0; i < 100; i++) {
        assert_int_equal(take(rl, i, 0), 0);
        assert_true(rp_ratelimit_count(rl) <= 8);
    }
    assert_int_equal(rp_ratelimit_count(rl), 8);
    struct rp_ratelimit_stats st;
    rp_ratelimit_stats(rl, &st);
    assert_int_equal(st.evicted_lru, 92);
    assert_int_equal(st.evicted_full, 0);
    rp_ratelimit_free(rl);

    /* Several stripes: the caps still add up to max_keys. */
    rl = rp_ratelimit_new(1, 5, 1000);
    for (unsigned i = 0; i < 20000; i++)
        take(rl, i, i / 100);
    assert_int_equal(rp_ratelimit_count(rl), 1000);
    rp_ratelimit_free(rl);

    rl = rp_ratelimit_new(1, 5, 1);
    for (unsigned i = 0; i < 10; i++)
        assert_int_equal(take(rl, i, 0), 0);
    assert_int_equal(rp_ratelimit_count(rl), 1);
    rp_ratelimit_free(rl);
}

static void
test_full_buckets_are_dropped_first(void **state)
{
    struct rp_ratelimit *rl = rp_ratelimit_new(1, 2, 4);
    /* Address 1 uses its whole burst (full again at t=2000); 2..4 take one (full at 1000). */
    assert_int_equal(take(rl, 1, 0), 0);
    assert_int_equal(take(rl, 1, 0), 0);
    for (unsigned i = 2; i <= 4; i++)
        assert_int_equal(take(rl, i, 0), 0);
    /* At t=1000 address 1 is the least recently used, but 2..4 are full: they go. */
    assert_int_equal(take(rl, 5, 1000), 0);
    assert_int_equal(rp_ratelimit_count(rl), 2);
    struct rp_ratelimit_stats st;
    rp_ratelimit_stats(rl, &st);
    assert_int_equal(st.evicted_full, 3);
    assert_int_equal(st.evicted_lru, 0);
    /* Address 1 kept its debt: one token back, not a fresh burst of two. */
    assert_int_equal(take(rl, 1, 1000), 0);
    assert_int_equal(take(rl, 1, 1000), 1000);
    rp_ratelimit_free(rl);
}

static void
test_lru_eviction_when_none_full(void **state)
{
    struct rp_ratelimit *rl = rp_ratelimit_new(1, 1, 2);
    assert_int_equal(take(rl, 1, 0), 0);
    assert_int_equal(take(rl, 2, 0), 0);
    /* A refused take still counts as use: 1 becomes the most recently used. */
    assert_int_equal(take(rl, 1, 10), 990);
    assert_int_equal(take(rl, 3, 20), 0); /* evicts 2 */
    struct rp_ratelimit_stats st;
    rp_ratelimit_stats(rl, &st);
    assert_int_equal(st.evicted_lru, 1);
    assert_int_equal(take(rl, 1, 30), 970); /* 1 is still limited */
    assert_int_equal(take(rl, 2, 30), 0);   /* 2 was forgotten: a new bucket (evicts 3) */
    assert_int_equal(take(rl, 3, 40), 0);   /* so was 3 (evicts 1) */
    assert_int_equal(rp_ratelimit_count(rl), 2);
    rp_ratelimit_free(rl);
}

static void
test_evicted_full_bucket_behaves_as_new(void **state)
{
    struct rp_ratelimit *rl = rp_ratelimit_new(1, 3, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(take(rl, 1, 0), 0);
    assert_int_equal(take(rl, 1, 0), 1000);
    /* Full again at t=3000, then evicted for address 2. */
    assert_int_equal(take(rl, 2, 3000), 0);
    struct rp_ratelimit_stats st;
    rp_ratelimit_stats(rl, &st);
    assert_int_equal(st.evicted_full, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(take(rl, 1, 3000), 0);
    assert_int_equal(take(rl, 1, 3000), 1000);
    rp_ratelimit_free(rl);
}

static void
test_clock_skew_between_workers(void **state)
{
    /* Workers read the clock on their own, so a take may carry a now_ms a little older than
     * the previous one. That errs on the strict side and never hands out extra tokens. */
    struct rp_ratelimit *rl = rp_ratelimit_new(1, 2, 4);
    assert_int_equal(take(rl, 1, 1000), 0);
    assert_int_equal(take(rl, 1, 990), 10);
    assert_int_equal(take(rl, 1, 1000), 0);
    assert_int_equal(take(rl, 1, 995), 1005);
    assert_int_equal(take(rl, 1, 2000), 0);
    assert_int_equal(take(rl, 1, 2000), 1000);
    rp_ratelimit_free(rl);
}

#define N_THREADS 4
#define N_TAKES 20000

struct hammer {
    struct rp_ratelimit *rl;
    unsigned seed;
    uint64_t allowed;
};

/* Many addresses churning through a table smaller than them: eviction under contention. */
static void *
churn_run(void *arg)
{
    struct hammer *h = arg;
    for (unsigned i = 0; i < N_TAKES; i++) {
        struct rp_addr_key k = key((h->seed * 7919u + i * 31u) % 300u);
        if (rp_ratelimit_take(h->rl, &k, i / 50) == 0)
            h->allowed++;
    }
    return NULL;
}

/* Every thread on one address at one instant. */
static void *
hot_run(void *arg)
{
    struct hammer *h = arg;
    struct rp_addr_key k = key(42);
    for (unsigned i = 0; i < N_TAKES; i++)
        if (rp_ratelimit_take(h->rl, &k, 1000) == 0)
            h->allowed++;
    return NULL;
}

static uint64_t
run_threads(struct rp_ratelimit *rl, void *(*fn)(void *))
{
    pthread_t th[N_THREADS];
    struct hammer h[N_THREADS];
    for (unsigned i = 0; i < N_THREADS; i++) {
        h[i] = (struct hammer){.rl = rl, .seed = i + 1};
        assert_int_equal(pthread_create(&th[i], NULL, fn, &h[i]), 0);
    }
    uint64_t allowed = 0;
    for (unsigned i = 0; i < N_THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        allowed += h[i].allowed;
    }
    return allowed;
}

static void
test_threads(void **state)
{
    /* 256 keys: several stripes, each at its cap most of the time. */
    struct rp_ratelimit *rl = rp_ratelimit_new(5, 3, 256);
    uint64_t allowed = run_threads(rl, churn_run);
    struct rp_ratelimit_stats st;
    rp_ratelimit_stats(rl, &st);
    assert_true(st.n_keys <= 256);
    assert_int_equal(st.allowed + st.limited, (uint64_t)N_THREADS * N_TAKES);
    assert_int_equal(st.allowed, allowed);
    assert_true(st.evicted_lru + st.evicted_full > 0);
    rp_ratelimit_free(rl);

    /* A burst of 1000 shared by four threads yields exactly 1000 tokens. */
    rl = rp_ratelimit_new(0.001, 1000, 4);
    assert_int_equal(run_threads(rl, hot_run), 1000);
    rp_ratelimit_free(rl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refill),
        cmocka_unit_test(test_idle_saves_no_more_than_burst),
        cmocka_unit_test(test_retry_after_rounds_up),
        cmocka_unit_test(test_unlimited),
        cmocka_unit_test(test_addresses_are_independent),
        cmocka_unit_test(test_memory_bounded_by_max_keys),
        cmocka_unit_test(test_full_buckets_are_dropped_first),
        cmocka_unit_test(test_lru_eviction_when_none_full),
        cmocka_unit_test(test_evicted_full_bucket_behaves_as_new),
        cmocka_unit_test(test_clock_skew_between_workers),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
