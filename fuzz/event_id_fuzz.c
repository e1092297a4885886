/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes rp_event_id_parse (Last-Event-ID is peer input). An accepted id must format
 * back to exactly the input bytes, since the format has one spelling per id; a refused
 * one must break a rule of a reference checker. Any input's first 12 bytes also make an
 * epoch and seq that must survive format then parse. The same input parsed as a mesh id
 * (a vector of parts) must be accepted exactly when every `.`-separated part is a valid id,
 * their epochs distinct and at most 16, and then format back to the input. Aborts on any
 * disagreement.
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

static bool
ref_vector_valid(const char *s, size_t len)
{
    uint32_t epochs[RP_EVENT_ID_PARTS_MAX];
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.')
            continue;
        if (n == RP_EVENT_ID_PARTS_MAX || !ref_valid(s + start, i - start))
            return false;
        struct rp_event_id id;
        if (rp_event_id_parse(s + start, i - start, &id) != 0)
            abort();
        for (size_t k = 0; k < n; k++)
            if (epochs[k] == id.epoch)
                return false;
        epochs[n++] = id.epoch;
        start = i + 1;
    }
    return true;
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
    struct rp_event_vector v;
    rc = rp_event_vector_parse(s, size, &v);
    if ((rc == 0) != ref_vector_valid(s, size))
        abort();
    if (rc == 0) {
        char vbuf[RP_EVENT_VECTOR_MAX + 1];
        size_t len = rp_event_vector_format(&v, vbuf);
        if (len != size || memcmp(vbuf, s, size) != 0)
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
