/* SPDX-License-Identifier: MIT */
#ifndef RP_API_HISTORY_H
#define RP_API_HISTORY_H
/*
 * Resumes older than the memory window, read from the log engine: a client whose
 * Last-Event-ID is before what a topic still keeps in memory, but not before what the disk
 * log keeps, gets the missed events from disk instead of `event: resync`. Reading is
 * blocking I/O, so it runs on a thread of its own, never on a worker loop: the request
 * waits (RP_WAIT_HISTORY) while the reader turns the events of the stream's topics into SSE
 * frames, merged in sequence order, and the worker is woken to start the stream with them
 * in front. Jobs are taken in arrival order, one at a time.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

struct rp_hub;
struct rp_history;
struct rp_history_read;

/* Most events, and bytes of frames, one resume reads from disk; a longer gap is covered up
 * to there and the rest announced (event: resync). The bytes bound what a client that
 * resumes and then never reads can make the server hold for it. */
#define RP_HISTORY_MAX_EVENTS 200000
#define RP_HISTORY_MAX_BYTES ((size_t)16 << 20)

/* The reader thread; <wake> (any thread) is called when a read finishes. NULL on failure. */
struct rp_history *rp_history_new(struct rp_hub *hub, void (*wake)(void *ctx), void *ctx);
/* Stops the thread; reads not yet taken are finished first. NULL is fine. */
void rp_history_free(struct rp_history *h);

/*
 * Starts reading the events of <topics> (<n> exact names, copied) with seq in
 * (<after>, <upto>], as frames for a stream that is <tagged> (several topics or patterns).
 */
struct rp_history_read *rp_history_start(struct rp_history *h, const char *const *topics, size_t n,
                                         uint64_t after, uint64_t upto, bool tagged);
/*
 * True once the read is done: <bytes> (the frames; the caller may take its data) and the
 * sequence the stream goes on after (<upto>, or less when the read stopped early: the
 * stream then announces the rest).
 */
bool rp_history_done(struct rp_history_read *r, struct rp_buf **bytes, uint64_t *covered);
/* The requester lets go, done or not (a read still running is freed when it ends). */
void rp_history_release(void *r);

#endif
