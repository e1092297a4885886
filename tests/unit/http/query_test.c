/* SPDX-License-Identifier: MIT */
/* Unit tests of http/query: decoding, '+' both ways, lookups, repeated names, every cap. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/query.h"

static const struct rp_query_limits limits = {
    .max_bytes = 4096,
    .max_params = 16,
    .max_name = 32,
    .max_value = 64,
};

/* Parses <s> under <lim>, which must succeed. */
static void
parse_ok(struct rp_query *q, const char *s, const struct rp_query_limits *lim)
{
    struct rp_query_error err = {0};
    assert_int_equal(rp_query_parse(q, s, strlen(s), lim, &err), 0);
    assert_int_equal(err.status, 0);
}

/* Parses <s>, which must fail with <rc> and a 400 whose message contains <want>. */
static void
parse_fails(const char *s, size_t len, const struct rp_query_limits *lim, int rc, const char *want)
{
    struct rp_query q;
    struct rp_query_error err = {0};
    assert_int_equal(rp_query_parse(&q, s, len, lim, &err), rc);
    assert_int_equal(err.status, 400);
    if (!strstr(err.message, want))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, want);
    /* A refused query is empty, and still safe to look into and to free. */
    assert_int_equal(q.n_params, 0);
    assert_null(q.params);
    assert_null(rp_query_get(&q, "a"));
    rp_query_fini(&q);
}

static void
test_pairs_in_order(void **state)
{
    struct rp_query q;
    parse_ok(&q, "topic=a%2Fb&x=1+2&&flag&=v&e=&k=a=b&s+p=%c3%A9&", &limits);
    static const struct {
        const char *name, *value, *value_plus;
    } want[] = {
        {"topic", "a/b", "a/b"},
        {"x", "1 2", "1+2"},
        {"flag", "", ""},
        {"", "v", "v"},
        {"e", "", ""},
        {"k", "a=b", "a=b"},
        {"s p", "\xc3\xa9", "\xc3\xa9"},
    };
    assert_int_equal(q.n_params, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < q.n_params; i++) {
        const struct rp_query_param *p = &q.params[i];
        assert_string_equal(p->name, want[i].name);
        assert_int_equal(p->name_len, strlen(want[i].name));
        assert_string_equal(p->value, want[i].value);
        assert_string_equal(p->value_plus, want[i].value_plus);
        assert_int_equal(p->value_len, strlen(want[i].value));
    }
    rp_query_fini(&q);
    assert_int_equal(q.n_params, 0);
    rp_query_fini(&q); /* twice is fine: fini leaves it empty */
}

static void
test_empty_queries(void **state)
{
    static const char *const empties[] = {"", "&", "&&&"};
    for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
        struct rp_query q;
        parse_ok(&q, empties[i], &limits);
        assert_int_equal(q.n_params, 0);
        assert_null(q.mem);
        assert_null(rp_query_get(&q, ""));
        rp_query_fini(&q);
    }
    struct rp_query zero = {0};
    size_t pos = 0;
    assert_null(rp_query_next_named(&zero, "a", &pos));
    assert_int_equal(rp_query_count(&zero, "a"), 0);
    rp_query_fini(&zero);
}

/* '+' is a space in form encoding but the one-level wildcard in topic filters, and tokens
 * may hold it: rp_query_get_plus keeps it. %2B is '+' both ways; %20 is a space both ways. */
static void
test_plus_both_ways(void **state)
{
    struct rp_query q;
    parse_ok(&q, "topic=sport/+&topic=%2B/x&auth=ab+cd%2Bef&q=a%20b+c&n+m=1", &limits);
    assert_string_equal(rp_query_get(&q, "topic"), "sport/ ");
    assert_string_equal(rp_query_get_plus(&q, "topic"), "sport/+");
    assert_string_equal(rp_query_get(&q, "auth"), "ab cd+ef");
    assert_string_equal(rp_query_get_plus(&q, "auth"), "ab+cd+ef");
    assert_string_equal(rp_query_get(&q, "q"), "a b c");
    assert_string_equal(rp_query_get_plus(&q, "q"), "a b+c");
    /* Names are always form-decoded. */
    assert_string_equal(rp_query_get(&q, "n m"), "1");
    assert_null(rp_query_get(&q, "n+m"));
    /* Without a raw '+' both views are one string. */
    assert_ptr_equal(q.params[1].value, q.params[1].value_plus);
    assert_string_equal(q.params[1].value, "+/x");
    assert_ptr_not_equal(q.params[0].value, q.params[0].value_plus);
    rp_query_fini(&q);
}

static void
test_get_first_and_absent(void **state)
{
    struct rp_query q;
    parse_ok(&q, "pattern=a&pattern=b&flag&Format=json&format=", &limits);
    /* The first of repeated names wins, as URLSearchParams.get does. */
    assert_string_equal(rp_query_get(&q, "pattern"), "a");
    assert_string_equal(rp_query_get_plus(&q, "pattern"), "a");
    /* Present without a value: "", which is not NULL (absent). */
    assert_string_equal(rp_query_get(&q, "flag"), "");
    assert_string_equal(rp_query_get(&q, "format"), "");
    assert_null(rp_query_get(&q, "missing"));
    assert_null(rp_query_get_plus(&q, "missing"));
    /* Names are exact bytes: no case folding, no prefix match. */
    assert_string_equal(rp_query_get(&q, "Format"), "json");
    assert_null(rp_query_get(&q, "FORMAT"));
    assert_null(rp_query_get(&q, "patter"));
    assert_null(rp_query_get(&q, "patterns"));
    rp_query_fini(&q);
}

static void
test_repeated_names(void **state)
{
    struct rp_query q;
    parse_ok(&q, "topic=a&lastEventId=5&topic=b/%2B&x=1&topic=c/+", &limits);
    assert_int_equal(rp_query_count(&q, "topic"), 3);
    assert_int_equal(rp_query_count(&q, "lastEventId"), 1);
    assert_int_equal(rp_query_count(&q, "nope"), 0);
    static const char *const want[] = {"a", "b/+", "c/+"};
    size_t pos = 0, n = 0;
    const struct rp_query_param *p;
    while ((p = rp_query_next_named(&q, "topic", &pos)) != NULL) {
        assert_true(n < 3);
        assert_string_equal(p->name, "topic");
        assert_string_equal(p->value_plus, want[n]);
        n++;
    }
    assert_int_equal(n, 3);
    /* The end stays the end. */
    assert_int_equal(pos, q.n_params);
    assert_null(rp_query_next_named(&q, "topic", &pos));
    assert_null(rp_query_next_named(&q, "x", &pos));
    rp_query_fini(&q);
}

static void
test_malformed(void **state)
{
    parse_fails("a=%zz", 5, &limits, -EINVAL,
                "query parameter \"a\" has a malformed percent escape");
    parse_fails("a=1&b=%2", 8, &limits, -EINVAL, "\"b\" has a malformed");
    parse_fails("a=%", 3, &limits, -EINVAL, "malformed percent escape");
    parse_fails("%4=1", 4, &limits, -EINVAL, "\"%4\" has a malformed");
    parse_fails("%g0", 3, &limits, -EINVAL, "malformed");
    parse_fails("c=%00", 5, &limits, -EILSEQ, "\"c\" decodes to a NUL byte");
    parse_fails("%00=1", 5, &limits, -EILSEQ, "NUL");
    /* A raw NUL inside the given length is refused too. */
    parse_fails("a=\0b", 4, &limits, -EILSEQ, "NUL");
    /* The first bad parameter is named; a long or odd name is cut (40 bytes) and made
     * printable. */
    parse_fails("ok=1&\x01tab\tname=%zz", 18, &limits, -EINVAL, "\"?tab?name\"");
    char q[200];
    memset(q, 'n', 100);
    memcpy(q + 100, "=%", 3);
    struct rp_query_limits wide = limits;
    wide.max_name = 200;
    char want[80];
    memset(want, 'n', sizeof(want));
    want[0] = '"';
    memcpy(want + 41, "...\" has a malformed", 21);
    parse_fails(q, strlen(q), &wide, -EINVAL, want);
    /* '%' followed by hex digits is fine in both name and value, either case. */
    struct rp_query good;
    parse_ok(&good, "%41%6a=%7e%7E%25", &limits);
    assert_string_equal(rp_query_get(&good, "Aj"), "~~%");
    rp_query_fini(&good);
}

static void
test_caps(void **state)
{
    struct rp_query q;
    struct rp_query_limits lim = {.max_bytes = 64, .max_params = 3, .max_name = 4, .max_value = 8};
    /* Exactly at every cap: accepted. */
    parse_ok(&q, "abcd=12345678&b=%41%42%43%44%45%46%47%48&c", &lim);
    assert_int_equal(q.n_params, 3);
    assert_string_equal(rp_query_get(&q, "b"), "ABCDEFGH");
    rp_query_fini(&q);
    /* Empty parameters are not counted. */
    parse_ok(&q, "&a&&b&&c&&", &lim);
    assert_int_equal(q.n_params, 3);
    rp_query_fini(&q);

    parse_fails("a&b&c&d", 7, &lim, -E2BIG, "more than 3 parameters");
    parse_fails("abcde=1", 7, &lim, -E2BIG, "\"abcde\": the name is longer than 4 bytes");
    parse_fails("a=123456789", 11, &lim, -E2BIG, "\"a\": the value is longer than 8 bytes");
    /* Escapes count decoded: 9 decoded bytes are one too many. */
    parse_fails("a=%41%42%43%44%45%46%47%48%49", 29, &lim, -E2BIG, "longer than 8");
    parse_fails("n+a+m=1", 7, &lim, -E2BIG, "\"n+a+m\": the name is longer");

    char big[80];
    memset(big, 'x', sizeof(big));
    big[0] = 'a';
    big[1] = '=';
    parse_fails(big, 65, &lim, -E2BIG, "the query string is 65 bytes; at most 64 are accepted");
    /* Parameters are checked in order: the first problem is the one reported. */
    parse_fails("abcde=1&x=%zz", 13, &lim, -E2BIG, "name is longer");
    parse_fails("x=%zz&abcde=1", 13, &lim, -EINVAL, "malformed");
}

/* A token of 64 KiB fits in a value, with '+' kept literal (standard base64 has '+'). */
static void
test_token_value(void **state)
{
    const size_t tok_len = 64 * 1024;
    struct rp_query_limits lim = {
        .max_bytes = 70 * 1024, .max_params = 8, .max_name = 64, .max_value = tok_len};
    char *s = malloc(tok_len + 64);
    assert_non_null(s);
    size_t n = (size_t)snprintf(s, 64, "topic=a&auth=");
    for (size_t i = 0; i < tok_len; i++)
        s[n + i] = i % 7 == 3 ? '+' : (char)('A' + i % 26);
    s[n + tok_len] = '\0';
    struct rp_query q;
    parse_ok(&q, s, &lim);
    const char *plus = rp_query_get_plus(&q, "auth");
    assert_non_null(plus);
    assert_int_equal(strlen(plus), tok_len);
    assert_memory_equal(plus, s + n, tok_len);
    assert_int_equal(q.params[1].value_len, tok_len);
    assert_int_equal(rp_query_get(&q, "auth")[3], ' ');
    rp_query_fini(&q);
    /* One byte more is refused. */
    memcpy(s + n + tok_len, "Z", 2);
    lim.max_bytes = tok_len + 64;
    parse_fails(s, strlen(s), &lim, -E2BIG, "\"auth\": the value is longer than 65536 bytes");
    free(s);
}

static void
test_pct_decode(void **state)
{
    char out[32];
    assert_int_equal(rp_query_pct_decode("a+b%2Bc%2f", 10, out, true), 6);
    assert_memory_equal(out, "a b+c/", 6);
    assert_int_equal(rp_query_pct_decode("a+b%2Bc%2f", 10, out, false), 6);
    assert_memory_equal(out, "a+b+c/", 6);
    assert_int_equal(rp_query_pct_decode("", 0, out, true), 0);
    assert_int_equal(rp_query_pct_decode("%", 1, out, false), -EINVAL);
    assert_int_equal(rp_query_pct_decode("%a", 2, out, false), -EINVAL);
    assert_int_equal(rp_query_pct_decode("%ag", 3, out, false), -EINVAL);
    assert_int_equal(rp_query_pct_decode("%00", 3, out, false), -EILSEQ);
    assert_int_equal(rp_query_pct_decode("a\0", 2, out, false), -EILSEQ);
    /* The length bounds the input, not a NUL. */
    assert_int_equal(rp_query_pct_decode("ab%41", 2, out, false), 2);
}

/* The parser and the allocation-free walker split and decode parameters the same way. */
static void
test_agrees_with_walker(void **state)
{
    static const char *const queries[] = {
        "topic=a%2Fb&x=1+2&&flag&=v&e=&k=a=b&s+p=%c3%A9&",
        "a=1&b=%zz&c=3",
        "==&=&&x==y",
        "%41=%42&a=b+c",
    };
    for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
        const char *s = queries[i];
        struct rp_query q;
        struct rp_query_error err;
        int rc = rp_query_parse(&q, s, strlen(s), &limits, &err);
        char key[64], value[64];
        size_t pos = 0, n = 0;
        int r;
        bool walker_ok = true;
        while ((r = rp_http_query_next(s, strlen(s), &pos, key, value, sizeof(key))) != 0) {
            if (r < 0) {
                walker_ok = false;
                continue;
            }
            if (rc == 0) {
                assert_true(n < q.n_params);
                assert_string_equal(q.params[n].name, key);
                assert_string_equal(q.params[n].value, value);
            }
            n++;
        }
        assert_int_equal(rc == 0, walker_ok);
        if (rc == 0)
            assert_int_equal(n, q.n_params);
        rp_query_fini(&q);
    }
}

/* A walker's key never takes more than RP_HTTP_QUERY_KEY_CAP bytes, even with a value-sized
 * <cap>: callers keep names in small buffers. */
static void
test_walker_key_cap(void **state)
{
    const size_t cap = 64 * 1024 + 1, long_len = 3000;
    char *q = malloc(2 * long_len + 16), *value = malloc(cap);
    char key[RP_HTTP_QUERY_KEY_CAP];
    assert_non_null(q);
    assert_non_null(value);
    /* 1023 name bytes fit; 1024 do not; a 3000-byte value does. */
    memset(q, 'k', RP_HTTP_QUERY_KEY_CAP - 1);
    size_t n = RP_HTTP_QUERY_KEY_CAP - 1;
    memcpy(q + n, "=1&", 3);
    n += 3;
    memset(q + n, 'k', RP_HTTP_QUERY_KEY_CAP);
    n += RP_HTTP_QUERY_KEY_CAP;
    memcpy(q + n, "=2&v=", 5);
    n += 5;
    memset(q + n, 'x', long_len);
    n += long_len;
    size_t pos = 0;
    assert_int_equal(rp_http_query_next(q, n, &pos, key, value, cap), 1);
    assert_int_equal(strlen(key), RP_HTTP_QUERY_KEY_CAP - 1);
    assert_string_equal(value, "1");
    assert_int_equal(rp_http_query_next(q, n, &pos, key, value, cap), -ENOBUFS);
    assert_int_equal(rp_http_query_next(q, n, &pos, key, value, cap), 1);
    assert_string_equal(key, "v");
    assert_int_equal(strlen(value), long_len);
    assert_int_equal(rp_http_query_next(q, n, &pos, key, value, cap), 0);
    free(q);
    free(value);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairs_in_order), cmocka_unit_test(test_empty_queries),
        cmocka_unit_test(test_plus_both_ways), cmocka_unit_test(test_get_first_and_absent),
        cmocka_unit_test(test_repeated_names), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_caps),           cmocka_unit_test(test_token_value),
        cmocka_unit_test(test_pct_decode),     cmocka_unit_test(test_agrees_with_walker),
        cmocka_unit_test(test_walker_key_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
