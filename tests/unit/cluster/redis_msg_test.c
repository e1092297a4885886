/* SPDX-License-Identifier: MIT */
/* The channel message of the Redis engine: what decodes, and what is refused whole. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
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
    assert_int_equal(decode("5f3a9c21:1042:1733300000000:6:updatehello\nworld", &m), 0);
    assert_int_equal(m.epoch, 0x5f3a9c21);
    assert_int_equal(m.seq, 1042);
    assert_int_equal(m.wall_ms, 1733300000000);
    assert_int_equal(m.event_len, 6);
    assert_memory_equal(m.event, "update", 6);
    assert_int_equal(m.data_len, 11);
    assert_memory_equal(m.data, "hello\nworld", 11);

    /* No type, empty data. */
    assert_int_equal(decode("00000001:1:0:0:", &m), 0);
    assert_null(m.event);
    assert_int_equal(m.data_len, 0);
    /* Data may hold colons and digits. */
    assert_int_equal(decode("00000001:7:0:0:12:34", &m), 0);
    assert_int_equal(m.data_len, 5);
}

static void
refuses(void **state)
{
    (void)state;
    struct rp_redis_msg m;
    const char *bad[] = {
        "",
        "5f3a9c21",
        "5f3a9c2:1:0:0:",                    /* short epoch */
        "5F3A9C21:1:0:0:",                   /* upper case */
        "5f3a9c21:0:0:0:",                   /* sequence 0 */
        "5f3a9c21:01:0:0:",                  /* leading zero */
        "5f3a9c21:-1:0:0:",                  /* sign */
        "5f3a9c21:1:0:0",                    /* no colon after the type length */
        "5f3a9c21:1:0:5:abc",                /* type longer than what is left */
        "5f3a9c21:1:0:65:",                  /* type over 64 bytes */
        "5f3a9c21:9223372036854775808:0:0:", /* over INT64_MAX */
        "5f3a9c21:1:x:0:",
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
