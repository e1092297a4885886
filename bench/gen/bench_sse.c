/* SPDX-License-Identifier: MIT */
#include "gen/bench_sse.h"

#include <string.h>

/*
 * Line states. A line starts in LINE_START; a colon first makes it a COMMENT, a CR or LF
 * makes it blank (dispatch), anything else starts the field NAME. The first colon ends the
 * name (VALUE_START drops one space, then VALUE runs to the line end); a line end inside NAME
 * ends a field with an empty value. Every line end goes back to LINE_START; a CR sets
 * skip_lf so that the LF of a CRLF split across two reads is not read as a blank line.
 */
enum line_state {
    LINE_START = 0,
    LINE_NAME,
    LINE_VALUE_START,
    LINE_VALUE,
    LINE_COMMENT,
};

enum field {
    FIELD_OTHER = 0,
    FIELD_DATA,
    FIELD_EVENT,
    FIELD_ID,
    FIELD_RETRY,
};

static const unsigned char bom_bytes[3] = {0xef, 0xbb, 0xbf};

void
bench_sse_init(struct bench_sse *s)
{
    memset(s, 0, sizeof(*s));
}

/* The first CR or LF in [p, end), or NULL. */
static const char *
find_eol(const char *p, const char *end)
{
    const char *lf = memchr(p, '\n', (size_t)(end - p));
    const char *cr = memchr(p, '\r', (size_t)((lf ? lf : end) - p));
    return cr ? cr : lf;
}

static void
keep(char *dst, uint8_t *len, size_t cap, const char *p, size_t n)
{
    size_t room = cap - *len;
    if (n > room)
        n = room;
    memcpy(dst + *len, p, n);
    *len = (uint8_t)(*len + n);
}

static enum field
field_of(const struct bench_sse *s)
{
    /* name_len counts past the 6 kept bytes, so a long name never matches a short one. */
    switch (s->name_len) {
    case 2:
        return memcmp(s->name, "id", 2) == 0 ? FIELD_ID : FIELD_OTHER;
    case 4:
        return memcmp(s->name, "data", 4) == 0 ? FIELD_DATA : FIELD_OTHER;
    case 5:
        if (memcmp(s->name, "event", 5) == 0)
            return FIELD_EVENT;
        return memcmp(s->name, "retry", 5) == 0 ? FIELD_RETRY : FIELD_OTHER;
    default:
        return FIELD_OTHER;
    }
}

static void
value_begin(struct bench_sse *s)
{
    s->field = (uint8_t)field_of(s);
    switch (s->field) {
    case FIELD_EVENT:
        s->type_len = 0; /* the type buffer is replaced, not appended to */
        break;
    case FIELD_ID:
        s->id_tmp_len = 0;
        s->id_nul = 0;
        break;
    case FIELD_RETRY:
        s->retry_tmp = 0;
        s->retry_ok = 1;
        break;
    default:
        break;
    }
}

static void
value_add(struct bench_sse *s, const char *p, size_t n)
{
    switch (s->field) {
    case FIELD_DATA:
        keep(s->data, &s->data_kept, sizeof(s->data), p, n);
        s->data_len += n;
        break;
    case FIELD_EVENT:
        keep(s->type, &s->type_len, sizeof(s->type), p, n);
        break;
    case FIELD_ID:
        if (memchr(p, '\0', n))
            s->id_nul = 1;
        keep(s->id_tmp, &s->id_tmp_len, sizeof(s->id_tmp), p, n);
        break;
    case FIELD_RETRY:
        for (size_t i = 0; i < n; i++) {
            unsigned d = (unsigned char)p[i] - '0';
            if (d > 9) {
                s->retry_ok = 0;
                break;
            }
            s->retry_tmp = s->retry_tmp > UINT64_MAX / 20 ? UINT64_MAX / 2 : s->retry_tmp * 10 + d;
            s->retry_ok = 2; /* at least one digit */
        }
        break;
    default:
        break;
    }
}

static void
value_end(struct bench_sse *s)
{
    switch (s->field) {
    case FIELD_DATA:
        keep(s->data, &s->data_kept, sizeof(s->data), "\n", 1);
        s->data_len++;
        break;
    case FIELD_ID:
        if (!s->id_nul) {
            memcpy(s->id, s->id_tmp, s->id_tmp_len);
            s->id_len = s->id_tmp_len;
        }
        break;
    case FIELD_RETRY:
        if (s->retry_ok == 2)
            s->retry_ms = s->retry_tmp;
        break;
    default:
        break;
    }
    s->field = FIELD_OTHER;
}

static void
dispatch(struct bench_sse *s, bench_sse_event_fn fn, void *ctx)
{
    if (s->data_len == 0) {
        s->type_len = 0;
        return;
    }
    /* The data buffer always ends with the LF of its last data line: drop it. */
    s->data_len--;
    if (s->data_kept > s->data_len)
        s->data_kept = (uint8_t)s->data_len;
    struct bench_sse_event ev = {
        .type = s->type_len ? s->type : "message",
        .type_len = s->type_len ? s->type_len : 7,
        .id = s->id,
        .id_len = s->id_len,
        .data = s->data,
        .data_kept = s->data_kept,
        .data_len = (size_t)s->data_len,
    };
    fn(ctx, &ev);
    s->data_len = 0;
    s->data_kept = 0;
    s->type_len = 0;
}

static void
feed_lines(struct bench_sse *s, const char *p, const char *end, bench_sse_event_fn fn, void *ctx)
{
    while (p < end) {
        if (s->skip_lf) {
            s->skip_lf = 0;
            if (*p == '\n') {
                p++;
                continue;
            }
        }
        char c = *p;
        switch (s->state) {
        case LINE_START:
            if (c == '\n' || c == '\r') {
                dispatch(s, fn, ctx);
                s->skip_lf = c == '\r';
                p++;
            } else if (c == ':') {
                s->state = LINE_COMMENT;
                p++;
            } else {
                s->state = LINE_NAME;
                s->name_len = 0;
            }
            break;
        case LINE_NAME:
            while (p < end && *p != ':' && *p != '\n' && *p != '\r') {
                if (s->name_len < sizeof(s->name))
                    s->name[s->name_len] = *p;
                if (s->name_len < UINT8_MAX)
                    s->name_len++;
                p++;
            }
            if (p == end)
                break;
            value_begin(s);
            if (*p == ':') {
                s->state = LINE_VALUE_START;
            } else {
                value_end(s);
                s->skip_lf = *p == '\r';
                s->state = LINE_START;
            }
            p++;
            break;
        case LINE_VALUE_START:
            if (c == ' ')
                p++;
            s->state = LINE_VALUE;
            break;
        case LINE_VALUE: {
            const char *eol = find_eol(p, end);
            const char *stop = eol ? eol : end;
            if (stop > p)
                value_add(s, p, (size_t)(stop - p));
            p = stop;
            if (!eol)
                break;
            value_end(s);
            s->skip_lf = *eol == '\r';
            s->state = LINE_START;
            p++;
            break;
        }
        case LINE_COMMENT: {
            const char *eol = find_eol(p, end);
            if (!eol) {
                p = end;
                break;
            }
            s->skip_lf = *eol == '\r';
            s->state = LINE_START;
            p = eol + 1;
            break;
        }
        default:
            p = end;
            break;
        }
    }
}

void
bench_sse_feed(struct bench_sse *s, const char *p, size_t n, bench_sse_event_fn fn, void *ctx)
{
    const char *end = p + n;
    /* One U+FEFF at the very start is dropped; a partial match is data after all. */
    while (s->bom < BENCH_SSE_BOM_DONE && p < end) {
        if ((unsigned char)*p == bom_bytes[s->bom]) {
            s->bom++;
            p++;
            continue;
        }
        uint8_t matched = s->bom;
        s->bom = BENCH_SSE_BOM_DONE;
        feed_lines(s, (const char *)bom_bytes, (const char *)bom_bytes + matched, fn, ctx);
    }
    feed_lines(s, p, end, fn, ctx);
}
