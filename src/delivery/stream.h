/* SPDX-License-Identifier: MIT */
#ifndef RP_DELIVERY_STREAM_H
#define RP_DELIVERY_STREAM_H
/*
 * Stream: one text/event-stream response on a worker's fanout (delivery/fanout.h): one link
 * per topic it reads, each link holding a cursor (the last sequence of that topic handed to
 * the socket). Streams never copy events: they write the log's shared frames with writev,
 * and a socket that cannot take more leaves the stream behind in the log, holding at most
 * one partly written frame. Here: opening a stream, its writes, the slow-consumer policies,
 * finishing, exporting (upgrade) and freeing it. Not the topic index, the mailbox, when
 * queued streams get written or the heartbeat sweep: those are the fanout's. See
 * docs/internals/delivery.md.
 *
 * Threads: only the owning worker's thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rp_fanout;
struct rp_stream;

/* What the owner of a stream (a connection) is told. */
struct rp_stream_owner_ops {
    /* The socket is full (<on> true) or drained (<on> false): watch for writability. */
    void (*want_write)(void *owner, bool on);
    /* The stream must end (slow_policy disconnect, write error); the owner closes the
     * connection and frees the stream later, never from inside this call. */
    void (*close)(void *owner, const char *why);
};

/* How a stream starts. */
struct rp_stream_open {
    int fd;
    void *owner;
    const struct rp_stream_owner_ops *ops;
    const char *const *filters; /* topic names and patterns, already checked */
    size_t n_filters;
    const char *last_event_id; /* NULL when the client resumes nothing */
    size_t last_event_id_len;
    const char *head; /* bytes sent first: the HTTP response head, opening comment, retry */
    size_t head_len;
    /* An adopted stream (upgrade): resume right after <resume_seq> of this hub's epoch,
     * with no resync announcement, and tag events when <tagged>; each topic named in
     * <cursors> resumes from its own place instead. */
    bool adopted;
    uint64_t resume_seq;
    bool tagged;
    const struct rp_stream_cursor *cursors;
    size_t n_cursors;
    /* Never tag events, whatever the filters: the stream's protocol names no hub topics
     * (Mercure: several hub topics, one `event:` line, the update's type). */
    bool untagged;
    /* Start from the oldest event each log keeps (Mercure's `earliest`), unless adopted;
     * what a log has already evicted is announced as for any resume. */
    bool from_start;
    /* Topics a pattern matches are linked only when <accept> (NULL: always) says so, for
     * selectors the hub's patterns cannot express (Mercure's URI templates, private
     * grants); decided once per topic, never per event. The stream owns <accept_ctx> from
     * the call on (also when the open fails) and frees it with <accept_free>. Such a
     * stream is not handed over in an upgrade (rp_stream_exportable). */
    bool (*accept)(void *ctx, const char *topic, size_t len);
    void *accept_ctx;
    void (*accept_free)(void *ctx);
};

/* What an upgrade hands to the next process for one stream (rp_stream_export). */
/* One topic's place in a stream: topics lag apart under drop_oldest and drop_newest, so
 * the stream's highest cursor alone would skip a lagging topic's events. */
struct rp_stream_cursor {
    char *topic;
    uint64_t cursor;             /* last sequence of the topic handed to the socket */
    uint64_t skip_from, skip_to; /* drop_newest: the range being skipped (0, 0: none) */
};

struct rp_stream_state {
    char **filters; /* the stream's patterns and the topics it reads */
    size_t n_filters;
    uint64_t last_seq; /* every event up to it was handed to the socket */
    bool tagged;
    char *pending; /* bytes owed to the socket before the next event (a partly written
                    * frame's rest, queued control lines) */
    size_t pending_len;
    struct rp_stream_cursor *cursors; /* per topic (none from a version-1 hand-over) */
    size_t n_cursors;
};
/* False when <s> cannot be described for an upgrade (it has an accept filter, which the
 * state does not carry): its connection is closed instead and the client resumes. */
bool rp_stream_exportable(const struct rp_stream *s);
/* Describes <s> for an upgrade into the zeroed <out>; the stream is not changed. */
void rp_stream_export(const struct rp_stream *s, struct rp_stream_state *out);
void rp_stream_state_fini(struct rp_stream_state *st);
/* The stream's place: every event up to it was handed to the socket (the highest cursor,
 * as rp_stream_export's last_seq); 0 for NULL or a stream with no cursor set. */
uint64_t rp_stream_last_seq(const struct rp_stream *s);

/*
 * Opens a stream: registers every link (so nothing published from now on can be missed),
 * then sets the cursors (Last-Event-ID, or "now" for a live start) and writes the head and
 * any replay. Returns the stream, or NULL with *<why> set when a topic cannot be created
 * (too many topics). The first flush may already have asked the owner to close.
 */
struct rp_stream *rp_stream_open(struct rp_fanout *f, const struct rp_stream_open *o,
                                 const char **why);
/* Unregisters and frees the stream. Accepts NULL. */
void rp_stream_free(struct rp_stream *s);
/*
 * Ends the stream on purpose: no further events; <text> (whole SSE lines) is written after
 * any partly written frame, then the owner is told to close with <why> (static string).
 * Used when a stream's credentials expire.
 */
void rp_stream_finish(struct rp_stream *s, const char *text, size_t len, const char *why);
/* Writes what is pending: 0 all written, -EAGAIN socket full (the owner was told to
 * watch for writability), another negative errno when the stream must close. */
int rp_stream_flush(struct rp_stream *s);

#endif
