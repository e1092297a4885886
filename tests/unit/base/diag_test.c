/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of base/diag: set and prefix format as printf does, a NULL diag is accepted,
 * and a message too long for the buffer is cut at its end, never inside a UTF-8 sequence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/diag.h"
#include "base/utf8.h"

#define CAP (sizeof(((struct rp_diag *)0)->msg))

static void
test_set_and_clear(void **state)
{
    struct rp_diag d = {{0}};
    assert_string_equal(d.msg, "");
    rp_diag_set(&d, "%s:%d: %s", "a.conf", 3, "unknown key");
    assert_string_equal(d.msg, "a.conf:3: unknown key");
    rp_diag_set(&d, "second");
    assert_string_equal(d.msg, "second");
    rp_diag_clear(&d);
    assert_string_equal(d.msg, "");
    /* NULL: the message is dropped. */
    rp_diag_set(NULL, "x %d", 1);
    rp_diag_prefix(NULL, "x %d", 1);
    rp_diag_clear(NULL);
}

static void
test_prefix(void **state)
{
    struct rp_diag d = {{0}};
    rp_diag_set(&d, "bad value");
    rp_diag_prefix(&d, "%s:%d: ", "b.conf", 12);
    assert_string_equal(d.msg, "b.conf:12: bad value");
    rp_diag_clear(&d);
    rp_diag_prefix(&d, "only");
    assert_string_equal(d.msg, "only");
}

/* A message of <n> copies of <ch> (a UTF-8 character of <w> bytes) is cut to whole ones. */
static void
check_cut(const char *ch, size_t w)
{
    char text[2 * CAP];
    size_t n = (sizeof(text) - 1) / w;
    for (size_t i = 0; i < n; i++)
        memcpy(text + i * w, ch, w);
    text[n * w] = '\0';
    for (size_t lead = 0; lead < 4; lead++) {
        /* Shift the characters by <lead> ASCII bytes so every cut position is tried. */
        struct rp_diag d;
        memset(&d, 'z', sizeof(d));
        rp_diag_set(&d, "%.*s%s", (int)lead, "....", text);
        size_t len = strlen(d.msg);
        assert_true(len < CAP);
        assert_true(len + w > CAP - 1); /* nothing more would have fit */
        assert_int_equal((len - lead) % w, 0);
        assert_true(rp_utf8_valid(d.msg, len, NULL));

        rp_diag_set(&d, "tail");
        rp_diag_prefix(&d, "%.*s%s", (int)lead, "....", text);
        len = strlen(d.msg);
        assert_true(len < CAP && len + w > CAP - 1);
        assert_true(rp_utf8_valid(d.msg, len, NULL));

        rp_diag_set(&d, "%.*s%s", (int)lead, "....", text + w * 20);
        rp_diag_prefix(&d, "%s", text);
        len = strlen(d.msg);
        assert_true(len < CAP && len + w > CAP - 1);
        assert_true(rp_utf8_valid(d.msg, len, NULL));
    }
}

static void
test_cut_whole_characters(void **state)
{
    check_cut("a", 1);
    check_cut("\xc3\xa9", 2);         /* é */
    check_cut("\xe2\x82\xac", 3);     /* € */
    check_cut("\xf0\x9f\x98\x80", 4); /* an emoji */
}

static void
test_prefix_cuts_the_end(void **state)
{
    struct rp_diag d;
    char text[CAP];
    memset(text, 'm', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    rp_diag_set(&d, "%s", text);
    assert_int_equal(strlen(d.msg), CAP - 1);
    rp_diag_prefix(&d, "where: ");
    assert_int_equal(strlen(d.msg), CAP - 1);
    assert_memory_equal(d.msg, "where: mmm", 10);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_and_clear),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_cut_whole_characters),
        cmocka_unit_test(test_prefix_cuts_the_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
