/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of core/eventlog: the count, byte and age bounds, ring wrap-around through
 * several growths (checked against a plain array as the model), find_after, has_gap, and
 * the entry that is kept even though it alone exceeds max_bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/eventlog.h"
#include "sse/sse_frame.h"

#define NO_AGE_LIMIT (INT64_MAX / 4)

/* A frame of <data_len> bytes of data with id <seq>, as the hub would make it. */
static struct rp_frame *
frame(uint64_t seq, size_t data_len)
{
    char data[256];
    assert_true(data_len <= sizeof(data));
    memset(data, 'd', data_len);
    struct rp_frame_spec spec = {.topic = "t", .topic_len = 1, .data = data, .data_len = data_len};
    struct rp_frame *f = rp_frame_encode(&spec);
    char id[32];
    int n = snprintf(id, sizeof(id), "%llu", (unsigned long long)seq);
    rp_frame_set_id(f, id, (size_t)n);
    return f;
}

static void
init(struct rp_eventlog *log, uint64_t max_count, uint64_t max_bytes, int64_t max_age_ms)
{
    struct rp_eventlog_limits lim = {max_count, max_bytes, max_age_ms};
    rp_eventlog_init(log, &lim);
}

static void
append(struct rp_eventlog *log, uint64_t seq, size_t data_len, int64_t now)
{
    rp_eventlog_append(log, frame(seq, data_len), seq, now, now + 1000000);
}

static uint64_t
seq_at(const struct rp_eventlog *log, uint64_t i)
{
    return rp_eventlog_at(log, i)->seq;
}

static void
test_empty_log(void **state)
{
    struct rp_eventlog log;
    init(&log, 10, 1000, NO_AGE_LIMIT);
    assert_int_equal(log.count, 0);
    assert_int_equal(rp_eventlog_find_after(&log, 0), 0);
    assert_int_equal(rp_eventlog_find_after(&log, 100), 0);
    assert_false(rp_eventlog_has_gap(&log, 0));
    assert_int_equal(rp_eventlog_expire(&log, 1000), 0);
    rp_eventlog_fini(&log);
    rp_eventlog_fini(&log); /* twice is harmless */
}

static void
test_entry_fields(void **state)
{
    struct rp_eventlog log;
    init(&log, 10, 100000, NO_AGE_LIMIT);
    struct rp_frame *a = frame(5, 3), *b = frame(9, 40);
    size_t sa = rp_frame_size(a), sb = rp_frame_size(b);
    rp_eventlog_append(&log, a, 5, 100, 5000);
    rp_eventlog_append(&log, b, 9, 120, 5020);
    assert_int_equal(log.count, 2);
    const struct rp_eventlog_entry *e = rp_eventlog_at(&log, 0);
    assert_int_equal(e->seq, 5);
    assert_ptr_equal(e->frame, a);
    assert_int_equal(e->end_bytes, sa);
    assert_int_equal(e->time_ms, 100);
    assert_int_equal(e->wall_ms, 5000);
    e = rp_eventlog_at(&log, 1);
    assert_int_equal(e->seq, 9);
    assert_ptr_equal(e->frame, b);
    assert_int_equal(e->end_bytes, sa + sb);
    assert_int_equal(log.bytes, sa + sb);
    assert_int_equal(log.appended_bytes, sa + sb);
    assert_int_equal(log.n_appended, 2);
    assert_int_equal(log.last_seq, 9);
    assert_int_equal(log.evicted_seq, 0);
    rp_eventlog_fini(&log);
}

static void
test_bytes_before(void **state)
{
    struct rp_eventlog log;
    init(&log, 3, UINT64_MAX, NO_AGE_LIMIT);
    assert_int_equal(rp_eventlog_bytes_before(&log, 0), 0);
    size_t size[5];
    uint64_t total = 0;
    for (uint64_t s = 1; s <= 5; s++) {
        struct rp_frame *f = frame(s, (size_t)(s * 7));
        size[s - 1] = rp_frame_size(f);
        total += size[s - 1];
        rp_eventlog_append(&log, f, s, 0, 0);
    }
    /* Kept: seqs 3, 4, 5. Before index 0 are the two evicted entries' bytes. */
    assert_int_equal(rp_eventlog_bytes_before(&log, 0), size[0] + size[1]);
    assert_int_equal(rp_eventlog_bytes_before(&log, 1), size[0] + size[1] + size[2]);
    assert_int_equal(rp_eventlog_bytes_before(&log, 3), total);
    assert_int_equal(log.appended_bytes - rp_eventlog_bytes_before(&log, 0), log.bytes);
    rp_eventlog_fini(&log);
}

static void
test_count_bound(void **state)
{
    struct rp_eventlog log;
    init(&log, 5, UINT64_MAX, NO_AGE_LIMIT);
    for (uint64_t s = 1; s <= 12; s++) {
        append(&log, s, 4, 0);
        assert_int_equal(log.count, s < 5 ? s : 5);
    }
    assert_int_equal(seq_at(&log, 0), 8);
    assert_int_equal(seq_at(&log, 4), 12);
    assert_int_equal(log.evicted_seq, 7);
    assert_int_equal(log.last_seq, 12);
    assert_int_equal(log.n_appended, 12);
    uint64_t kept = 0;
    for (uint64_t i = 0; i < log.count; i++)
        kept += rp_frame_size(rp_eventlog_at(&log, i)->frame);
    assert_int_equal(log.bytes, kept);
    /* The ring needs no more than max_count slots, rounded up to a power of two. */
    assert_true(log.ring_cap >= 5 && log.ring_cap <= 16);
    rp_eventlog_fini(&log);
}

static void
test_count_bound_of_one(void **state)
{
    struct rp_eventlog log;
    init(&log, 1, UINT64_MAX, NO_AGE_LIMIT);
    for (uint64_t s = 1; s <= 40; s++) {
        append(&log, s * 3, 1, 0);
        assert_int_equal(log.count, 1);
        assert_int_equal(seq_at(&log, 0), s * 3);
    }
    assert_int_equal(log.evicted_seq, 39 * 3);
    rp_eventlog_fini(&log);
}

static void
test_byte_bound(void **state)
{
    struct rp_eventlog log;
    struct rp_frame *probe = frame(100, 50);
    size_t size = rp_frame_size(probe);
    rp_frame_unref(probe);
    init(&log, 1000, 3 * size + size / 2, NO_AGE_LIMIT);
    for (uint64_t s = 100; s < 110; s++) {
        append(&log, s, 50, 0);
        assert_true(log.bytes <= 3 * size + size / 2);
    }
    assert_int_equal(log.count, 3);
    assert_int_equal(log.bytes, 3 * size);
    assert_int_equal(seq_at(&log, 0), 107);
    assert_int_equal(log.evicted_seq, 106);
    assert_int_equal(log.appended_bytes, 10 * size);
    rp_eventlog_fini(&log);
}

static void
test_oversize_entry_kept(void **state)
{
    struct rp_eventlog log;
    init(&log, 1000, 10, NO_AGE_LIMIT);
    append(&log, 1, 200, 0);
    /* Alone over max_bytes, but an acknowledged publish stays readable. */
    assert_int_equal(log.count, 1);
    assert_int_equal(seq_at(&log, 0), 1);
    assert_true(log.bytes > 10);
    assert_int_equal(log.evicted_seq, 0);
    append(&log, 2, 200, 0);
    assert_int_equal(log.count, 1);
    assert_int_equal(seq_at(&log, 0), 2);
    assert_int_equal(log.evicted_seq, 1);
    append(&log, 3, 0, 0);
    assert_int_equal(log.count, 1);
    assert_int_equal(seq_at(&log, 0), 3);
    rp_eventlog_fini(&log);
}

static void
test_age_eviction(void **state)
{
    struct rp_eventlog log;
    init(&log, 1000, UINT64_MAX, 15);
    append(&log, 1, 1, 0);
    append(&log, 2, 1, 10);
    append(&log, 3, 1, 20);
    append(&log, 4, 1, 30);
    /* Older than 15 ms at 30: appended at 0 and 10. */
    assert_int_equal(rp_eventlog_expire(&log, 30), 2);
    assert_int_equal(log.count, 2);
    assert_int_equal(seq_at(&log, 0), 3);
    assert_int_equal(log.evicted_seq, 2);
    /* Exactly max_age old is not older than it. */
    assert_int_equal(rp_eventlog_expire(&log, 35), 0);
    assert_int_equal(rp_eventlog_expire(&log, 36), 1);
    assert_int_equal(seq_at(&log, 0), 4);
    assert_int_equal(rp_eventlog_expire(&log, 1000), 1);
    assert_int_equal(log.count, 0);
    assert_int_equal(log.bytes, 0);
    assert_int_equal(log.evicted_seq, 4);
    assert_int_equal(log.last_seq, 4);
    /* Appending after the log emptied works, and find_after still answers. */
    append(&log, 7, 1, 1000);
    assert_int_equal(rp_eventlog_find_after(&log, 4), 0);
    assert_int_equal(rp_eventlog_find_after(&log, 7), 1);
    rp_eventlog_fini(&log);
}

static void
test_set_limits_evicts_now(void **state)
{
    struct rp_eventlog log;
    init(&log, 100, UINT64_MAX, NO_AGE_LIMIT);
    for (uint64_t s = 1; s <= 20; s++)
        append(&log, s, 1, (int64_t)s);
    struct rp_eventlog_limits lim = {10, UINT64_MAX, NO_AGE_LIMIT};
    rp_eventlog_set_limits(&log, &lim, 20);
    assert_int_equal(log.count, 10);
    assert_int_equal(seq_at(&log, 0), 11);
    lim.max_age_ms = 5;
    rp_eventlog_set_limits(&log, &lim, 20);
    assert_int_equal(log.count, 6); /* appended at 15..20 */
    assert_int_equal(seq_at(&log, 0), 15);
    lim = (struct rp_eventlog_limits){1000, UINT64_MAX, NO_AGE_LIMIT};
    rp_eventlog_set_limits(&log, &lim, 20);
    for (uint64_t s = 21; s <= 100; s++)
        append(&log, s, 1, 20);
    assert_int_equal(log.count, 86);
    rp_eventlog_fini(&log);
}

/* The model of the log: the kept seqs, oldest first, and each one's frame size. */
struct model {
    uint64_t seq[4096];
    size_t size[4096];
    size_t head, n;
    uint64_t evicted;
};

static void
check_against_model(const struct rp_eventlog *log, const struct model *m)
{
    assert_int_equal(log->count, m->n);
    uint64_t bytes = 0;
    for (size_t i = 0; i < m->n; i++) {
        const struct rp_eventlog_entry *e = rp_eventlog_at(log, i);
        assert_int_equal(e->seq, m->seq[m->head + i]);
        assert_int_equal(rp_frame_size(e->frame), m->size[m->head + i]);
        bytes += m->size[m->head + i];
    }
    assert_int_equal(log->bytes, bytes);
    assert_int_equal(log->evicted_seq, m->evicted);
    /* find_after at, between and around every kept seq. */
    for (size_t i = 0; i < m->n; i++) {
        uint64_t s = m->seq[m->head + i];
        assert_int_equal(rp_eventlog_find_after(log, s - 1), i);
        assert_int_equal(rp_eventlog_find_after(log, s), i + 1);
        assert_int_equal(rp_eventlog_has_gap(log, s - 1), s - 1 < m->evicted);
    }
    assert_int_equal(rp_eventlog_find_after(log, 0), 0);
    assert_int_equal(rp_eventlog_find_after(log, UINT64_MAX), m->n);
}

static void
test_wrap_around_through_growths(void **state)
{
    /* Append a few, expire a few, repeatedly: the oldest entry moves around the ring
     * while the ring doubles 16 -> 32 -> 64 -> 128 -> 256, so every growth copies a
     * wrapped ring. Seqs go up by 3 so find_after also sees values between them. */
    static struct model m;
    memset(&m, 0, sizeof(m));
    struct rp_eventlog log;
    const int64_t max_age = 1000;
    init(&log, 4096, UINT64_MAX, max_age);
    uint64_t seq = 0;
    int64_t now = 0;
    uint64_t caps_seen = 0;
    for (int round = 0; round < 60; round++) {
        for (int k = 0; k < 7; k++) {
            seq += 3;
            now += 10;
            size_t len = (size_t)(seq % 37);
            struct rp_frame *f = frame(seq, len);
            m.seq[m.head + m.n] = seq;
            m.size[m.head + m.n] = rp_frame_size(f);
            m.n++;
            rp_eventlog_append(&log, f, seq, now, now);
        }
        /* Expire the 3 oldest: those appended at or before the third one's time. */
        int64_t third = (int64_t)(m.seq[m.head + 2] / 3) * 10;
        assert_int_equal(rp_eventlog_expire(&log, third + max_age + 1), 3);
        m.evicted = m.seq[m.head + 2];
        m.head += 3;
        m.n -= 3;
        caps_seen |= log.ring_cap;
        check_against_model(&log, &m);
        assert_true(log.head < log.ring_cap);
    }
    assert_int_equal(m.n, 60 * 4);
    assert_true(caps_seen & 16);
    assert_true(caps_seen & 256);
    assert_true(log.head != 0); /* the last growth was followed by more expiry */
    rp_eventlog_fini(&log);
}

static void
test_find_after_sparse(void **state)
{
    struct rp_eventlog log;
    init(&log, 100, UINT64_MAX, NO_AGE_LIMIT);
    static const uint64_t seqs[] = {10, 20, 30, 31, 1000, 1u << 20};
    for (size_t i = 0; i < 6; i++)
        append(&log, seqs[i], 1, 0);
    assert_int_equal(rp_eventlog_find_after(&log, 0), 0);
    assert_int_equal(rp_eventlog_find_after(&log, 9), 0);
    assert_int_equal(rp_eventlog_find_after(&log, 10), 1);
    assert_int_equal(rp_eventlog_find_after(&log, 15), 1);
    assert_int_equal(rp_eventlog_find_after(&log, 30), 3);
    assert_int_equal(rp_eventlog_find_after(&log, 31), 4);
    assert_int_equal(rp_eventlog_find_after(&log, 999), 4);
    assert_int_equal(rp_eventlog_find_after(&log, 1000), 5);
    assert_int_equal(rp_eventlog_find_after(&log, 1u << 20), 6);
    rp_eventlog_fini(&log);
}

static void
test_has_gap(void **state)
{
    struct rp_eventlog log;
    init(&log, 3, UINT64_MAX, NO_AGE_LIMIT);
    for (uint64_t s = 10; s <= 50; s += 10)
        append(&log, s, 1, 0);
    /* Kept 30, 40, 50; evicted 10, 20. */
    assert_int_equal(log.evicted_seq, 20);
    assert_true(rp_eventlog_has_gap(&log, 0));
    assert_true(rp_eventlog_has_gap(&log, 10));
    assert_true(rp_eventlog_has_gap(&log, 19));
    assert_false(rp_eventlog_has_gap(&log, 20)); /* read 20: nothing missed */
    assert_false(rp_eventlog_has_gap(&log, 25));
    assert_false(rp_eventlog_has_gap(&log, 50));
    rp_eventlog_fini(&log);
}

static void
test_references_are_dropped(void **state)
{
    struct rp_eventlog log;
    init(&log, 2, UINT64_MAX, NO_AGE_LIMIT);
    struct rp_frame *a = frame(1, 1), *b = frame(2, 1), *c = frame(3, 1);
    /* Keep one reference of ours to each, then hand one to the log. */
    rp_frame_ref(a);
    rp_frame_ref(b);
    rp_frame_ref(c);
    rp_eventlog_append(&log, a, 1, 0, 0);
    rp_eventlog_append(&log, b, 2, 0, 0);
    rp_eventlog_append(&log, c, 3, 0, 0);
    assert_int_equal(atomic_load(&a->refs), 1); /* evicted: the log let go */
    assert_int_equal(atomic_load(&b->refs), 2);
    rp_eventlog_fini(&log);
    assert_int_equal(atomic_load(&b->refs), 1);
    assert_int_equal(atomic_load(&c->refs), 1);
    assert_int_equal(log.count, 0);
    rp_frame_unref(a);
    rp_frame_unref(b);
    rp_frame_unref(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_log),
        cmocka_unit_test(test_entry_fields),
        cmocka_unit_test(test_bytes_before),
        cmocka_unit_test(test_count_bound),
        cmocka_unit_test(test_count_bound_of_one),
        cmocka_unit_test(test_byte_bound),
        cmocka_unit_test(test_oversize_entry_kept),
        cmocka_unit_test(test_age_eviction),
        cmocka_unit_test(test_set_limits_evicts_now),
        cmocka_unit_test(test_wrap_around_through_growths),
        cmocka_unit_test(test_find_after_sparse),
        cmocka_unit_test(test_has_gap),
        cmocka_unit_test(test_references_are_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
