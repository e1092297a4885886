/* SPDX-License-Identifier: MIT */
#ifndef RP_APP_WORKER_H
#define RP_APP_WORKER_H
#include <stddef.h>
/*
 * A worker: one thread with its own event loop, SO_REUSEPORT listener, connections and
 * fanout. A connection lives on one worker for life and its state is never shared.
 * Created and joined by the server; everything else runs on the worker's thread, except
 * rp_worker_stop and the hub hooks (rp_worker_fanout).
 */
#include "base/stats.h"
#include "delivery/stream.h"

struct rp_server;
struct rp_worker;

/* Opens the listener and the loop; NULL with a message logged on failure. */
struct rp_worker *rp_worker_new(struct rp_server *srv, unsigned id);
int rp_worker_start(struct rp_worker *w);
/* Asks the worker to shut down gracefully (any thread); rp_worker_join waits for it. */
void rp_worker_stop(struct rp_worker *w);
void rp_worker_join(struct rp_worker *w);
void rp_worker_free(struct rp_worker *w);
struct rp_fanout *rp_worker_fanout(struct rp_worker *w);
struct rp_stats *rp_worker_stats(struct rp_worker *w);
/* Tells the worker that a webhook verification finished, so the requests waiting for one
 * are re-run (any thread; coalesced). */
void rp_worker_auth_wake(struct rp_worker *w);

struct rp_upgrade_stream;
/* Upgrade, old side: asks the worker to hand over its listener and streams and leave its
 * loop (any thread). After rp_worker_join, rp_worker_take_export gives them (the caller
 * owns the descriptors and states). */
void rp_worker_export(struct rp_worker *w);
void rp_worker_take_export(struct rp_worker *w, int *listener, struct rp_upgrade_stream **streams,
                           size_t *n);
/* Upgrade, new side, before rp_worker_start: serves the stream <e> describes; takes its
 * descriptor (e->fd becomes -1). 0, or -errno when it was closed instead. */
int rp_worker_adopt_stream(struct rp_worker *w, struct rp_upgrade_stream *e);

#endif
