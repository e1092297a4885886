/* SPDX-License-Identifier: MIT */
#ifndef BENCH_GEN_BENCH_HTTP_H
#define BENCH_GEN_BENCH_HTTP_H
/*
 * The client side of HTTP/1.1 that a load generator needs: a response head parser (status,
 * Content-Length, Transfer-Encoding: chunked, Connection: close) and an incremental body
 * decoder that hands out body bytes in place, without copying, for plain, length-delimited
 * and chunked bodies. Not a general client: no 1xx handling beyond skipping, no trailers
 * kept. Not thread-safe.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_HTTP_HEAD_MAX 16384

struct bench_http_head {
    int status;
    int64_t content_length; /* -1 when absent */
    bool chunked;
    bool close; /* Connection: close, or HTTP/1.0 without keep-alive */
};

/*
 * Parses the response head at the start of the <n> bytes at <p>. Returns the head's length
 * (through its blank line) once complete, 0 when more bytes are needed, or -EPROTO when it
 * is malformed or longer than BENCH_HTTP_HEAD_MAX.
 */
long bench_http_head_parse(const char *p, size_t n, struct bench_http_head *h);

enum bench_http_body_mode {
    BENCH_HTTP_BODY_NONE = 0,
    BENCH_HTTP_BODY_LENGTH,
    BENCH_HTTP_BODY_CHUNKED,
    BENCH_HTTP_BODY_UNTIL_CLOSE,
};

struct bench_http_body {
    uint8_t mode;
    uint8_t state; /* chunked framing state */
    uint8_t digits;
    bool done;
    uint64_t left; /* bytes left in the body (LENGTH) or in the current chunk (CHUNKED) */
};

/* Sets <b> up for the body that the response head <h> announces. */
void bench_http_body_init(struct bench_http_body *b, const struct bench_http_head *h);
/*
 * Reads framing and body bytes from the <n> bytes at <p>. Returns how many bytes it consumed
 * (all of <n> unless the body ended), and sets <*data>, <*data_len> to the body bytes found
 * among them (a span inside <p>; length 0 when none). Returns -EPROTO on bad chunk framing.
 * Call again with the rest while it returns less than <n> and the body is not done.
 */
long bench_http_body_take(struct bench_http_body *b, const char *p, size_t n, const char **data,
                          size_t *data_len);

#endif
