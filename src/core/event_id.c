/* SPDX-License-Identifier: MIT */
#include "core/event_id.h"

#include <errno.h>
#include <string.h>
#include <inttypes.h>
#include <stdio.h>

#include "base/assert.h"
#include "base/buf.h"

#define EPOCH_DIGITS 8
#define SEQ_DIGITS_MAX 19

size_t
rp_event_id_format(const struct rp_event_id *id, char *out)
{
    /* Every publish formats an id: by hand, not with snprintf. */
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < EPOCH_DIGITS; i++)
        out[i] = hex[(id->epoch >> (28 - 4 * i)) & 0xf];
    out[EPOCH_DIGITS] = '-';
    /* Only a seq past 2^63-1, which no hub assigns, could need more room. */
    RP_ASSERT(id->seq <= INT64_MAX);
    size_t n = EPOCH_DIGITS + 1 + rp_u64_to_dec(id->seq, out + EPOCH_DIGITS + 1);
    out[n] = '\0';
    return n;
}

static int
lower_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int
rp_event_id_parse(const char *s, size_t len, struct rp_event_id *out)
{
    /* Strict: the id is peer input (Last-Event-ID), and one spelling per id keeps ids
     * comparable as strings by whoever stores them. */
    if (len < EPOCH_DIGITS + 2 || len > EPOCH_DIGITS + 1 + SEQ_DIGITS_MAX)
        return -EINVAL;
    uint32_t epoch = 0;
    for (size_t i = 0; i < EPOCH_DIGITS; i++) {
        int v = lower_hex_value(s[i]);
        if (v < 0)
            return -EINVAL;
        epoch = epoch << 4 | (uint32_t)v;
    }
    if (s[EPOCH_DIGITS] != '-')
        return -EINVAL;
    const char *p = s + EPOCH_DIGITS + 1, *end = s + len;
    /* One spelling: no leading zero. A lone `0` is an epoch's origin, before its first
     * event: the opening id of a live stream on a hub that has published nothing. */
    if (*p == '0' && end - p > 1)
        return -EINVAL;
    uint64_t seq = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        uint64_t d = (uint64_t)(*p - '0');
        if (seq > (INT64_MAX - d) / 10)
            return -EINVAL;
        seq = seq * 10 + d;
    }
    out->epoch = epoch;
    out->seq = seq;
    return 0;
}

int
rp_event_vector_parse(const char *s, size_t len, struct rp_event_vector *out)
{
    if (len > RP_EVENT_VECTOR_MAX)
        return -EINVAL;
    out->n = 0;
    const char *p = s, *end = s + len;
    for (;;) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        const char *stop = dot ? dot : end;
        struct rp_event_id id;
        if (out->n == RP_EVENT_ID_PARTS_MAX || rp_event_id_parse(p, (size_t)(stop - p), &id) != 0)
            return -EINVAL;
        for (size_t i = 0; i < out->n; i++)
            if (out->part[i].epoch == id.epoch)
                return -EINVAL; /* one part per origin: a second would be ambiguous */
        out->part[out->n++] = id;
        if (!dot)
            return 0;
        p = dot + 1;
    }
}

size_t
rp_event_vector_format(const struct rp_event_vector *v, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (i)
            out[n++] = '.';
        n += rp_event_id_format(&v->part[i], out + n);
    }
    out[n] = '\0';
    return n;
}

uint64_t
rp_event_vector_get(const struct rp_event_vector *v, uint32_t epoch)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->part[i].epoch == epoch)
            return v->part[i].seq;
    return 0;
}

int
rp_event_vector_set(struct rp_event_vector *v, uint32_t epoch, uint64_t seq)
{
    for (size_t i = 0; i < v->n; i++) {
        if (v->part[i].epoch == epoch) {
            v->part[i].seq = seq;
            return 0;
        }
    }
    if (v->n == RP_EVENT_ID_PARTS_MAX)
        return -ENOSPC;
    v->part[v->n++] = (struct rp_event_id){.epoch = epoch, .seq = seq};
    return 0;
}
