/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of http/http_parser: request fields, keep-alive and pipelining, feeding in
 * pieces, every limit and its status, malformed input, and query-string walking.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_parser.h"
#include "http/query.h"

#define REASON_414 "request line is longer than max_request_line"
#define REASON_431_BYTES "headers are larger than max_header_bytes"
#define REASON_431_COUNT "more headers than max_headers"
#define REASON_413 "body is larger than max_body"
#define REASON_411 "POST and PUT need a Content-Length or a chunked body"
#define REASON_505 "HTTP version not supported; use HTTP/1.1"

static struct rp_http_parser *
new_parser(size_t max_line, size_t max_header_bytes, size_t max_headers, size_t max_body)
{
    struct rp_http_limits limits = {
        .max_request_line = max_line,
        .max_header_bytes = max_header_bytes,
        .max_headers = max_headers,
        .max_body = max_body,
    };
    struct rp_http_parser *p = rp_http_parser_new(&limits);
    assert_non_null(p);
    return p;
}

static struct rp_http_parser *
default_parser(void)
{
    return new_parser(8192, 16384, 64, 1 << 20);
}

static enum rp_parse_result
feed_str(struct rp_http_parser *p, const char *s, size_t *consumed)
{
    return rp_http_parser_feed(p, s, strlen(s), consumed);
}

/* Feeds <s>, which must be exactly one request, and returns it. */
static const struct rp_http_request *
parse_ok(struct rp_http_parser *p, const char *s)
{
    size_t consumed = SIZE_MAX;
    assert_int_equal(feed_str(p, s, &consumed), RP_PARSE_DONE);
    assert_int_equal(consumed, strlen(s));
    return rp_http_parser_request(p);
}

/* Feeds <s>, expects an error with <status> and <reason>, and resets the parser. */
static void
expect_error(struct rp_http_parser *p, const char *s, int status, const char *reason)
{
    size_t consumed = SIZE_MAX;
    assert_int_equal(feed_str(p, s, &consumed), RP_PARSE_ERROR);
    assert_true(consumed <= strlen(s));
    struct rp_http_error err = rp_http_parser_error(p);
    assert_int_equal(err.status, status);
    assert_non_null(err.reason);
    if (reason)
        assert_string_equal(err.reason, reason);
    rp_http_parser_reset(p);
}

static void
test_simple_get(void **state)
{
    struct rp_http_parser *p = default_parser();
    assert_false(rp_http_parser_in_request(p));
    const struct rp_http_request *req =
        parse_ok(p, "GET /events/news HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_int_equal(req->method, RP_HTTP_METHOD_GET);
    assert_string_equal(req->method_name, "GET");
    assert_string_equal(req->target, "/events/news");
    assert_int_equal(req->target_len, 12);
    assert_string_equal(req->path, "/events/news");
    assert_int_equal(req->path_len, 12);
    assert_string_equal(req->query, "");
    assert_int_equal(req->query_len, 0);
    assert_int_equal(req->n_headers, 1);
    assert_string_equal(req->headers[0].name, "Host");
    assert_int_equal(req->headers[0].name_len, 4);
    assert_string_equal(req->headers[0].value, "example.com");
    assert_int_equal(req->headers[0].value_len, 11);
    assert_string_equal(req->body, "");
    assert_int_equal(req->body_len, 0);
    assert_int_equal(req->http_major, 1);
    assert_int_equal(req->http_minor, 1);
    assert_true(req->keep_alive);
    assert_false(rp_http_parser_in_request(p));
    rp_http_parser_free(p);
}

static void
test_methods(void **state)
{
    static const struct {
        const char *name;
        enum rp_http_method method;
    } cases[] = {
        {"GET", RP_HTTP_METHOD_GET},       {"HEAD", RP_HTTP_METHOD_HEAD},
        {"DELETE", RP_HTTP_METHOD_DELETE}, {"OPTIONS", RP_HTTP_METHOD_OPTIONS},
        {"PATCH", RP_HTTP_METHOD_OTHER},
    };
    struct rp_http_parser *p = default_parser();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[128];
        snprintf(buf, sizeof(buf), "%s /x HTTP/1.1\r\nHost: h\r\n\r\n", cases[i].name);
        const struct rp_http_request *req = parse_ok(p, buf);
        assert_int_equal(req->method, cases[i].method);
        assert_string_equal(req->method_name, cases[i].name);
        rp_http_parser_reset(p);
    }
    rp_http_parser_free(p);
}

static void
test_query_and_percent_decoding(void **state)
{
    struct rp_http_parser *p = default_parser();
    const struct rp_http_request *req = parse_ok(
        p, "GET /events/a%20b%2Fc+d%7e?topic=a%2Fb&x=1+2#frag HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_string_equal(req->target, "/events/a%20b%2Fc+d%7e?topic=a%2Fb&x=1+2#frag");
    assert_int_equal(req->target_len, strlen(req->target));
    /* '+' is a literal in a path; only the query treats it as a space. */
    assert_string_equal(req->path, "/events/a b/c+d~");
    assert_int_equal(req->path_len, 16);
    assert_string_equal(req->query, "topic=a%2Fb&x=1+2");
    assert_int_equal(req->query_len, 17);
    rp_http_parser_reset(p);

    req = parse_ok(p, "GET /?a=1 HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_string_equal(req->path, "/");
    assert_string_equal(req->query, "a=1");
    rp_http_parser_reset(p);

    req = parse_ok(p, "GET /p? HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_string_equal(req->path, "/p");
    assert_string_equal(req->query, "");
    assert_int_equal(req->query_len, 0);
    rp_http_parser_reset(p);

    /* UTF-8 in escapes is passed through as bytes. */
    req = parse_ok(p, "GET /t/%C3%A9t%C3%A9 HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_string_equal(req->path, "/t/\xc3\xa9t\xc3\xa9");
    assert_int_equal(req->path_len, 8);
    rp_http_parser_free(p);
}

static void
test_absolute_form(void **state)
{
    struct rp_http_parser *p = default_parser();
    const struct rp_http_request *req =
        parse_ok(p, "GET http://example.com:8080/a%20b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_string_equal(req->target, "http://example.com:8080/a%20b?x=1");
    assert_string_equal(req->path, "/a b");
    assert_string_equal(req->query, "x=1");
    rp_http_parser_reset(p);

    req = parse_ok(p, "GET HTTPS://example.com?x HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_string_equal(req->path, "/");
    assert_int_equal(req->path_len, 1);
    assert_string_equal(req->query, "x");
    rp_http_parser_reset(p);

    req = parse_ok(p, "GET http://example.com HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_string_equal(req->path, "/");
    assert_string_equal(req->query, "");
    rp_http_parser_reset(p);

    expect_error(p, "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", 400,
                 "request target has an empty host");
    rp_http_parser_free(p);
}

static void
test_headers(void **state)
{
    struct rp_http_parser *p = default_parser();
    const struct rp_http_request *req = parse_ok(p, "GET /events HTTP/1.1\r\n"
                                                    "Host: example.com\r\n"
                                                    "X-Spaced:   a  b \t \r\n"
                                                    "X-Empty:\r\n"
                                                    "Last-Event-ID: 5f3a9c21-1042\r\n"
                                                    "Accept: text/event-stream\r\n"
                                                    "accept: second\r\n"
                                                    "\r\n");
    assert_int_equal(req->n_headers, 6);
    assert_string_equal(req->headers[1].name, "X-Spaced");
    assert_string_equal(req->headers[1].value, "a  b");
    assert_int_equal(req->headers[1].value_len, 4);
    assert_string_equal(req->headers[2].name, "X-Empty");
    assert_string_equal(req->headers[2].value, "");
    assert_int_equal(req->headers[2].value_len, 0);
    for (size_t i = 0; i < req->n_headers; i++) {
        assert_int_equal(strlen(req->headers[i].name), req->headers[i].name_len);
        assert_int_equal(strlen(req->headers[i].value), req->headers[i].value_len);
    }

    assert_string_equal(rp_http_request_header(req, "last-event-id"), "5f3a9c21-1042");
    assert_string_equal(rp_http_request_header(req, "HOST"), "example.com");
    /* The first of repeated headers wins. */
    assert_string_equal(rp_http_request_header(req, "Accept"), "text/event-stream");
    assert_string_equal(rp_http_request_header(req, "x-empty"), "");
    assert_null(rp_http_request_header(req, "Cookie"));
    assert_null(rp_http_request_header(req, "Hos"));
    rp_http_parser_free(p);
}

static void
test_content_length_body(void **state)
{
    struct rp_http_parser *p = default_parser();
    const char *json = "{\"topic\":\"news\",\"data\":\"hello\"}";
    char buf[256];
    snprintf(buf, sizeof(buf),
             "POST /publish HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(json), json);
    const struct rp_http_request *req = parse_ok(p, buf);
    assert_int_equal(req->method, RP_HTTP_METHOD_POST);
    assert_string_equal(req->path, "/publish");
    assert_int_equal(req->body_len, strlen(json));
    assert_memory_equal(req->body, json, strlen(json));
    assert_int_equal(req->body[req->body_len], '\0');
    assert_string_equal(rp_http_request_header(req, "content-length"), "31");
    rp_http_parser_reset(p);

    /* Content-Length: 0 is a valid empty body. */
    req = parse_ok(p, "PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(req->method, RP_HTTP_METHOD_PUT);
    assert_int_equal(req->body_len, 0);
    assert_string_equal(req->body, "");
    rp_http_parser_free(p);
}

static void
test_chunked_body(void **state)
{
    struct rp_http_parser *p = default_parser();
    const struct rp_http_request *req = parse_ok(p, "POST /publish/news HTTP/1.1\r\nHost: h\r\n"
                                                    "Transfer-Encoding: Chunked \r\n"
                                                    "\r\n"
                                                    "5\r\nhello\r\n"
                                                    "7;ext=1\r\n, world\r\n"
                                                    "0\r\n"
                                                    "X-Trailer: ignored\r\n"
                                                    "\r\n");
    assert_int_equal(req->body_len, 12);
    assert_string_equal(req->body, "hello, world");
    /* Trailers are counted against the limits but not stored as headers. */
    assert_int_equal(req->n_headers, 2);
    assert_string_equal(req->headers[1].name, "Transfer-Encoding");
    assert_null(rp_http_request_header(req, "X-Trailer"));
    assert_true(req->keep_alive);
    rp_http_parser_free(p);
}

static void
test_pipelined(void **state)
{
    struct rp_http_parser *p = default_parser();
    const char *first = "POST /publish/a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
    const char *second = "GET /events/b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n";
    const char *third = "\r\nDELETE /c HTTP/1.1\r\nHost: h\r\n\r\n";
    char buf[512];
    snprintf(buf, sizeof(buf), "%s%s%s", first, second, third);
    size_t len = strlen(buf), off = 0, consumed = SIZE_MAX;

    assert_int_equal(rp_http_parser_feed(p, buf, len, &consumed), RP_PARSE_DONE);
    assert_int_equal(consumed, strlen(first));
    const struct rp_http_request *req = rp_http_parser_request(p);
    assert_string_equal(req->path, "/publish/a");
    assert_string_equal(req->body, "abc");
    off += consumed;

    rp_http_parser_reset(p);
    assert_int_equal(rp_http_parser_feed(p, buf + off, len - off, &consumed), RP_PARSE_DONE);
    assert_int_equal(consumed, strlen(second));
    req = rp_http_parser_request(p);
    assert_int_equal(req->method, RP_HTTP_METHOD_GET);
    assert_string_equal(req->path, "/events/b");
    assert_string_equal(req->query, "x=1");
    assert_int_equal(req->body_len, 0);
    assert_string_equal(req->body, "");
    assert_string_equal(rp_http_request_header(req, "Host"), "h");
    off += consumed;

    /* A blank line between requests is skipped (RFC 9112 2.2). */
    rp_http_parser_reset(p);
    assert_int_equal(rp_http_parser_feed(p, buf + off, len - off, &consumed), RP_PARSE_DONE);
    assert_int_equal(consumed, strlen(third));
    req = rp_http_parser_request(p);
    assert_int_equal(req->method, RP_HTTP_METHOD_DELETE);
    assert_string_equal(req->path, "/c");
    assert_int_equal(req->n_headers, 1);
    off += consumed;
    assert_int_equal(off, len);
    rp_http_parser_free(p);
}

static void
test_partial_then_rest(void **state)
{
    struct rp_http_parser *p = default_parser();
    const char *s = "GET /events/news HTTP/1.1\r\nHost: a\r\n\r\nGET /next";
    size_t consumed = SIZE_MAX;
    assert_int_equal(rp_http_parser_feed(p, s, 10, &consumed), RP_PARSE_MORE);
    assert_int_equal(consumed, 10);
    assert_true(rp_http_parser_in_request(p));
    assert_int_equal(rp_http_parser_feed(p, s + 10, strlen(s) - 10, &consumed), RP_PARSE_DONE);
    assert_int_equal(consumed, 38 - 10);
    assert_string_equal(rp_http_parser_request(p)->path, "/events/news");
    rp_http_parser_reset(p);
    assert_int_equal(feed_str(p, s + 38, &consumed), RP_PARSE_MORE);
    assert_int_equal(consumed, strlen(s + 38));
    assert_true(rp_http_parser_in_request(p));
    rp_http_parser_free(p);
}

static void
feed_bytewise_ok(struct rp_http_parser *p, const char *s)
{
    size_t len = strlen(s), consumed = SIZE_MAX;
    for (size_t i = 0; i + 1 < len; i++) {
        assert_int_equal(rp_http_parser_feed(p, s + i, 1, &consumed), RP_PARSE_MORE);
        assert_int_equal(consumed, 1);
        assert_true(rp_http_parser_in_request(p));
    }
    assert_int_equal(rp_http_parser_feed(p, s + len - 1, 1, &consumed), RP_PARSE_DONE);
    assert_int_equal(consumed, 1);
    assert_false(rp_http_parser_in_request(p));
}

static void
test_byte_at_a_time(void **state)
{
    struct rp_http_parser *p = default_parser();
    feed_bytewise_ok(p, "POST /publish/t%2Fx?retry=10&y=%20 HTTP/1.1\r\n"
                        "Host: example.com\r\n"
                        "Authorization:  Bearer abc.def.ghi  \r\n"
                        "Transfer-Encoding: chunked\r\n"
                        "\r\n"
                        "4\r\ndata\r\n"
                        "a\r\n: 0123456\n\r\n"
                        "0\r\n\r\n");
    const struct rp_http_request *req = rp_http_parser_request(p);
    assert_string_equal(req->target, "/publish/t%2Fx?retry=10&y=%20");
    assert_string_equal(req->path, "/publish/t/x");
    assert_string_equal(req->query, "retry=10&y=%20");
    assert_int_equal(req->n_headers, 3);
    assert_string_equal(rp_http_request_header(req, "authorization"), "Bearer abc.def.ghi");
    assert_string_equal(req->body, "data: 0123456\n");
    assert_int_equal(req->body_len, 14);

    /* The same parser, after reset, parses a second request byte by byte. */
    rp_http_parser_reset(p);
    feed_bytewise_ok(p, "GET /e HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    req = rp_http_parser_request(p);
    assert_string_equal(req->path, "/e");
    assert_int_equal(req->n_headers, 1);
    assert_string_equal(req->headers[0].value, "keep-alive");
    assert_int_equal(req->body_len, 0);
    assert_true(req->keep_alive);
    assert_int_equal(req->http_minor, 0);
    rp_http_parser_free(p);
}

static void
test_in_request(void **state)
{
    struct rp_http_parser *p = default_parser();
    size_t consumed = SIZE_MAX;
    /* A blank line before a request is not part of one. */
    assert_int_equal(feed_str(p, "\r\n", &consumed), RP_PARSE_MORE);
    assert_int_equal(consumed, 2);
    assert_false(rp_http_parser_in_request(p));
    assert_int_equal(feed_str(p, "G", &consumed), RP_PARSE_MORE);
    assert_true(rp_http_parser_in_request(p));
    assert_int_equal(feed_str(p, "ET / HTTP/1.1\r\nHost: h\r\n\r\n", &consumed), RP_PARSE_DONE);
    assert_false(rp_http_parser_in_request(p));
    rp_http_parser_reset(p);
    assert_false(rp_http_parser_in_request(p));
    assert_int_equal(rp_http_parser_feed(p, "", 0, &consumed), RP_PARSE_MORE);
    assert_int_equal(consumed, 0);
    assert_false(rp_http_parser_in_request(p));
    rp_http_parser_free(p);
}

static void
test_request_line_limit(void **state)
{
    struct rp_http_parser *p = new_parser(64, 16384, 64, 1024);
    /* "GET " + target + " HTTP/1.1" is 13 bytes around the target. */
    char line[256], buf[512];
    memset(line, 'a', sizeof(line));
    line[0] = '/';
    line[64 - 13] = '\0';
    snprintf(buf, sizeof(buf), "GET %s HTTP/1.0\r\n\r\n", line);
    assert_int_equal(strlen(buf), 64 + 4);
    const struct rp_http_request *req = parse_ok(p, buf);
    assert_int_equal(req->target_len, 64 - 13);
    rp_http_parser_reset(p);

    line[64 - 13] = 'a';
    line[64 - 12] = '\0';
    snprintf(buf, sizeof(buf), "GET %s HTTP/1.0\r\n\r\n", line);
    expect_error(p, buf, 414, REASON_414);

    /* An over-long target is refused as it streams, before the line ends. */
    memset(line, 'a', sizeof(line));
    line[0] = '/';
    line[200] = '\0';
    snprintf(buf, sizeof(buf), "GET %s", line);
    expect_error(p, buf, 414, REASON_414);
    rp_http_parser_free(p);
}

static void
test_header_bytes_limit(void **state)
{
    struct rp_http_parser *p = new_parser(8192, 256, 64, 1024);
    char value[512], buf[1024];
    /* Names and values count, not the ": " and CRLF around them: 5 + 251 = 256. */
    memset(value, 'v', sizeof(value));
    value[251] = '\0';
    snprintf(buf, sizeof(buf), "GET / HTTP/1.0\r\nX-Big: %s\r\n\r\n", value);
    const struct rp_http_request *req = parse_ok(p, buf);
    assert_int_equal(req->headers[0].value_len, 251);
    rp_http_parser_reset(p);

    value[251] = 'v';
    value[252] = '\0';
    snprintf(buf, sizeof(buf), "GET / HTTP/1.0\r\nX-Big: %s\r\n\r\n", value);
    expect_error(p, buf, 431, REASON_431_BYTES);

    /* Many small headers add up. */
    snprintf(buf, sizeof(buf), "GET / HTTP/1.0\r\nA: %.100s\r\nB: %.100s\r\nC: %.100s\r\n\r\n",
             value, value, value);
    expect_error(p, buf, 431, REASON_431_BYTES);

    /* Trailers count as well. */
    snprintf(buf, sizeof(buf),
             "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: %s\r\n\r\n",
             value);
    expect_error(p, buf, 431, REASON_431_BYTES);
    rp_http_parser_free(p);
}

static void
test_header_count_limit(void **state)
{
    struct rp_http_parser *p = new_parser(8192, 16384, 4, 1024);
    const struct rp_http_request *req =
        parse_ok(p, "GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n");
    assert_int_equal(req->n_headers, 4);
    assert_string_equal(rp_http_request_header(req, "d"), "4");
    rp_http_parser_reset(p);
    expect_error(p, "GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", 431,
                 REASON_431_COUNT);
    rp_http_parser_free(p);
}

static void
test_body_limit_content_length(void **state)
{
    struct rp_http_parser *p = new_parser(8192, 16384, 64, 1024);
    char *buf = malloc(2048);
    assert_non_null(buf);
    int n =
        snprintf(buf, 2048, "POST /publish HTTP/1.1\r\nHost: h\r\nContent-Length: 1024\r\n\r\n");
    memset(buf + n, 'b', 1024);
    buf[n + 1024] = '\0';
    const struct rp_http_request *req = parse_ok(p, buf);
    assert_int_equal(req->body_len, 1024);
    assert_int_equal(req->body[1023], 'b');
    assert_int_equal(req->body[1024], '\0');
    rp_http_parser_reset(p);

    /* Refused on the header alone, before any of the body is sent. */
    expect_error(p, "POST /publish HTTP/1.1\r\nHost: h\r\nContent-Length: 1025\r\n\r\n", 413,
                 REASON_413);
    expect_error(p, "POST /publish HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999\r\n\r\n", 413,
                 REASON_413);
    free(buf);
    rp_http_parser_free(p);
}

static void
test_body_limit_chunked(void **state)
{
    struct rp_http_parser *p = new_parser(8192, 16384, 64, 1024);
    char *buf = malloc(4096);
    assert_non_null(buf);
    /* 512 + 512 = 1024: exactly at the limit. */
    int n =
        snprintf(buf, 4096, "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 2; i++) {
        n += snprintf(buf + n, 4096 - (size_t)n, "200\r\n");
        memset(buf + n, 'c', 512);
        n += 512;
        n += snprintf(buf + n, 4096 - (size_t)n, "\r\n");
    }
    snprintf(buf + n, 4096 - (size_t)n, "0\r\n\r\n");
    const struct rp_http_request *req = parse_ok(p, buf);
    assert_int_equal(req->body_len, 1024);
    rp_http_parser_reset(p);

    /* One more byte in a third chunk goes over. */
    snprintf(buf + n, 4096 - (size_t)n, "1\r\nx\r\n0\r\n\r\n");
    expect_error(p, buf, 413, REASON_413);

    /* A single chunk that announces more than the limit. */
    expect_error(p, "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n401\r\nabc",
                 413, REASON_413);
    free(buf);
    rp_http_parser_free(p);
}

static void
test_length_required(void **state)
{
    struct rp_http_parser *p = default_parser();
    expect_error(p, "POST /publish HTTP/1.1\r\nHost: a\r\n\r\n", 411, REASON_411);
    expect_error(p, "PUT /x HTTP/1.1\r\nHost: h\r\n\r\n", 411, REASON_411);
    expect_error(p, "POST /publish HTTP/1.0\r\n\r\n", 411, REASON_411);
    /* Other methods have no body without the headers. */
    const struct rp_http_request *req = parse_ok(p, "DELETE /x HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(req->method, RP_HTTP_METHOD_DELETE);
    assert_int_equal(req->body_len, 0);
    rp_http_parser_free(p);
}

static void
test_malformed(void **state)
{
    struct rp_http_parser *p = default_parser();
    expect_error(p, "GARBAGE\r\n\r\n", 400, "malformed request line: unknown method");
    expect_error(p, "get / HTTP/1.1\r\nHost: h\r\n\r\n", 400,
                 "malformed request line: unknown method");
    expect_error(p, "GET / XTTP/1.1\r\n\r\n", 400, NULL);
    expect_error(p, "GET x HTTP/1.1\r\nHost: h\r\n\r\n", 400, NULL);
    expect_error(p, "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400, NULL);
    expect_error(p, "GET / HTTP/1.1\r\nHost example\r\n\r\n", 400, NULL);
    expect_error(p, "GET / HTTP/1.1\r\nHost: h\r\nA: b\x01\r\n\r\n", 400, NULL);
    expect_error(p, "GET / HTTP/1.1\r\nHost: h\r\n: value\r\n\r\n", 400,
                 "header with an empty name");
    expect_error(
        p, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n: trailer\r\n\r\n",
        400, "header with an empty name");
    expect_error(p, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, NULL);
    /* RFC 9112: no whitespace before the colon, one Host (a proxy may read another). */
    expect_error(p, "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400,
                 "whitespace between a header name and its colon");
    expect_error(p, "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", 400, NULL);
    expect_error(p, "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400,
                 "more than one Host header");
    expect_error(p, "GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400,
                 "path has a malformed percent escape");
    expect_error(p, "GET /a%2 HTTP/1.1\r\nHost: h\r\n\r\n", 400,
                 "path has a malformed percent escape");
    expect_error(p, "GET /a%00b HTTP/1.1\r\nHost: h\r\n\r\n", 400, "path decodes to a NUL byte");
    expect_error(p, "CONNECT example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n", 400,
                 "request target must be a path starting with '/'");
    expect_error(p, "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", 400,
                 "request target must be a path starting with '/'");
    expect_error(p, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n", 400,
                 "invalid Content-Length");
    expect_error(p, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                 400, NULL);
    expect_error(
        p, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        400, NULL);
    expect_error(p, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
                 "invalid chunk size in chunked body");
    expect_error(p, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 400,
                 "unsupported Transfer-Encoding; only chunked is accepted");
    expect_error(p, "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400,
                 "unsupported Transfer-Encoding; only chunked is accepted");
    expect_error(p, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400,
                 "unsupported Transfer-Encoding; only chunked is accepted");
    expect_error(
        p,
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"
        "\r\n",
        400, "unsupported Transfer-Encoding; only chunked is accepted");
    rp_http_parser_free(p);
}

#define CHUNKED_HEAD "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
#define REASON_CHUNK_LINE "malformed chunked body: a chunk size line must end with CRLF"
#define REASON_CHUNK_DATA "malformed chunked body: chunk data must be followed by CRLF"
#define REASON_CHUNK_END "malformed chunked body: the trailer section must end with CRLF"

/* Feeds <s> byte by byte and expects the error <reason> (400) at the byte it names. */
static void
expect_error_bytewise(struct rp_http_parser *p, const char *s, const char *reason)
{
    size_t len = strlen(s), consumed = SIZE_MAX;
    enum rp_parse_result r = RP_PARSE_MORE;
    for (size_t i = 0; i < len && r == RP_PARSE_MORE; i++)
        r = rp_http_parser_feed(p, s + i, 1, &consumed);
    assert_int_equal(r, RP_PARSE_ERROR);
    assert_int_equal(rp_http_parser_error(p).status, 400);
    assert_string_equal(rp_http_parser_error(p).reason, reason);
    rp_http_parser_reset(p);
}

/*
 * RFC 9112 7.1: every chunk size line and every chunk's data end with CRLF, and so does the
 * trailer section. llhttp's loose build takes any bytes there; a front proxy that does not
 * would frame another request than we do.
 */
static void
test_strict_chunk_framing(void **state)
{
    struct rp_http_parser *p = default_parser();
    expect_error(p, CHUNKED_HEAD "3\r\nabcXX0\r\n\r\n", 400, REASON_CHUNK_DATA);
    expect_error(p, CHUNKED_HEAD "3\r\nabc\n0\r\n\r\n", 400, REASON_CHUNK_DATA);
    expect_error(p, CHUNKED_HEAD "3\r\nabc\r\r0\r\n\r\n", 400, REASON_CHUNK_DATA);
    expect_error(p, CHUNKED_HEAD "3\rXabc\r\n0\r\n\r\n", 400, REASON_CHUNK_LINE);
    expect_error(p, CHUNKED_HEAD "3;a=b\r\rabc\r\n0\r\n\r\n", 400, REASON_CHUNK_LINE);
    expect_error(p, CHUNKED_HEAD "3\r\nabc\r\n0\rX\r\n", 400, REASON_CHUNK_LINE);
    expect_error(p, CHUNKED_HEAD "3\r\nabc\r\n0\r\n\rX", 400, REASON_CHUNK_END);
    expect_error(p, CHUNKED_HEAD "3\r\nabc\r\n0\r\nT: 1\r\n\rX", 400, REASON_CHUNK_END);
    /* llhttp itself refuses a bare LF or whitespace after the size, and a non-hex size. */
    expect_error(p, CHUNKED_HEAD "3\nabc\r\n0\r\n\r\n", 400, NULL);
    expect_error(p, CHUNKED_HEAD "3 \r\nabc\r\n0\r\n\r\n", 400, NULL);
    expect_error(p, CHUNKED_HEAD " 3\r\nabc\r\n0\r\n\r\n", 400, NULL);
    expect_error(p, CHUNKED_HEAD "+3\r\nabc\r\n0\r\n\r\n", 400, NULL);
    expect_error(p, CHUNKED_HEAD "3; a\r\nabc\r\n0\r\n\r\n", 400, NULL);
    /* The same, with the line end split across reads. */
    expect_error_bytewise(p, CHUNKED_HEAD "3\r\nabcXX0\r\n\r\n", REASON_CHUNK_DATA);
    expect_error_bytewise(p, CHUNKED_HEAD "3\rXabc\r\n0\r\n\r\n", REASON_CHUNK_LINE);
    expect_error_bytewise(p, CHUNKED_HEAD "3\r\nabc\r\n0\r\n\rX", REASON_CHUNK_END);
    size_t consumed = SIZE_MAX;
    const char *s = CHUNKED_HEAD "3\r\nabcX";
    assert_int_equal(feed_str(p, s, &consumed), RP_PARSE_MORE);
    assert_int_equal(feed_str(p, "X0\r\n\r\n", &consumed), RP_PARSE_ERROR);
    assert_string_equal(rp_http_parser_error(p).reason, REASON_CHUNK_DATA);
    rp_http_parser_reset(p);

    /* Well-formed: extensions, trailers, and every line end split across reads. */
    const struct rp_http_request *req =
        parse_ok(p, CHUNKED_HEAD "3;a=b\r\nabc\r\n0\r\nT: 1\r\n\r\n");
    assert_string_equal(req->body, "abc");
    rp_http_parser_reset(p);
    feed_bytewise_ok(p, CHUNKED_HEAD "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    assert_string_equal(rp_http_parser_request(p)->body, "abcde");
    rp_http_parser_free(p);
}

/* The blank line that ends the head is CRLF, or LF alone (RFC 9112 2.2), never CR and more. */
static void
test_head_end(void **state)
{
    struct rp_http_parser *p = default_parser();
    expect_error(p, "GET / HTTP/1.1\r\nHost: h\r\n\rX", 400,
                 "malformed request: the header section must end with an empty line");
    expect_error_bytewise(p, "GET / HTTP/1.1\r\nHost: h\r\n\rX",
                          "malformed request: the header section must end with an empty line");
    rp_http_parser_free(p);
}

/* RFC 9112 3.2: an HTTP/1.1 request names its Host; HTTP/1.0 had no such header. */
static void
test_host_required(void **state)
{
    struct rp_http_parser *p = default_parser();
    expect_error(p, "GET / HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 request without a Host header");
    expect_error(p, "POST /p HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", 400,
                 "HTTP/1.1 request without a Host header");
    const struct rp_http_request *req = parse_ok(p, "GET / HTTP/1.0\r\n\r\n");
    assert_int_equal(req->http_minor, 0);
    rp_http_parser_reset(p);
    /* An empty Host is what RFC 9112 asks of a client whose target has no authority. */
    req = parse_ok(p, "GET / HTTP/1.1\r\nHost:\r\n\r\n");
    assert_string_equal(rp_http_request_header(req, "host"), "");
    rp_http_parser_free(p);
}

static void
test_error_is_sticky(void **state)
{
    struct rp_http_parser *p = default_parser();
    size_t consumed = SIZE_MAX;
    assert_int_equal(feed_str(p, "BAD / HTTP/1.1\r\n", &consumed), RP_PARSE_ERROR);
    struct rp_http_error err = rp_http_parser_error(p);
    assert_int_equal(err.status, 400);
    assert_int_equal(feed_str(p, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", &consumed), RP_PARSE_ERROR);
    assert_int_equal(consumed, 0);
    assert_int_equal(rp_http_parser_error(p).status, 400);
    rp_http_parser_reset(p);
    assert_int_equal(rp_http_parser_error(p).status, 0);
    const struct rp_http_request *req = parse_ok(p, "GET /ok HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_string_equal(req->path, "/ok");
    rp_http_parser_free(p);
}

static void
test_versions_and_keep_alive(void **state)
{
    struct rp_http_parser *p = default_parser();
    const struct rp_http_request *req = parse_ok(p, "GET / HTTP/1.0\r\n\r\n");
    assert_int_equal(req->http_major, 1);
    assert_int_equal(req->http_minor, 0);
    assert_false(req->keep_alive);
    rp_http_parser_reset(p);

    req = parse_ok(p, "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    assert_true(req->keep_alive);
    rp_http_parser_reset(p);

    req = parse_ok(p, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert_false(req->keep_alive);
    rp_http_parser_reset(p);

    expect_error(p, "GET / HTTP/2.0\r\n\r\n", 505, REASON_505);
    expect_error(p, "GET / HTTP/1.2\r\n\r\n", 505, REASON_505);
    expect_error(p, "GET / HTTP/0.9\r\n\r\n", 505, REASON_505);
    expect_error(p, "GET /\r\n\r\n", 505, REASON_505);
    rp_http_parser_free(p);
}

static void
test_upgrade_is_parsed_not_honoured(void **state)
{
    struct rp_http_parser *p = default_parser();
    const char *s =
        "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
    char buf[256];
    snprintf(buf, sizeof(buf), "%sGET /next HTTP/1.1\r\nHost: h\r\n\r\n", s);
    size_t consumed = SIZE_MAX;
    assert_int_equal(feed_str(p, buf, &consumed), RP_PARSE_DONE);
    assert_int_equal(consumed, strlen(s));
    assert_string_equal(rp_http_request_header(rp_http_parser_request(p), "upgrade"), "websocket");
    rp_http_parser_reset(p);
    const struct rp_http_request *req = parse_ok(p, buf + consumed);
    assert_string_equal(req->path, "/next");
    rp_http_parser_free(p);
}

static void
test_reuse_after_reset(void **state)
{
    struct rp_http_parser *p = default_parser();
    char *big = malloc(200001);
    assert_non_null(big);
    int n = snprintf(
        big, 200001,
        "POST /a?q=1 HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nContent-Length: %d\r\n\r\n", 100000);
    memset(big + n, 'z', 100000);
    big[n + 100000] = '\0';
    const struct rp_http_request *req = parse_ok(p, big);
    assert_int_equal(req->body_len, 100000);
    assert_int_equal(req->n_headers, 4);
    rp_http_parser_reset(p);

    /* Nothing of the previous request shows through. */
    req = parse_ok(p, "GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_string_equal(req->path, "/b");
    assert_string_equal(req->query, "");
    assert_int_equal(req->n_headers, 1);
    assert_null(rp_http_request_header(req, "A"));
    assert_int_equal(req->body_len, 0);
    assert_string_equal(req->body, "");
    rp_http_parser_reset(p);

    req = parse_ok(p, "POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok");
    assert_string_equal(req->body, "ok");
    free(big);
    rp_http_parser_free(p);
    rp_http_parser_free(NULL);
}

struct qp {
    const char *key, *value;
};

static void
expect_params(const char *query, const struct qp *want, size_t n_want)
{
    char key[64], value[64];
    size_t pos = 0;
    for (size_t i = 0; i < n_want; i++) {
        assert_int_equal(rp_http_query_next(query, strlen(query), &pos, key, value, 64), 1);
        assert_string_equal(key, want[i].key);
        assert_string_equal(value, want[i].value);
    }
    assert_int_equal(rp_http_query_next(query, strlen(query), &pos, key, value, 64), 0);
    assert_int_equal(pos, strlen(query));
    /* The end stays the end. */
    assert_int_equal(rp_http_query_next(query, strlen(query), &pos, key, value, 64), 0);
}

static void
test_query_next(void **state)
{
    static const struct qp all[] = {
        {"topic", "a/b"}, {"x", "1 2"}, {"flag", ""},        {"", "v"},
        {"e", ""},        {"k", "a=b"}, {"s p", "\xc3\xa9"},
    };
    expect_params("topic=a%2Fb&x=1+2&&flag&=v&e=&k=a=b&s+p=%c3%A9&", all,
                  sizeof(all) / sizeof(all[0]));
    expect_params("", NULL, 0);
    expect_params("&&&", NULL, 0);
    static const struct qp one[] = {{"topic", "news"}};
    expect_params("topic=news", one, 1);

    /* The length bounds the walk, not a NUL. */
    char key[16], value[16];
    size_t pos = 0;
    assert_int_equal(rp_http_query_next("a=1&b=2", 3, &pos, key, value, sizeof(key)), 1);
    assert_string_equal(key, "a");
    assert_string_equal(value, "1");
    assert_int_equal(rp_http_query_next("a=1&b=2", 3, &pos, key, value, sizeof(key)), 0);
}

static void
test_query_next_errors(void **state)
{
    char key[8], value[8];
    size_t pos = 0;
    const char *q = "a=%zz&b=%2&c=%00&%4=1&d=ok";
    size_t len = strlen(q);
    assert_int_equal(rp_http_query_next(q, len, &pos, key, value, 8), -EINVAL);
    assert_int_equal(pos, 5);
    assert_int_equal(rp_http_query_next(q, len, &pos, key, value, 8), -EINVAL);
    assert_int_equal(rp_http_query_next(q, len, &pos, key, value, 8), -EINVAL);
    assert_int_equal(rp_http_query_next(q, len, &pos, key, value, 8), -EINVAL);
    /* A bad parameter is skipped; the walk goes on. */
    assert_int_equal(rp_http_query_next(q, len, &pos, key, value, 8), 1);
    assert_string_equal(key, "d");
    assert_string_equal(value, "ok");
    assert_int_equal(rp_http_query_next(q, len, &pos, key, value, 8), 0);

    /* A raw NUL inside the given length is refused too. */
    pos = 0;
    assert_int_equal(rp_http_query_next("a=\0b", 4, &pos, key, value, 8), -EINVAL);

    /* cap counts the NUL: 7 bytes fit in 8, 8 do not. */
    pos = 0;
    q = "abcdefg=1234567&abcdefgh=1&k=12345678&e=%41%42%43%44%45%46%47";
    len = strlen(q);
    assert_int_equal(rp_http_query_next(q, len, &pos, key, value, 8), 1);
    assert_string_equal(key, "abcdefg");
    assert_string_equal(value, "1234567");
    assert_int_equal(rp_http_query_next(q, len, &pos, key, value, 8), -ENOBUFS);
    assert_int_equal(rp_http_query_next(q, len, &pos, key, value, 8), -ENOBUFS);
    /* Escapes count decoded: 7 decoded bytes fit. */
    assert_int_equal(rp_http_query_next(q, len, &pos, key, value, 8), 1);
    assert_string_equal(value, "ABCDEFG");

    pos = 0;
    assert_int_equal(rp_http_query_next("a=1", 3, &pos, key, value, 0), -ENOBUFS);
    pos = 0;
    assert_int_equal(rp_http_query_next("a", 1, &pos, key, value, 1), -ENOBUFS);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_query_and_percent_decoding),
        cmocka_unit_test(test_absolute_form),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_content_length_body),
        cmocka_unit_test(test_chunked_body),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_partial_then_rest),
        cmocka_unit_test(test_byte_at_a_time),
        cmocka_unit_test(test_in_request),
        cmocka_unit_test(test_request_line_limit),
        cmocka_unit_test(test_header_bytes_limit),
        cmocka_unit_test(test_header_count_limit),
        cmocka_unit_test(test_body_limit_content_length),
        cmocka_unit_test(test_body_limit_chunked),
        cmocka_unit_test(test_length_required),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_strict_chunk_framing),
        cmocka_unit_test(test_head_end),
        cmocka_unit_test(test_host_required),
        cmocka_unit_test(test_error_is_sticky),
        cmocka_unit_test(test_versions_and_keep_alive),
        cmocka_unit_test(test_upgrade_is_parsed_not_honoured),
        cmocka_unit_test(test_reuse_after_reset),
        cmocka_unit_test(test_query_next),
        cmocka_unit_test(test_query_next_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
