/* SPDX-License-Identifier: MIT */
#include "gen/bench_payload.h"

#include <string.h>

#include "base/buf.h"

size_t
bench_payload_u64(char *out, uint64_t v)
{
    return rp_u64_to_dec(v, out);
}

size_t
bench_payload_format(char *out, const struct bench_payload *pl, size_t size)
{
    size_t n = bench_payload_u64(out, pl->pub);
    out[n++] = ' ';
    n += bench_payload_u64(out + n, pl->seq);
    out[n++] = ' ';
    n += bench_payload_u64(out + n, pl->t_ns);
    out[n++] = ' ';
    if (n < size) {
        memset(out + n, 'x', size - n);
        n = size;
    }
    return n;
}

/* Reads one decimal number followed by a space at *<p>; false when there is none. */
static bool
read_number(const char **p, const char *end, uint64_t *v)
{
    const char *q = *p;
    uint64_t x = 0;
    int digits = 0;
    while (q < end && *q >= '0' && *q <= '9') {
        if (++digits > 19)
            return false;
        x = x * 10 + (uint64_t)(*q - '0');
        q++;
    }
    if (digits == 0 || q == end || *q != ' ')
        return false;
    *v = x;
    *p = q + 1;
    return true;
}

bool
bench_payload_parse(const char *data, size_t kept, struct bench_payload *pl)
{
    const char *p = data;
    const char *end = data + kept;
    uint64_t pub;
    if (!read_number(&p, end, &pub) || pub > UINT32_MAX)
        return false;
    if (!read_number(&p, end, &pl->seq) || !read_number(&p, end, &pl->t_ns) || pl->seq == 0)
        return false;
    pl->pub = (uint32_t)pub;
    return true;
}
