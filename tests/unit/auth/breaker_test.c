/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of auth/breaker: every transition of the state diagram (closed -> open by
 * consecutive failures and by error rate, open -> half_open after open_ms, half_open ->
 * closed after enough probe successes, half_open -> open on a failure), the probe limit,
 * Retry-After, the sliding window, and the callback sequence and counters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth/breaker.h"

#define MAX_SEEN 32

struct seen {
    struct rp_breaker *b;
    size_t n;
    enum rp_breaker_state from[MAX_SEEN], to[MAX_SEEN];
    enum rp_breaker_state state_in_cb[MAX_SEEN];
};

static void
on_transition(void *ctx, enum rp_breaker_state from, enum rp_breaker_state to)
{
    struct seen *s = ctx;
    assert_true(s->n < MAX_SEEN);
    s->from[s->n] = from;
    s->to[s->n] = to;
    /* Called outside the lock: the breaker can be queried from the callback. */
    s->state_in_cb[s->n] = rp_breaker_state(s->b);
    s->n++;
}

static struct rp_breaker *
breaker(struct seen *s, uint32_t threshold, double rate, uint32_t min_requests, uint32_t probes)
{
    memset(s, 0, sizeof(*s));
    struct rp_breaker_config cfg = {
        .failure_threshold = threshold,
        .error_rate = rate,
        .window_ms = 10000,
        .min_requests = min_requests,
        .open_ms = 1000,
        .half_open_probes = probes,
        .on_transition = on_transition,
        .ctx = s,
    };
    s->b = rp_breaker_new(&cfg);
    return s->b;
}

static void
expect_seen(const struct seen *s, size_t i, enum rp_breaker_state from, enum rp_breaker_state to)
{
    assert_true(i < s->n);
    assert_string_equal(rp_breaker_state_name(s->from[i]), rp_breaker_state_name(from));
    assert_string_equal(rp_breaker_state_name(s->to[i]), rp_breaker_state_name(to));
    assert_int_equal(s->state_in_cb[i], to);
}

/* One admitted call with its outcome. */
static void
call(struct rp_breaker *b, int64_t now, bool success)
{
    assert_true(rp_breaker_allow(b, now));
    rp_breaker_record(b, now, success);
}

static void
test_names(void **state)
{
    assert_string_equal(rp_breaker_state_name(RP_BREAKER_CLOSED), "closed");
    assert_string_equal(rp_breaker_state_name(RP_BREAKER_OPEN), "open");
    assert_string_equal(rp_breaker_state_name(RP_BREAKER_HALF_OPEN), "half_open");
    assert_string_equal(rp_breaker_state_name(RP_BREAKER__COUNT), "unknown");
}

static void
test_consecutive_failures_open(void **state)
{
    struct seen s;
    struct rp_breaker *b = breaker(&s, 3, 0, 0, 1);
    assert_int_equal(rp_breaker_state(b), RP_BREAKER_CLOSED);
    assert_int_equal(rp_breaker_retry_after_ms(b, 0), 0);
    call(b, 0, false);
    call(b, 1, false);
    call(b, 2, true); /* a success resets the streak */
    call(b, 3, false);
    call(b, 4, false);
    assert_int_equal(rp_breaker_state(b), RP_BREAKER_CLOSED);
    assert_int_equal(s.n, 0);
    call(b, 5, false);
    assert_int_equal(rp_breaker_state(b), RP_BREAKER_OPEN);
    assert_int_equal(s.n, 1);
    expect_seen(&s, 0, RP_BREAKER_CLOSED, RP_BREAKER_OPEN);
    assert_false(rp_breaker_allow(b, 6));
    assert_int_equal(rp_breaker_retry_after_ms(b, 6), 999);
    assert_int_equal(rp_breaker_transitions(b, RP_BREAKER_OPEN), 1);
    assert_int_equal(rp_breaker_transitions(b, RP_BREAKER_CLOSED), 0);
    rp_breaker_free(b);
}

static void
test_error_rate_opens(void **state)
{
    struct seen s;
    struct rp_breaker *b = breaker(&s, 0, 0.5, 10, 1);
    /* Every call fails, but fewer than min_requests: stays closed. */
    for (int i = 0; i < 9; i++)
        call(b, i, false);
    assert_int_equal(rp_breaker_state(b), RP_BREAKER_CLOSED);
    rp_breaker_free(b);

    b = breaker(&s, 0, 0.5, 10, 1);
    /* Exactly half failing does not exceed 0.5. */
    for (int i = 0; i < 10; i++)
        call(b, 100 + i, i % 2 == 0);
    assert_int_equal(rp_breaker_state(b), RP_BREAKER_CLOSED);
    call(b, 200, true);
    call(b, 201, false); /* 6 of 12 */
    assert_int_equal(rp_breaker_state(b), RP_BREAKER_CLOSED);
    call(b, 202, false); /* 7 of 13 */
    assert_int_equal(rp_breaker_state(b), RP_BREAKER_OPEN);
    expect_seen(&s, 0, RP_BREAKER_CLOSED, RP_BREAKER_OPEN);
    rp_breaker_free(b);
}

static void
test_error_rate_window_slides(void **state)
{
    struct seen s;
    struct rp_breaker *b = breaker(&s, 0, 0.5, 10, 1);
    for (int i = 0; i < 9; i++)
        call(b, 0, false);
    /* 20 s later those failures have left the 10 s window. */
    for (int i = 0; i < 9; i++)
        call(b, 20000, false);
    assert_int_equal(rp_breaker_state(b), RP_BREAKER_CLOSED);
    call(b, 20500, false);
    assert_int_equal(rp_breaker_state(b), RP_BREAKER_OPEN);
    rp_breaker_free(b);

    /* The rate rule off: failures alone never open it. */
    b = breaker(&s, 0, 0, 1, 1);
    for (int i = 0; i < 100; i++)
        call(b, i, false);
    assert_int_equal(rp_breaker_state(b), RP_BREAKER_CLOSED);
    rp_breaker_free(b);
}

static void
test_open_to_half_open_to_closed(void **state)
{
    struct seen s;
    struct rp_breaker *b = breaker(&s, 1, 0, 0, 2);
    call(b, 100, false);
    assert_int_equal(rp_breaker_state(b), RP_BREAKER_OPEN);
    assert_false(rp_breaker_allow(b, 1099));
    assert_int_equal(rp_breaker_retry_after_ms(b, 1099), 1);
    /* A late record from a call admitted before it opened is ignored. */
    rp_breaker_record(b, 1099, true);
    assert_int_equal(rp_breaker_state(b), RP_BREAKER_OPEN);
    assert_int_equal(rp_breaker_retry_after_ms(b, 1100), 0);

    /* open_ms has passed: the next allow goes half-open and admits a probe. */
    assert_true(rp_breaker_allow(b, 1100));
    assert_int_equal(rp_breaker_state(b), RP_BREAKER_HALF_OPEN);
    expect_seen(&s, 1, RP_BREAKER_OPEN, RP_BREAKER_HALF_OPEN);
    assert_int_equal(rp_breaker_retry_after_ms(b, 1100), 0);
    assert_true(rp_breaker_allow(b, 1101));
    /* Both probe slots in flight. */
    assert_false(rp_breaker_allow(b, 1102));
    assert_int_equal(rp_breaker_retry_after_ms(b, 1102), 1000);
    rp_breaker_record(b, 1200, true);
    assert_int_equal(rp_breaker_state(b), RP_BREAKER_HALF_OPEN);
    assert_true(rp_breaker_allow(b, 1201)); /* the slot came back */
    assert_false(rp_breaker_allow(b, 1202));
    rp_breaker_record(b, 1300, true);
    assert_int_equal(rp_breaker_state(b), RP_BREAKER_CLOSED);
    expect_seen(&s, 2, RP_BREAKER_HALF_OPEN, RP_BREAKER_CLOSED);
    rp_breaker_record(b, 1301, true); /* the third probe's verdict, now closed */
    assert_int_equal(s.n, 3);

    /* Closed again, with a clean streak. */
    for (int i = 0; i < 10; i++)
        assert_true(rp_breaker_allow(b, 1400 + i));
    rp_breaker_free(b);
}

static void
test_half_open_failure_reopens(void **state)
{
    struct seen s;
    struct rp_breaker *b = breaker(&s, 2, 0, 0, 3);
    call(b, 0, false);
    call(b, 0, false);
    assert_true(rp_breaker_allow(b, 1000));
    rp_breaker_record(b, 1000, true);
    assert_true(rp_breaker_allow(b, 1010));
    rp_breaker_record(b, 1500, false);
    assert_int_equal(rp_breaker_state(b), RP_BREAKER_OPEN);
    /* Open again for a full open_ms from the failure. */
    assert_false(rp_breaker_allow(b, 2000));
    assert_int_equal(rp_breaker_retry_after_ms(b, 2000), 500);
    assert_true(rp_breaker_allow(b, 2500));
    /* Successes needed start again from zero. */
    rp_breaker_record(b, 2500, true);
    call(b, 2501, true);
    assert_int_equal(rp_breaker_state(b), RP_BREAKER_HALF_OPEN);
    call(b, 2502, true);
    assert_int_equal(rp_breaker_state(b), RP_BREAKER_CLOSED);

    static const enum rp_breaker_state want[][2] = {
        {RP_BREAKER_CLOSED, RP_BREAKER_OPEN},      {RP_BREAKER_OPEN, RP_BREAKER_HALF_OPEN},
        {RP_BREAKER_HALF_OPEN, RP_BREAKER_OPEN},   {RP_BREAKER_OPEN, RP_BREAKER_HALF_OPEN},
        {RP_BREAKER_HALF_OPEN, RP_BREAKER_CLOSED},
    };
    assert_int_equal(s.n, 5);
    for (size_t i = 0; i < 5; i++)
        expect_seen(&s, i, want[i][0], want[i][1]);
    assert_int_equal(rp_breaker_transitions(b, RP_BREAKER_OPEN), 2);
    assert_int_equal(rp_breaker_transitions(b, RP_BREAKER_HALF_OPEN), 2);
    assert_int_equal(rp_breaker_transitions(b, RP_BREAKER_CLOSED), 1);
    rp_breaker_free(b);
}

static void
test_lost_probe_is_reclaimed(void **state)
{
    struct seen s;
    struct rp_breaker *b = breaker(&s, 1, 0, 0, 1);
    call(b, 0, false);
    assert_true(rp_breaker_allow(b, 1000)); /* a probe whose caller never records */
    assert_false(rp_breaker_allow(b, 1500));
    assert_int_equal(rp_breaker_retry_after_ms(b, 1500), 501);
    assert_false(rp_breaker_allow(b, 2000));
    assert_true(rp_breaker_allow(b, 2001));
    rp_breaker_record(b, 2001, true);
    assert_int_equal(rp_breaker_state(b), RP_BREAKER_CLOSED);
    rp_breaker_free(b);
}

static void
test_defaults_and_no_callback(void **state)
{
    /* half_open_probes 0 counts as 1; open_ms 0 goes half-open at once; no callback. */
    struct rp_breaker_config cfg = {.failure_threshold = 1};
    struct rp_breaker *b = rp_breaker_new(&cfg);
    rp_breaker_record(b, 5, false);
    assert_int_equal(rp_breaker_state(b), RP_BREAKER_OPEN);
    assert_int_equal(rp_breaker_retry_after_ms(b, 5), 0);
    assert_true(rp_breaker_allow(b, 5));
    assert_false(rp_breaker_allow(b, 5));
    assert_int_equal(rp_breaker_retry_after_ms(b, 5), 1);
    rp_breaker_record(b, 5, true);
    assert_int_equal(rp_breaker_state(b), RP_BREAKER_CLOSED);
    rp_breaker_free(b);
    rp_breaker_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_consecutive_failures_open),
        cmocka_unit_test(test_error_rate_opens),
        cmocka_unit_test(test_error_rate_window_slides),
        cmocka_unit_test(test_open_to_half_open_to_closed),
        cmocka_unit_test(test_half_open_failure_reopens),
        cmocka_unit_test(test_lost_probe_is_reclaimed),
        cmocka_unit_test(test_defaults_and_no_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
