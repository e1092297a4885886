/* SPDX-License-Identifier: MIT */
#include "base/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

void
rp_buf_init(struct rp_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void
rp_buf_fini(struct rp_buf *b)
{
    RP_FREE(b->data);
    b->len = 0;
    b->alloc = 0;
}

char *
rp_buf_reserve(struct rp_buf *b, size_t n)
{
    /* +1 keeps room for the NUL of rp_buf_cstr without a second growth. */
    if (n > b->cap || b->len > b->cap - n || b->len + n == SIZE_MAX)
        return NULL;
    size_t need = b->len + n + 1;
    if (need > b->alloc) {
        size_t alloc = b->alloc ? b->alloc : 64;
        while (alloc < need)
            alloc = alloc > SIZE_MAX / 2 ? need : alloc * 2;
        /* Compared as alloc - 1 so a cap of SIZE_MAX (no cap) cannot wrap to 0. */
        if (alloc - 1 > b->cap)
            alloc = b->cap + 1;
        b->data = rp_xrealloc(b->data, alloc);
        b->alloc = alloc;
    }
    return b->data + b->len;
}

int
rp_buf_append(struct rp_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    char *dst = rp_buf_reserve(b, n);
    if (!dst)
        return -ENOBUFS;
    memcpy(dst, p, n);
    b->len += n;
    return 0;
}

int
rp_buf_append_str(struct rp_buf *b, const char *s)
{
    return rp_buf_append(b, s, strlen(s));
}

int
rp_buf_printf(struct rp_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n < sizeof(small))
        return rp_buf_append(b, small, (size_t)n);
    char *dst = rp_buf_reserve(b, (size_t)n);
    if (!dst)
        return -ENOBUFS;
    va_start(ap, fmt);
    vsnprintf(dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void
rp_buf_consume(struct rp_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

const char *
rp_buf_cstr(struct rp_buf *b)
{
    if (!b->data && !rp_buf_reserve(b, 0))
        return NULL;
    b->data[b->len] = '\0';
    return b->data;
}

size_t
rp_u64_to_dec(uint64_t v, char *out)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

int
rp_buf_append_u64(struct rp_buf *b, uint64_t v)
{
    char tmp[20];
    return rp_buf_append(b, tmp, rp_u64_to_dec(v, tmp));
}
