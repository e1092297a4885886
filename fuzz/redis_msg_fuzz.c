/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes rp_redis_msg_decode (a channel message of the Redis engine: whatever can write to
 * the Redis server can write one). An accepted message must be what a reference reading of
 * the format says, with every slice inside the input; a refused one must break a rule of
 * that reading. Aborts on any disagreement.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/redis_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A decimal field of the reference: digits up to a colon, no leading zero, <= max. */
static bool
ref_number(const char *s, size_t size, size_t *pos, uint64_t max, uint64_t *out)
{
    size_t i = *pos, start = i;
    unsigned __int128 v = 0;
    while (i < size && s[i] >= '0' && s[i] <= '9') {
        v = v * 10 + (unsigned)(s[i] - '0');
        if (v > max)
            return false;
        i++;
    }
    if (i == start || (i - start > 1 && s[start] == '0') || i >= size || s[i] != ':')
        return false;
    *out = (uint64_t)v;
    *pos = i + 1;
    return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct rp_redis_msg m;
    int rc = rp_redis_msg_decode(s, size, &m);
    if (rc != 0 && rc != -EINVAL)
        abort();

    bool ok = size >= 9 && s[8] == ':';
    uint32_t epoch = 0;
    for (size_t i = 0; ok && i < 8; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9')
            epoch = epoch << 4 | (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            epoch = epoch << 4 | (uint32_t)(c - 'a' + 10);
        else
            ok = false;
    }
    size_t pos = 9;
    uint64_t seq = 0, wall = 0, group = 0, tlen = 0, ilen = 0;
    ok = ok && ref_number(s, size, &pos, INT64_MAX, &seq) && seq > 0 &&
         ref_number(s, size, &pos, INT64_MAX, &wall) &&
         ref_number(s, size, &pos, INT64_MAX, &group) && group <= seq &&
         ref_number(s, size, &pos, 128, &tlen) && ref_number(s, size, &pos, 129, &ilen) &&
         size - pos >= tlen + ilen;
    if ((rc == 0) != ok)
        abort();
    if (rc == 0) {
        if (m.epoch != epoch || m.seq != seq || m.wall_ms != (int64_t)wall || m.group != group ||
            m.event_len != tlen || (tlen == 0) != (m.event == NULL) || m.pub_id_len != ilen ||
            (ilen == 0) != (m.pub_id == NULL) || m.data != s + pos + tlen + ilen ||
            m.data_len != size - pos - tlen - ilen)
            abort();
        if (m.event && m.event != s + pos)
            abort();
        if (m.pub_id && m.pub_id != s + pos + tlen)
            abort();
    }
    return 0;
}
