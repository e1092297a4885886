/* SPDX-License-Identifier: MIT */
#ifndef RP_HTTP_RESPONSE_H
#define RP_HTTP_RESPONSE_H
/*
 * Serialising HTTP/1.1 responses into a capped buffer. Error bodies are JSON,
 * `{"error":"<message>","status":<code>}`, so a user always reads what was wrong.
 * Not responsible for writing to sockets. Any thread.
 */
#include <stdbool.h>
#include <stddef.h>

struct rp_buf;

/* The reason phrase of <status> ("OK", "Not Found", ...). */
const char *rp_http_status_text(int status);
/*
 * Appends a whole response: status line, Content-Type (omitted when NULL), Content-Length,
 * Connection (keep-alive or close), <extra_headers> (zero or more "Name: value\r\n" lines,
 * may be NULL), a blank line and <body>. 0, or -ENOBUFS when <out> is over its cap.
 */
int rp_http_response_write(struct rp_buf *out, int status, const char *content_type,
                           const char *extra_headers, const char *body, size_t body_len,
                           bool keep_alive);
/* Appends an error response whose JSON body carries <message> (JSON-escaped). */
int rp_http_response_error(struct rp_buf *out, int status, const char *message,
                           const char *extra_headers, bool keep_alive);
/* Appends <s> JSON-escaped (without quotes): ", \, control characters; UTF-8 kept as is. */
int rp_json_escape(struct rp_buf *out, const char *s, size_t len);

#endif
