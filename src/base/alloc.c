/* SPDX-License-Identifier: MIT */
#include "base/alloc.h"

#include <stdio.h>
#include <string.h>

static void
out_of_memory(size_t n)
{
    fprintf(stderr, "level=fatal component=alloc msg=\"out of memory\" bytes=%zu\n", n);
    abort();
}

void *
rp_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory(n);
    return p;
}

void *
rp_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory(n * size);
    return p;
}

void *
rp_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        out_of_memory(n);
    return q;
}

char *
rp_xstrndup(const char *s, size_t n)
{
    char *p = rp_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
rp_xstrdup(const char *s)
{
    return rp_xstrndup(s, strlen(s));
}
