/* SPDX-License-Identifier: MIT */
#include "cluster/nng_msg.h"

#include <errno.h>
#include <string.h>

#include "base/buf.h"

enum { HEADER = 6, EVENTS_COUNT_AT = HEADER, ANSWER_COUNT_AT = HEADER + 24 };

/* ---- reading: a cursor that fails once and stays failed ---- */

struct rd {
    const uint8_t *p, *end;
    bool bad;
};

static uint64_t
rd_uint(struct rd *r, size_t width)
{
    if (r->bad || (size_t)(r->end - r->p) < width) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < width; i++)
        v = v << 8 | r->p[i];
    r->p += width;
    return v;
}

/* A length of <width> bytes then that many bytes, the length in [min, max]. */
static const uint8_t *
rd_str(struct rd *r, size_t width, size_t min, size_t max, size_t *len)
{
    uint64_t n = rd_uint(r, width);
    if (r->bad || n < min || n > max || (uint64_t)(r->end - r->p) < n) {
        r->bad = true;
        *len = 0;
        return NULL;
    }
    const uint8_t *s = r->p;
    r->p += n;
    *len = (size_t)n;
    return s;
}

/* One event entry; <last> is the previous entry's seq (0 before the first). */
static bool
rd_event(struct rd *r, uint64_t last, struct rp_nng_event *ev)
{
    ev->seq = rd_uint(r, 8);
    ev->prev = rd_uint(r, 8);
    uint64_t wall = rd_uint(r, 8);
    uint64_t flags = rd_uint(r, 1);
    const uint8_t *topic = rd_str(r, 2, 1, RP_NNG_NAME_MAX, &ev->topic_len);
    const uint8_t *type = rd_str(r, 1, 0, RP_NNG_TYPE_MAX, &ev->type_len);
    const uint8_t *pub_id = rd_str(r, 1, 0, RP_NNG_PUB_ID_MAX, &ev->pub_id_len);
    const uint8_t *data = rd_str(r, 4, 0, UINT32_MAX, &ev->data_len);
    if (r->bad || ev->seq == 0 || ev->prev >= ev->seq || ev->seq <= last || wall > INT64_MAX ||
        flags > 1)
        return false;
    ev->wall_ms = (int64_t)wall;
    ev->same_update = flags & 1;
    ev->topic = (const char *)topic;
    ev->type = ev->type_len ? (const char *)type : NULL;
    ev->pub_id = ev->pub_id_len ? (const char *)pub_id : NULL;
    ev->data = (const char *)data;
    return true;
}

int
rp_nng_msg_decode(const void *p, size_t len, struct rp_nng_msg *out)
{
    memset(out, 0, sizeof(*out));
    struct rd r = {.p = p, .end = (const uint8_t *)p + len};
    if (rd_uint(&r, 1) != RP_NNG_MSG_VERSION)
        return -EINVAL;
    uint64_t type = rd_uint(&r, 1);
    out->epoch = (uint32_t)rd_uint(&r, 4);
    size_t n;
    switch (type) {
    case RP_NNG_HELLO:
        out->last_seq = rd_uint(&r, 8);
        out->name = (const char *)rd_str(&r, 2, 0, RP_NNG_NAME_MAX, &out->name_len);
        break;
    case RP_NNG_INTEREST_ADD:
    case RP_NNG_INTEREST_REMOVE:
        out->count = (size_t)rd_uint(&r, 2);
        if (out->count == 0)
            return -EINVAL;
        out->entries = r.p;
        for (size_t i = 0; i < out->count && !r.bad; i++)
            rd_str(&r, 2, 1, RP_NNG_NAME_MAX, &n);
        break;
    case RP_NNG_BLOOM:
        out->generation = rd_uint(&r, 8);
        out->hashes = (unsigned)rd_uint(&r, 1);
        out->bits = (uint32_t)rd_uint(&r, 4);
        if (r.bad || out->hashes < 1 || out->hashes > RP_NNG_BLOOM_HASHES_MAX || out->bits < 8 ||
            out->bits > RP_NNG_BLOOM_BITS_MAX || out->bits % 8 ||
            (size_t)(r.end - r.p) < out->bits / 8)
            return -EINVAL;
        out->bitmap = r.p;
        r.p += out->bits / 8;
        break;
    case RP_NNG_GAP_REQUEST:
        out->after = rd_uint(&r, 8);
        out->upto = rd_uint(&r, 8);
        if (out->after >= out->upto)
            return -EINVAL;
        break;
    case RP_NNG_FILL_REQUEST:
        out->after = rd_uint(&r, 8);
        out->name = (const char *)rd_str(&r, 2, 1, RP_NNG_NAME_MAX, &out->name_len);
        break;
    case RP_NNG_FILL_ANSWER:
        out->after = rd_uint(&r, 8);
        out->lost_upto = rd_uint(&r, 8);
        out->name = (const char *)rd_str(&r, 2, 1, RP_NNG_NAME_MAX, &out->name_len);
        if (r.bad || out->lost_upto < out->after)
            return -EINVAL;
        out->upto = UINT64_MAX;
        goto events;
    case RP_NNG_GAP_ANSWER:
        out->after = rd_uint(&r, 8);
        out->upto = rd_uint(&r, 8);
        out->lost_upto = rd_uint(&r, 8);
        if (out->after >= out->upto || out->lost_upto < out->after || out->lost_upto > out->upto)
            return -EINVAL;
        goto events;
    case RP_NNG_EVENTS:
    events : {
        out->count = (size_t)rd_uint(&r, 2);
        if (type == RP_NNG_EVENTS && out->count == 0)
            return -EINVAL;
        out->entries = r.p;
        uint64_t last = 0;
        struct rp_nng_event ev;
        for (size_t i = 0; i < out->count && !r.bad; i++) {
            if (!rd_event(&r, last, &ev))
                return -EINVAL;
            if (type != RP_NNG_EVENTS && (ev.seq <= out->lost_upto || ev.seq > out->upto))
                return -EINVAL;
            if (type == RP_NNG_FILL_ANSWER &&
                (ev.topic_len != out->name_len || memcmp(ev.topic, out->name, ev.topic_len) != 0))
                return -EINVAL; /* a fill is of its one topic */
            last = ev.seq;
        }
        break;
    }
    case RP_NNG_HEARTBEAT:
        out->last_seq = rd_uint(&r, 8);
        out->chain = rd_uint(&r, 8);
        if (out->chain > out->last_seq)
            return -EINVAL;
        break;
    default:
        return -EINVAL;
    }
    if (r.bad || r.p != r.end)
        return -EINVAL;
    out->type = (enum rp_nng_msg_type)type;
    out->end = r.end;
    return 0;
}

bool
rp_nng_msg_next_name(struct rp_nng_msg *m, const char **name, size_t *len)
{
    if (m->type != RP_NNG_INTEREST_ADD && m->type != RP_NNG_INTEREST_REMOVE)
        return false;
    if (m->count == 0)
        return false;
    struct rd r = {.p = m->entries, .end = m->end};
    *name = (const char *)rd_str(&r, 2, 1, RP_NNG_NAME_MAX, len);
    m->entries = r.p;
    m->count--;
    return !r.bad;
}

bool
rp_nng_msg_next_event(struct rp_nng_msg *m, struct rp_nng_event *ev)
{
    if (m->type != RP_NNG_EVENTS && m->type != RP_NNG_GAP_ANSWER && m->type != RP_NNG_FILL_ANSWER)
        return false;
    if (m->count == 0)
        return false;
    struct rd r = {.p = m->entries, .end = m->end};
    bool ok = rd_event(&r, 0, ev); /* the order was checked by the decoder */
    m->entries = r.p;
    m->count--;
    return ok;
}

/* ---- writing ---- */

static int
put_uint(struct rp_buf *b, uint64_t v, size_t width)
{
    uint8_t tmp[8];
    for (size_t i = 0; i < width; i++)
        tmp[i] = (uint8_t)(v >> (8 * (width - 1 - i)));
    return rp_buf_append(b, tmp, width);
}

static int
put_str(struct rp_buf *b, size_t width, const void *s, size_t len)
{
    int err = put_uint(b, len, width);
    return err || len == 0 ? err : rp_buf_append(b, s, len);
}

static int
put_header(struct rp_buf *b, enum rp_nng_msg_type type, uint32_t epoch)
{
    int err = put_uint(b, RP_NNG_MSG_VERSION, 1);
    if (!err)
        err = put_uint(b, (uint64_t)type, 1);
    return err ? err : put_uint(b, epoch, 4);
}

int
rp_nng_msg_hello(struct rp_buf *b, uint32_t epoch, uint64_t last_seq, const char *name,
                 size_t name_len)
{
    if (name_len > RP_NNG_NAME_MAX)
        return -EINVAL;
    int err = put_header(b, RP_NNG_HELLO, epoch);
    if (!err)
        err = put_uint(b, last_seq, 8);
    return err ? err : put_str(b, 2, name, name_len);
}

int
rp_nng_msg_interest(struct rp_buf *b, uint32_t epoch, bool add, const char *const *names,
                    const size_t *lens, size_t count)
{
    if (count == 0 || count > RP_NNG_BATCH_MAX)
        return -EINVAL;
    int err = put_header(b, add ? RP_NNG_INTEREST_ADD : RP_NNG_INTEREST_REMOVE, epoch);
    if (!err)
        err = put_uint(b, count, 2);
    for (size_t i = 0; i < count && !err; i++) {
        if (lens[i] < 1 || lens[i] > RP_NNG_NAME_MAX)
            return -EINVAL;
        err = put_str(b, 2, names[i], lens[i]);
    }
    return err;
}

int
rp_nng_msg_bloom(struct rp_buf *b, uint32_t epoch, uint64_t generation, unsigned hashes,
                 uint32_t bits, const uint8_t *bitmap)
{
    if (hashes < 1 || hashes > RP_NNG_BLOOM_HASHES_MAX || bits < 8 || bits % 8 ||
        bits > RP_NNG_BLOOM_BITS_MAX)
        return -EINVAL;
    int err = put_header(b, RP_NNG_BLOOM, epoch);
    if (!err)
        err = put_uint(b, generation, 8);
    if (!err)
        err = put_uint(b, hashes, 1);
    if (!err)
        err = put_uint(b, bits, 4);
    return err ? err : rp_buf_append(b, bitmap, bits / 8);
}

int
rp_nng_msg_events(struct rp_buf *b, uint32_t epoch, size_t count)
{
    if (count > RP_NNG_BATCH_MAX)
        return -EINVAL;
    int err = put_header(b, RP_NNG_EVENTS, epoch);
    return err ? err : put_uint(b, count, 2);
}

int
rp_nng_msg_gap_request(struct rp_buf *b, uint32_t epoch, uint64_t after, uint64_t upto)
{
    if (after >= upto)
        return -EINVAL;
    int err = put_header(b, RP_NNG_GAP_REQUEST, epoch);
    if (!err)
        err = put_uint(b, after, 8);
    return err ? err : put_uint(b, upto, 8);
}

int
rp_nng_msg_gap_answer(struct rp_buf *b, uint32_t epoch, uint64_t after, uint64_t upto,
                      uint64_t lost_upto, size_t count)
{
    if (after >= upto || lost_upto < after || lost_upto > upto || count > RP_NNG_BATCH_MAX)
        return -EINVAL;
    int err = put_header(b, RP_NNG_GAP_ANSWER, epoch);
    if (!err)
        err = put_uint(b, after, 8);
    if (!err)
        err = put_uint(b, upto, 8);
    if (!err)
        err = put_uint(b, lost_upto, 8);
    return err ? err : put_uint(b, count, 2);
}

int
rp_nng_msg_heartbeat(struct rp_buf *b, uint32_t epoch, uint64_t last_seq, uint64_t chain)
{
    if (chain > last_seq)
        return -EINVAL;
    int err = put_header(b, RP_NNG_HEARTBEAT, epoch);
    if (!err)
        err = put_uint(b, last_seq, 8);
    return err ? err : put_uint(b, chain, 8);
}

int
rp_nng_msg_fill_request(struct rp_buf *b, uint32_t epoch, uint64_t after, const char *topic,
                        size_t len)
{
    if (len < 1 || len > RP_NNG_NAME_MAX)
        return -EINVAL;
    int err = put_header(b, RP_NNG_FILL_REQUEST, epoch);
    if (!err)
        err = put_uint(b, after, 8);
    return err ? err : put_str(b, 2, topic, len);
}

int
rp_nng_msg_fill_answer(struct rp_buf *b, uint32_t epoch, uint64_t after, uint64_t lost_upto,
                       const char *topic, size_t len, size_t count)
{
    if (lost_upto < after || len < 1 || len > RP_NNG_NAME_MAX || count > RP_NNG_BATCH_MAX)
        return -EINVAL;
    int err = put_header(b, RP_NNG_FILL_ANSWER, epoch);
    if (!err)
        err = put_uint(b, after, 8);
    if (!err)
        err = put_uint(b, lost_upto, 8);
    if (!err)
        err = put_str(b, 2, topic, len);
    return err ? err : put_uint(b, count, 2);
}

int
rp_nng_msg_event(struct rp_buf *b, const struct rp_nng_event *ev)
{
    if (ev->seq == 0 || ev->prev >= ev->seq || ev->wall_ms < 0 || ev->topic_len < 1 ||
        ev->topic_len > RP_NNG_NAME_MAX || ev->type_len > RP_NNG_TYPE_MAX ||
        ev->pub_id_len > RP_NNG_PUB_ID_MAX || ev->data_len > UINT32_MAX)
        return -EINVAL;
    int err = put_uint(b, ev->seq, 8);
    if (!err)
        err = put_uint(b, ev->prev, 8);
    if (!err)
        err = put_uint(b, (uint64_t)ev->wall_ms, 8);
    if (!err)
        err = put_uint(b, ev->same_update ? 1 : 0, 1);
    if (!err)
        err = put_str(b, 2, ev->topic, ev->topic_len);
    if (!err)
        err = put_str(b, 1, ev->type, ev->type_len);
    if (!err)
        err = put_str(b, 1, ev->pub_id, ev->pub_id_len);
    return err ? err : put_str(b, 4, ev->data, ev->data_len);
}

void
rp_nng_msg_set_count(struct rp_buf *b, size_t count)
{
    size_t at = (uint8_t)b->data[1] == RP_NNG_GAP_ANSWER ? ANSWER_COUNT_AT : EVENTS_COUNT_AT;
    if (b->len < at + 2)
        return;
    b->data[at] = (char)(count >> 8);
    b->data[at + 1] = (char)count;
}
