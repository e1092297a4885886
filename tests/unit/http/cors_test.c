/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of http/cors: which origins are allowed, the exact headers a browser gets
 * (with and without credentials, for `*` and for listed origins), preflight answers, and
 * that a disallowed origin gets nothing (docs/api.md, "CORS").
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "http/cors.h"

static char *const listed[] = {"https://app.example", "http://localhost:3000"};
static char *const star[] = {"*"};
static char *const star_and_listed[] = {"https://app.example", "*"};

static const struct rp_cors cors_listed = {listed, 2, false};
static const struct rp_cors cors_listed_cred = {listed, 2, true};
static const struct rp_cors cors_star = {star, 1, false};
static const struct rp_cors cors_star_cred = {star, 1, true};
static const struct rp_cors cors_none = {NULL, 0, false};

#define DEFAULT_HEADERS "Last-Event-ID, Content-Type, Authorization, Cache-Control"

/* The headers rp_cors_headers appends for <origin>, as a string ("" for none). */
static const char *
headers_for(const struct rp_cors *cors, const char *origin, struct rp_buf *b)
{
    rp_buf_init(b, 4096);
    assert_int_equal(rp_cors_headers(cors, origin, b), 0);
    const char *s = rp_buf_cstr(b);
    return s ? s : "";
}

static const char *
preflight_for(const struct rp_cors *cors, const char *origin, const char *request_headers,
              struct rp_buf *b)
{
    rp_buf_init(b, 4096);
    assert_int_equal(rp_cors_preflight_headers(cors, origin, request_headers, b), 0);
    const char *s = rp_buf_cstr(b);
    return s ? s : "";
}

static void
test_allowed(void **state)
{
    assert_true(rp_cors_allowed(&cors_listed, "https://app.example"));
    assert_true(rp_cors_allowed(&cors_listed, "http://localhost:3000"));
    /* The comparison is exact: scheme, case, port and a trailing slash all count. */
    assert_false(rp_cors_allowed(&cors_listed, "http://app.example"));
    assert_false(rp_cors_allowed(&cors_listed, "https://APP.example"));
    assert_false(rp_cors_allowed(&cors_listed, "https://app.example/"));
    assert_false(rp_cors_allowed(&cors_listed, "https://app.example.evil"));
    assert_false(rp_cors_allowed(&cors_listed, "https://evil.app.example"));
    assert_false(rp_cors_allowed(&cors_listed, "http://localhost"));
    assert_false(rp_cors_allowed(&cors_listed, "null"));
    assert_false(rp_cors_allowed(&cors_listed, ""));
    /* No Origin header: not a cross-origin browser request, nothing to allow. */
    assert_false(rp_cors_allowed(&cors_listed, NULL));
    assert_false(rp_cors_allowed(&cors_star, NULL));

    /* `*` allows any origin, "null" (sandboxed pages, file://) included. */
    assert_true(rp_cors_allowed(&cors_star, "https://anything.example"));
    assert_true(rp_cors_allowed(&cors_star, "null"));
    assert_true(rp_cors_allowed(&cors_star_cred, "https://anything.example"));

    /* No cors_origins: no cross-origin access at all. */
    assert_false(rp_cors_allowed(&cors_none, "https://app.example"));
    assert_false(rp_cors_allowed(&cors_none, "*"));
}

static void
test_headers_listed_origin(void **state)
{
    struct rp_buf b;
    /* A listed origin is echoed, with Vary so caches keep one answer per origin. */
    assert_string_equal(headers_for(&cors_listed, "https://app.example", &b),
                        "Access-Control-Allow-Origin: https://app.example\r\n"
                        "Vary: Origin\r\n");
    rp_buf_fini(&b);
    assert_string_equal(headers_for(&cors_listed_cred, "http://localhost:3000", &b),
                        "Access-Control-Allow-Origin: http://localhost:3000\r\n"
                        "Vary: Origin\r\n"
                        "Access-Control-Allow-Credentials: true\r\n");
    rp_buf_fini(&b);
}

static void
test_headers_star(void **state)
{
    struct rp_buf b;
    assert_string_equal(headers_for(&cors_star, "https://anything.example", &b),
                        "Access-Control-Allow-Origin: *\r\n");
    rp_buf_fini(&b);
    /* With credentials a browser refuses `*`: the exact origin is echoed instead. */
    assert_string_equal(headers_for(&cors_star_cred, "https://anything.example", &b),
                        "Access-Control-Allow-Origin: https://anything.example\r\n"
                        "Vary: Origin\r\n"
                        "Access-Control-Allow-Credentials: true\r\n");
    rp_buf_fini(&b);
    /* `*` anywhere in the list makes every answer `*` (without credentials). */
    const struct rp_cors mixed = {star_and_listed, 2, false};
    assert_string_equal(headers_for(&mixed, "https://app.example", &b),
                        "Access-Control-Allow-Origin: *\r\n");
    rp_buf_fini(&b);
    assert_string_equal(headers_for(&mixed, "https://other.example", &b),
                        "Access-Control-Allow-Origin: *\r\n");
    rp_buf_fini(&b);
}

static void
test_headers_disallowed(void **state)
{
    struct rp_buf b;
    assert_string_equal(headers_for(&cors_listed, "https://evil.example", &b), "");
    assert_int_equal(b.len, 0);
    rp_buf_fini(&b);
    assert_string_equal(headers_for(&cors_listed_cred, "https://evil.example", &b), "");
    rp_buf_fini(&b);
    assert_string_equal(headers_for(&cors_listed, NULL, &b), "");
    rp_buf_fini(&b);
    assert_string_equal(headers_for(&cors_star, NULL, &b), "");
    rp_buf_fini(&b);
    assert_string_equal(headers_for(&cors_none, "https://app.example", &b), "");
    rp_buf_fini(&b);
}

static void
test_preflight(void **state)
{
    struct rp_buf b;
    /* No Access-Control-Request-Headers: the headers clients of the API need. */
    assert_string_equal(preflight_for(&cors_listed, "https://app.example", NULL, &b),
                        "Access-Control-Allow-Origin: https://app.example\r\n"
                        "Vary: Origin\r\n"
                        "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
                        "Access-Control-Allow-Headers: " DEFAULT_HEADERS "\r\n"
                        "Access-Control-Max-Age: 600\r\n");
    rp_buf_fini(&b);
    assert_string_equal(preflight_for(&cors_star, "https://x.example", "", &b),
                        "Access-Control-Allow-Origin: *\r\n"
                        "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
                        "Access-Control-Allow-Headers: " DEFAULT_HEADERS "\r\n"
                        "Access-Control-Max-Age: 600\r\n");
    rp_buf_fini(&b);
    /* The requested headers are echoed when they are plain tokens. */
    assert_string_equal(
        preflight_for(&cors_listed_cred, "https://app.example", "x-request-id, Last-Event-ID", &b),
        "Access-Control-Allow-Origin: https://app.example\r\n"
        "Vary: Origin\r\n"
        "Access-Control-Allow-Credentials: true\r\n"
        "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
        "Access-Control-Allow-Headers: x-request-id, Last-Event-ID\r\n"
        "Access-Control-Max-Age: 600\r\n");
    rp_buf_fini(&b);
}

/* A requested header list that is not plain tokens (or is huge) is never echoed: it would
 * be a header injection. The default list is sent instead. */
static void
test_preflight_request_headers_not_echoed(void **state)
{
    static const char *const bad[] = {
        "X-A\r\nSet-Cookie: a=b", "x-a; y", "x-a:1", "x-\xc3\xa9", "x\ty",
    };
    struct rp_buf b;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *s = preflight_for(&cors_star, "https://x.example", bad[i], &b);
        assert_non_null(strstr(s, "Access-Control-Allow-Headers: " DEFAULT_HEADERS "\r\n"));
        assert_null(strstr(s, "Set-Cookie"));
        rp_buf_fini(&b);
    }
    char big[600];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[511] = '\0'; /* 511 bytes: still echoed */
    const char *s = preflight_for(&cors_star, "https://x.example", big, &b);
    assert_non_null(strstr(s, big));
    rp_buf_fini(&b);
    big[511] = 'a'; /* 599 bytes: not */
    s = preflight_for(&cors_star, "https://x.example", big, &b);
    assert_non_null(strstr(s, DEFAULT_HEADERS));
    assert_null(strstr(s, "aaaa"));
    rp_buf_fini(&b);
}

static void
test_preflight_disallowed(void **state)
{
    struct rp_buf b;
    /* Nothing at all: the API answers 403 itself. */
    assert_string_equal(preflight_for(&cors_listed, "https://evil.example", "x-a", &b), "");
    rp_buf_fini(&b);
    assert_string_equal(preflight_for(&cors_listed, NULL, NULL, &b), "");
    rp_buf_fini(&b);
    assert_string_equal(preflight_for(&cors_none, "https://app.example", NULL, &b), "");
    rp_buf_fini(&b);
}

static void
test_buffer_cap(void **state)
{
    struct rp_buf b;
    rp_buf_init(&b, 16);
    assert_int_equal(rp_cors_headers(&cors_listed, "https://app.example", &b), -ENOBUFS);
    rp_buf_fini(&b);
    rp_buf_init(&b, 80);
    assert_int_equal(rp_cors_preflight_headers(&cors_star, "https://x.example", NULL, &b),
                     -ENOBUFS);
    rp_buf_fini(&b);
    /* A disallowed origin appends nothing, so it cannot overflow. */
    rp_buf_init(&b, 0);
    assert_int_equal(rp_cors_headers(&cors_listed, "https://evil.example", &b), 0);
    assert_int_equal(rp_cors_preflight_headers(&cors_listed, "https://evil.example", NULL, &b), 0);
    rp_buf_fini(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed),
        cmocka_unit_test(test_headers_listed_origin),
        cmocka_unit_test(test_headers_star),
        cmocka_unit_test(test_headers_disallowed),
        cmocka_unit_test(test_preflight),
        cmocka_unit_test(test_preflight_request_headers_not_echoed),
        cmocka_unit_test(test_preflight_disallowed),
        cmocka_unit_test(test_buffer_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
