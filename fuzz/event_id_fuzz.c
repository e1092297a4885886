/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes rp_event_id_parse (Last-Event-ID is peer input). An accepted id must format
 * back to exactly the input bytes, since the format has one spelling per id; a refused
 * one must break a rule of a reference checker. Any input's first 12 bytes also make an
 * epoch and seq that must survive format then parse. Aborts on any disagreement.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/event_id.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
ref_valid(const char *s, size_t len)
{
    if (len < 10 || len > 28 || s[8] != '-')
        return false;
    for (size_t i = 0; i < 8; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    const char *d = s + 9;
    size_t n = len - 9;
    for (size_t i = 0; i < n; i++)
        if (d[i] < '0' || d[i] > '9')
            return false;
    if (d[0] == '0')
        return n == 1; /* `<epoch>-0`, the epoch's origin; otherwise a leading zero */
    /* At most 2^63-1: compare as digit strings of equal length. */
    return n < 19 || memcmp(d, "9223372036854775807", 19) <= 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct rp_event_id id = {0, 0};
    int rc = rp_event_id_parse(s, size, &id);
    if (rc != 0 && rc != -EINVAL)
        abort();
    if ((rc == 0) != ref_valid(s, size))
        abort();
    char buf[RP_EVENT_ID_MAX + 1];
    if (rc == 0) {
        if (id.seq > (uint64_t)INT64_MAX)
            abort();
        size_t len = rp_event_id_format(&id, buf);
        if (len != size || memcmp(buf, s, size) != 0)
            abort();
    }
    if (size >= 12) {
        struct rp_event_id in, out = {0, 0};
        memcpy(&in.epoch, data, 4);
        memcpy(&in.seq, data + 4, 8);
        in.seq = (in.seq & (uint64_t)INT64_MAX) | 1;
        size_t len = rp_event_id_format(&in, buf);
        if (len > RP_EVENT_ID_MAX || len != strlen(buf))
            abort();
        if (rp_event_id_parse(buf, len, &out) != 0 || out.epoch != in.epoch || out.seq != in.seq)
            abort();
    }
    return 0;
}
