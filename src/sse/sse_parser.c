/* SPDX-License-Identifier: MIT */
#include "sse/sse_parser.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/buf.h"
#include "base/utf8.h"

/*
 * Lines are cut at CR, LF or CRLF. A line that ends inside one chunk is processed straight
 * from the chunk; only a line that spans chunks is copied into <line>. A CR at the end of a
 * chunk leaves <after_cr> set, so an LF that starts the next chunk is not a second line end.
 *
 * WHATWG keeps two ids: the "last event ID buffer" an `id` field sets, and the "last event
 * ID string" the buffer is copied into at every blank line (dispatched or not). Only the
 * string is what a reconnect sends, so an id whose block never ended (the connection died
 * first) is not used to resume: that event was not delivered.
 */
struct rp_sse_parser {
    struct rp_sse_limits lim;
    rp_sse_event_fn on_event;
    rp_sse_retry_fn on_retry;
    void *ctx;
    struct rp_buf line;    /* a line not yet ended; cap max_line */
    struct rp_buf data;    /* data lines, each followed by LF; cap max_event + 1 */
    struct rp_buf type;    /* the event type buffer; cap 3 * max_line (U+FFFD expansion) */
    struct rp_buf id_buf;  /* the last event ID buffer; cap 3 * max_line */
    struct rp_buf last_id; /* the last event ID string; cap 3 * max_line */
    struct rp_buf origin;  /* the block's `origin-id` field (RevenProx's); cap 3 * max_line */
    unsigned bom_seen;     /* bytes of a leading BOM matched so far */
    bool at_start;         /* no byte of this stream has been processed yet */
    bool after_cr;         /* the previous line ended with CR: skip one LF */
    bool id_dirty;         /* id_buf changed since it was last copied into last_id */
    bool block_has_id;     /* the current block had a (not ignored) id field */
    const char *error;     /* set on ERROR until restart */
};

static const unsigned char BOM[3] = {0xEF, 0xBB, 0xBF};
static const char REPLACEMENT[3] = {(char)0xEF, (char)0xBF, (char)0xBD}; /* U+FFFD */

struct rp_sse_parser *
rp_sse_parser_new(const struct rp_sse_limits *limits, rp_sse_event_fn on_event,
                  rp_sse_retry_fn on_retry, void *ctx)
{
    RP_ASSERT(limits->max_line > 0 && limits->max_line < SIZE_MAX / 4);
    RP_ASSERT(limits->max_event > 0 && limits->max_event < SIZE_MAX - 1);
    struct rp_sse_parser *p = rp_xcalloc(1, sizeof(*p));
    p->lim = *limits;
    p->on_event = on_event;
    p->on_retry = on_retry;
    p->ctx = ctx;
    rp_buf_init(&p->line, limits->max_line);
    rp_buf_init(&p->data, limits->max_event + 1);
    rp_buf_init(&p->type, 3 * limits->max_line);
    rp_buf_init(&p->id_buf, 3 * limits->max_line);
    rp_buf_init(&p->last_id, 3 * limits->max_line);
    rp_buf_init(&p->origin, 3 * limits->max_line);
    p->at_start = true;
    return p;
}

void
rp_sse_parser_free(struct rp_sse_parser *p)
{
    if (!p)
        return;
    rp_buf_fini(&p->line);
    rp_buf_fini(&p->data);
    rp_buf_fini(&p->type);
    rp_buf_fini(&p->id_buf);
    rp_buf_fini(&p->last_id);
    rp_buf_fini(&p->origin);
    free(p);
}

/*
 * Appends <n> bytes of <s> decoded as the WHATWG "UTF-8 decode" does: each maximal invalid
 * subsequence becomes one U+FFFD and the byte that broke it is looked at again. Line ends
 * and ':' are ASCII, which always ends an invalid sequence, so decoding a field's value
 * alone gives what decoding the whole stream would. 0 or -ENOBUFS.
 */
static int
append_utf8(struct rp_buf *b, const char *s, size_t n)
{
    if (rp_utf8_valid(s, n, NULL))
        return rp_buf_append(b, s, n);
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char c = u[i];
        size_t need = 0;
        unsigned char lower = 0x80, upper = 0xBF;
        if (c < 0x80) {
            size_t j = i + 1;
            while (j < n && u[j] < 0x80)
                j++;
            if (rp_buf_append(b, s + i, j - i))
                return -ENOBUFS;
            i = j;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lower = 0xA0;
            if (c == 0xED)
                upper = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lower = 0x90;
            if (c == 0xF4)
                upper = 0x8F;
        }
        size_t j = i + 1, got = 0;
        while (got < need && j < n && u[j] >= lower && u[j] <= upper) {
            lower = 0x80;
            upper = 0xBF;
            j++;
            got++;
        }
        int err = need && got == need ? rp_buf_append(b, s + i, j - i)
                                      : rp_buf_append(b, REPLACEMENT, sizeof(REPLACEMENT));
        if (err)
            return -ENOBUFS;
        i = j;
    }
    return 0;
}

static bool
field_is(const char *name, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(name, want, len) == 0;
}

/* Copies one id buffer into another of the same cap (so it cannot fail), NUL-terminated. */
static void
copy_id(struct rp_buf *dst, struct rp_buf *src)
{
    dst->len = 0;
    int err = rp_buf_append(dst, src->data, src->len);
    RP_ASSERT(err == 0 && rp_buf_cstr(dst) != NULL);
}

static int
fail(struct rp_sse_parser *p, const char *why)
{
    p->error = why;
    return -1;
}

/* The blank line: the last event id string takes the buffer, then an event is dispatched if
 * any data came. Returns 1 when the callback asked to stop, else 0. */
static int
dispatch(struct rp_sse_parser *p)
{
    bool has_id = p->block_has_id;
    p->block_has_id = false;
    if (p->id_dirty) {
        copy_id(&p->last_id, &p->id_buf);
        p->id_dirty = false;
    }
    if (p->data.len == 0) {
        p->type.len = 0;
        p->origin.len = 0;
        return 0;
    }
    p->data.len--; /* every data line appended an LF; the last one is not part of the data */
    struct rp_sse_event ev = {
        .type = p->type.len ? rp_buf_cstr(&p->type) : "message",
        .type_len = p->type.len ? p->type.len : strlen("message"),
        .data = rp_buf_cstr(&p->data),
        .data_len = p->data.len,
        .last_id = p->last_id.len ? rp_buf_cstr(&p->last_id) : "",
        .last_id_len = p->last_id.len,
        .has_id = has_id,
        .origin_id = p->origin.len ? rp_buf_cstr(&p->origin) : "",
        .origin_id_len = p->origin.len,
    };
    int rc = p->on_event ? p->on_event(p->ctx, &ev) : 0;
    p->data.len = 0;
    p->type.len = 0;
    p->origin.len = 0;
    return rc ? 1 : 0;
}

static int
retry_field(struct rp_sse_parser *p, const char *v, size_t n)
{
    if (n == 0)
        return 0;
    uint64_t ms = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0; /* not only digits: ignored */
        unsigned d = (unsigned)(v[i] - '0');
        ms = ms > (UINT64_MAX - d) / 10 ? UINT64_MAX : ms * 10 + d;
    }
    return p->on_retry && p->on_retry(p->ctx, ms) ? 1 : 0;
}

/* One whole line, line end excluded. Returns 1 to stop, 0 to go on, -1 on error. */
static int
process_line(struct rp_sse_parser *p, const char *line, size_t n)
{
    if (n == 0)
        return dispatch(p);
    if (line[0] == ':')
        return 0; /* a comment */
    const char *colon = memchr(line, ':', n);
    size_t name_len = colon ? (size_t)(colon - line) : n;
    const char *value = colon ? colon + 1 : line + n;
    size_t value_len = n - name_len - (colon ? 1 : 0);
    if (value_len && value[0] == ' ') {
        value++;
        value_len--;
    }
    if (field_is(line, name_len, "data")) {
        if (append_utf8(&p->data, value, value_len) || rp_buf_append(&p->data, "\n", 1))
            return fail(p, "an event's data is longer than the parser's max_event");
    } else if (field_is(line, name_len, "event")) {
        p->type.len = 0;
        int err = append_utf8(&p->type, value, value_len); /* 3 * max_line always fits */
        RP_ASSERT(err == 0);
    } else if (field_is(line, name_len, "id")) {
        if (!memchr(value, '\0', value_len)) {
            p->id_buf.len = 0;
            int err = append_utf8(&p->id_buf, value, value_len);
            RP_ASSERT(err == 0);
            p->id_dirty = true;
            p->block_has_id = true;
        }
    } else if (field_is(line, name_len, "retry")) {
        return retry_field(p, value, value_len);
    } else if (field_is(line, name_len, "origin-id") && !memchr(value, '\0', value_len)) {
        p->origin.len = 0;
        int err = append_utf8(&p->origin, value, value_len); /* 3 * max_line always fits */
        RP_ASSERT(err == 0);
    }
    return 0; /* other fields are ignored */
}

enum rp_sse_parse_result
rp_sse_parser_feed(struct rp_sse_parser *p, const char *data, size_t len, size_t *consumed)
{
    enum rp_sse_parse_result r = RP_SSE_PARSE_MORE;
    const unsigned char *u = (const unsigned char *)data;
    size_t i = 0;

    if (p->error) {
        r = RP_SSE_PARSE_ERROR;
        goto out;
    }
    /* A BOM is only stripped at the very start of a stream; a partial match that turns out
     * not to be one is content (and decodes to U+FFFD). */
    while (p->at_start && i < len) {
        if (u[i] == BOM[p->bom_seen]) {
            i++;
            if (++p->bom_seen == sizeof(BOM))
                p->at_start = false;
            continue;
        }
        p->at_start = false;
        if (rp_buf_append(&p->line, BOM, p->bom_seen)) {
            fail(p, "a line is longer than the parser's max_line");
            r = RP_SSE_PARSE_ERROR;
            goto out;
        }
    }
    while (i < len) {
        if (p->after_cr) {
            p->after_cr = false;
            if (u[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < len && u[j] != '\r' && u[j] != '\n')
            j++;
        const char *line = data + i;
        size_t n = j - i;
        if (p->line.len || j == len) {
            if (rp_buf_append(&p->line, data + i, n)) {
                fail(p, "a line is longer than the parser's max_line");
                r = RP_SSE_PARSE_ERROR;
                break;
            }
            line = p->line.data;
            n = p->line.len;
        } else if (n > p->lim.max_line) {
            fail(p, "a line is longer than the parser's max_line");
            r = RP_SSE_PARSE_ERROR;
            break;
        }
        if (j == len) {
            i = len; /* the line goes on in the next chunk */
            break;
        }
        p->after_cr = u[j] == '\r';
        i = j + 1;
        int rc = process_line(p, line, n);
        p->line.len = 0;
        if (rc < 0) {
            r = RP_SSE_PARSE_ERROR;
            break;
        }
        if (rc > 0) {
            r = RP_SSE_PARSE_DONE;
            break;
        }
    }
out:
    if (consumed)
        *consumed = i;
    return r;
}

void
rp_sse_parser_restart(struct rp_sse_parser *p)
{
    p->line.len = 0;
    p->data.len = 0;
    p->type.len = 0;
    p->origin.len = 0;
    /* Browsers start the new stream's id buffer from the last id string (not from ""), so a
     * block without an id on the new stream does not forget where the client is. */
    copy_id(&p->id_buf, &p->last_id);
    p->id_dirty = false;
    p->block_has_id = false;
    p->bom_seen = 0;
    p->at_start = true;
    p->after_cr = false;
    p->error = NULL;
}

const char *
rp_sse_parser_last_id(const struct rp_sse_parser *p, size_t *len)
{
    if (len)
        *len = p->last_id.len;
    return p->last_id.len ? p->last_id.data : "";
}

int
rp_sse_parser_set_last_id(struct rp_sse_parser *p, const char *id, size_t len)
{
    if (len > p->lim.max_line || memchr(id, '\0', len) || memchr(id, '\r', len) ||
        memchr(id, '\n', len))
        return -EINVAL;
    p->last_id.len = 0;
    int err = append_utf8(&p->last_id, id, len);
    RP_ASSERT(err == 0 && rp_buf_cstr(&p->last_id) != NULL);
    copy_id(&p->id_buf, &p->last_id);
    p->id_dirty = false;
    return 0;
}

const char *
rp_sse_parser_error(const struct rp_sse_parser *p)
{
    return p->error;
}
