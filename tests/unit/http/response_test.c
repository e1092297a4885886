/* SPDX-License-Identifier: MIT */
/* Unit tests of http/response: exact response bytes, JSON error bodies, caps. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "http/response.h"

/* Checks that <b> holds exactly <want> (which may contain NULs: <len> bytes). */
static void
assert_buf(const struct rp_buf *b, const char *want, size_t len)
{
    assert_int_equal(b->len, len);
    assert_memory_equal(b->data, want, len);
}

#define ASSERT_BUF_STR(b, s) assert_buf((b), (s), sizeof(s) - 1)

static void
test_status_text(void **state)
{
    static const struct {
        int status;
        const char *text;
    } cases[] = {
        {200, "OK"},
        {201, "Created"},
        {204, "No Content"},
        {301, "Moved Permanently"},
        {304, "Not Modified"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {411, "Length Required"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {422, "Unprocessable Content"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {503, "Service Unavailable"},
        {505, "HTTP Version Not Supported"},
        {299, "Unknown"},
        {0, "Unknown"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_equal(rp_http_status_text(cases[i].status), cases[i].text);
}

static void
test_write_exact_bytes(void **state)
{
    struct rp_buf b;
    rp_buf_init(&b, 4096);
    assert_int_equal(rp_http_response_write(&b, 200, "text/plain", NULL, "hello", 5, true), 0);
    ASSERT_BUF_STR(&b, "HTTP/1.1 200 OK\r\n"
                       "Content-Type: text/plain\r\n"
                       "Content-Length: 5\r\n"
                       "Connection: keep-alive\r\n"
                       "\r\n"
                       "hello");

    /* Appends after what is there: two pipelined answers in one buffer. */
    assert_int_equal(rp_http_response_write(&b, 404, NULL, "Cache-Control: no-store\r\nX-A: b\r\n",
                                            NULL, 0, false),
                     0);
    ASSERT_BUF_STR(&b, "HTTP/1.1 200 OK\r\n"
                       "Content-Type: text/plain\r\n"
                       "Content-Length: 5\r\n"
                       "Connection: keep-alive\r\n"
                       "\r\n"
                       "hello"
                       "HTTP/1.1 404 Not Found\r\n"
                       "Content-Length: 0\r\n"
                       "Connection: close\r\n"
                       "Cache-Control: no-store\r\n"
                       "X-A: b\r\n"
                       "\r\n");
    rp_buf_fini(&b);
}

static void
test_write_binary_body(void **state)
{
    struct rp_buf b;
    rp_buf_init(&b, 4096);
    static const char body[] = {'a', '\0', 'b'};
    assert_int_equal(
        rp_http_response_write(&b, 201, "application/octet-stream", NULL, body, 3, true), 0);
    static const char want[] = "HTTP/1.1 201 Created\r\n"
                               "Content-Type: application/octet-stream\r\n"
                               "Content-Length: 3\r\n"
                               "Connection: keep-alive\r\n"
                               "\r\n"
                               "a\0b";
    assert_buf(&b, want, sizeof(want) - 1);
    rp_buf_fini(&b);
}

static void
test_write_no_content(void **state)
{
    struct rp_buf b;
    rp_buf_init(&b, 4096);
    /* 204 and 304 never carry content, so they get no Content-Length. */
    assert_int_equal(
        rp_http_response_write(&b, 204, NULL, "Access-Control-Max-Age: 600\r\n", NULL, 0, true), 0);
    ASSERT_BUF_STR(&b, "HTTP/1.1 204 No Content\r\n"
                       "Connection: keep-alive\r\n"
                       "Access-Control-Max-Age: 600\r\n"
                       "\r\n");
    b.len = 0;
    assert_int_equal(rp_http_response_write(&b, 304, NULL, NULL, NULL, 0, false), 0);
    ASSERT_BUF_STR(&b, "HTTP/1.1 304 Not Modified\r\n"
                       "Connection: close\r\n"
                       "\r\n");
    rp_buf_fini(&b);
}

static void
test_error_json(void **state)
{
    struct rp_buf b;
    rp_buf_init(&b, 4096);
    assert_int_equal(rp_http_response_error(&b, 413, "body is larger than max_body", NULL, false),
                     0);
    ASSERT_BUF_STR(&b, "HTTP/1.1 413 Content Too Large\r\n"
                       "Content-Type: application/json\r\n"
                       "Content-Length: 53\r\n"
                       "Connection: close\r\n"
                       "\r\n"
                       "{\"error\":\"body is larger than max_body\",\"status\":413}");
    assert_int_equal(strlen("{\"error\":\"body is larger than max_body\",\"status\":413}"), 53);
    b.len = 0;

    /* Quotes, backslashes and control characters are escaped; the length counts them. */
    assert_int_equal(
        rp_http_response_error(&b, 400, "bad \"topic\" a\\b\n\x01", "Retry-After: 1\r\n", true), 0);
    ASSERT_BUF_STR(&b, "HTTP/1.1 400 Bad Request\r\n"
                       "Content-Type: application/json\r\n"
                       "Content-Length: 51\r\n"
                       "Connection: keep-alive\r\n"
                       "Retry-After: 1\r\n"
                       "\r\n"
                       "{\"error\":\"bad \\\"topic\\\" a\\\\b\\n\\u0001\",\"status\":400}");
    assert_int_equal(strlen("{\"error\":\"bad \\\"topic\\\" a\\\\b\\n\\u0001\",\"status\":400}"),
                     51);
    b.len = 0;

    /* No message: the reason phrase stands in. */
    assert_int_equal(rp_http_response_error(&b, 404, NULL, NULL, true), 0);
    ASSERT_BUF_STR(&b, "HTTP/1.1 404 Not Found\r\n"
                       "Content-Type: application/json\r\n"
                       "Content-Length: 34\r\n"
                       "Connection: keep-alive\r\n"
                       "\r\n"
                       "{\"error\":\"Not Found\",\"status\":404}");
    rp_buf_fini(&b);
}

static void
expect_escape(const char *in, size_t len, const char *want)
{
    struct rp_buf b;
    rp_buf_init(&b, 1024);
    assert_int_equal(rp_json_escape(&b, in, len), 0);
    assert_int_equal(b.len, strlen(want));
    if (b.len > 0)
        assert_memory_equal(b.data, want, b.len);
    rp_buf_fini(&b);
}

static void
test_json_escape(void **state)
{
    expect_escape("", 0, "");
    expect_escape("plain text / 123", 16, "plain text / 123");
    expect_escape("\"\\", 2, "\\\"\\\\");
    expect_escape("\n\r\t", 3, "\\n\\r\\t");
    expect_escape("\b\f\x1f\x7f", 4, "\\u0008\\u000c\\u001f\\u007f");
    expect_escape("a\0b", 3, "a\\u0000b");
    /* Valid UTF-8 (2, 3 and 4 bytes) passes through untouched. */
    expect_escape("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
                  "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    /* Invalid bytes become U+FFFD one by one, so the JSON stays valid. */
    expect_escape("a\377b", 3, "a\\ufffdb");
    expect_escape("\xc3", 1, "\\ufffd");
    expect_escape("\xe2\x82", 2, "\\ufffd\\ufffd");
    expect_escape("\xc0\xaf", 2, "\\ufffd\\ufffd");            /* overlong '/' */
    expect_escape("\xed\xa0\x80", 3, "\\ufffd\\ufffd\\ufffd"); /* surrogate */
    expect_escape("\xf4\x90\x80\x80", 4, "\\ufffd\\ufffd\\ufffd\\ufffd");
    /* Only <len> bytes are read. */
    expect_escape("abc\"", 3, "abc");
}

static void
test_caps(void **state)
{
    struct rp_buf b;
    const char *full = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    size_t n = strlen(full);

    /* Exactly enough room works. */
    rp_buf_init(&b, n);
    assert_int_equal(rp_http_response_write(&b, 200, NULL, NULL, "ok", 2, false), 0);
    assert_buf(&b, full, n);
    rp_buf_fini(&b);

    /* One byte short at any point fails and leaves what was there untouched. */
    rp_buf_init(&b, n + 2);
    assert_int_equal(rp_buf_append(&b, "XY", 2), 0);
    assert_int_equal(rp_http_response_write(&b, 200, NULL, NULL, "ok!", 3, false), -ENOBUFS);
    assert_buf(&b, "XY", 2);
    assert_int_equal(rp_http_response_write(&b, 200, NULL, "A: b\r\n", "ok", 2, false), -ENOBUFS);
    assert_buf(&b, "XY", 2);
    assert_int_equal(rp_http_response_error(&b, 500, "x", NULL, false), -ENOBUFS);
    assert_buf(&b, "XY", 2);
    assert_int_equal(rp_http_response_write(&b, 200, NULL, NULL, "ok", 2, false), 0);
    assert_int_equal(b.len, n + 2);
    rp_buf_fini(&b);

    /* Escaping is all or nothing too. */
    rp_buf_init(&b, 5);
    assert_int_equal(rp_json_escape(&b, "ab\"", 3), 0);
    assert_buf(&b, "ab\\\"", 4);
    assert_int_equal(rp_json_escape(&b, "\n", 1), -ENOBUFS);
    assert_buf(&b, "ab\\\"", 4);
    assert_int_equal(rp_json_escape(&b, "c", 1), 0);
    assert_buf(&b, "ab\\\"c", 5);
    rp_buf_fini(&b);

    /* An error response whose escaped message is what overflows. */
    rp_buf_init(&b, 120);
    char msg[100];
    memset(msg, '"', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    assert_int_equal(rp_http_response_error(&b, 400, msg, NULL, true), -ENOBUFS);
    assert_int_equal(b.len, 0);
    rp_buf_fini(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_text),
        cmocka_unit_test(test_write_exact_bytes),
        cmocka_unit_test(test_write_binary_body),
        cmocka_unit_test(test_write_no_content),
        cmocka_unit_test(test_error_json),
        cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
