/* SPDX-License-Identifier: MIT */
/* The channel message of the Redis engine: what decodes, and what is refused whole. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/redis_msg.h"

static int
decode(const char *s, struct rp_redis_msg *m)
{
    return rp_redis_msg_decode(s, strlen(s), m);
}

static void
decodes(void **state)
{
    (void)state;
    struct rp_redis_msg m;
    assert_int_equal(decode("5f3a9c21:1042:1733300000000:0:6:0:updatehello\nworld", &m), 0);
    assert_int_equal(m.epoch, 0x5f3a9c21);
    assert_int_equal(m.seq, 1042);
    assert_int_equal(m.wall_ms, 1733300000000);
    assert_int_equal(m.group, 0);
    assert_int_equal(m.event_len, 6);
    assert_memory_equal(m.event, "update", 6);
    assert_null(m.pub_id);
    assert_int_equal(m.data_len, 11);
    assert_memory_equal(m.data, "hello\nworld", 11);

    /* No type, empty data. */
    assert_int_equal(decode("00000001:1:0:0:0:0:", &m), 0);
    assert_null(m.event);
    assert_int_equal(m.data_len, 0);
    /* Data may hold colons and digits. */
    assert_int_equal(decode("00000001:7:0:0:0:0:12:34", &m), 0);
    assert_int_equal(m.data_len, 5);
    /* A publisher id, and the group of an update over several topics. */
    assert_int_equal(decode("00000001:8:5:7:1:8:torder-42{}", &m), 0);
    assert_int_equal(m.group, 7);
    assert_memory_equal(m.event, "t", 1);
    assert_int_equal(m.pub_id_len, 8);
    assert_memory_equal(m.pub_id, "order-42", 8);
    assert_int_equal(m.data_len, 2);
    assert_memory_equal(m.data, "{}", 2);
    /* A type of 128 bytes, as a publish allows. */
    char longest[200];
    snprintf(longest, sizeof(longest), "00000001:9:0:0:128:0:%0128dx", 0);
    assert_int_equal(decode(longest, &m), 0);
    assert_int_equal(m.event_len, 128);
    assert_int_equal(m.data_len, 1);
}

static void
refuses(void **state)
{
    (void)state;
    struct rp_redis_msg m;
    const char *bad[] = {
        "",
        "5f3a9c21",
        "5f3a9c2:1:0:0:0:0:",                    /* short epoch */
        "5F3A9C21:1:0:0:0:0:",                   /* upper case */
        "5f3a9c21:0:0:0:0:0:",                   /* sequence 0 */
        "5f3a9c21:01:0:0:0:0:",                  /* leading zero */
        "5f3a9c21:-1:0:0:0:0:",                  /* sign */
        "5f3a9c21:1:0:0:0:0",                    /* no colon after the id length */
        "5f3a9c21:1:0:0:0:",                     /* no id length (the old format) */
        "5f3a9c21:1:0:0:5:0:abc",                /* type longer than what is left */
        "5f3a9c21:1:0:0:2:2:abc",                /* id longer than what is left */
        "5f3a9c21:1:0:0:129:0:",                 /* type over 128 bytes */
        "5f3a9c21:1:0:0:0:130:",                 /* id over 129 bytes */
        "5f3a9c21:3:0:4:0:0:",                   /* group after the event */
        "5f3a9c21:9223372036854775808:0:0:0:0:", /* over INT64_MAX */
        "5f3a9c21:1:x:0:0:0:",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (decode(bad[i], &m) != -EINVAL)
            fail_msg("accepted: \"%s\"", bad[i]);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decodes),
        cmocka_unit_test(refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
