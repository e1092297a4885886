/* SPDX-License-Identifier: MIT */
#ifndef RP_SERVER_WORKER_H
#define RP_SERVER_WORKER_H
/*
 * A worker: one thread with its own event loop, listener, connections (front/) and fanout
 * (delivery/). A connection lives on one worker for life and its state is never shared.
 * Created and joined by the composition root; everything else runs on the worker's thread,
 * except rp_worker_stop, rp_worker_export, rp_worker_auth_wake, rp_worker_durable_wake and
 * the hub hooks (rp_worker_fanout).
 */
#include <stdatomic.h>
#include <stddef.h>

#include "base/stats.h"
#include "config/config.h"
#include "delivery/fanout.h"
#include "front/front.h"

struct rp_api_node;
struct rp_gate_shared;
struct rp_hub;
struct rp_worker;

struct rp_worker_setup {
    unsigned id;
    struct rp_hub *hub;
    /* The running configuration: the worker takes it at loop boundaries (reload). */
    _Atomic(const struct rp_config *) *cfg;
    const struct rp_api_node *api;
    struct rp_gate_shared *gate; /* NULL with auth_mode none */
    struct rp_qsbr *qsbr;        /* the hub's reclamation domain: the worker takes a slot */
    int listener;                /* the listening socket, owned by the worker from now on */

    /* The concentrator (NULL without upstreams): the worker runs its shard. */
    struct rp_upstream_pool *upstreams;
};

/* Builds the loop, fanout, front and API of one worker: 0 and *<out>, or -errno with <diag>
 * filled (the listener is closed either way on failure). */
int rp_worker_new(const struct rp_worker_setup *setup, struct rp_worker **out,
                  struct rp_diag *diag);
int rp_worker_start(struct rp_worker *w);
/* Asks the worker to shut down gracefully (any thread); rp_worker_join waits for it. */
void rp_worker_stop(struct rp_worker *w);
void rp_worker_join(struct rp_worker *w);
void rp_worker_free(struct rp_worker *w);
struct rp_fanout *rp_worker_fanout(struct rp_worker *w);
struct rp_stats *rp_worker_stats(struct rp_worker *w);
/* Tells the worker that a webhook verification finished, so the requests waiting for one
 * are handled again; also makes it take a reloaded configuration promptly (any thread). */
void rp_worker_auth_wake(struct rp_worker *w);
/* The log engine made more events durable, or a history read finished: the requests
 * waiting for either are looked at again. */
void rp_worker_durable_wake(struct rp_worker *w);
/* The configuration the worker uses now (any thread): a snapshot is freed only when no
 * worker uses it (server/reload.c). */
const struct rp_config *rp_worker_config_in_use(struct rp_worker *w);
/* On a worker's thread: the configuration of its current loop turn; NULL on other threads. */
const struct rp_config *rp_worker_thread_config(void);

/* Upgrade, old side: asks the worker to hand over its listener and connections and leave
 * its loop (any thread). After rp_worker_join, rp_worker_take_export gives them (the caller
 * owns the descriptors and descriptions). */
void rp_worker_export(struct rp_worker *w);
size_t rp_worker_take_export(struct rp_worker *w, int *listener, struct rp_conn_export **conns);
/* Upgrade, old side, after the export was joined and the hand-over failed: makes the worker
 * ready to run again (rp_worker_adopt, then rp_worker_start) accepting on <listener> (taken,
 * even on failure; -1 for none). 0, or -errno. */
int rp_worker_resume(struct rp_worker *w, int listener);
/* Upgrade, before rp_worker_start (new side, or old side after rp_worker_resume): serves the
 * connection <e> describes; takes its descriptor (e->fd becomes -1). 0, or -errno when it
 * was closed instead. */
int rp_worker_adopt(struct rp_worker *w, struct rp_conn_export *e);

#endif
