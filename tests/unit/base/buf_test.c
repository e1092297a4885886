/* SPDX-License-Identifier: MIT */
/* Unit tests of base/buf: the hard cap, growth, printf, reserve, consume and cstr. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"

static void
test_append_and_cstr(void **state)
{
    struct rp_buf b;
    rp_buf_init(&b, 100);
    assert_int_equal(b.len, 0);
    assert_int_equal(rp_buf_append(&b, "hello", 5), 0);
    assert_int_equal(rp_buf_append_str(&b, ", world"), 0);
    assert_int_equal(b.len, 12);
    assert_memory_equal(b.data, "hello, world", 12);
    assert_string_equal(rp_buf_cstr(&b), "hello, world");
    assert_int_equal(b.len, 12); /* the NUL is not counted */
    assert_int_equal(rp_buf_append(&b, "!", 1), 0);
    assert_string_equal(rp_buf_cstr(&b), "hello, world!");
    rp_buf_fini(&b);
}

static void
test_cap_is_hard(void **state)
{
    struct rp_buf b;
    rp_buf_init(&b, 10);
    assert_int_equal(rp_buf_append(&b, "0123456", 7), 0);
    /* 4 more would make 11: refused whole, nothing is appended. */
    assert_int_equal(rp_buf_append(&b, "7890", 4), -ENOBUFS);
    assert_int_equal(b.len, 7);
    /* Exactly up to the cap is fine. */
    assert_int_equal(rp_buf_append(&b, "789", 3), 0);
    assert_int_equal(b.len, 10);
    assert_string_equal(rp_buf_cstr(&b), "0123456789");
    assert_int_equal(rp_buf_append(&b, "x", 1), -ENOBUFS);
    assert_null(rp_buf_reserve(&b, 1));
    assert_int_equal(b.len, 10);
    /* Appending nothing always works. */
    assert_int_equal(rp_buf_append(&b, "", 0), 0);
    /* Never more storage than the cap and its NUL. */
    assert_true(b.alloc <= 11);
    rp_buf_fini(&b);
}

static void
test_huge_request_does_not_wrap(void **state)
{
    struct rp_buf b;
    rp_buf_init(&b, 64);
    assert_int_equal(rp_buf_append(&b, "ab", 2), 0);
    assert_null(rp_buf_reserve(&b, SIZE_MAX));
    assert_null(rp_buf_reserve(&b, SIZE_MAX - 1));
    assert_null(rp_buf_reserve(&b, 63));
    assert_int_equal(b.len, 2);
    rp_buf_fini(&b);
}

static void
test_unlimited_cap(void **state)
{
    /* SIZE_MAX is how a caller says "no cap of its own"; growth must still be right. */
    struct rp_buf b;
    rp_buf_init(&b, SIZE_MAX);
    char chunk[100];
    memset(chunk, 'q', sizeof(chunk));
    for (int i = 0; i < 50; i++)
        assert_int_equal(rp_buf_append(&b, chunk, sizeof(chunk)), 0);
    assert_int_equal(b.len, 5000);
    assert_true(b.alloc > b.len);
    for (size_t i = 0; i < b.len; i++)
        assert_int_equal(b.data[i], 'q');
    /* len + n + 1 would wrap to 0 here: refused rather than "no growth needed". */
    assert_null(rp_buf_reserve(&b, SIZE_MAX - b.len));
    assert_int_equal(b.len, 5000);
    rp_buf_fini(&b);
}

static void
test_zeroed_buffer(void **state)
{
    struct rp_buf b;
    memset(&b, 0, sizeof(b));
    assert_int_equal(rp_buf_append(&b, "a", 1), -ENOBUFS);
    assert_int_equal(rp_buf_printf(&b, "%d", 1), -ENOBUFS);
    assert_int_equal(b.len, 0);
    const char *s = rp_buf_cstr(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    rp_buf_fini(&b);
    assert_null(b.data);
}

static void
test_growth_keeps_content(void **state)
{
    struct rp_buf b;
    rp_buf_init(&b, 1 << 20);
    for (int i = 0; i < 10000; i++) {
        char c = (char)('a' + i % 26);
        assert_int_equal(rp_buf_append(&b, &c, 1), 0);
    }
    assert_int_equal(b.len, 10000);
    for (size_t i = 0; i < b.len; i++)
        assert_int_equal(b.data[i], 'a' + (int)(i % 26));
    assert_true(b.alloc >= b.len + 1);
    rp_buf_fini(&b);
}

static void
test_printf(void **state)
{
    struct rp_buf b;
    rp_buf_init(&b, 1000);
    assert_int_equal(rp_buf_printf(&b, "n=%d s=%s", 42, "x"), 0);
    assert_string_equal(rp_buf_cstr(&b), "n=42 s=x");
    /* Longer than the function's 256-byte stack buffer: the second path. */
    char big[400];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(rp_buf_printf(&b, "[%s]", big), 0);
    assert_int_equal(b.len, 8 + 401);
    assert_int_equal(b.data[8], '[');
    assert_int_equal(b.data[9], 'z');
    assert_int_equal(b.data[8 + 400], ']');
    /* Over the cap: refused, nothing appended, whichever path. */
    assert_int_equal(rp_buf_printf(&b, "%s%s", big, big), -ENOBUFS);
    assert_int_equal(b.len, 409);
    rp_buf_fini(&b);

    rp_buf_init(&b, 5);
    assert_int_equal(rp_buf_printf(&b, "%s", "123456"), -ENOBUFS);
    assert_int_equal(b.len, 0);
    assert_int_equal(rp_buf_printf(&b, "%s", "12345"), 0);
    assert_string_equal(rp_buf_cstr(&b), "12345");
    rp_buf_fini(&b);
}

static void
test_reserve(void **state)
{
    struct rp_buf b;
    rp_buf_init(&b, 16);
    char *p = rp_buf_reserve(&b, 4);
    assert_non_null(p);
    memcpy(p, "abcd", 4);
    b.len += 4;
    p = rp_buf_reserve(&b, 12);
    assert_non_null(p);
    assert_ptr_equal(p, b.data + 4);
    memcpy(p, "efghijklmnop", 12);
    b.len += 12;
    assert_string_equal(rp_buf_cstr(&b), "abcdefghijklmnop");
    assert_null(rp_buf_reserve(&b, 1));
    rp_buf_fini(&b);
}

static void
test_consume(void **state)
{
    struct rp_buf b;
    rp_buf_init(&b, 64);
    assert_int_equal(rp_buf_append_str(&b, "line1\nline2\n"), 0);
    rp_buf_consume(&b, 6);
    assert_int_equal(b.len, 6);
    assert_string_equal(rp_buf_cstr(&b), "line2\n");
    rp_buf_consume(&b, 0);
    assert_string_equal(rp_buf_cstr(&b), "line2\n");
    rp_buf_consume(&b, 100);
    assert_int_equal(b.len, 0);
    assert_string_equal(rp_buf_cstr(&b), "");
    /* The cap counts what is held, not what was ever appended. */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(rp_buf_append(&b, "0123456789", 10), 0);
        rp_buf_consume(&b, 10);
    }
    assert_int_equal(b.len, 0);
    rp_buf_fini(&b);
}

static void
test_fini_keeps_cap(void **state)
{
    struct rp_buf b;
    rp_buf_init(&b, 3);
    assert_int_equal(rp_buf_append(&b, "abc", 3), 0);
    rp_buf_fini(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 3);
    assert_int_equal(rp_buf_append(&b, "abcd", 4), -ENOBUFS);
    assert_int_equal(rp_buf_append(&b, "xyz", 3), 0);
    assert_string_equal(rp_buf_cstr(&b), "xyz");
    rp_buf_fini(&b);
    rp_buf_fini(&b); /* twice is harmless */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_cstr),
        cmocka_unit_test(test_cap_is_hard),
        cmocka_unit_test(test_huge_request_does_not_wrap),
        cmocka_unit_test(test_unlimited_cap),
        cmocka_unit_test(test_zeroed_buffer),
        cmocka_unit_test(test_growth_keeps_content),
        cmocka_unit_test(test_printf),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_consume),
        cmocka_unit_test(test_fini_keeps_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
