/* SPDX-License-Identifier: MIT */
#ifndef RP_DELIVERY_FANOUT_H
#define RP_DELIVERY_FANOUT_H
/*
 * Fanout: a worker's side of the hub. Its index of local topics (each with the links of the
 * streams that read it), its mailbox of "topic advanced" and "topic created" notes from
 * publishing threads and the wake-up that takes them, its run queue of streams with
 * something new to write, its streams ordered by last write for the heartbeat sweep, and
 * the cursors it reports to the hub for slow_policy block. Not one stream's cursors,
 * writes and policies: those are delivery/stream.h. See docs/internals/delivery.md.
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
/* The two halves of rp_fanout_notify_advanced, for the hub's topic_advanced hook (called
 * under the hub lock: queue only) and its workers_wake hook (after it). */
void rp_fanout_note_advanced(struct rp_fanout *f, struct rp_topic *t);
void rp_fanout_wake(struct rp_fanout *f);
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

#endif
