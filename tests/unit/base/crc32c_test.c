/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of base/crc32c: the check value and the RFC 3720 (iSCSI) vectors, the
 * instruction and the table agreeing on every length and alignment, and incremental
 * updates matching one pass.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/crc32c.h"

static void
test_known_vectors(void **state)
{
    unsigned char buf[32];
    assert_int_equal(rp_crc32c("123456789", 9), 0xE3069283u);
    assert_int_equal(rp_crc32c_table(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(rp_crc32c("", 0), 0);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(rp_crc32c(buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, sizeof(buf));
    assert_int_equal(rp_crc32c(buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)i;
    assert_int_equal(rp_crc32c(buf, 32), 0x46DD794Eu);
    assert_int_equal(rp_crc32c_table(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)(31 - i);
    assert_int_equal(rp_crc32c(buf, 32), 0x113FDB5Cu);
}

static void
test_table_matches_every_length_and_alignment(void **state)
{
    unsigned char buf[300];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(buf); i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n + off <= sizeof(buf); n++)
            assert_int_equal(rp_crc32c(buf + off, n), rp_crc32c_table(0, buf + off, n));
}

static void
test_incremental(void **state)
{
    const char *s = "The quick brown fox jumps over the lazy dog";
    size_t n = strlen(s);
    uint32_t whole = rp_crc32c(s, n);
    for (size_t cut = 0; cut <= n; cut++) {
        uint32_t c = rp_crc32c_update(0, s, cut);
        assert_int_equal(rp_crc32c_update(c, s + cut, n - cut), whole);
        c = rp_crc32c_table(0, s, cut);
        assert_int_equal(rp_crc32c_table(c, s + cut, n - cut), whole);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vectors),
        cmocka_unit_test(test_table_matches_every_length_and_alignment),
        cmocka_unit_test(test_incremental),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
