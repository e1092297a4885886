/* SPDX-License-Identifier: MIT */
#ifndef RP_HTTP_HTTP_PARSER_H
#define RP_HTTP_HTTP_PARSER_H
/*
 * HTTP/1.1 request parsing over llhttp, with hard limits on the request line, header
 * bytes and count, and body size. One parser per connection, reused request after request
 * (keep-alive, pipelining: feed returns after each complete request with the bytes it
 * consumed). Everything a request points to lives in the parser until the next reset.
 * Not responsible for routing or responses. Only called from the owning worker.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The query walker (rp_http_query_next) lives in http/query.h with the parser built on it. */
#include "http/query.h"

enum rp_parse_result {
    RP_PARSE_DONE = 0, /* one whole request is ready */
    RP_PARSE_MORE,     /* every byte was consumed; feed more */
    RP_PARSE_ERROR,    /* rp_http_parser_error says what to answer */
};

/* An error a user sees: the status to answer and why, in words. */
struct rp_http_error {
    int status;
    const char *reason; /* static string */
};

struct rp_http_limits {
    size_t max_request_line; /* method + target + version; over it: 414 */
    size_t max_header_bytes; /* all header names and values; over it: 431 */
    size_t max_headers;      /* header count; over it: 431 */
    size_t max_body;         /* decoded body bytes; over it: 413 */
};

enum rp_http_method {
    RP_HTTP_METHOD_OTHER = 0,
    RP_HTTP_METHOD_GET,
    RP_HTTP_METHOD_HEAD,
    RP_HTTP_METHOD_POST,
    RP_HTTP_METHOD_PUT,
    RP_HTTP_METHOD_DELETE,
    RP_HTTP_METHOD_OPTIONS,
};

struct rp_http_header {
    const char *name; /* NUL-terminated, as received */
    size_t name_len;
    const char *value; /* NUL-terminated, surrounding whitespace trimmed */
    size_t value_len;
};

struct rp_http_request {
    enum rp_http_method method;
    const char *method_name; /* NUL-terminated */
    const char *target;      /* raw request target, NUL-terminated */
    size_t target_len;
    const char *path; /* percent-decoded path without the query, NUL-terminated */
    size_t path_len;
    const char *query; /* raw query without '?', NUL-terminated ("" when none) */
    size_t query_len;
    const struct rp_http_header *headers;
    size_t n_headers;
    const char *body; /* decoded (de-chunked) body, NUL-terminated ("" when none) */
    size_t body_len;
    int http_major, http_minor;
    bool keep_alive; /* what HTTP/1.x and Connection: say */
};

struct rp_http_parser;

/* Allocates a parser that keeps a copy of <limits>. */
struct rp_http_parser *rp_http_parser_new(const struct rp_http_limits *limits);
void rp_http_parser_free(struct rp_http_parser *p);
/*
 * Feeds <len> bytes. Sets *<consumed> to how many were used: on DONE the rest belongs to
 * the next request (pipelining). After DONE or ERROR, call rp_http_parser_reset before
 * feeding again. A POST or PUT with neither Content-Length nor chunked coding is an
 * error with status 411; a path that does not start with '/' or decodes to a NUL is 400.
 */
enum rp_parse_result rp_http_parser_feed(struct rp_http_parser *p, const char *data, size_t len,
                                         size_t *consumed);
/* The complete request; borrowed, valid until the next reset. Only after DONE. */
const struct rp_http_request *rp_http_parser_request(const struct rp_http_parser *p);
/* What went wrong; only after ERROR. */
struct rp_http_error rp_http_parser_error(const struct rp_http_parser *p);
/* Forgets the current request and makes the parser ready for the next one. */
void rp_http_parser_reset(struct rp_http_parser *p);
/* True once per request when its headers asked "Expect: 100-continue" and its body has
 * not arrived yet: the caller then sends "HTTP/1.1 100 Continue" so the client sends it. */
bool rp_http_parser_take_continue(struct rp_http_parser *p);
/* True while part of a request has been received but not all of it. */
bool rp_http_parser_in_request(const struct rp_http_parser *p);

/* The value of the first header named <name> (case-insensitive), or NULL. */
const char *rp_http_request_header(const struct rp_http_request *req, const char *name);

#endif
