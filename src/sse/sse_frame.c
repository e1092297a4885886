/* SPDX-License-Identifier: MIT */
#include "sse/sse_frame.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/buf.h"

/*
 * Buffer layout:
 *   [topic][pub_id]["event: <type>\n"]["event: <topic>[:<type>]\n"][room for "id: <id>\n"]
 *   ["origin-id: <id>\n" for an upstream's event][data lines]["\n"]
 * rp_frame_set_id writes the id line so that it ends exactly where the origin line (or the
 * data) starts; the unused part of the room stays in front of it and is never sent.
 */

static const char EVENT_PREFIX[] = "event: ";
static const char ID_PREFIX[] = "id: ";
static const char DATA_PREFIX[] = "data: ";
static const char ORIGIN_PREFIX[] = RP_FRAME_ORIGIN_FIELD ": ";

#define LIT_LEN(s) (sizeof(s) - 1)

/* Bytes the data takes once split into `data:` lines. */
static size_t
encoded_data_len(const char *d, size_t n)
{
    size_t lines = 1;
    for (size_t i = 0; i < n; i++) {
        if (d[i] == '\n') {
            lines++;
        } else if (d[i] == '\r') {
            lines++;
            if (i + 1 < n && d[i + 1] == '\n')
                i++;
        }
    }
    /* Each line: prefix + its bytes + LF. Counting the input's own line-break bytes too
     * over-counts a little; `end` records the exact length. */
    return lines * (LIT_LEN(DATA_PREFIX) + 1) + n;
}

static char *
put(char *p, const void *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

struct rp_frame *
rp_frame_encode(const struct rp_frame_spec *spec)
{
    size_t event_len = spec->event ? spec->event_len : 0;
    size_t pub_id_len = spec->pub_id ? spec->pub_id_len : 0;
    size_t plain_ev = event_len ? LIT_LEN(EVENT_PREFIX) + event_len + 1 : 0;
    size_t tagged_ev =
        LIT_LEN(EVENT_PREFIX) + spec->topic_len + 1 + (event_len ? 1 + event_len : 0);
    /* A supplied id (after its mark) is the `id:` line itself: room for exactly it. */
    bool own_id = pub_id_len > 1 && spec->pub_id[0] == RP_FRAME_SSE_ID_MARK;
    size_t id_room = spec->id_room ? spec->id_room : RP_FRAME_ID_MAX;
    size_t room = LIT_LEN(ID_PREFIX) + (own_id ? pub_id_len - 1 : id_room) + 1;
    size_t body = encoded_data_len(spec->data, spec->data_len) + 1;
    /* An upstream's id (after its mark) goes out as the origin line; never CR or LF in it. */
    bool origin = pub_id_len > 1 && spec->pub_id[0] == RP_FRAME_ORIGIN_MARK &&
                  !memchr(spec->pub_id, '\r', pub_id_len) &&
                  !memchr(spec->pub_id, '\n', pub_id_len);
    if (origin)
        body += LIT_LEN(ORIGIN_PREFIX) + pub_id_len; /* the mark's byte pays for the LF */
    size_t total = spec->topic_len + pub_id_len + plain_ev + tagged_ev + room + body;
    RP_ASSERT(total < UINT32_MAX);

    struct rp_frame *f = rp_xmalloc(sizeof(*f) + total);
    atomic_init(&f->refs, 1);
    f->appended_ms = 0;
    f->group = 0;
    f->topic_len = (uint32_t)spec->topic_len;
    f->data_len = (uint32_t)spec->data_len;
    f->ends_stream = spec->ends_stream;
    f->id_room = (uint16_t)id_room;
    f->origin = 0;
    f->origin_seq = 0;
    char *p = put(f->buf, spec->topic, spec->topic_len);
    f->pub_id_off = (uint32_t)(p - f->buf);
    f->pub_id_len = (uint32_t)pub_id_len;
    p = put(p, spec->pub_id ? spec->pub_id : "", pub_id_len);

    f->plain_ev_off = (uint32_t)(p - f->buf);
    f->plain_ev_len = (uint32_t)plain_ev;
    f->event_off = f->event_len = 0;
    if (event_len) {
        p = put(p, EVENT_PREFIX, LIT_LEN(EVENT_PREFIX));
        f->event_off = (uint32_t)(p - f->buf);
        f->event_len = (uint32_t)event_len;
        p = put(p, spec->event, event_len);
        *p++ = '\n';
    }
    f->tagged_ev_off = (uint32_t)(p - f->buf);
    f->tagged_ev_len = (uint32_t)tagged_ev;
    p = put(p, EVENT_PREFIX, LIT_LEN(EVENT_PREFIX));
    p = put(p, spec->topic, spec->topic_len);
    if (event_len) {
        *p++ = ':';
        p = put(p, spec->event, event_len);
    }
    *p++ = '\n';

    if (own_id) {
        f->id_off = (uint32_t)(p - f->buf);
        p = put(p, ID_PREFIX, LIT_LEN(ID_PREFIX));
        p = put(p, spec->pub_id + 1, pub_id_len - 1);
        *p++ = '\n';
        f->origin_off = (uint32_t)(p - f->buf);
    } else {
        p += room;
        f->origin_off = f->id_off = (uint32_t)(p - f->buf);
    }
    if (origin) {
        p = put(p, ORIGIN_PREFIX, LIT_LEN(ORIGIN_PREFIX));
        p = put(p, spec->pub_id + 1, pub_id_len - 1);
        *p++ = '\n';
    }
    f->body_off = (uint32_t)(p - f->buf);
    /* Empty data may come as NULL; arithmetic on a null pointer is undefined even by 0. */
    const char *d = spec->data ? spec->data : "", *end = d + spec->data_len;
    for (;;) {
        const char *eol = d;
        while (eol < end && *eol != '\n' && *eol != '\r')
            eol++;
        p = put(p, DATA_PREFIX, LIT_LEN(DATA_PREFIX));
        p = put(p, d, (size_t)(eol - d));
        *p++ = '\n';
        if (eol == end)
            break;
        d = eol + 1;
        if (*eol == '\r' && d < end && *d == '\n')
            d++;
    }
    *p++ = '\n';
    f->end = (uint32_t)(p - f->buf);
    RP_ASSERT(f->end <= total);
    return f;
}

void
rp_frame_set_id(struct rp_frame *f, const char *id, size_t id_len)
{
    RP_ASSERT(id_len <= f->id_room);
    if (f->pub_id_len > 1 && f->buf[f->pub_id_off] == RP_FRAME_SSE_ID_MARK)
        return; /* the supplied id was written at encode time */
    size_t line = LIT_LEN(ID_PREFIX) + id_len + 1;
    char *p = f->buf + f->origin_off - line;
    f->id_off = (uint32_t)(p - f->buf);
    p = put(p, ID_PREFIX, LIT_LEN(ID_PREFIX));
    p = put(p, id, id_len);
    *p = '\n';
}

void
rp_frame_unref(struct rp_frame *f)
{
    if (f && atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1)
        free(f);
}

const char *
rp_frame_check_event(const char *event, size_t len)
{
    if (len == 0)
        return "event type is empty";
    if (len > 128)
        return "event type is longer than 128 bytes";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)event[i];
        if (c < 0x20 || c == 0x7f)
            return "event type contains a control character (CR, LF or another)";
    }
    return NULL;
}

int
rp_frame_decode_data(const struct rp_frame *f, void *out)
{
    struct rp_buf *b = out;
    const char *p = f->buf + f->body_off, *end = f->buf + f->end - 1; /* drop the blank line */
    bool first = true;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        RP_ASSERT(eol);
        if ((size_t)(eol - p) >= LIT_LEN(DATA_PREFIX) &&
            memcmp(p, DATA_PREFIX, LIT_LEN(DATA_PREFIX)) == 0) {
            if (!first && rp_buf_append(b, "\n", 1))
                return -ENOBUFS;
            first = false;
            const char *v = p + LIT_LEN(DATA_PREFIX);
            if (rp_buf_append(b, v, (size_t)(eol - v)))
                return -ENOBUFS;
        }
        p = eol + 1;
    }
    return 0;
}

size_t
rp_sse_retry_hint(int64_t ms, char *out, size_t cap)
{
    int n =
        snprintf(out, cap, "retry: %lld\n\n", (long long)(ms > 0 ? ms : RP_SSE_RETRY_DEFAULT_MS));
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}
