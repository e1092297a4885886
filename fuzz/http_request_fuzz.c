/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for http/http_parser (and the error path of http/response). The input
 * is one connection's bytes. It is parsed twice with small limits: whole, then in chunks
 * whose sizes derive from the input; each DONE is followed by a reset, as a connection
 * does, and an ERROR ends the connection. Every request must satisfy the header's
 * contract, and both runs must see the same requests, then an error at the same place:
 * how bytes are split across reads must never change what is parsed. Which error is
 * reported may differ when one request breaks two rules (an over-long target that also
 * holds a bad byte is 414 or 400), because llhttp reports a span only at its end or at the
 * end of a read, so the status is checked in each run but not compared.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/utf8.h"
#include "http/http_parser.h"
#include "http/query.h"
#include "http/response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const struct rp_http_limits limits = {
    .max_request_line = 256,
    .max_header_bytes = 512,
    .max_headers = 8,
    .max_body = 1024,
};

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t
mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= FNV_PRIME;
    }
    return h;
}

static uint64_t
mix_size(uint64_t h, size_t v)
{
    return mix(h, &v, sizeof(v));
}

static uint64_t
mix_str(uint64_t h, const char *s, size_t len)
{
    return mix(mix_size(h, len), s, len);
}

static bool
is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static void
check_query(const char *query, size_t query_len)
{
    char key[16], value[16];
    size_t pos = 0, n = 0;
    for (;;) {
        size_t before = pos;
        int r = rp_http_query_next(query, query_len, &pos, key, value, sizeof(key));
        CHECK(pos <= query_len);
        if (r == 0)
            break;
        CHECK(pos > before);
        CHECK(r == 1 || r == -EINVAL || r == -ENOBUFS);
        if (r == 1) {
            CHECK(strlen(key) < sizeof(key));
            CHECK(strlen(value) < sizeof(value));
        }
        CHECK(++n <= query_len);
    }
}

/* Checks one complete request against the contract and folds it into <h>. */
static uint64_t
check_request(const struct rp_http_request *req, uint64_t h)
{
    CHECK(req->method_name && req->method_name[0] != '\0');
    CHECK(req->target && strlen(req->target) == req->target_len);
    CHECK(req->target_len > 0 && req->target_len <= limits.max_request_line);
    CHECK(req->path && req->path[0] == '/');
    CHECK(strlen(req->path) == req->path_len);
    CHECK(req->path_len <= req->target_len);
    CHECK(req->query && strlen(req->query) == req->query_len);
    CHECK(req->query_len < req->target_len);
    CHECK(req->http_major == 1 && (req->http_minor == 0 || req->http_minor == 1));
    CHECK(req->n_headers <= limits.max_headers);
    CHECK(req->n_headers == 0 || req->headers);
    size_t header_bytes = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct rp_http_header *hd = &req->headers[i];
        CHECK(hd->name_len > 0 && strlen(hd->name) == hd->name_len);
        CHECK(strlen(hd->value) == hd->value_len);
        CHECK(hd->value_len == 0 ||
              (!is_ows(hd->value[0]) && !is_ows(hd->value[hd->value_len - 1])));
        CHECK(rp_http_request_header(req, hd->name) != NULL);
        header_bytes += hd->name_len + hd->value_len;
        h = mix_str(h, hd->name, hd->name_len);
        h = mix_str(h, hd->value, hd->value_len);
    }
    CHECK(header_bytes <= limits.max_header_bytes);
    CHECK(req->body && req->body_len <= limits.max_body && req->body[req->body_len] == '\0');
    check_query(req->query, req->query_len);

    h = mix_size(h, (size_t)req->method);
    h = mix_str(h, req->method_name, strlen(req->method_name));
    h = mix_str(h, req->target, req->target_len);
    h = mix_str(h, req->path, req->path_len);
    h = mix_str(h, req->query, req->query_len);
    h = mix_str(h, req->body, req->body_len);
    h = mix_size(h, (size_t)req->http_minor);
    return mix_size(h, req->keep_alive);
}

/* The answer a server would send: well-formed, with a JSON body that is valid UTF-8. */
static void
check_error_response(struct rp_http_error err)
{
    CHECK(err.status == 400 || err.status == 411 || err.status == 413 || err.status == 414 ||
          err.status == 431 || err.status == 505);
    CHECK(err.reason && err.reason[0] != '\0');
    struct rp_buf out;
    rp_buf_init(&out, 1024);
    CHECK(rp_http_response_error(&out, err.status, err.reason, NULL, false) == 0);
    CHECK(out.len > 0 && memcmp(out.data, "HTTP/1.1 ", 9) == 0);
    rp_buf_fini(&out);
}

/* Escapes arbitrary bytes: the result must be valid UTF-8 without raw control bytes. */
static void
check_escape(const uint8_t *data, size_t size)
{
    struct rp_buf out;
    rp_buf_init(&out, 6 * size + 1);
    CHECK(rp_json_escape(&out, (const char *)data, size) == 0);
    CHECK(rp_utf8_valid(out.data, out.len, NULL));
    for (size_t i = 0; i < out.len; i++) {
        unsigned char c = (unsigned char)out.data[i];
        CHECK(c >= 0x20 && c != 0x7f);
        if (c == '"')
            CHECK(i > 0 && out.data[i - 1] == '\\');
    }
    rp_buf_fini(&out);
}

static size_t
next_chunk(uint64_t *rng)
{
    /* xorshift64: small reads are the interesting ones, with single bytes often. */
    uint64_t x = *rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *rng = x;
    return (x & 3) == 0 ? 1 : 1 + (size_t)((x >> 8) % 40);
}

/* Parses one connection's bytes; returns a digest of every request and error seen. */
static uint64_t
run(const uint8_t *data, size_t size, uint64_t seed)
{
    struct rp_http_parser *p = rp_http_parser_new(&limits);
    uint64_t h = FNV_OFFSET, rng = seed | 1;
    size_t off = 0, req_bytes = 0;
    while (off < size) {
        size_t n = size - off;
        if (seed) {
            size_t c = next_chunk(&rng);
            n = c < n ? c : n;
        }
        size_t consumed = SIZE_MAX;
        enum rp_parse_result r = rp_http_parser_feed(p, (const char *)data + off, n, &consumed);
        CHECK(consumed <= n);
        if (r == RP_PARSE_MORE) {
            CHECK(consumed == n);
            off += n;
            req_bytes += n;
            continue;
        }
        if (r == RP_PARSE_ERROR) {
            struct rp_http_error err = rp_http_parser_error(p);
            check_error_response(err);
            h = mix_str(h, "error", 5);
            break; /* a server answers and closes */
        }
        CHECK(r == RP_PARSE_DONE);
        CHECK(consumed > 0); /* a caller looping on DONE must make progress */
        CHECK(!rp_http_parser_in_request(p));
        req_bytes += consumed;
        h = check_request(rp_http_parser_request(p), h);
        h = mix_size(h, req_bytes);
        off += consumed;
        req_bytes = 0;
        rp_http_parser_reset(p);
        CHECK(!rp_http_parser_in_request(p));
    }
    h = mix_size(h, rp_http_parser_in_request(p));
    rp_http_parser_free(p);
    return h;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t whole = run(data, size, 0);
    uint64_t seed = mix(FNV_OFFSET, data, size);
    uint64_t chunked = run(data, size, seed ? seed : 1);
    CHECK(whole == chunked);
    check_escape(data, size);
    return 0;
}
