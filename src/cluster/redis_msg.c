/* SPDX-License-Identifier: MIT */
#include "cluster/redis_msg.h"

#include <errno.h>
#include <stdbool.h>

#include "base/hex.h"

/* What a publish accepts (rp_frame_check_event, the hub's publisher id check: 128 bytes, and
 * a mark byte before them for the ids the server itself marks). */
#define EVENT_TYPE_MAX 128
#define PUB_ID_MAX 129

/* A decimal number up to <max> with no sign and no leading zero, then a colon. */
static bool
number(const char **pp, const char *end, uint64_t max, uint64_t *out)
{
    const char *p = *pp;
    uint64_t v = 0;
    const char *start = p;
    while (p < end && *p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
        p++;
    }
    size_t n = (size_t)(p - start);
    if (n == 0 || (n > 1 && *start == '0') || p == end || *p != ':')
        return false;
    *pp = p + 1;
    *out = v;
    return true;
}

int
rp_redis_msg_decode(const char *p, size_t len, struct rp_redis_msg *out)
{
    const char *end = p + len;
    if (len < 9 || p[8] != ':')
        return -EINVAL;
    uint32_t epoch = 0;
    for (int i = 0; i < 8; i++) {
        int v = rp_hex_value(p[i]);
        if (v < 0 || (p[i] >= 'A' && p[i] <= 'F'))
            return -EINVAL;
        epoch = epoch << 4 | (uint32_t)v;
    }
    p += 9;
    uint64_t seq, wall, group, type_len, id_len;
    if (!number(&p, end, INT64_MAX, &seq) || seq == 0 || !number(&p, end, INT64_MAX, &wall) ||
        !number(&p, end, INT64_MAX, &group) || group > seq ||
        !number(&p, end, EVENT_TYPE_MAX, &type_len) || !number(&p, end, PUB_ID_MAX, &id_len) ||
        (size_t)(end - p) < type_len + id_len)
        return -EINVAL;
    out->epoch = epoch;
    out->seq = seq;
    out->wall_ms = (int64_t)wall;
    out->group = group;
    out->event = type_len ? p : NULL;
    out->event_len = (size_t)type_len;
    out->pub_id = id_len ? p + type_len : NULL;
    out->pub_id_len = (size_t)id_len;
    out->data = p + type_len + id_len;
    out->data_len = (size_t)(end - p) - (size_t)(type_len + id_len);
    return 0;
}
