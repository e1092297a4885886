/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of base/backoff: jitter stays in its bounds over many draws, reaches both ends
 * and spreads evenly; backoff windows double up to the cap without overflowing; reset starts
 * over; a zeroed backoff works; threads draw from their own generators.
 */
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/backoff.h"

#define DRAWS 20000

static void
test_jitter_bounds(void **state)
{
    static const int64_t ranges[][2] = {
        {0, 0}, {5, 5}, {0, 1}, {1000, 5000}, {-50, 50}, {0, INT64_MAX}, {INT64_MIN, INT64_MAX},
    };
    for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
        int64_t lo = ranges[r][0], hi = ranges[r][1];
        for (int i = 0; i < DRAWS; i++) {
            int64_t v = rp_backoff_jitter_ms(lo, hi);
            if (v < lo || v > hi)
                fail_msg("[%lld, %lld] drew %lld", (long long)lo, (long long)hi, (long long)v);
        }
    }
    /* An empty range gives its low end. */
    assert_int_equal(rp_backoff_jitter_ms(700, 300), 700);
}

/* Every value of a small range comes up, about equally often: not constant, not biased. */
static void
test_jitter_spread(void **state)
{
    enum { LO = 10, N = 8 };
    unsigned count[N] = {0};
    for (int i = 0; i < DRAWS; i++)
        count[rp_backoff_jitter_ms(LO, LO + N - 1) - LO]++;
    for (int k = 0; k < N; k++) {
        /* Expected DRAWS / N = 2500, standard deviation ~47: 2000..3000 is > 10 sigma. */
        if (count[k] < 2000 || count[k] > 3000)
            fail_msg("value %d drawn %u times of %d", LO + k, count[k], DRAWS);
    }
    /* A wide range rarely repeats itself. */
    int64_t first = rp_backoff_jitter_ms(0, 1000000000);
    bool differs = false;
    for (int i = 0; i < 10 && !differs; i++)
        differs = rp_backoff_jitter_ms(0, 1000000000) != first;
    assert_true(differs);
}

static void
test_backoff_growth(void **state)
{
    struct rp_backoff b;
    rp_backoff_init(&b, 100, 3000);
    /* Windows [100, 200], [100, 400], [100, 800], [100, 1600], then [100, 3000] for good. */
    static const int64_t hi[] = {200, 400, 800, 1600, 3000, 3000, 3000};
    for (size_t n = 0; n < sizeof(hi) / sizeof(hi[0]); n++) {
        int64_t top = 0;
        for (int i = 0; i < 2000; i++) {
            struct rp_backoff probe = b; /* the same attempt, drawn many times */
            int64_t v = rp_backoff_next(&probe);
            assert_true(v >= 100 && v <= hi[n]);
            assert_int_equal(probe.attempt, n + 1);
            if (v > top)
                top = v;
        }
        /* The window is used up to its top (within 5 %), so it did grow. */
        assert_true(top >= hi[n] - hi[n] / 20);
        rp_backoff_next(&b);
    }
    assert_int_equal(b.attempt, 7);
}

static void
test_backoff_reset(void **state)
{
    struct rp_backoff b;
    rp_backoff_init(&b, 50, 60000);
    for (int i = 0; i < 10; i++)
        rp_backoff_next(&b);
    assert_int_equal(b.attempt, 10);
    rp_backoff_reset(&b);
    assert_int_equal(b.attempt, 0);
    for (int i = 0; i < 1000; i++) {
        struct rp_backoff probe = b;
        int64_t v = rp_backoff_next(&probe);
        assert_true(v >= 50 && v <= 100);
    }
}

static void
test_backoff_limits(void **state)
{
    /* Zeroed: 1 ms each time. */
    struct rp_backoff z;
    memset(&z, 0, sizeof(z));
    for (int i = 0; i < 100; i++)
        assert_int_equal(rp_backoff_next(&z), 1);
    /* A cap below the base: the base, always. */
    struct rp_backoff low;
    rp_backoff_init(&low, 500, 20);
    for (int i = 0; i < 100; i++)
        assert_int_equal(rp_backoff_next(&low), 500);
    /* Many attempts with no real cap: the window saturates instead of overflowing. */
    struct rp_backoff big;
    rp_backoff_init(&big, 1, INT64_MAX);
    int64_t top = 0;
    for (int i = 0; i < 500; i++) {
        int64_t v = rp_backoff_next(&big);
        assert_true(v >= 1);
        if (v > top)
            top = v;
    }
    assert_true(top > INT64_MAX / 4);
    /* The attempt counter saturates too. */
    big.attempt = UINT_MAX;
    assert_true(rp_backoff_next(&big) >= 1);
    assert_int_equal(big.attempt, UINT_MAX);
}

#define THREAD_DRAWS 64

static void *
draw_many(void *arg)
{
    int64_t *out = arg;
    for (int i = 0; i < THREAD_DRAWS; i++)
        out[i] = rp_backoff_jitter_ms(0, INT64_MAX);
    return NULL;
}

/* Threads draw at once without sharing state (TSan checks the first part) and from
 * generators seeded apart (the second). */
static void
test_threads(void **state)
{
    static int64_t seq[2][THREAD_DRAWS];
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, draw_many, seq[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_memory_not_equal(seq[0], seq[1], sizeof(seq[0]));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jitter_bounds),  cmocka_unit_test(test_jitter_spread),
        cmocka_unit_test(test_backoff_growth), cmocka_unit_test(test_backoff_reset),
        cmocka_unit_test(test_backoff_limits), cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
