/* SPDX-License-Identifier: MIT */
#ifndef BENCH_GEN_BENCH_SSE_H
#define BENCH_GEN_BENCH_SSE_H
/*
 * An incremental text/event-stream parser after the WHATWG HTML "event stream
 * interpretation" rules: a UTF-8 BOM at the start is dropped; lines end at CRLF, LF or CR
 * (also when split across reads); `field: value` loses one leading space of the value; a line
 * without a colon is a field with an empty value; `:` lines are comments; `data` lines are
 * joined with LF; a blank line dispatches (nothing when no data line was seen); `id` values
 * holding NUL are ignored; `retry` takes only digits. Unknown fields are ignored.
 *
 * It keeps no line buffer: bytes stream through a small state machine, so memory per stream
 * is fixed. The price is that only the first BENCH_SSE_DATA_KEEP bytes of an event's data and
 * BENCH_SSE_FIELD_KEEP bytes of its type and id are kept; full lengths are always counted.
 * Not the place for bytes that are not body (HTTP framing is undone before). Not thread-safe.
 */
#include <stddef.h>
#include <stdint.h>

#define BENCH_SSE_DATA_KEEP 64
#define BENCH_SSE_FIELD_KEEP 32

/* One dispatched event; every pointer is borrowed, valid during the callback only. */
struct bench_sse_event {
    const char *type; /* "message" when the event named no type */
    size_t type_len;  /* kept bytes at <type> */
    const char *id;   /* the last event id (it persists across events, as in browsers) */
    size_t id_len;    /* kept bytes at <id> */
    const char *data; /* the first <data_kept> bytes of the data */
    size_t data_kept;
    size_t data_len; /* the full data length (LF-joined lines, final LF removed) */
};

typedef void (*bench_sse_event_fn)(void *ctx, const struct bench_sse_event *ev);

/* The parser state of one stream. Zeroed memory is not valid: use bench_sse_init. */
struct bench_sse {
    uint8_t state;
    uint8_t bom;   /* BOM bytes matched at the stream start; BENCH_SSE_BOM_DONE once decided */
    uint8_t field; /* the field of the line being read */
    uint8_t name_len;
    uint8_t skip_lf; /* the last line ended with CR: a LF right after it belongs to it */
    uint8_t id_nul;  /* the id value being read holds a NUL */
    uint8_t retry_ok;
    uint8_t type_len;
    uint8_t id_len;
    uint8_t id_tmp_len;
    uint8_t data_kept;
    char name[6];
    uint64_t data_len; /* bytes in the data buffer, each data line's LF included */
    uint64_t retry_tmp;
    uint64_t retry_ms; /* the reconnection time last set by `retry`, 0 when none */
    char data[BENCH_SSE_DATA_KEEP];
    char type[BENCH_SSE_FIELD_KEEP];
    char id[BENCH_SSE_FIELD_KEEP];
    char id_tmp[BENCH_SSE_FIELD_KEEP];
};

#define BENCH_SSE_BOM_DONE 3

/* Prepares <s> for the start of a new stream. */
void bench_sse_init(struct bench_sse *s);
/*
 * Parses the next <n> body bytes at <p>, calling <fn>(<ctx>, event) for each event they
 * complete. Never fails: every byte sequence is a valid event stream. A partial line or
 * event is kept for the next call; at the end of the stream it is simply dropped.
 */
void bench_sse_feed(struct bench_sse *s, const char *p, size_t n, bench_sse_event_fn fn, void *ctx);

#endif
