/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the text/event-stream parser. The first input byte picks the caps (its value
 * modulo 3: tiny, small or default limits); the rest is the stream. The stream is fed whole,
 * byte by byte, in splits derived from the input, and with a callback that stops the feed
 * after every event (the rest fed again): all four must report the same events, retries and
 * error. Each event must also keep the parser's promises (NUL-terminated strings, lengths
 * within the caps, no line end in the type or id). Aborts on any difference.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse/sse_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct rp_sse_limits limits[3] = {
    {.max_line = 8, .max_event = 16},
    {.max_line = 64, .max_event = 256},
    {.max_line = 4096, .max_event = 65536},
};

/* What one run saw: a hash per callback, in order, and whether it ended in an error. */
struct run {
    const struct rp_sse_limits *lim;
    uint64_t *hashes;
    size_t n, cap;
    bool stop_each; /* return 1 from every callback */
    bool error;
};

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    /* The length too, so field boundaries count. */
    for (int i = 0; i < 8; i++) {
        h ^= (n >> (8 * i)) & 0xff;
        h *= 0x100000001b3ull;
    }
    return h;
}

static void
record(struct run *r, uint64_t h)
{
    if (r->n >= r->cap)
        abort(); /* more callbacks than input bytes: impossible */
    r->hashes[r->n++] = h;
}

static bool
has_byte(const char *s, size_t n, char c)
{
    return memchr(s, c, n) != NULL;
}

static int
on_event(void *ctx, const struct rp_sse_event *ev)
{
    struct run *r = ctx;
    size_t max_text = 3 * r->lim->max_line;
    /* A type may contain NUL (WHATWG keeps U+0000); an id never does (such ids are ignored). */
    if (!ev->type || !ev->data || !ev->last_id || ev->type_len == 0 ||
        ev->type[ev->type_len] != '\0' || strlen(ev->last_id) != ev->last_id_len ||
        ev->data[ev->data_len] != '\0' || ev->data_len > r->lim->max_event ||
        ev->type_len > max_text || ev->last_id_len > max_text ||
        has_byte(ev->type, ev->type_len, '\r') || has_byte(ev->type, ev->type_len, '\n') ||
        has_byte(ev->last_id, ev->last_id_len, '\r') ||
        has_byte(ev->last_id, ev->last_id_len, '\n'))
        abort();
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv(h, "E", 1);
    h = fnv(h, ev->type, ev->type_len);
    h = fnv(h, ev->data, ev->data_len);
    h = fnv(h, ev->last_id, ev->last_id_len);
    h = fnv(h, ev->has_id ? "1" : "0", 1);
    record(r, h);
    return r->stop_each;
}

static int
on_retry(void *ctx, uint64_t ms)
{
    struct run *r = ctx;
    record(r, fnv(fnv(0xcbf29ce484222325ull, "R", 1), &ms, sizeof(ms)));
    return r->stop_each;
}

enum split { WHOLE, BYTES, DERIVED, STOP_EACH };

static void
parse(struct run *r, const char *in, size_t n, enum split how)
{
    struct rp_sse_parser *p = rp_sse_parser_new(r->lim, on_event, on_retry, r);
    r->stop_each = how == STOP_EACH;
    uint64_t x = fnv(0x9e3779b97f4a7c15ull, in, n) | 1;
    size_t off = 0;
    while (off < n) {
        size_t len = n - off;
        if (how == BYTES) {
            len = 1;
        } else if (how == DERIVED) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            len = 1 + x % (len < 16 ? len : 16);
        }
        size_t used = 0;
        enum rp_sse_parse_result res = rp_sse_parser_feed(p, in + off, len, &used);
        if (used > len)
            abort();
        if (res == RP_SSE_PARSE_ERROR) {
            if (!rp_sse_parser_error(p))
                abort();
            r->error = true;
            break;
        }
        if (res == RP_SSE_PARSE_MORE && used != len)
            abort();
        if (res == RP_SSE_PARSE_DONE && how != STOP_EACH)
            abort();
        off += used;
    }
    rp_sse_parser_free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const struct rp_sse_limits *lim = &limits[data[0] % 3];
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    struct run runs[4];
    for (int i = 0; i < 4; i++) {
        runs[i] = (struct run){.lim = lim, .cap = n + 1};
        runs[i].hashes = malloc(runs[i].cap * sizeof(uint64_t));
        if (!runs[i].hashes)
            abort();
        parse(&runs[i], in, n, (enum split)i);
    }
    for (int i = 1; i < 4; i++) {
        if (runs[i].n != runs[0].n || runs[i].error != runs[0].error ||
            memcmp(runs[i].hashes, runs[0].hashes, runs[0].n * sizeof(uint64_t)) != 0)
            abort(); /* a split changed what the stream means */
    }
    for (int i = 0; i < 4; i++)
        free(runs[i].hashes);
    return 0;
}
