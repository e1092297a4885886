/* SPDX-License-Identifier: MIT */
#include "gen/bench_http.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "base/hex.h"

/*
 * Chunked framing: SIZE (hex digits) -> EXT (anything to the LF, after `;` or blanks) ->
 * DATA (size bytes) -> DATA_CR -> DATA_LF -> SIZE ...; a zero size goes to TRAILER, whose
 * lines are skipped up to a blank one (TRAILER_LINE, TRAILER_LF) and then the body is done.
 */
enum chunk_state {
    CHUNK_SIZE = 0,
    CHUNK_EXT,
    CHUNK_SIZE_LF,
    CHUNK_DATA,
    CHUNK_DATA_CR,
    CHUNK_DATA_LF,
    CHUNK_TRAILER,
    CHUNK_TRAILER_LINE,
    CHUNK_TRAILER_LF,
};

static bool
token_is(const char *p, size_t n, const char *tok)
{
    size_t t = strlen(tok);
    return n == t && strncasecmp(p, tok, t) == 0;
}

/* Whether the comma-separated header value [p, p+n) lists <tok> (case-insensitive). */
static bool
list_has(const char *p, size_t n, const char *tok)
{
    const char *end = p + n;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *s = p;
        while (p < end && *p != ',')
            p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (token_is(s, (size_t)(e - s), tok))
            return true;
    }
    return false;
}

static int
parse_header(const char *p, const char *end, struct bench_http_head *h, bool *keep_alive)
{
    const char *colon = memchr(p, ':', (size_t)(end - p));
    if (!colon || colon == p)
        return -EPROTO;
    const char *v = colon + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    const char *ve = end;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    size_t name_len = (size_t)(colon - p);
    size_t vlen = (size_t)(ve - v);
    if (token_is(p, name_len, "content-length")) {
        int64_t len = 0;
        if (vlen == 0 || vlen > 18)
            return -EPROTO;
        for (size_t i = 0; i < vlen; i++) {
            if (v[i] < '0' || v[i] > '9')
                return -EPROTO;
            len = len * 10 + (v[i] - '0');
        }
        h->content_length = len;
    } else if (token_is(p, name_len, "transfer-encoding")) {
        h->chunked = list_has(v, vlen, "chunked");
    } else if (token_is(p, name_len, "connection")) {
        if (list_has(v, vlen, "close"))
            h->close = true;
        if (list_has(v, vlen, "keep-alive"))
            *keep_alive = true;
    }
    return 0;
}

long
bench_http_head_parse(const char *p, size_t n, struct bench_http_head *h)
{
    size_t scan = n < BENCH_HTTP_HEAD_MAX ? n : BENCH_HTTP_HEAD_MAX;
    /* The head ends at the first empty line (CRLF CRLF, or bare LFs from lax servers). */
    const char *lim = p + scan;
    const char *end = NULL; /* the LF that ends the last header line */
    size_t head_len = 0;
    for (const char *q = memchr(p, '\n', scan); q; q = memchr(q + 1, '\n', (size_t)(lim - q - 1))) {
        if (q + 1 < lim && q[1] == '\n') {
            end = q;
            head_len = (size_t)(q + 2 - p);
            break;
        }
        if (q + 2 < lim && q[1] == '\r' && q[2] == '\n') {
            end = q;
            head_len = (size_t)(q + 3 - p);
            break;
        }
    }
    if (!end)
        return n >= BENCH_HTTP_HEAD_MAX ? -EPROTO : 0;

    memset(h, 0, sizeof(*h));
    h->content_length = -1;
    /* Status line: HTTP/1.x SP 3DIGIT [SP reason] */
    const char *line_end = memchr(p, '\n', (size_t)(end + 1 - p));
    if (!line_end || line_end - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
        return -EPROTO;
    bool http10 = p[7] == '0';
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -EPROTO;
        h->status = h->status * 10 + (p[i] - '0');
    }
    bool keep_alive = false;
    const char *q = line_end + 1;
    while (q <= end) {
        const char *le = memchr(q, '\n', (size_t)(end + 1 - q));
        if (!le)
            break;
        const char *ve = le;
        if (ve > q && ve[-1] == '\r')
            ve--;
        if (ve > q && parse_header(q, ve, h, &keep_alive) != 0)
            return -EPROTO;
        q = le + 1;
    }
    if (http10 && !keep_alive)
        h->close = true;
    return (long)head_len;
}

void
bench_http_body_init(struct bench_http_body *b, const struct bench_http_head *h)
{
    memset(b, 0, sizeof(*b));
    if ((h->status >= 100 && h->status < 200) || h->status == 204 || h->status == 304) {
        b->mode = BENCH_HTTP_BODY_NONE;
    } else if (h->chunked) {
        b->mode = BENCH_HTTP_BODY_CHUNKED;
        b->state = CHUNK_SIZE;
    } else if (h->content_length >= 0) {
        b->mode = BENCH_HTTP_BODY_LENGTH;
        b->left = (uint64_t)h->content_length;
    } else {
        b->mode = BENCH_HTTP_BODY_UNTIL_CLOSE;
    }
    b->done =
        b->mode == BENCH_HTTP_BODY_NONE || (b->mode == BENCH_HTTP_BODY_LENGTH && b->left == 0);
}

/* Reads chunk framing up to the next data bytes; see enum chunk_state. */
static long
take_chunked(struct bench_http_body *b, const char *p, size_t n, const char **data,
             size_t *data_len)
{
    size_t i = 0;
    while (i < n && !b->done) {
        char c = p[i];
        switch (b->state) {
        case CHUNK_SIZE: {
            int v = rp_hex_value(c);
            if (v >= 0) {
                if (b->digits >= 15)
                    return -EPROTO;
                b->left = b->left * 16 + (uint64_t)v;
                b->digits++;
                i++;
                break;
            }
            if (b->digits == 0)
                return -EPROTO;
            if (c == ';' || c == ' ' || c == '\t')
                b->state = CHUNK_EXT;
            else if (c == '\r')
                b->state = CHUNK_SIZE_LF;
            else if (c == '\n')
                b->state = b->left ? CHUNK_DATA : CHUNK_TRAILER;
            else
                return -EPROTO;
            i++;
            break;
        }
        case CHUNK_EXT:
            if (c == '\n')
                b->state = b->left ? CHUNK_DATA : CHUNK_TRAILER;
            i++;
            break;
        case CHUNK_SIZE_LF:
            if (c != '\n')
                return -EPROTO;
            b->state = b->left ? CHUNK_DATA : CHUNK_TRAILER;
            i++;
            break;
        case CHUNK_DATA: {
            size_t take = n - i;
            if (take > b->left)
                take = (size_t)b->left;
            *data = p + i;
            *data_len = take;
            b->left -= take;
            if (b->left == 0)
                b->state = CHUNK_DATA_CR;
            return (long)(i + take);
        }
        case CHUNK_DATA_CR:
            if (c == '\r')
                b->state = CHUNK_DATA_LF;
            else if (c == '\n')
                b->state = CHUNK_SIZE;
            else
                return -EPROTO;
            b->digits = 0;
            i++;
            break;
        case CHUNK_DATA_LF:
            if (c != '\n')
                return -EPROTO;
            b->state = CHUNK_SIZE;
            i++;
            break;
        case CHUNK_TRAILER:
            if (c == '\n')
                b->done = true;
            else if (c == '\r')
                b->state = CHUNK_TRAILER_LF;
            else
                b->state = CHUNK_TRAILER_LINE;
            i++;
            break;
        case CHUNK_TRAILER_LINE:
            if (c == '\n')
                b->state = CHUNK_TRAILER;
            i++;
            break;
        case CHUNK_TRAILER_LF:
            if (c != '\n')
                return -EPROTO;
            b->done = true;
            i++;
            break;
        default:
            return -EPROTO;
        }
    }
    return (long)i;
}

long
bench_http_body_take(struct bench_http_body *b, const char *p, size_t n, const char **data,
                     size_t *data_len)
{
    *data = p;
    *data_len = 0;
    if (b->done)
        return 0;
    switch (b->mode) {
    case BENCH_HTTP_BODY_LENGTH: {
        size_t take = n;
        if (take > b->left)
            take = (size_t)b->left;
        *data_len = take;
        b->left -= take;
        b->done = b->left == 0;
        return (long)take;
    }
    case BENCH_HTTP_BODY_CHUNKED:
        return take_chunked(b, p, n, data, data_len);
    case BENCH_HTTP_BODY_UNTIL_CLOSE:
        *data_len = n;
        return (long)n;
    default:
        b->done = true;
        return 0;
    }
}
