/* SPDX-License-Identifier: MIT */
#ifndef RP_BASE_ALLOC_H
#define RP_BASE_ALLOC_H
/*
 * Bookkeeping allocation that never returns NULL: on failure it logs and aborts.
 * Not for memory whose size a peer controls: those go through rp_buf, whose cap makes
 * the caller answer 413/503 instead. Any thread.
 */
#include <stddef.h>
#include <stdlib.h>

void *rp_xmalloc(size_t n);
void *rp_xcalloc(size_t n, size_t size);
void *rp_xrealloc(void *p, size_t n);
char *rp_xstrdup(const char *s);
/* Copies <n> bytes of <s> and NUL-terminates the copy. */
char *rp_xstrndup(const char *s, size_t n);

/* Frees <p> and sets it to NULL so no dangling pointer is left behind. */
#define RP_FREE(p)                                                                                 \
    do {                                                                                           \
        free(p);                                                                                   \
        (p) = NULL;                                                                                \
    } while (0)

#endif
