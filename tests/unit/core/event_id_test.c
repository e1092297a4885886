/* SPDX-License-Identifier: MIT */
/* Unit tests of core/event_id: formatting, strict parsing, round trips. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/event_id.h"

static int
parse(const char *s, struct rp_event_id *out)
{
    return rp_event_id_parse(s, strlen(s), out);
}

static void
test_format(void **state)
{
    char buf[RP_EVENT_ID_MAX + 1];
    struct rp_event_id id = {.epoch = 0x5f3a9c21, .seq = 1042};
    assert_int_equal(rp_event_id_format(&id, buf), 13);
    assert_string_equal(buf, "5f3a9c21-1042");

    id = (struct rp_event_id){.epoch = 0xab, .seq = 1};
    assert_int_equal(rp_event_id_format(&id, buf), 10);
    assert_string_equal(buf, "000000ab-1");

    id = (struct rp_event_id){.epoch = UINT32_MAX, .seq = INT64_MAX};
    assert_int_equal(rp_event_id_format(&id, buf), RP_EVENT_ID_MAX);
    assert_string_equal(buf, "ffffffff-9223372036854775807");
}

static void
test_parse(void **state)
{
    struct rp_event_id id = {0, 0};
    assert_int_equal(parse("5f3a9c21-1042", &id), 0);
    assert_int_equal(id.epoch, 0x5f3a9c21);
    assert_int_equal(id.seq, 1042);

    assert_int_equal(parse("00000000-1", &id), 0);
    assert_int_equal(id.epoch, 0);
    assert_int_equal(id.seq, 1);

    assert_int_equal(parse("ffffffff-9223372036854775807", &id), 0);
    assert_int_equal(id.epoch, UINT32_MAX);
    assert_true(id.seq == (uint64_t)INT64_MAX);

    assert_int_equal(parse("0123abcd-1000000000000000000", &id), 0);
    assert_int_equal(id.epoch, 0x0123abcd);
    assert_true(id.seq == 1000000000000000000ULL);
}

/* `<epoch>-0`, the epoch's origin (a live stream's opening id before the first event),
 * parses to seq 0 and formats back to the same bytes; only the lone `0` is allowed. */
static void
test_origin(void **state)
{
    struct rp_event_id id = {.epoch = 7, .seq = 7};
    assert_int_equal(parse("5f3a9c21-0", &id), 0);
    assert_int_equal(id.epoch, 0x5f3a9c21);
    assert_int_equal(id.seq, 0);
    char buf[RP_EVENT_ID_MAX + 1];
    assert_int_equal(rp_event_id_format(&id, buf), 10);
    assert_string_equal(buf, "5f3a9c21-0");
    assert_int_equal(parse("5f3a9c21-00", &id), -EINVAL);
    assert_int_equal(parse("5f3a9c21-01", &id), -EINVAL);
}

static void
test_parse_reads_exactly_len(void **state)
{
    struct rp_event_id id = {0, 0};
    /* The first 10 bytes are an id; the rest of the buffer is not looked at. */
    assert_int_equal(rp_event_id_parse("00000001-2345", 10, &id), 0);
    assert_int_equal(id.epoch, 1);
    assert_int_equal(id.seq, 2);
    /* Not NUL-terminated at all. */
    char raw[12];
    memcpy(raw, "0000000a-77", 11);
    raw[11] = 'x';
    assert_int_equal(rp_event_id_parse(raw, 11, &id), 0);
    assert_int_equal(id.epoch, 10);
    assert_int_equal(id.seq, 77);
}

static void
test_parse_rejects(void **state)
{
    static const char *const bad[] = {
        "",                              /* empty */
        "5F3A9C21-1042",                 /* uppercase hex */
        "5f3a9C21-1042",                 /* one uppercase digit */
        "5f3a9c2-1042",                  /* 7 hex digits */
        "5f3a9c210-1042",                /* 9 hex digits */
        "5f3a9c21-01",                   /* leading zero */
        "5f3a9c21-00",                   /* zeros */
        "5f3a9c21-9223372036854775808",  /* 2^63 */
        "5f3a9c21-18446744073709551616", /* 2^64 */
        "5f3a9c21-99999999999999999999", /* 20 digits */
        "5f3a9c21-1042x",                /* trailing junk */
        "5f3a9c21-1042 ",                /* trailing space */
        "5f3a9c21-1042\n",               /* trailing LF */
        " 5f3a9c21-1042",                /* leading space */
        "5f3a9c21-",                     /* no seq */
        "5f3a9c21",                      /* no separator */
        "5f3a9c21_1042",                 /* wrong separator */
        "5f3a9c21--1",                   /* sign */
        "5f3a9c21-+1",                   /* sign */
        "5f3a9g21-1",                    /* not hex */
        "5f3a9c21-1a",                   /* hex seq */
        "-5f3a9c21-1",
        "5f3a9c211042",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rp_event_id id = {.epoch = 7, .seq = 7};
        if (parse(bad[i], &id) != -EINVAL)
            fail_msg("'%s' should be rejected with -EINVAL", bad[i]);
        /* A rejected id leaves the output alone. */
        assert_int_equal(id.epoch, 7);
        assert_int_equal(id.seq, 7);
    }
    struct rp_event_id id;
    assert_int_equal(rp_event_id_parse("5f3a9c21-1\0", 11, &id), -EINVAL); /* embedded NUL */
}

static uint64_t
xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void
test_round_trip(void **state)
{
    uint64_t rng = 0x1234567887654321ULL;
    for (int i = 0; i < 10000; i++) {
        uint64_t r = xorshift(&rng);
        /* Spread seqs over every magnitude, 1 to 2^63-1. */
        uint64_t seq = (xorshift(&rng) >> (1 + r % 63)) | 1;
        struct rp_event_id in = {.epoch = (uint32_t)(r >> 32), .seq = seq}, out = {0, 0};
        char buf[RP_EVENT_ID_MAX + 1];
        size_t len = rp_event_id_format(&in, buf);
        assert_int_equal(len, strlen(buf));
        assert_int_equal(rp_event_id_parse(buf, len, &out), 0);
        assert_int_equal(out.epoch, in.epoch);
        assert_true(out.seq == in.seq);
    }
}

static void
test_ids_only_use_safe_bytes(void **state)
{
    struct rp_event_id id = {.epoch = 0xdeadbeef, .seq = 1234567890123ULL};
    char buf[RP_EVENT_ID_MAX + 1];
    size_t len = rp_event_id_format(&id, buf);
    assert_int_equal(strspn(buf, "0123456789abcdef-"), len);
}

static int
vparse(const char *s, struct rp_event_vector *out)
{
    return rp_event_vector_parse(s, strlen(s), out);
}

static void
test_vector(void **state)
{
    struct rp_event_vector v;
    assert_int_equal(vparse("5f3a9c21-1042.77aa0012-93.1b2c3d4e-7", &v), 0);
    assert_int_equal(v.n, 3);
    assert_int_equal(v.part[0].epoch, 0x5f3a9c21);
    assert_int_equal(v.part[0].seq, 1042);
    assert_int_equal(rp_event_vector_get(&v, 0x77aa0012), 93);
    assert_int_equal(rp_event_vector_get(&v, 0x1b2c3d4e), 7);
    assert_int_equal(rp_event_vector_get(&v, 0x12345678), 0);
    char buf[RP_EVENT_VECTOR_MAX + 1];
    assert_int_equal(rp_event_vector_format(&v, buf), 36);
    assert_string_equal(buf, "5f3a9c21-1042.77aa0012-93.1b2c3d4e-7");

    /* A one-part vector is an ordinary id. */
    assert_int_equal(vparse("5f3a9c21-1042", &v), 0);
    assert_int_equal(v.n, 1);

    /* Refused: empty parts, a repeated origin, a bad part, more than the cap. */
    const char *bad[] = {"",
                         ".",
                         "5f3a9c21-1.",
                         ".5f3a9c21-1",
                         "5f3a9c21-1..77aa0012-2",
                         "5f3a9c21-1.5f3a9c21-2",
                         "5f3a9c21-1.77aa0012-01",
                         "5f3a9c21-1,77aa0012-2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(vparse(bad[i], &v), -EINVAL);

    /* The longest: 16 parts of 28 bytes, and a 17th part is refused. */
    struct rp_event_vector full = {0};
    for (uint32_t i = 0; i < RP_EVENT_ID_PARTS_MAX; i++)
        assert_int_equal(rp_event_vector_set(&full, 0xf0000000u + i, INT64_MAX), 0);
    assert_int_equal(rp_event_vector_set(&full, 1, 1), -ENOSPC);
    assert_int_equal(rp_event_vector_set(&full, 0xf0000003u, 5), 0); /* an update fits */
    assert_int_equal(rp_event_vector_get(&full, 0xf0000003u), 5);
    full.part[3].seq = INT64_MAX;
    size_t len = rp_event_vector_format(&full, buf);
    assert_int_equal(len, RP_EVENT_VECTOR_MAX);
    assert_int_equal(vparse(buf, &v), 0);
    assert_int_equal(v.n, RP_EVENT_ID_PARTS_MAX);
    char longer[RP_EVENT_VECTOR_MAX + 16];
    memcpy(longer, buf, len);
    memcpy(longer + len, ".00000001-1", 12);
    assert_int_equal(vparse(longer, &v), -EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_parse_reads_exactly_len),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_ids_only_use_safe_bytes),
        cmocka_unit_test(test_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
