/* SPDX-License-Identifier: MIT */
#ifndef RP_DELIVERY_STREAM_H
#define RP_DELIVERY_STREAM_H
/*
 * Delivery: one worker's event streams and how they read the shared topic logs.
 *
 * A fanout is a worker's side of the hub: its index of local topics (each with the
 * links of the streams that read it), its mailbox of "topic advanced" and "topic
 * created" notes from publishing threads, and its streams ordered by last write for the
 * heartbeat sweep. A stream is one text/event-stream response: one link per topic it
 * reads, each link holding a cursor (the last sequence of that topic handed to the
 * socket). Streams never copy events: they write the log's shared frames with writev,
 * and a socket that cannot take more leaves the stream behind in the log, holding at
 * most one partly written frame. See docs/internals/delivery.md.
 *
 * Threads: everything here runs on the owning worker's thread, except
 * rp_fanout_notify_* which any thread may call.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/stats.h"
#include "core/hub.h"
#include "loop/loop.h"

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

/* <use_io_uring>: write batches of streams with one system call where the kernel allows
 * it; if it was asked for and refused, *<io_uring_why> (may be NULL) is the errno. */
struct rp_fanout *rp_fanout_new(struct rp_hub *hub, unsigned worker, struct rp_loop *loop,
                                struct rp_stats *stats, bool use_io_uring, int *io_uring_why);
/* Whether this fanout writes through io_uring. */
bool rp_fanout_uses_io_uring(const struct rp_fanout *f);
/* Frees the fanout; every stream must have been freed before. */
void rp_fanout_free(struct rp_fanout *f);
/* Hub hooks, any thread: queue a note and wake the worker (coalesced). */
void rp_fanout_notify_advanced(struct rp_fanout *f, struct rp_topic *t);
void rp_fanout_notify_created(struct rp_fanout *f, struct rp_topic *t);
/*
 * Flushes up to <budget> streams of the run queue (streams whose topics advanced since
 * their last write). Returns true while work remains: the worker then polls its other
 * I/O and comes back, so a large fan-out never holds up reading requests, and streams
 * waiting in the queue get several events per write.
 */
bool rp_fanout_run(struct rp_fanout *f, size_t budget);
/*
 * Writes heartbeats to streams idle for <heartbeat_ms> and returns the time in ms until
 * the next one is due (at most <heartbeat_ms>).
 */
int64_t rp_fanout_sweep(struct rp_fanout *f, int64_t now_ms, int64_t heartbeat_ms);
/* Appends <text> (whole SSE lines) to every stream and flushes: the shutdown retry hint. */
void rp_fanout_broadcast(struct rp_fanout *f, const char *text, size_t len);
/* How many streams are how far behind (events not yet written, over all their topics):
 * <counts>[i] (n_bounds + 1 slots) counts those <= <bounds>[i] and over the previous bound;
 * the last slot those over every bound. O(streams x topics). */
void rp_fanout_lag_histogram(struct rp_fanout *f, const uint64_t *bounds, size_t n_bounds,
                             uint64_t *counts);
/* True when no stream has bytes waiting for its socket. */
bool rp_fanout_idle(struct rp_fanout *f);

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
     * with no resync announcement, and tag events when <tagged>. */
    bool adopted;
    uint64_t resume_seq;
    bool tagged;
};

/* What an upgrade hands to the next process for one stream (rp_stream_export). */
struct rp_stream_state {
    char **filters; /* the stream's patterns and the topics it reads */
    size_t n_filters;
    uint64_t last_seq; /* every event up to it was handed to the socket */
    bool tagged;
    char *pending; /* bytes owed to the socket before the next event (a partly written
                    * frame's rest, queued control lines) */
    size_t pending_len;
};
/* Describes <s> for an upgrade into the zeroed <out>; the stream is not changed. */
void rp_stream_export(const struct rp_stream *s, struct rp_stream_state *out);
void rp_stream_state_fini(struct rp_stream_state *st);

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
