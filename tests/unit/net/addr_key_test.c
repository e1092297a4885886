/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of net/addr_key: IPv4, IPv4-mapped IPv6 and socket addresses of either
 * family give equal keys for the same address; IPv6 spellings normalise; anything that is
 * not exactly one address is refused; formatting round-trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

#include "net/addr_key.h"

static struct rp_addr_key
parse(const char *text)
{
    struct rp_addr_key k;
    if (rp_addr_key_parse(text, strlen(text), &k) != 0)
        fail_msg("'%s' should parse", text);
    return k;
}

static bool
same(struct rp_addr_key a, struct rp_addr_key b)
{
    return rp_addr_key_equal(&a, &b);
}

static void
test_v4_forms_are_one_key(void **state)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(443)};
    assert_int_equal(inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr), 1);
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(8080)};
    assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.7", &sin6.sin6_addr), 1);

    struct rp_addr_key from_v4, from_v6;
    assert_int_equal(rp_addr_key_from_sockaddr((const struct sockaddr *)&sin, &from_v4), 0);
    assert_int_equal(rp_addr_key_from_sockaddr((const struct sockaddr *)&sin6, &from_v6), 0);
    assert_true(same(from_v4, from_v6));
    assert_true(same(from_v4, parse("192.0.2.7")));
    assert_true(same(from_v4, parse("::ffff:192.0.2.7")));
    assert_true(same(from_v4, parse("::FFFF:c000:0207")));
    assert_true(rp_addr_key_is_v4(&from_v4));

    static const uint8_t want[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7};
    assert_memory_equal(from_v4.b, want, 16);
}

static void
test_v6_spellings_and_distinct_addresses(void **state)
{
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr), 1);
    struct rp_addr_key k;
    assert_int_equal(rp_addr_key_from_sockaddr((const struct sockaddr *)&sin6, &k), 0);
    assert_false(rp_addr_key_is_v4(&k));

    assert_true(same(k, parse("2001:db8::1")));
    assert_true(same(k, parse("2001:DB8:0:0:0::1")));
    assert_true(same(k, parse("2001:0db8:0000:0000:0000:0000:0000:0001")));
    assert_true(same(k, parse("[2001:db8::1]")));
    assert_true(same(k, parse(" \t2001:db8::1 ")));

    assert_false(same(k, parse("2001:db8::2")));
    assert_false(same(parse("::1"), parse("127.0.0.1")));
    /* The deprecated IPv4-compatible form is another address than the mapped one. */
    assert_false(same(parse("::192.0.2.7"), parse("192.0.2.7")));
    assert_false(same(parse("10.0.0.1"), parse("10.0.0.2")));
}

static void
test_parse_refuses_non_addresses(void **state)
{
    static const char *const bad[] = {
        "",           "   ",
        "1.2.3",      "1.2.3.4.5",
        "256.1.1.1",  "1.2.3.4:80",
        "[1.2.3.4]",  "[::1",
        "::1]",       "fe80::1%eth0",
        "abc",        "::g",
        "1.2.3.4 5",  "1:2:3:4:5:6:7:8:9",
        "unknown",    "1.2.3.4,5.6.7.8",
        "0x7f.0.0.1", "[::1]:443",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rp_addr_key k;
        memset(&k, 0xaa, sizeof(k));
        if (rp_addr_key_parse(bad[i], strlen(bad[i]), &k) != -EINVAL)
            fail_msg("'%s' should be refused", bad[i]);
        static const struct rp_addr_key zero;
        assert_true(rp_addr_key_equal(&k, &zero));
    }
    /* An embedded NUL, and input longer than any address. */
    struct rp_addr_key k;
    assert_int_equal(rp_addr_key_parse("1.2.3.4\0", 8, &k), -EINVAL);
    char longer[100];
    memset(longer, '1', sizeof(longer));
    assert_int_equal(rp_addr_key_parse(longer, sizeof(longer), &k), -EINVAL);
}

static void
test_parse_reads_only_len_bytes(void **state)
{
    struct rp_addr_key k;
    assert_int_equal(rp_addr_key_parse("10.1.2.34, 10.9.9.9", 8, &k), 0);
    assert_true(same(k, parse("10.1.2.3")));
    assert_int_equal(rp_addr_key_parse("::12", 3, &k), 0);
    assert_true(same(k, parse("::1")));
}

static void
test_other_families_are_refused(void **state)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct rp_addr_key k;
    memset(&k, 0xaa, sizeof(k));
    assert_int_equal(rp_addr_key_from_sockaddr((const struct sockaddr *)&sun, &k), -EAFNOSUPPORT);
    static const struct rp_addr_key zero;
    assert_true(rp_addr_key_equal(&k, &zero));
}

static void
test_format(void **state)
{
    char out[RP_ADDR_KEY_STRLEN];
    struct rp_addr_key k = parse("::ffff:198.51.100.200");
    assert_int_equal(rp_addr_key_format(&k, out, sizeof(out)), 0);
    assert_string_equal(out, "198.51.100.200");

    k = parse("2001:0DB8:0:0:1:0:0:1");
    assert_int_equal(rp_addr_key_format(&k, out, sizeof(out)), 0);
    assert_string_equal(out, "2001:db8::1:0:0:1");
    assert_true(same(k, parse(out)));

    k = parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    assert_int_equal(rp_addr_key_format(&k, out, sizeof(out)), 0);
    assert_string_equal(out, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");

    char small[8];
    assert_int_equal(rp_addr_key_format(&k, small, sizeof(small)), -ENOSPC);
    assert_string_equal(small, "");
    k = parse("1.2.3.4");
    assert_int_equal(rp_addr_key_format(&k, small, sizeof(small)), 0);
    assert_string_equal(small, "1.2.3.4");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4_forms_are_one_key),
        cmocka_unit_test(test_v6_spellings_and_distinct_addresses),
        cmocka_unit_test(test_parse_refuses_non_addresses),
        cmocka_unit_test(test_parse_reads_only_len_bytes),
        cmocka_unit_test(test_other_families_are_refused),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
