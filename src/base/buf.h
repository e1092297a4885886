/* SPDX-License-Identifier: MIT */
#ifndef RP_BASE_BUF_H
#define RP_BASE_BUF_H
/*
 * A growable byte buffer with a hard cap given at init: appends past the cap fail with
 * -ENOBUFS so the caller answers 413/431 or closes, instead of growing without bound.
 * Zeroed memory is a valid empty buffer with cap 0 (rejects every append). Not thread-safe.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct rp_buf {
    char *data;
    size_t len;   /* bytes in use */
    size_t alloc; /* bytes allocated */
    size_t cap;   /* most bytes this buffer may ever hold */
};

void rp_buf_init(struct rp_buf *b, size_t cap);
/* Frees the storage; the buffer is then empty and keeps its cap. */
void rp_buf_fini(struct rp_buf *b);
/* Appends <n> bytes; 0, or -ENOBUFS past the cap (nothing is appended then). */
int rp_buf_append(struct rp_buf *b, const void *p, size_t n);
int rp_buf_append_str(struct rp_buf *b, const char *s);
int rp_buf_printf(struct rp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends <v> in decimal; 0 or -ENOBUFS. (Hot paths: no printf.) */
int rp_buf_append_u64(struct rp_buf *b, uint64_t v);
/* Writes <v> in decimal into <out> (at least 20 bytes, no NUL); returns the length. */
size_t rp_u64_to_dec(uint64_t v, char *out);
/* Makes room for <n> more bytes and returns where they go; NULL past the cap. */
char *rp_buf_reserve(struct rp_buf *b, size_t n);
/* Drops the first <n> bytes. */
void rp_buf_consume(struct rp_buf *b, size_t n);
/* Returns a NUL-terminated view (the NUL is not counted in len); NULL past the cap. */
const char *rp_buf_cstr(struct rp_buf *b);

#endif
