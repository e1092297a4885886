/* SPDX-License-Identifier: MIT */
#include "http/response.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/assert.h"
#include "base/buf.h"
#include "base/utf8.h"

struct status_text {
    int status;
    const char *text;
};

/* Every status the server sends, with RFC 9110's reason phrases. */
static const struct status_text status_texts[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Content"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

const char *
rp_http_status_text(int status)
{
    for (size_t i = 0; i < sizeof(status_texts) / sizeof(status_texts[0]); i++)
        if (status_texts[i].status == status)
            return status_texts[i].text;
    return "Unknown";
}

/* RFC 9110 6.4.1: these responses never carry content, so they get no Content-Length. */
static bool
status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

static int
append_head(struct rp_buf *out, int status, const char *content_type, const char *extra_headers,
            size_t body_len, bool keep_alive)
{
    RP_ASSERT(status >= 100 && status <= 999);
    /* The publish path answers here: plain appends, no printf. */
    int err = rp_buf_append_str(out, "HTTP/1.1 ");
    if (!err)
        err = rp_buf_append_u64(out, (uint64_t)status);
    if (!err)
        err = rp_buf_append(out, " ", 1);
    if (!err)
        err = rp_buf_append_str(out, rp_http_status_text(status));
    if (!err && content_type) {
        err = rp_buf_append_str(out, "\r\nContent-Type: ");
        if (!err)
            err = rp_buf_append_str(out, content_type);
    }
    if (!err && status_has_body(status)) {
        err = rp_buf_append_str(out, "\r\nContent-Length: ");
        if (!err)
            err = rp_buf_append_u64(out, body_len);
    }
    if (!err)
        err = rp_buf_append(out, "\r\n", 2);
    if (!err)
        err = rp_buf_append_str(out, keep_alive ? "Connection: keep-alive\r\n"
                                                : "Connection: close\r\n");
    if (!err && extra_headers)
        err = rp_buf_append_str(out, extra_headers);
    if (!err)
        err = rp_buf_append(out, "\r\n", 2);
    return err;
}

int
rp_http_response_write(struct rp_buf *out, int status, const char *content_type,
                       const char *extra_headers, const char *body, size_t body_len,
                       bool keep_alive)
{
    RP_ASSERT(body_len == 0 || status_has_body(status));
    size_t mark = out->len;
    int err = append_head(out, status, content_type, extra_headers, body_len, keep_alive);
    if (!err)
        err = rp_buf_append(out, body, body_len);
    if (err)
        out->len = mark; /* all or nothing: never half a response */
    return err;
}

/* Length of a valid UTF-8 sequence at <s> (at most <len> bytes), or 0 when it is invalid. */
static size_t
utf8_seq_len(const unsigned char *s, size_t len)
{
    size_t n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : 2;
    if (n > len)
        return 0;
    size_t bad;
    if (!rp_utf8_valid((const char *)s, n, &bad))
        return 0;
    return n;
}

/*
 * Escapes <len> bytes of <s> into <dst>, or only counts when <dst> is NULL; returns the
 * escaped length. Bytes that are not valid UTF-8 become U+FFFD so the output is always
 * valid JSON, whatever a peer sent.
 */
static size_t
escape_into(char *dst, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        const char *rep = NULL;
        char u[7];
        size_t n = 1;
        switch (c) {
        case '"':
            rep = "\\\"";
            break;
        case '\\':
            rep = "\\\\";
            break;
        case '\n':
            rep = "\\n";
            break;
        case '\r':
            rep = "\\r";
            break;
        case '\t':
            rep = "\\t";
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                memcpy(u, "\\u00", 4);
                u[4] = hex[c >> 4];
                u[5] = hex[c & 0xf];
                u[6] = '\0';
                rep = u;
            } else if (c >= 0x80) {
                n = utf8_seq_len(p + i, len - i);
                if (n == 0) {
                    rep = "\\ufffd";
                    n = 1;
                }
            }
            break;
        }
        if (rep) {
            size_t rlen = strlen(rep);
            if (dst)
                memcpy(dst + o, rep, rlen);
            o += rlen;
        } else {
            if (dst)
                memcpy(dst + o, p + i, n);
            o += n;
        }
        i += n;
    }
    return o;
}

int
rp_json_escape(struct rp_buf *out, const char *s, size_t len)
{
    size_t n = escape_into(NULL, s, len);
    if (n == 0)
        return 0;
    char *dst = rp_buf_reserve(out, n);
    if (!dst)
        return -ENOBUFS;
    escape_into(dst, s, len);
    out->len += n;
    return 0;
}

int
rp_http_response_error(struct rp_buf *out, int status, const char *message,
                       const char *extra_headers, bool keep_alive)
{
    static const char pre[] = "{\"error\":\"";
    char post[32];
    RP_ASSERT(status_has_body(status));
    if (!message)
        message = rp_http_status_text(status);
    size_t msg_len = strlen(message);
    int post_len = snprintf(post, sizeof(post), "\",\"status\":%d}", status);
    RP_ASSERT(post_len > 0 && (size_t)post_len < sizeof(post));
    size_t body_len = sizeof(pre) - 1 + escape_into(NULL, message, msg_len) + (size_t)post_len;

    size_t mark = out->len;
    int err = append_head(out, status, "application/json", extra_headers, body_len, keep_alive);
    if (!err)
        err = rp_buf_append(out, pre, sizeof(pre) - 1);
    if (!err)
        err = rp_json_escape(out, message, msg_len);
    if (!err)
        err = rp_buf_append(out, post, (size_t)post_len);
    if (err)
        out->len = mark;
    return err;
}
