/* SPDX-License-Identifier: MIT */
#ifndef RP_SSE_SSE_PARSER_H
#define RP_SSE_SSE_PARSER_H
/*
 * An incremental text/event-stream parser following the WHATWG HTML "event stream
 * interpretation" rules: CR, LF and CRLF line ends (also a CRLF split across two chunks),
 * one leading BOM stripped, invalid UTF-8 replaced by U+FFFD, `:` comments, `field: value`
 * (one leading space of the value removed), data lines joined by LF, `event` sets the type,
 * `id` (without NUL) sets the last event id even when no event is dispatched, `retry` only
 * when all digits, unknown fields ignored, and a blank line dispatches only when data was
 * seen; an `origin-id` field (sse/sse_frame.h) is reported with its event. Chunks may be split
 * anywhere: the events are the same as for one whole feed. Every buffer has a cap given at
 * creation; a longer line or event is an error. Not responsible for HTTP, reconnecting or deciding
 * what an event means. Not thread-safe: one parser per stream, used by one thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Three-way result of rp_sse_parser_feed (the parser contract of STYLE.md "Error handling";
 * named apart from http's enum rp_parse_result because `sse` cannot include `http`). */
enum rp_sse_parse_result {
    RP_SSE_PARSE_DONE = 0, /* a callback asked to stop; *consumed says how far it got */
    RP_SSE_PARSE_MORE,     /* every byte was consumed; feed more */
    RP_SSE_PARSE_ERROR,    /* a cap was exceeded; rp_sse_parser_error says which */
};

struct rp_sse_limits {
    size_t max_line;  /* longest line in bytes, line end excluded (> 0); bounds type and id */
    size_t max_event; /* most bytes of one event's data, as dispatched (> 0) */
};

/* One dispatched event; every pointer is borrowed, valid only during the callback. */
struct rp_sse_event {
    const char *type; /* NUL-terminated (may itself contain NUL); "message" when the block had
                       * no event field or an empty one */
    size_t type_len;
    const char *data; /* NUL-terminated, data lines joined by LF (may itself contain NUL) */
    size_t data_len;
    const char *last_id; /* NUL-terminated: the stream's last event id ("" when none yet) */
    size_t last_id_len;
    bool has_id; /* this event's own block set the id (WHATWG clients cannot see this) */
    /* The block's `origin-id` field, NUL-terminated ("" when none): the id the event had at
     * the first RevenProx of a chain (RP_FRAME_ORIGIN_FIELD). WHATWG clients ignore the
     * field as unknown; this parser reports it. */
    const char *origin_id;
    size_t origin_id_len;
};

/* Called per dispatched event; returning non-zero stops the feed (RP_SSE_PARSE_DONE). */
typedef int (*rp_sse_event_fn)(void *ctx, const struct rp_sse_event *ev);
/* Called per valid `retry` field with its value in ms (saturated at UINT64_MAX);
 * returning non-zero stops the feed (RP_SSE_PARSE_DONE). */
typedef int (*rp_sse_retry_fn)(void *ctx, uint64_t retry_ms);

struct rp_sse_parser;

/*
 * A parser with a copy of <limits> that calls <on_event> and <on_retry> (either may be
 * NULL) with <ctx>. Never returns NULL (bookkeeping allocation); buffers grow on demand up
 * to their caps. Free with rp_sse_parser_free.
 */
struct rp_sse_parser *rp_sse_parser_new(const struct rp_sse_limits *limits,
                                        rp_sse_event_fn on_event, rp_sse_retry_fn on_retry,
                                        void *ctx);
/* Frees <p>; accepts NULL. */
void rp_sse_parser_free(struct rp_sse_parser *p);
/*
 * Feeds the <len> bytes at <data>, calling the callbacks for each event and retry in
 * order. Sets *<consumed> (may be NULL) to the bytes used: all of them on MORE; on DONE
 * those up to the end of the line whose callback stopped (feed the rest later). ERROR when
 * a line is over max_line or an event's data over max_event; the parser then refuses
 * every feed until rp_sse_parser_restart.
 */
enum rp_sse_parse_result rp_sse_parser_feed(struct rp_sse_parser *p, const char *data, size_t len,
                                            size_t *consumed);
/*
 * Starts a new stream (a reconnect): drops the pending line, data and type (an event the
 * old stream did not finish is never dispatched, as at WHATWG end of file), allows a
 * BOM again and clears an error. Keeps the last event id.
 */
void rp_sse_parser_restart(struct rp_sse_parser *p);
/* The last event id, NUL-terminated ("" when none); borrowed, valid until the next feed,
 * restart or set. *<len> (may be NULL) is its length. */
const char *rp_sse_parser_last_id(const struct rp_sse_parser *p, size_t *len);
/* Sets the last event id to the <len> bytes at <id> (a client resuming from a known id).
 * 0, or -EINVAL when <id> contains NUL, CR or LF, or is longer than max_line. */
int rp_sse_parser_set_last_id(struct rp_sse_parser *p, const char *id, size_t len);
/* Why the last feed returned ERROR, as a static message; NULL when it did not. */
const char *rp_sse_parser_error(const struct rp_sse_parser *p);

#endif
