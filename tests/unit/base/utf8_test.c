/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of base/utf8: boundary code points, every class of ill-formed sequence, the
 * reported offset, and an exhaustive comparison with a reference decoder over all one-
 * and two-byte strings and all three-byte strings that start with a multi-byte lead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/utf8.h"

static bool
valid(const char *s)
{
    return rp_utf8_valid(s, strlen(s), NULL);
}

static void
test_valid_boundaries(void **state)
{
    static const char *const ok[] = {
        "",
        "plain ASCII \x01\x7f",
        "\xc2\x80",         /* U+0080 */
        "\xdf\xbf",         /* U+07FF */
        "\xe0\xa0\x80",     /* U+0800 */
        "\xed\x9f\xbf",     /* U+D7FF, last before the surrogates */
        "\xee\x80\x80",     /* U+E000, first after them */
        "\xef\xbf\xbf",     /* U+FFFF */
        "\xf0\x90\x80\x80", /* U+10000 */
        "\xf4\x8f\xbf\xbf", /* U+10FFFF */
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (!valid(ok[i]))
            fail_msg("case %zu should be valid", i);
    /* NUL is a valid character: the length, not a terminator, bounds the input. */
    assert_true(rp_utf8_valid("a\0b", 3, NULL));
}

struct bad_case {
    const char *s;
    size_t bad_at;
};

static void
test_invalid(void **state)
{
    static const struct bad_case bad[] = {
        {"\x80", 0},                 /* lone continuation */
        {"ab\xbf", 2},               /* lone continuation after ASCII */
        {"\xc0\x80", 0},             /* overlong NUL */
        {"\xc1\xbf", 0},             /* overlong U+007F */
        {"\xe0\x9f\xbf", 0},         /* overlong U+07FF */
        {"\xed\xa0\x80", 0},         /* U+D800 */
        {"\xed\xbf\xbf", 0},         /* U+DFFF */
        {"\xf0\x8f\xbf\xbf", 0},     /* overlong U+FFFF */
        {"\xf4\x90\x80\x80", 0},     /* U+110000 */
        {"\xf5\x80\x80\x80", 0},     /* lead past U+10FFFF */
        {"\xf8\x88\x80\x80\x80", 0}, /* 5-byte form */
        {"\xff", 0},
        {"\xfe", 0},
        {"x\xe2\x82", 1},        /* truncated at the end */
        {"\xc3", 0},             /* truncated at the end */
        {"\xf0\x9f\x98", 0},     /* truncated at the end */
        {"\xe2\x28\xa1", 0},     /* bad second byte */
        {"\xe2\x82\x28", 0},     /* bad third byte */
        {"\xf0\x9f\x98\x28", 0}, /* bad fourth byte */
        {"\xc3\xa9\xc3", 2},     /* good, then truncated */
        {"abc\xc3(", 3},         /* continuation missing mid-string */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t at = 12345;
        if (rp_utf8_valid(bad[i].s, strlen(bad[i].s), &at))
            fail_msg("case %zu should be invalid", i);
        if (at != bad[i].bad_at)
            fail_msg("case %zu: bad_at %zu, expected %zu", i, at, bad[i].bad_at);
    }
}

static void
test_only_len_bytes_are_read(void **state)
{
    /* A valid prefix of an invalid buffer is valid, and a cut sequence is not. */
    assert_true(rp_utf8_valid("ab\xff", 2, NULL));
    assert_false(rp_utf8_valid("\xe2\x82\xac", 2, NULL));
    assert_true(rp_utf8_valid("\xe2\x82\xac", 3, NULL));
}

/* Reference: decode by the generic rules, then reject overlongs, surrogates, > U+10FFFF. */
static bool
ref_valid(const unsigned char *s, size_t len, size_t *bad_at)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i], n;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4, cp = c & 0x07, min = 0x10000;
        } else {
            goto bad;
        }
        if (i + n > len)
            goto bad;
        for (unsigned k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                goto bad;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            goto bad;
        i += n;
    }
    return true;
bad:
    *bad_at = i;
    return false;
}

static void
compare(const unsigned char *s, size_t len)
{
    size_t want_at = SIZE_MAX, got_at = SIZE_MAX;
    bool want = ref_valid(s, len, &want_at);
    bool got = rp_utf8_valid((const char *)s, len, &got_at);
    if (want != got || want_at != got_at)
        fail_msg("%zu bytes %02x %02x %02x: reference %d at %zu, rp_utf8_valid %d at %zu", len,
                 s[0], len > 1 ? s[1] : 0, len > 2 ? s[2] : 0, want, want_at, got, got_at);
}

static void
test_exhaustive_short(void **state)
{
    unsigned char s[4];
    size_t n_valid = 0;
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (unsigned char)a;
        compare(s, 1);
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (unsigned char)b;
            compare(s, 2);
            n_valid += rp_utf8_valid((const char *)s, 2, NULL);
            if (a < 0xc0)
                continue;
            for (unsigned c = 0; c < 256; c++) {
                s[2] = (unsigned char)c;
                compare(s, 3);
            }
        }
    }
    /* 128*128 ASCII pairs plus the 1920 two-byte code points U+0080..U+07FF. */
    assert_int_equal(n_valid, 128 * 128 + 1920);
}

static void
test_four_byte_space(void **state)
{
    /* All leads F0..F7 with every second byte and a few continuation tails. */
    static const unsigned char tails[] = {0x00, 0x7f, 0x80, 0xbf, 0xc0};
    unsigned char s[4];
    size_t n_valid = 0;
    for (unsigned a = 0xf0; a <= 0xf7; a++)
        for (unsigned b = 0; b < 256; b++)
            for (size_t c = 0; c < sizeof(tails); c++)
                for (size_t d = 0; d < sizeof(tails); d++) {
                    s[0] = (unsigned char)a, s[1] = (unsigned char)b;
                    s[2] = tails[c], s[3] = tails[d];
                    compare(s, 4);
                    n_valid += rp_utf8_valid((const char *)s, 4, NULL);
                }
    /* F0: 48 second bytes (90..BF), F1-F3: 64 each, F4: 16 (80..8F); tails 80 and BF. */
    assert_int_equal(n_valid, (48 + 3 * 64 + 16) * 2 * 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_boundaries),        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_only_len_bytes_are_read), cmocka_unit_test(test_exhaustive_short),
        cmocka_unit_test(test_four_byte_space),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
